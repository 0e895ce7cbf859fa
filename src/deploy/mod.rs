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
//! PostgreSQL is implemented ([`postgres`]); the trait is shaped for MySQL
//! too, whose DDL is not transactional: there a failed file leaves the target
//! marked dirty (the history row of a partial, failed attempt), as
//! non-transactional PostgreSQL files already do.

pub mod postgres;

use crate::config::{Database, Engine, Environment};
use crate::review::model::{Dialect, Statement, StatementKind};
use crate::review::{parse, rules, version_key};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::time::Duration;

/// How long a deploy waits for another deploy to the same target by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(300);
/// Longest statement excerpt quoted in an error.
const EXCERPT_CHARS: usize = 300;

/// The hex sha256 of a migration file's bytes: the checksum the history records.
pub fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One statement of a migration, as it is sent to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The statement text (no trailing `;`).
    pub text: String,
    /// 1-based line of its first character in the file.
    pub line: u32,
    /// 1-based column of its first character.
    pub column: u32,
}

/// How a migration file runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// All statements in one transaction (with the history row).
    Transactional,
    /// Statement by statement, outside any transaction, because one statement
    /// cannot run inside one (the reason names it, e.g. `CREATE INDEX CONCURRENTLY`).
    NonTransactional(&'static str),
}

/// A migration file ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Dotted numeric version (`1`, `2025.1.20`): the identity in the history.
    pub version: String,
    /// Repository path of the file (recorded as the name).
    pub path: String,
    /// sha256 of the file's bytes.
    pub checksum: String,
    /// The statements, in order.
    pub steps: Vec<Step>,
    /// Transactional or not.
    pub mode: Mode,
}

/// Why the migration files cannot become a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A file name carries no version.
    #[error("{path}: the file name has no version (expected e.g. `001_add_users.sql`)")]
    NoVersion {
        /// The file.
        path: String,
    },
    /// Two files share a version.
    #[error("{first} and {second} have the same version {version}")]
    DuplicateVersion {
        /// The version.
        version: String,
        /// One file.
        first: String,
        /// The other.
        second: String,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
    },
    /// Transaction control inside a file the executor wraps in a transaction.
    #[error(
        "{path}:{line}: `{statement}` inside the migration: bytegate runs each file in one transaction itself; remove transaction control (a file wrapped in one BEGIN … COMMIT is fine)"
    )]
    TransactionControl {
        /// The file.
        path: String,
        /// Line of the statement.
        line: u32,
        /// The statement.
        statement: String,
    },
}

/// Turns migration files (repository path, bytes) into the ordered plan for
/// `dialect`. Reverts (`down.sql`, `*.down.sql`) are not part of a deploy.
pub fn plan(files: &[(String, Vec<u8>)], dialect: Dialect) -> Result<Vec<Migration>, PlanError> {
    let mut keyed: Vec<_> = files
        .iter()
        .filter(|(path, _)| !is_revert(path))
        .map(|(path, bytes)| (version_key(path), path, bytes))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<Migration> = Vec::with_capacity(keyed.len());
    for (key, path, bytes) in keyed {
        let version = key
            .version()
            .ok_or_else(|| PlanError::NoVersion { path: path.clone() })?;
        if let Some(prev) = out.iter().find(|m| m.version == version) {
            return Err(PlanError::DuplicateVersion {
                version,
                first: prev.path.clone(),
                second: path.clone(),
            });
        }
        out.push(migration(path, bytes, version, dialect)?);
    }
    Ok(out)
}

/// True for revert files (`down.sql`, `*.down.sql`): never part of a deploy.
pub fn is_revert(path: &str) -> bool {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = file.to_ascii_lowercase();
    lower == "down.sql" || lower.ends_with(".down.sql")
}

/// One file → a [`Migration`] (statements split by the review parser).
fn migration(
    path: &str,
    bytes: &[u8],
    version: String,
    dialect: Dialect,
) -> Result<Migration, PlanError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PlanError::NotText {
        path: path.to_string(),
    })?;
    let mut statements = parse::parse_file(text, dialect);
    let reason = statements.iter().find_map(rules::non_transactional_reason);
    if reason.is_none() {
        strip_wrapping_transaction(&mut statements);
        if let Some(s) = statements.iter().find(|s| is_transaction_control(s)) {
            return Err(PlanError::TransactionControl {
                path: path.to_string(),
                line: s.line(),
                statement: excerpt(&s.text),
            });
        }
    }
    let steps = statements
        .into_iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| Step {
            line: s.span.start.line,
            column: s.span.start.column,
            text: s.text,
        })
        .collect();
    Ok(Migration {
        version,
        path: path.to_string(),
        checksum: checksum(bytes),
        steps,
        mode: reason.map_or(Mode::Transactional, Mode::NonTransactional),
    })
}

/// Drops a `BEGIN` first and `COMMIT` last statement: files written for
/// `psql -f` often wrap themselves, and bytegate's own transaction replaces it.
fn strip_wrapping_transaction(statements: &mut Vec<Statement>) {
    let wrapped = matches!(
        statements.first().map(|s| &s.kind),
        Some(StatementKind::Begin)
    ) && matches!(
        statements.last().map(|s| &s.kind),
        Some(StatementKind::Commit)
    ) && statements.len() >= 2;
    if wrapped {
        statements.pop();
        statements.remove(0);
    }
}

fn is_transaction_control(s: &Statement) -> bool {
    matches!(
        s.kind,
        StatementKind::Begin | StatementKind::Commit | StatementKind::Rollback
    )
}

/// A statement shortened for messages.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= EXCERPT_CHARS {
        one_line
    } else {
        let mut s: String = one_line.chars().take(EXCERPT_CHARS).collect();
        s.push('…');
        s
    }
}

/// Compares dotted versions numerically, part by part (`9` < `10`, `1` < `1.1`).
pub fn cmp_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<String> {
        v.split('.')
            .map(|p| p.trim_start_matches('0').to_string())
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

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
}

/// What a deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployReport {
    /// Migrations applied now, in order.
    pub applied: Vec<Applied>,
    /// Migrations of the plan the target already had.
    pub already_applied: usize,
}

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
}

impl HistoryRow {
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

/// The command an operator runs to record a decision about a dirty file.
pub fn repair_hint(version: &str) -> String {
    format!(
        "`bytegate repair --config FILE ENVIRONMENT [DATABASE] --version {version} --decision applied|not-applied --reason TEXT`"
    )
}

/// Why a deploy did not (fully) happen.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The engine is not supported yet.
    #[error("deploying to {0:?} databases is not supported yet")]
    Unsupported(Engine),
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
}

fn failed_message(e: &DeployError) -> String {
    let DeployError::Failed(f) = e else {
        return String::new();
    };
    let after = if f.transactional {
        "rolled back: nothing of this migration was applied".to_string()
    } else if f.statements_applied == 0 {
        "ran outside a transaction; no statement of it took effect".to_string()
    } else {
        format!(
            "ran outside a transaction: {} earlier statement(s) took effect and the database is marked dirty until repaired with {}",
            f.statements_applied,
            repair_hint(&f.version)
        )
    };
    format!(
        "{}:{}:{}: statement {} failed: {}\n    {}\n({after})",
        f.path, f.line, f.column, f.statement_number, f.message, f.statement
    )
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
}

/// The target for a configured database.
pub fn target_for(db: &Database) -> Result<Box<dyn Target>, DeployError> {
    match db.engine {
        Engine::Postgres => Ok(Box::new(postgres::PostgresTarget::new(
            &db.name,
            db.url.expose(),
        ))),
        Engine::Mysql => Err(DeployError::Unsupported(Engine::Mysql)),
    }
}

/// The dialect of an engine.
pub fn dialect(engine: Engine) -> Dialect {
    match engine {
        Engine::Postgres => Dialect::Postgres,
        Engine::Mysql => Dialect::Mysql,
    }
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
    let applied = |v: &str| history.iter().find(|h| h.success && h.version == v);
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
        .filter(|h| h.success)
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
    let mut seen = std::collections::HashSet::new();
    // Newest first: the first row met of each version is its newest attempt.
    let mut dirty: Vec<&HistoryRow> = history
        .iter()
        .rev()
        .filter(|h| seen.insert(h.version.as_str()))
        .filter(|h| h.dirty_cause().is_some())
        .collect();
    // Report the oldest dirty file first (the one the others may depend on).
    let h = dirty.pop()?;
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

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Transactional => f.write_str("transactional"),
            Mode::NonTransactional(why) => write!(f, "non-transactional ({why})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            line: 3,
            column: 1,
            statement: "INSERT INTO users VALUES (2, 'secret@x.io')".into(),
            message: "duplicate key value violates unique constraint \"users_email_key\" (SQLSTATE 23505)".into(),
            sqlstate: Some("23505".into()),
            detail: Some("DETAIL: Key (email)=(secret@x.io) already exists.".into()),
            transactional: true,
            statements_applied: 0,
            applied_before: Vec::new(),
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
