//! A target's history: which versions are applied, which are dirty, the
//! checks a plan passes before it runs, and operators' repairs.

use super::{DeployError, Migration, cmp_versions};
use std::cmp::Ordering;
use std::fmt;

/// A row of a target's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// Version.
    pub version: String,
    /// File.
    pub name: String,
    /// Checksum.
    pub checksum: String,
    /// Who applied it.
    pub applied_by: String,
    /// The change that applied it.
    pub change_ref: Option<String>,
    /// Whether it succeeded.
    pub success: bool,
    /// The error of a failed attempt.
    pub error: Option<String>,
    /// Ran in one transaction.
    pub transactional: bool,
    /// Statements that took effect (all of them when successful).
    pub statements_applied: i32,
    /// The attempt ended (a row written before a non-transactional file
    /// starts stays unfinished when the process dies or the task is dropped).
    pub finished: bool,
    /// The attempt was stopped at a statement boundary (lost lease).
    pub interrupted: bool,
    /// An operator's decision recorded by `bytegate repair` (this row is that record).
    pub repair: Option<RepairDecision>,
    /// A rollback undid this applied version (it is pending again).
    pub rolled_back: bool,
}

impl HistoryRow {
    /// Applied and not rolled back since.
    pub fn is_applied(&self) -> bool {
        self.success && !self.rolled_back
    }

    /// Why this attempt leaves the target dirty, if it does: a
    /// non-transactional file that started and did not run to its end.
    pub fn dirty_cause(&self) -> Option<DirtyCause> {
        if self.success || self.transactional || self.repair.is_some() {
            return None;
        }
        if !self.finished {
            Some(DirtyCause::NeverFinished)
        } else if self.interrupted && self.statements_applied > 0 {
            Some(DirtyCause::Stopped)
        } else if self.statements_applied > 0 {
            Some(DirtyCause::Failed)
        } else {
            None
        }
    }
}

/// Why a non-transactional file left its target dirty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirtyCause {
    /// It started and never finished: the process died or the deploy task was dropped.
    NeverFinished,
    /// The deploy was stopped between two of its statements (the worker lost its lease).
    Stopped,
    /// A statement failed after earlier ones had taken effect.
    Failed,
}

impl fmt::Display for DirtyCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DirtyCause::NeverFinished => {
                "started outside a transaction and never finished (bytegate crashed or the deploy was cut off)"
            }
            DirtyCause::Stopped => {
                "was stopped between two statements outside a transaction (the worker lost its job lease)"
            }
            DirtyCause::Failed => "failed outside a transaction after earlier statements took effect",
        })
    }
}

/// An operator's decision about a dirty file (`bytegate repair --decision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairDecision {
    /// The file's effects are complete (the operator finished it by hand):
    /// it counts as applied with the checksum of the interrupted attempt.
    Applied,
    /// The file's effects are undone: the version is pending again.
    NotApplied,
}

impl RepairDecision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RepairDecision::Applied => "applied",
            RepairDecision::NotApplied => "not-applied",
        }
    }
}

impl std::str::FromStr for RepairDecision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "applied" => Ok(RepairDecision::Applied),
            "not-applied" => Ok(RepairDecision::NotApplied),
            other => Err(format!(
                "unknown repair decision `{other}` (applied | not-applied)"
            )),
        }
    }
}

impl fmt::Display for RepairDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a repair recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// The file.
    pub path: String,
    /// Version.
    pub version: String,
    /// Checksum of the interrupted attempt (recorded as applied for `applied`).
    pub checksum: String,
    /// The decision.
    pub decision: RepairDecision,
    /// Statements the interrupted attempt had completed.
    pub statements_applied: i32,
    /// The change that had started the file.
    pub change_ref: Option<String>,
}

impl Repaired {
    /// The `target.repaired` audit entry's detail (CLI and comment command).
    pub fn audit_detail(&self, database: &str, reason: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "database": database,
            "version": self.version,
            "path": self.path,
            "sha256": self.checksum,
            "decision": self.decision.as_str(),
            "reason": reason,
            "statements_applied": self.statements_applied,
            "change_ref": self.change_ref,
        })
    }
}

/// The newest attempt of each version decides; the oldest version whose
/// newest attempt leaves the target dirty.
pub fn dirty_version(history: &[HistoryRow]) -> Option<&HistoryRow> {
    let mut seen = std::collections::HashSet::new();
    let mut dirty: Vec<&HistoryRow> = history
        .iter()
        .rev()
        .filter(|h| seen.insert(h.version.as_str()))
        .filter(|h| h.dirty_cause().is_some())
        .collect();
    dirty.pop()
}

/// The command an operator runs to record a decision about a dirty file.
pub fn repair_hint(version: &str) -> String {
    format!(
        "`bytegate repair --config FILE ENVIRONMENT [DATABASE] --version {version} --decision applied|not-applied --reason TEXT`"
    )
}

/// Checks a plan against the target's history: the migrations to apply, or
/// why not. Shared by every engine.
pub fn pending<'p>(
    plan: &'p [Migration],
    history: &[HistoryRow],
    allow_out_of_order: bool,
) -> Result<Vec<&'p Migration>, DeployError> {
    // A dirty file blocks the target whatever this plan holds: the stage
    // may carry other files than the one left half done.
    if let Some(e) = first_dirty(history) {
        return Err(e);
    }
    let applied = |v: &str| history.iter().find(|h| h.is_applied() && h.version == v);
    for m in plan {
        if let Some(h) = applied(&m.version)
            && h.checksum != m.checksum
        {
            return Err(DeployError::Drift {
                path: m.path.clone(),
                version: m.version.clone(),
                applied_checksum: h.checksum.clone(),
                file_checksum: m.checksum.clone(),
                applied_by_change: h.change_ref.clone(),
            });
        }
    }
    let latest = history
        .iter()
        .filter(|h| h.is_applied())
        .map(|h| h.version.as_str())
        .max_by(|a, b| cmp_versions(a, b));
    let mut out = Vec::new();
    for m in plan.iter().filter(|m| applied(&m.version).is_none()) {
        if let Some(latest) = latest
            && !allow_out_of_order
            && cmp_versions(&m.version, latest) == Ordering::Less
        {
            return Err(DeployError::OutOfOrder {
                path: m.path.clone(),
                version: m.version.clone(),
                latest_applied: latest.to_string(),
            });
        }
        out.push(m);
    }
    Ok(out)
}

/// The newest attempt of each version decides (a later success or repair
/// clears an old failure); the first version whose newest attempt is dirty.
fn first_dirty(history: &[HistoryRow]) -> Option<DeployError> {
    let h = dirty_version(history)?;
    Some(DeployError::Dirty {
        path: h.name.clone(),
        version: h.version.clone(),
        statements_applied: h.statements_applied,
        cause: h.dirty_cause()?,
        error: h.error.clone(),
    })
}

/// The newest history row of `version` when it leaves the target dirty.
pub fn dirty_row<'h>(history: &'h [HistoryRow], version: &str) -> Option<&'h HistoryRow> {
    history
        .iter()
        .rev()
        .find(|h| h.version == version)
        .filter(|h| h.dirty_cause().is_some())
}

/// A history row as both engines' queries return it: every column by name,
/// except `finished` and `rolled_back`, which each engine derives from its
/// own timestamp columns (`flag`: a bool on PostgreSQL, an integer on MySQL).
pub(super) fn history_row_from<'r, R>(
    r: &'r R,
    flag: impl Fn(&'r R, &str) -> Result<bool, sqlx::Error>,
) -> Result<HistoryRow, sqlx::Error>
where
    R: sqlx::Row,
    &'static str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(HistoryRow {
        version: r.try_get("version")?,
        name: r.try_get("name")?,
        checksum: r.try_get("checksum")?,
        applied_by: r.try_get("applied_by")?,
        change_ref: r.try_get("change_ref")?,
        success: r.try_get("success")?,
        error: r.try_get("error")?,
        transactional: r.try_get("transactional")?,
        statements_applied: r.try_get("statements_applied")?,
        finished: flag(r, "finished")?,
        interrupted: r.try_get("interrupted")?,
        repair: r
            .try_get::<Option<String>, _>("repair")?
            .and_then(|d| d.parse().ok()),
        rolled_back: flag(r, "rolled_back")?,
    })
}
