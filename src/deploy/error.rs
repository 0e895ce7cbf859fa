//! Why a deploy did not (fully) happen, and what of it a pull request may show.

use super::{Applied, DirtyCause, repair_hint};
use crate::config::Engine;
use std::time::Duration;

/// Why a deploy did not (fully) happen.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A feature the engine's target does not have yet.
    #[error("{what} is not available on {} targets yet", engine_name(*engine))]
    Unsupported {
        /// The feature ("rollback").
        what: &'static str,
        /// The engine.
        engine: Engine,
    },
    /// Connecting failed (the URL is shown without credentials).
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// Host and database.
        target: String,
        /// The driver's message.
        message: String,
    },
    /// Another deploy held the target's lock for longer than the wait.
    #[error("another deploy to this database has been running for over {}s; try again later", waited.as_secs())]
    Busy {
        /// How long we waited.
        waited: Duration,
    },
    /// An applied migration's file changed since.
    #[error(
        "checksum drift: {path} (version {version}) was applied with checksum {applied_checksum}{} but the file now has checksum {file_checksum}; applied migrations must not be edited: add a new migration instead",
        applied_by_change.as_deref().map(|c| format!(" by {c}")).unwrap_or_default()
    )]
    Drift {
        /// The file.
        path: String,
        /// Version.
        version: String,
        /// Recorded checksum.
        applied_checksum: String,
        /// Checksum of the file now.
        file_checksum: String,
        /// The change that applied it.
        applied_by_change: Option<String>,
    },
    /// A pending version is lower than the latest applied one.
    #[error(
        "out of order: {path} (version {version}) is pending but version {latest_applied} is already applied; give it a higher version, or allow out-of-order deploys for this environment"
    )]
    OutOfOrder {
        /// The pending file.
        path: String,
        /// Its version.
        version: String,
        /// The latest applied version.
        latest_applied: String,
    },
    /// A non-transactional migration did not run to its end earlier (a
    /// crash, a lost lease, a failure after statements took effect) and
    /// nobody has recorded a repair since: the target is dirty.
    #[error(
        "the database is dirty: {path} (version {version}) {cause}; statement {} of it was reached and {statements_applied} statement(s) had completed. Deploys to this database are refused until it is repaired: check what the file did, finish or undo it by hand, then record the decision with {}",
        statements_applied + 1,
        repair_hint(version)
    )]
    Dirty {
        /// The file.
        path: String,
        /// Version.
        version: String,
        /// Statements that completed.
        statements_applied: i32,
        /// What happened to it.
        cause: DirtyCause,
        /// The recorded error, if the attempt failed (kept off pull requests:
        /// it may quote row values).
        error: Option<String>,
    },
    /// An index left INVALID (`pg_index.indisvalid = false`), typically by a
    /// `CREATE INDEX CONCURRENTLY` that did not finish: the target is dirty.
    #[error(
        "the database is dirty: index {} is INVALID (a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY that did not finish); drop it (DROP INDEX CONCURRENTLY) or rebuild it (REINDEX INDEX CONCURRENTLY), then deploy again",
        indexes.join(", ")
    )]
    InvalidIndex {
        /// `schema.index` names.
        indexes: Vec<String>,
    },
    /// The deploy was asked to stop (lost lease) and stopped at a statement boundary.
    #[error("{}", stopped_message(self))]
    Stopped {
        /// The file it stopped in (or before).
        path: String,
        /// Version.
        version: String,
        /// Statements of the file that completed before the stop.
        statements_applied: usize,
        /// Ran in one transaction (then nothing of it was applied).
        transactional: bool,
        /// Migrations this deploy applied before (they stay applied).
        applied_before: Vec<Applied>,
    },
    /// `repair` was asked for a version that is not dirty.
    #[error(
        "version {version} is not dirty on this database (its latest history row is not an unfinished or failed non-transactional attempt); nothing to repair"
    )]
    NothingToRepair {
        /// The version asked for.
        version: String,
    },
    /// A rollback was asked to undo a version the target does not have applied.
    #[error(
        "version {version} is not applied on this database (rolled back already?); nothing was undone"
    )]
    NotApplied {
        /// The version.
        version: String,
    },
    /// A migration failed.
    #[error("{}", failed_message(self))]
    Failed(Box<Failure>),
    /// A query of bytegate's own (lock, history) failed.
    #[error("deploy bookkeeping failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Details of a failed migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The file.
    pub path: String,
    /// Version.
    pub version: String,
    /// 1-based statement number in the file.
    pub statement_number: usize,
    /// Statements in the file (the ones after the failed one did not run).
    pub statements_total: usize,
    /// Line in the file where the error points (statement start when the
    /// database gave no position).
    pub line: u32,
    /// Column.
    pub column: u32,
    /// The statement, shortened.
    pub statement: String,
    /// The database's message (with SQLSTATE), safe to show on a pull request.
    pub message: String,
    /// The SQLSTATE, when the database gave one.
    pub sqlstate: Option<String>,
    /// DETAIL, HINT and the like: may quote row values, so it stays off pull
    /// requests (meta database and logs only).
    pub detail: Option<String>,
    /// Ran in one transaction (then nothing of it was applied).
    pub transactional: bool,
    /// Earlier statements of a non-transactional file that took effect.
    pub statements_applied: usize,
    /// Migrations this deploy applied before the failing one (they stay applied).
    pub applied_before: Vec<Applied>,
    /// The restore point created before the deploy's first migration.
    pub restore_point: Option<super::RestorePoint>,
}

/// The engine's name as people write it.
pub fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "PostgreSQL",
        Engine::Mysql => "MySQL",
    }
}

fn failed_message(e: &DeployError) -> String {
    let DeployError::Failed(f) = e else {
        return String::new();
    };
    let after = if f.transactional {
        "rolled back: nothing of this migration was applied".to_string()
    } else if f.statements_applied == 0 {
        format!(
            "ran outside a transaction; {}: nothing of it took effect",
            which_ran(f.statements_applied, f.statement_number, f.statements_total)
        )
    } else {
        format!(
            "ran outside a transaction: {}; the database is marked dirty until repaired with {}",
            which_ran(f.statements_applied, f.statement_number, f.statements_total),
            repair_hint(&f.version)
        )
    };
    format!(
        "{}:{}:{}: statement {} of {} failed: {}\n    {}\n({after})",
        f.path,
        f.line,
        f.column,
        f.statement_number,
        f.statements_total.max(f.statement_number),
        f.message,
        f.statement
    )
}

/// Exactly which statements of a non-transactional file ran: "statement 1
/// took effect, statement 2 failed, statement 3 did not run".
pub fn which_ran(applied: usize, failed: usize, total: usize) -> String {
    let span = |from: usize, to: usize| {
        if from == to {
            format!("statement {from}")
        } else {
            format!("statements {from}–{to}")
        }
    };
    let mut parts = Vec::new();
    if applied > 0 {
        parts.push(format!("{} took effect", span(1, applied)));
    }
    parts.push(format!("statement {failed} failed"));
    if total > failed {
        parts.push(format!("{} did not run", span(failed + 1, total)));
    }
    parts.join(", ")
}

fn stopped_message(e: &DeployError) -> String {
    let DeployError::Stopped {
        path,
        version,
        statements_applied,
        transactional,
        ..
    } = e
    else {
        return String::new();
    };
    let state = if *transactional {
        "it ran in a transaction, which was rolled back: nothing of it was applied".to_string()
    } else if *statements_applied == 0 {
        "no statement of it had run".to_string()
    } else {
        format!(
            "{statements_applied} statement(s) of it had completed outside a transaction: the database is marked dirty until repaired with {}",
            repair_hint(version)
        )
    };
    format!(
        "the deploy was stopped (the worker lost its job lease) before statement {} of {path} (version {version}); {state}",
        statements_applied + 1
    )
}

impl DeployError {
    /// True when trying again later may succeed (connection trouble, a busy
    /// target, a stop that left nothing half done).
    pub fn is_retryable(&self) -> bool {
        match self {
            DeployError::Connect { .. } | DeployError::Busy { .. } | DeployError::Query(_) => true,
            DeployError::Stopped {
                transactional,
                statements_applied,
                ..
            } => *transactional || *statements_applied == 0,
            _ => false,
        }
    }

    /// What may be shown on a pull request: SQLSTATE, message, file, line and
    /// statement number, never DETAIL lines (row values) or internal error
    /// texts (driver and bookkeeping messages); those are in [`Self::private_detail`].
    pub fn public_message(&self) -> String {
        match self {
            DeployError::Connect { .. } => "cannot connect to the database".to_string(),
            DeployError::Query(_) => "deploy bookkeeping on the database failed".to_string(),
            // Display carries no private parts for the others (Dirty's stored
            // error and Failed's detail are not part of it).
            other => other.to_string(),
        }
    }

    /// What stays in the meta database and the logs: DETAIL/HINT of a failed
    /// statement, driver and bookkeeping errors, a dirty row's recorded error.
    pub fn private_detail(&self) -> Option<String> {
        match self {
            DeployError::Connect { target, message } => Some(format!("{target}: {message}")),
            DeployError::Query(e) => Some(e.to_string()),
            DeployError::Failed(f) => f.detail.clone(),
            DeployError::Dirty { error, .. } => error.clone(),
            _ => None,
        }
    }
}
