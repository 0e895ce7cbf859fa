//! The one deploy flow every engine shares: under the target's lock, read the
//! history, refuse drift, disorder and dirt ([`pending`]), create the restore
//! point, apply each pending file (in one transaction, or statement by
//! statement with its progress recorded), record repairs and rollbacks.
//!
//! An engine only does SQL I/O on its one locked connection: a [`Session`].
//! PostgreSQL's is in `postgres/`, MySQL's in `mysql/`.

mod apply;
mod backup_step;

use super::backup::{BackupPolicy, BackupTaken, NoBackup};
use super::failure::Described;
use super::{
    DeployError, DeployOptions, DeployReport, Failure, HistoryRow, Migration, Mode, RepairDecision,
    Repaired, RestorePoint, Revert, Reverted, RollbackReport, checksum, dirty_row, pending,
};
use crate::review::model::RowFilter;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::time::{Duration, Instant};

/// One history row to write.
pub(crate) struct Attempt<'a> {
    /// The file.
    pub m: &'a Migration,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it ran.
    pub elapsed: Duration,
    /// It ran to its end.
    pub success: bool,
    /// Why not.
    pub error: Option<String>,
    /// Statements that took effect.
    pub statements_applied: usize,
    /// Stopped at a statement boundary (lost lease).
    pub interrupted: bool,
}

impl Attempt<'_> {
    /// `started_at` + `elapsed`.
    pub fn finished_at(&self) -> DateTime<Utc> {
        self.started_at
            + chrono::Duration::from_std(self.elapsed).unwrap_or_else(|_| chrono::Duration::zero())
    }
}

/// An engine's SQL on the one connection that holds the target's deploy
/// lock. Transactions are plain `BEGIN`/`COMMIT` on that connection.
pub(crate) trait Session: Send {
    /// Creates (or upgrades) the history table; runs under the lock.
    fn ensure_history(&mut self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The history, oldest first.
    fn read_history(&mut self)
    -> impl Future<Output = Result<Vec<HistoryRow>, DeployError>> + Send;

    /// Engine checks before anything is applied (PostgreSQL: INVALID indexes).
    fn preflight(&mut self) -> impl Future<Output = Result<(), DeployError>> + Send;

    /// A named restore point, or why there is none (never an error).
    fn restore_point(&mut self, name: &str) -> impl Future<Output = RestorePoint> + Send;

    /// Opens a transaction with the configured timeouts.
    fn begin(
        &mut self,
        opts: &DeployOptions,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Commits it.
    fn commit(&mut self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Rolls it back (harmless when none is open).
    fn rollback(&mut self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// The configured timeouts for statements outside a transaction.
    fn set_timeouts(
        &mut self,
        opts: &DeployOptions,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Back to the server's timeouts (the session outlives one file).
    fn reset_timeouts(&mut self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Runs one migration statement.
    fn execute(&mut self, sql: &str) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// What the engine's error says about a statement (see [`Described`]).
    fn describe(&self, step: Option<&super::Step>, e: &sqlx::Error) -> Described;

    /// Copies the rows a data change will touch (in the open transaction):
    /// `Ok(Err(reason))` when they cannot be copied (none kept).
    fn copy_rows(
        &mut self,
        m: &Migration,
        number: usize,
        dml: &super::backup::Dml,
        filter: &RowFilter,
        policy: &BackupPolicy,
    ) -> impl Future<Output = Result<Result<BackupTaken, NoBackup>, sqlx::Error>> + Send;

    /// Inserts a finished history row.
    fn record(
        &mut self,
        a: &Attempt<'_>,
        opts: &DeployOptions,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Inserts and commits the unfinished row of a non-transactional file
    /// before its first statement; returns its id.
    fn start_row(
        &mut self,
        m: &Migration,
        opts: &DeployOptions,
        started_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<i64, sqlx::Error>> + Send;

    /// Records that `done` statements of the started row took effect.
    fn progress(
        &mut self,
        id: i64,
        done: i32,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Completes a started row with the attempt's outcome.
    fn finish_row(
        &mut self,
        id: i64,
        a: &Attempt<'_>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Inserts the row that records an operator's decision about `dirty`.
    fn record_repair(
        &mut self,
        dirty: &HistoryRow,
        decision: RepairDecision,
        by: &str,
        reason: Option<&str>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Marks the live applied row of `version` rolled back; rows changed.
    fn mark_rolled_back(
        &mut self,
        version: &str,
        by: &str,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;
}

/// Statement `index` of `m` failed with `e`.
pub(crate) fn failure_of<S: Session>(
    s: &S,
    m: &Migration,
    index: usize,
    e: &sqlx::Error,
    statements_applied: usize,
) -> Failure {
    super::failure::failure_at(
        m,
        index,
        s.describe(m.steps.get(index), e),
        statements_applied,
    )
}

/// The deploy, on a session that holds the target's lock.
pub(crate) async fn deploy_locked<S: Session>(
    s: &mut S,
    plan: &[Migration],
    opts: &DeployOptions,
) -> Result<DeployReport, DeployError> {
    // Under the lock: creating the history cannot race another deploy.
    s.ensure_history().await?;
    let history = s.read_history().await?;
    let todo = pending(plan, &history, opts.allow_out_of_order)?;
    s.preflight().await?;
    let restore_point = match &opts.restore_point {
        Some(name) if !todo.is_empty() => Some(s.restore_point(name).await),
        _ => None,
    };
    let mut report = DeployReport {
        applied: Vec::with_capacity(todo.len()),
        already_applied: plan.len() - todo.len(),
        restore_point,
    };
    for m in todo {
        if opts.stop.is_stopped() {
            return Err(DeployError::Stopped {
                path: m.path.clone(),
                version: m.version.clone(),
                statements_applied: 0,
                transactional: m.mode == Mode::Transactional,
                applied_before: report.applied,
            });
        }
        let result = match m.mode {
            Mode::Transactional => apply::in_transaction(s, m, opts).await,
            Mode::NonTransactional(_) => apply::statement_by_statement(s, m, opts).await,
        };
        match result {
            Ok(applied) => report.applied.push(applied),
            Err(DeployError::Failed(mut f)) => {
                f.applied_before = std::mem::take(&mut report.applied);
                f.restore_point = report.restore_point.take();
                return Err(DeployError::Failed(f));
            }
            Err(DeployError::Stopped {
                path,
                version,
                statements_applied,
                transactional,
                ..
            }) => {
                return Err(DeployError::Stopped {
                    path,
                    version,
                    statements_applied,
                    transactional,
                    applied_before: report.applied,
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// Records the operator's decision as a new history row: the newest row of
/// the version decides, so the dirty row stays as the record of what happened.
pub(crate) async fn repair_locked<S: Session>(
    s: &mut S,
    version: &str,
    decision: RepairDecision,
    by: &str,
    reason: Option<&str>,
) -> Result<Repaired, DeployError> {
    s.ensure_history().await?;
    let history = s.read_history().await?;
    let Some(dirty) = dirty_row(&history, version) else {
        return Err(DeployError::NothingToRepair {
            version: version.to_string(),
        });
    };
    s.record_repair(dirty, decision, by, reason).await?;
    Ok(Repaired {
        path: dirty.name.clone(),
        version: dirty.version.clone(),
        checksum: dirty.checksum.clone(),
        decision,
        statements_applied: dirty.statements_applied,
        change_ref: dirty.change_ref.clone(),
    })
}

/// Runs each revert in one transaction with the undone version's history row
/// marked rolled back (so it is pending again), stopping at the first failure.
pub(crate) async fn rollback_locked<S: Session>(
    s: &mut S,
    reverts: &[Revert],
    opts: &DeployOptions,
) -> Result<RollbackReport, DeployError> {
    s.ensure_history().await?;
    let mut report = RollbackReport::default();
    for r in reverts {
        if opts.stop.is_stopped() {
            break;
        }
        // Failures point into the revert's own source.
        let m = Migration {
            version: r.version.clone(),
            path: r.source.clone(),
            checksum: checksum(r.source.as_bytes()),
            steps: r.steps.clone(),
            mode: Mode::Transactional,
        };
        let clock = Instant::now();
        s.begin(opts).await?;
        let mut failure = None;
        for (i, step) in m.steps.iter().enumerate() {
            if let Err(e) = s.execute(&step.text).await {
                failure = Some(failure_of(s, &m, i, &e, 0));
                break;
            }
        }
        if let Some(f) = failure {
            s.rollback().await?;
            report.failure = Some(f);
            return Ok(report);
        }
        let marked = match s.mark_rolled_back(&r.version, &opts.applied_by).await {
            Ok(n) => n,
            Err(e) => {
                let _ = s.rollback().await;
                return Err(e.into());
            }
        };
        if marked == 0 {
            // Someone rolled it back (or it never applied) since the plan was made.
            s.rollback().await?;
            return Err(DeployError::NotApplied {
                version: r.version.clone(),
            });
        }
        if let Err(e) = s.commit().await {
            let _ = s.rollback().await;
            report.failure = Some(failure_of(s, &m, m.steps.len().saturating_sub(1), &e, 0));
            return Ok(report);
        }
        report.reverted.push(Reverted {
            version: r.version.clone(),
            source: r.source.clone(),
            statements: r.steps.len(),
            duration_ms: millis(clock.elapsed()),
        });
    }
    Ok(report)
}

/// Milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A statement count as the history stores it.
pub(crate) fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The history's error text: the message and, for operators, the detail.
/// The history lives in the target database, not on the pull request.
pub(crate) fn history_error(f: &Failure) -> String {
    match &f.detail {
        Some(d) => format!("{} ({d})", f.message),
        None => f.message.clone(),
    }
}
