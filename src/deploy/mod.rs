//! Applying migrations to target databases.
//!
//! A [`Target`] is one configured database. [`plan`] turns the migration files
//! of a commit into an ordered list of [`Migration`]s (version, checksum,
//! statements); [`Target::deploy`] applies the ones the target's history does
//! not have yet, after refusing drift (an applied file whose checksum changed)
//! and out-of-order versions. Each target keeps its own history table
//! (`bytegate.migration_history` on PostgreSQL) and serializes deploys with an
//! advisory lock, so two rollouts or two bytegate replicas never apply to one
//! database at once.
//!
//! The deploy flow itself is shared (`executor`): an engine only does SQL I/O
//! on its locked connection. PostgreSQL ([`postgres`]) and MySQL / MariaDB
//! ([`mysql`]) implement it. MySQL's DDL is not transactional: there a file
//! with DDL runs statement by statement and a failure half-way leaves the
//! target marked dirty (the history row of a partial, failed attempt), as
//! non-transactional PostgreSQL files already do.

pub mod backup;
pub mod check;
pub mod dryrun;
mod error;
mod executor;
mod failure;
mod history;
pub mod line_diff;
pub mod mysql;
mod plan;
pub mod postgres;
pub mod revert;
pub mod schema_snapshot;

pub use error::*;
pub use history::*;
pub use plan::*;

use crate::config::{Database, Engine, Environment};
use crate::review::model::Dialect;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::Duration;

/// How long a deploy waits for another deploy to the same target by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(300);

/// Asks a running deploy to stop at the next statement boundary (the job
/// worker lost its lease). Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    /// A signal that is not set.
    pub fn new() -> Self {
        StopSignal::default()
    }

    /// Sets the signal: deploys holding a clone stop before their next statement.
    pub fn stop(&self) {
        self.0.store(true, AtomicOrdering::SeqCst);
    }

    /// Whether the signal is set.
    pub fn is_stopped(&self) -> bool {
        self.0.load(AtomicOrdering::SeqCst)
    }
}

/// Two signals are equal when they are the same signal (clones of one another).
impl PartialEq for StopSignal {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for StopSignal {}

tokio::task_local! {
    /// Set by the job worker around a handler: turns true when the job's lease is lost.
    static STOP: StopSignal;
}

/// Runs `f` with `stop` as the stop signal of the job running in this task
/// (the job worker wraps each handler in it).
pub fn scope_stop_signal<F: std::future::Future>(
    stop: StopSignal,
    f: F,
) -> impl std::future::Future<Output = F::Output> {
    STOP.scope(stop, f)
}

/// The stop signal of the job running in this task, if any: deploys check it
/// between statements, so a lost lease stops them at a statement boundary.
/// Call it from inside the handler's future (it is scoped around its polls),
/// not while building the future. It lives here, beside [`StopSignal`], so
/// the flow reaches it without importing the job worker that runs the flow.
pub fn current_stop_signal() -> Option<StopSignal> {
    STOP.try_with(StopSignal::clone).ok()
}

/// Settings of one deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployOptions {
    /// `lock_timeout` for every migration (none: the server's).
    pub lock_timeout: Option<Duration>,
    /// `statement_timeout` for every migration (none: the server's).
    pub statement_timeout: Option<Duration>,
    /// Apply a pending version lower than the latest applied one instead of refusing.
    pub allow_out_of_order: bool,
    /// Who applies (recorded as `applied_by`).
    pub applied_by: String,
    /// The change that brings the migrations (PR URL), recorded with each row.
    pub change_ref: Option<String>,
    /// How long to wait for another deploy to the same target.
    pub lock_wait: Duration,
    /// Checked between statements: when set, the deploy stops and records where.
    pub stop: StopSignal,
    /// A named restore point to create (PostgreSQL: `pg_create_restore_point`)
    /// under the deploy's lock, just before the first pending migration, so
    /// a WAL archive can recover to exactly before the deploy.
    pub restore_point: Option<String>,
    /// Prior backups of `UPDATE`/`DELETE` (none: backups are off).
    pub backup: Option<backup::BackupPolicy>,
}

impl DeployOptions {
    /// The options an environment's configuration asks for.
    pub fn for_environment(env: &Environment, applied_by: &str, change_ref: Option<&str>) -> Self {
        DeployOptions {
            lock_timeout: env.lock_timeout.map(|d| d.0),
            statement_timeout: env.statement_timeout.map(|d| d.0),
            allow_out_of_order: env.allow_out_of_order,
            applied_by: applied_by.to_string(),
            change_ref: change_ref.map(str::to_string),
            lock_wait: DEFAULT_LOCK_WAIT,
            stop: StopSignal::new(),
            restore_point: None,
            backup: None,
        }
    }
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            lock_timeout: None,
            statement_timeout: None,
            allow_out_of_order: false,
            applied_by: "bytegate".to_string(),
            change_ref: None,
            lock_wait: DEFAULT_LOCK_WAIT,
            stop: StopSignal::new(),
            restore_point: None,
            backup: None,
        }
    }
}

/// One migration applied by a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Version.
    pub version: String,
    /// File.
    pub path: String,
    /// Checksum applied.
    pub checksum: String,
    /// Wall time.
    pub duration_ms: i64,
    /// Ran in one transaction.
    pub transactional: bool,
    /// Prior backups taken of its data changes.
    pub backups: Vec<backup::BackupTaken>,
    /// Its data changes that ran without a backup, and why.
    pub not_backed_up: Vec<backup::BackupSkipped>,
}

/// The reverse of one applied migration, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revert {
    /// The version it undoes (its history row is marked rolled back).
    pub version: String,
    /// Where the steps come from (a down script, or `generated`).
    pub source: String,
    /// The statements, in order.
    pub steps: Vec<Step>,
}

/// One migration a rollback undid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reverted {
    /// The version undone.
    pub version: String,
    /// Where its steps came from.
    pub source: String,
    /// Statements run.
    pub statements: usize,
    /// Wall time.
    pub duration_ms: i64,
}

/// What a rollback did: the reverts that ran, in order, and the failure
/// that stopped it (each revert is its own transaction: the earlier ones stay).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollbackReport {
    /// Reverts done.
    pub reverted: Vec<Reverted>,
    /// The revert that failed (nothing of it took effect).
    pub failure: Option<Failure>,
}

/// What a deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployReport {
    /// Migrations applied now, in order.
    pub applied: Vec<Applied>,
    /// Migrations of the plan the target already had.
    pub already_applied: usize,
    /// The restore point asked for, when there was something to apply.
    pub restore_point: Option<RestorePoint>,
}

/// A restore point created (or not) before a deploy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestorePoint {
    /// Its name (what `recovery_target_name` takes).
    pub name: String,
    /// The WAL position it marks; `None` when it could not be created.
    pub lsn: Option<String>,
    /// Why it was not created (the role lacks the right, `wal_level` is
    /// minimal, the engine has none).
    pub skipped: Option<String>,
}

/// A restore-point name: at most 63 bytes (PostgreSQL's limit), only
/// characters that are safe in any recovery configuration.
pub fn restore_point_name(change: &str, environment: &str) -> String {
    let raw = format!("bytegate-{change}-{environment}");
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect()
}

/// The future a target returns.
pub type DeployFuture<'a, T> = BoxFuture<'a, Result<T, DeployError>>;

/// A database migrations are applied to. Object-safe.
pub trait Target: Send + Sync {
    /// The engine.
    fn engine(&self) -> Engine;

    /// The name shown in reports (from config).
    fn name(&self) -> &str;

    /// Applies the pending migrations of `plan` (ordered by [`plan`]): takes
    /// the target's lock, checks drift and order, applies, records history.
    fn deploy<'a>(
        &'a self,
        plan: &'a [Migration],
        opts: &'a DeployOptions,
    ) -> DeployFuture<'a, DeployReport>;

    /// Runs `reverts` in order, each in one transaction with its history row
    /// marked rolled back (under the target's lock, as deploys run), stopping
    /// at the first failure.
    fn rollback<'a>(
        &'a self,
        reverts: &'a [Revert],
        opts: &'a DeployOptions,
    ) -> DeployFuture<'a, RollbackReport>;

    /// Why this target cannot roll back at all, if it cannot (asked before
    /// a rollback is planned, so the reply says it plainly).
    fn rollback_unavailable(&self) -> Option<DeployError> {
        None
    }

    /// Drops the prior backup table `bytegate_backup.<name>`, if it is there.
    fn drop_backup<'a>(&'a self, name: &'a str) -> DeployFuture<'a, ()>;

    /// The target's history, oldest first (empty before the first deploy).
    fn history(&self) -> DeployFuture<'_, Vec<HistoryRow>>;

    /// Records an operator's decision about the dirty file of `version` (under
    /// the target's lock), so the next deploy proceeds: `Applied` counts it
    /// as applied, `NotApplied` makes it pending again.
    fn repair<'a>(
        &'a self,
        version: &'a str,
        decision: RepairDecision,
        by: &'a str,
        reason: Option<&'a str>,
    ) -> DeployFuture<'a, Repaired>;

    /// "Test Connection": connects and reports version, TLS, the history
    /// table and the deploy lock (taken and released at once), changing
    /// nothing. Engines without a check answer `Unsupported`.
    fn check(&self) -> DeployFuture<'_, check::Probe> {
        let engine = self.engine();
        Box::pin(async move {
            Err(DeployError::Unsupported {
                what: "the targets check",
                engine,
            })
        })
    }
}

/// The target for a configured database.
pub fn target_for(db: &Database) -> Result<Box<dyn Target>, DeployError> {
    match db.engine {
        Engine::Postgres => Ok(Box::new(postgres::PostgresTarget::new(
            &db.name,
            db.url.expose(),
        ))),
        Engine::Mysql => Ok(Box::new(mysql::MysqlTarget::new(&db.name, db.url.expose()))),
    }
}

/// The dialect of an engine.
pub fn dialect(engine: Engine) -> Dialect {
    match engine {
        Engine::Postgres => Dialect::Postgres,
        Engine::Mysql => Dialect::Mysql,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    fn row(version: &str, checksum: &str, success: bool) -> HistoryRow {
        HistoryRow {
            version: version.into(),
            name: format!("m/{version}_x.sql"),
            checksum: checksum.into(),
            applied_by: "bytegate".into(),
            change_ref: Some("https://github.com/o/r/pull/1".into()),
            success,
            error: None,
            transactional: true,
            statements_applied: 0,
            finished: true,
            interrupted: false,
            repair: None,
            rolled_back: false,
        }
    }

    #[test]
    fn plan_orders_by_version_and_skips_reverts() {
        let p = plan(
            &files(&[
                ("m/10_c.sql", "SELECT 1;"),
                ("m/9_b.sql", "SELECT 1;"),
                ("m/9_b.down.sql", "SELECT 1;"),
                ("m/2019-01-01-000000_x/down.sql", "SELECT 1;"),
            ]),
            Dialect::Postgres,
        )
        .unwrap();
        let names: Vec<_> = p.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(names, ["m/9_b.sql", "m/10_c.sql"]);
        assert_eq!(p[0].version, "9");
        assert_eq!(p[0].checksum, checksum(b"SELECT 1;"));
    }

    #[test]
    fn plan_orders_nested_layouts_by_folder_then_file() {
        let p = plan(
            &files(&[
                ("delta/10/01_c.sql", "SELECT 1;"),
                ("delta/2/02_b.sql", "SELECT 1;"),
                ("delta/2/01_a.sql", "SELECT 1;"),
            ]),
            Dialect::Postgres,
        )
        .unwrap();
        let got: Vec<_> = p
            .iter()
            .map(|m| (m.path.as_str(), m.version.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("delta/2/01_a.sql", "2.1"),
                ("delta/2/02_b.sql", "2.2"),
                ("delta/10/01_c.sql", "10.1"),
            ]
        );
    }

    #[test]
    fn plan_refuses_unversioned_duplicate_and_binary_files() {
        let e = plan(&files(&[("m/readme.sql", "")]), Dialect::Postgres).unwrap_err();
        assert!(matches!(e, PlanError::NoVersion { .. }));
        let e = plan(
            &files(&[("m/1_a.sql", ""), ("m/001_b.sql", "")]),
            Dialect::Postgres,
        )
        .unwrap_err();
        assert!(matches!(e, PlanError::DuplicateVersion { .. }), "{e}");
        let e = plan(&[("m/1_a.sql".into(), vec![0xff, 0xfe])], Dialect::Postgres).unwrap_err();
        assert!(matches!(e, PlanError::NotText { .. }));
    }

    #[test]
    fn concurrently_makes_a_file_non_transactional() {
        let p = plan(
            &files(&[(
                "m/1_idx.sql",
                "SET lock_timeout = '1s';\nCREATE INDEX CONCURRENTLY i ON t (a);",
            )]),
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(
            p[0].mode,
            Mode::NonTransactional("CREATE INDEX CONCURRENTLY")
        );
        assert_eq!(p[0].steps.len(), 2);
        assert_eq!((p[0].steps[1].line, p[0].steps[1].column), (2, 1));
    }

    #[test]
    fn a_wrapping_transaction_is_dropped_and_inner_control_refused() {
        let p = plan(
            &files(&[("m/1_a.sql", "BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;\n")]),
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(p[0].steps.len(), 1);
        assert_eq!(p[0].mode, Mode::Transactional);
        let e = plan(
            &files(&[("m/1_a.sql", "CREATE TABLE t (id int);\nCOMMIT;\nSELECT 1;")]),
            Dialect::Postgres,
        )
        .unwrap_err();
        assert!(
            matches!(e, PlanError::TransactionControl { line: 2, .. }),
            "{e}"
        );
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(cmp_versions("9", "10"), Ordering::Less);
        assert_eq!(cmp_versions("1", "1.1"), Ordering::Less);
        assert_eq!(cmp_versions("2025.1.2", "2025.1.10"), Ordering::Less);
        assert_eq!(cmp_versions("3", "3"), Ordering::Equal);
    }

    #[test]
    fn pending_refuses_drift_naming_both_checksums_and_the_change() {
        let p = plan(&files(&[("m/1_a.sql", "SELECT 2;")]), Dialect::Postgres).unwrap();
        let e = pending(&p, &[row("1", "abc", true)], false).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("m/1_a.sql") && msg.contains("abc"), "{msg}");
        assert!(
            msg.contains(&p[0].checksum) && msg.contains("pull/1"),
            "{msg}"
        );
    }

    #[test]
    fn pending_refuses_out_of_order_unless_allowed() {
        let p = plan(
            &files(&[("m/1_a.sql", "SELECT 1;"), ("m/2_b.sql", "SELECT 2;")]),
            Dialect::Postgres,
        )
        .unwrap();
        let hist = [row("2", &p[1].checksum, true)];
        assert!(matches!(
            pending(&p, &hist, false),
            Err(DeployError::OutOfOrder { .. })
        ));
        let ok = pending(&p, &hist, true).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].version, "1");
    }

    #[test]
    fn failed_transactional_attempts_do_not_block_but_dirty_ones_do() {
        let p = plan(&files(&[("m/1_a.sql", "SELECT 1;")]), Dialect::Postgres).unwrap();
        let failed = row("1", &p[0].checksum, false);
        assert_eq!(
            pending(&p, std::slice::from_ref(&failed), false)
                .unwrap()
                .len(),
            1
        );
        let dirty = HistoryRow {
            transactional: false,
            statements_applied: 1,
            ..failed
        };
        assert!(matches!(
            pending(&p, std::slice::from_ref(&dirty), false),
            Err(DeployError::Dirty { .. })
        ));
        // A repair row after it clears it.
        let repaired = HistoryRow {
            repair: Some(RepairDecision::NotApplied),
            statements_applied: 0,
            ..dirty.clone()
        };
        assert_eq!(pending(&p, &[dirty, repaired], false).unwrap().len(), 1);
    }

    #[test]
    fn a_started_row_that_never_finished_is_dirty_even_for_another_plan() {
        let p = plan(&files(&[("m/3_c.sql", "SELECT 1;")]), Dialect::Postgres).unwrap();
        let started = HistoryRow {
            transactional: false,
            finished: false,
            statements_applied: 1,
            name: "m/2_idx.sql".into(),
            ..row("2", "abc", false)
        };
        let e = pending(&p, &[started], false).unwrap_err();
        assert!(
            matches!(
                e,
                DeployError::Dirty {
                    cause: DirtyCause::NeverFinished,
                    ..
                }
            ),
            "{e}"
        );
        let msg = e.public_message();
        assert!(
            msg.contains("m/2_idx.sql")
                && msg.contains("statement 2")
                && msg.contains("bytegate repair"),
            "{msg}"
        );
    }

    #[test]
    fn public_messages_keep_details_and_internals_off_the_pull_request() {
        let f = Failure {
            path: "m/2_x.sql".into(),
            version: "2".into(),
            statement_number: 2,
            statements_total: 2,
            line: 3,
            column: 1,
            statement: "INSERT INTO users VALUES (2, 'secret@x.io')".into(),
            message: "duplicate key value violates unique constraint \"users_email_key\" (SQLSTATE 23505)".into(),
            sqlstate: Some("23505".into()),
            detail: Some("DETAIL: Key (email)=(secret@x.io) already exists.".into()),
            transactional: true,
            statements_applied: 0,
            applied_before: Vec::new(),
            restore_point: None,
        };
        let e = DeployError::Failed(Box::new(f));
        assert!(
            !e.public_message().contains("Key (email)"),
            "{}",
            e.public_message()
        );
        assert!(e.private_detail().unwrap().contains("Key (email)"));
        let q = DeployError::Query(sqlx::Error::Protocol("secret internals".into()));
        assert!(!q.public_message().contains("secret internals"));
        assert!(q.private_detail().unwrap().contains("secret internals"));
    }
}
