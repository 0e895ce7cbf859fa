//! The PostgreSQL target.
//!
//! One dedicated connection per deploy. On it, and only on it: a session-level
//! advisory lock (held between transactions, never inside one), the history
//! table, and the migrations. bytegate keeps no other transaction open on the
//! target while it deploys: `CREATE INDEX CONCURRENTLY` waits for every older
//! transaction in the database, so an advisory lock held in a second
//! connection's open transaction would deadlock it (flyway/flyway#1654).

mod backup;
mod check;
mod failure;
mod revert;

use super::{
    Applied, DeployError, DeployFuture, DeployOptions, DeployReport, Failure, HistoryRow,
    Migration, Mode, RepairDecision, Repaired, Revert, RollbackReport, Target, dirty_row, pending,
};
use crate::config::Engine;
use crate::store::redact_url;
use chrono::{DateTime, Utc};
use failure::{failure_of, unreachable_failure};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, Row};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The advisory lock key ("bytegate" in ASCII). Advisory locks are per
/// database, so one constant serializes deploys per target.
pub const LOCK_KEY: i64 = 0x6279_7465_6761_7465;
/// Time between attempts to take a busy lock.
const LOCK_POLL: Duration = Duration::from_millis(200);

const ENSURE_HISTORY: &str = "
-- The IF NOT EXISTS notices of every deploy are noise in bytegate's logs.
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS bytegate;
CREATE TABLE IF NOT EXISTS bytegate.migration_history (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version            TEXT NOT NULL,
    name               TEXT NOT NULL,
    checksum           TEXT NOT NULL,
    applied_by         TEXT NOT NULL,
    change_ref         TEXT,
    started_at         TIMESTAMPTZ NOT NULL,
    finished_at        TIMESTAMPTZ NOT NULL,
    duration_ms        BIGINT NOT NULL,
    success            BOOLEAN NOT NULL,
    error              TEXT,
    transactional      BOOLEAN NOT NULL DEFAULT true,
    statements_applied INT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS migration_history_applied_version
    ON bytegate.migration_history (version) WHERE success;
-- Upgrades of tables created by earlier versions, in place. A row written
-- before a non-transactional file starts has no finish time until it ends.
ALTER TABLE bytegate.migration_history ALTER COLUMN finished_at DROP NOT NULL;
ALTER TABLE bytegate.migration_history
    ADD COLUMN IF NOT EXISTS interrupted BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS repair TEXT,
    ADD COLUMN IF NOT EXISTS repair_reason TEXT,
    ADD COLUMN IF NOT EXISTS rolled_back_at TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS rolled_back_by TEXT;
-- A rolled-back version may be applied again: one live row per version.
DROP INDEX IF EXISTS bytegate.migration_history_applied_version;
CREATE UNIQUE INDEX IF NOT EXISTS migration_history_live_version
    ON bytegate.migration_history (version) WHERE success AND rolled_back_at IS NULL;
RESET client_min_messages;
";

/// Indexes a broken `CREATE INDEX CONCURRENTLY` (or `REINDEX CONCURRENTLY`) left behind.
const INVALID_INDEXES: &str = "
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
ORDER BY 1";

/// A PostgreSQL database.
pub struct PostgresTarget {
    name: String,
    url: String,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PostgresTarget")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

impl PostgresTarget {
    /// A target named `name` at `url`.
    pub fn new(name: &str, url: &str) -> Self {
        PostgresTarget {
            name: name.to_string(),
            url: url.to_string(),
        }
    }

    async fn connect(&self) -> Result<PgConnection, DeployError> {
        let fail = |e: sqlx::Error| DeployError::Connect {
            target: redact_url(&self.url),
            message: e.to_string(),
        };
        let opts = PgConnectOptions::from_str(&self.url)
            .map_err(fail)?
            .application_name("bytegate-deploy");
        opts.connect().await.map_err(fail)
    }

    async fn deploy_impl(
        &self,
        plan: &[Migration],
        opts: &DeployOptions,
    ) -> Result<DeployReport, DeployError> {
        let mut conn = self.connect().await?;
        lock(&mut conn, opts.lock_wait).await?;
        let result = deploy_locked(&mut conn, plan, opts).await;
        release(conn).await;
        result
    }

    async fn rollback_impl(
        &self,
        reverts: &[Revert],
        opts: &DeployOptions,
    ) -> Result<RollbackReport, DeployError> {
        let mut conn = self.connect().await?;
        lock(&mut conn, opts.lock_wait).await?;
        let result = async {
            sqlx::raw_sql(ENSURE_HISTORY).execute(&mut conn).await?;
            revert::rollback_locked(&mut conn, reverts, opts).await
        }
        .await;
        release(conn).await;
        result
    }

    async fn repair_impl(
        &self,
        version: &str,
        decision: RepairDecision,
        by: &str,
        reason: Option<&str>,
    ) -> Result<Repaired, DeployError> {
        let mut conn = self.connect().await?;
        lock(&mut conn, super::DEFAULT_LOCK_WAIT).await?;
        let result = repair_locked(&mut conn, version, decision, by, reason).await;
        release(conn).await;
        result
    }

    async fn history_impl(&self) -> Result<Vec<HistoryRow>, DeployError> {
        let mut conn = self.connect().await?;
        let (exists,): (bool,) =
            sqlx::query_as("SELECT to_regclass('bytegate.migration_history') IS NOT NULL")
                .fetch_one(&mut conn)
                .await?;
        let rows = if exists {
            read_history(&mut conn).await?
        } else {
            Vec::new()
        };
        let _ = conn.close().await;
        Ok(rows)
    }
}

impl Target for PostgresTarget {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn deploy<'a>(
        &'a self,
        plan: &'a [Migration],
        opts: &'a DeployOptions,
    ) -> DeployFuture<'a, DeployReport> {
        Box::pin(self.deploy_impl(plan, opts))
    }

    fn rollback<'a>(
        &'a self,
        reverts: &'a [Revert],
        opts: &'a DeployOptions,
    ) -> DeployFuture<'a, RollbackReport> {
        Box::pin(self.rollback_impl(reverts, opts))
    }

    fn drop_backup<'a>(&'a self, name: &'a str) -> DeployFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.connect().await?;
            let sql = format!(
                "DROP TABLE IF EXISTS {}",
                crate::deploy::backup::qualified_backup(name)
            );
            let result = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
            let _ = conn.close().await;
            result?;
            Ok(())
        })
    }

    fn check(&self) -> DeployFuture<'_, crate::deploy::check::Probe> {
        Box::pin(check::probe(self))
    }

    fn history(&self) -> DeployFuture<'_, Vec<HistoryRow>> {
        Box::pin(self.history_impl())
    }

    fn repair<'a>(
        &'a self,
        version: &'a str,
        decision: RepairDecision,
        by: &'a str,
        reason: Option<&'a str>,
    ) -> DeployFuture<'a, Repaired> {
        Box::pin(self.repair_impl(version, decision, by, reason))
    }
}

/// Records the operator's decision as a new history row: the newest row of
/// the version decides, so the dirty row stays as the record of what happened.
async fn repair_locked(
    conn: &mut PgConnection,
    version: &str,
    decision: RepairDecision,
    by: &str,
    reason: Option<&str>,
) -> Result<Repaired, DeployError> {
    sqlx::raw_sql(ENSURE_HISTORY).execute(&mut *conn).await?;
    let history = read_history(conn).await?;
    let Some(dirty) = dirty_row(&history, version) else {
        return Err(DeployError::NothingToRepair {
            version: version.to_string(),
        });
    };
    let applied = decision == RepairDecision::Applied;
    sqlx::query(
        "INSERT INTO bytegate.migration_history
           (version, name, checksum, applied_by, change_ref, started_at, finished_at,
            duration_ms, success, error, transactional, statements_applied, repair, repair_reason)
         VALUES ($1, $2, $3, $4, $5, now(), now(), 0, $6, NULL, false, $7, $8, $9)",
    )
    .bind(&dirty.version)
    .bind(&dirty.name)
    .bind(&dirty.checksum)
    .bind(by)
    .bind(&dirty.change_ref)
    .bind(applied)
    .bind(if applied { dirty.statements_applied } else { 0 })
    .bind(decision.as_str())
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(Repaired {
        path: dirty.name.clone(),
        version: dirty.version.clone(),
        checksum: dirty.checksum.clone(),
        decision,
        statements_applied: dirty.statements_applied,
        change_ref: dirty.change_ref.clone(),
    })
}

/// Unlocks and closes a deploy connection. Closing the session releases the
/// lock too; unlocking first keeps a pooled or slow-closing connection from
/// holding it.
async fn release(mut conn: PgConnection) {
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
}

/// A transaction with the configured timeouts set for it.
pub(super) async fn begin_with_timeouts<'c>(
    conn: &'c mut PgConnection,
    opts: &DeployOptions,
) -> Result<sqlx::Transaction<'c, sqlx::Postgres>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let settings = timeout_settings(opts, true);
    if !settings.is_empty() {
        sqlx::raw_sql(AssertSqlSafe(settings))
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// Takes the session-level advisory lock, polling so a stuck deploy elsewhere
/// turns into [`DeployError::Busy`] instead of a worker blocked forever.
async fn lock(conn: &mut PgConnection, wait: Duration) -> Result<(), DeployError> {
    let start = Instant::now();
    loop {
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut *conn)
            .await?;
        if got {
            return Ok(());
        }
        if start.elapsed() >= wait {
            return Err(DeployError::Busy {
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(LOCK_POLL).await;
    }
}

async fn deploy_locked(
    conn: &mut PgConnection,
    plan: &[Migration],
    opts: &DeployOptions,
) -> Result<DeployReport, DeployError> {
    // Under the lock: creating the schema cannot race another deploy.
    sqlx::raw_sql(ENSURE_HISTORY).execute(&mut *conn).await?;
    let history = read_history(conn).await?;
    let todo = pending(plan, &history, opts.allow_out_of_order)?;
    let invalid: Vec<(String,)> = sqlx::query_as(INVALID_INDEXES)
        .fetch_all(&mut *conn)
        .await?;
    if !invalid.is_empty() {
        return Err(DeployError::InvalidIndex {
            indexes: invalid.into_iter().map(|(n,)| n).collect(),
        });
    }
    let restore_point = match &opts.restore_point {
        Some(name) if !todo.is_empty() => Some(create_restore_point(conn, name).await),
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
            Mode::Transactional => apply_in_transaction(conn, m, opts).await,
            Mode::NonTransactional(_) => apply_statement_by_statement(conn, m, opts).await,
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

/// `pg_create_restore_point`, where the role and `wal_level` allow it; a
/// refusal is recorded, never a reason to stop the deploy.
async fn create_restore_point(conn: &mut PgConnection, name: &str) -> super::RestorePoint {
    let made: Result<(String,), sqlx::Error> =
        sqlx::query_as("SELECT pg_create_restore_point($1)::text")
            .bind(name)
            .fetch_one(&mut *conn)
            .await;
    match made {
        Ok((lsn,)) => super::RestorePoint {
            name: name.to_string(),
            lsn: Some(lsn),
            skipped: None,
        },
        Err(e) => {
            let skipped = match e.as_database_error() {
                Some(db) => db.message().to_string(),
                None => e.to_string(),
            };
            tracing::info!(restore_point = name, reason = %skipped, "no restore point before the deploy");
            super::RestorePoint {
                name: name.to_string(),
                lsn: None,
                skipped: Some(skipped),
            }
        }
    }
}

async fn read_history(conn: &mut PgConnection) -> Result<Vec<HistoryRow>, DeployError> {
    let rows = sqlx::query(
        "SELECT version, name, checksum, applied_by, change_ref, success, error,
                transactional, statements_applied, finished_at IS NOT NULL AS finished,
                interrupted, repair, rolled_back_at IS NOT NULL AS rolled_back
         FROM bytegate.migration_history ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
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
                finished: r.try_get("finished")?,
                interrupted: r.try_get("interrupted")?,
                repair: r
                    .try_get::<Option<String>, _>("repair")?
                    .and_then(|d| d.parse().ok()),
                rolled_back: r.try_get("rolled_back")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DeployError::Query)
}

/// The `SET` statements for the configured timeouts (`LOCAL` inside a transaction).
fn timeout_settings(opts: &DeployOptions, local: bool) -> String {
    let scope = if local { "LOCAL " } else { "" };
    let mut sql = String::new();
    for (name, value) in [
        ("lock_timeout", opts.lock_timeout),
        ("statement_timeout", opts.statement_timeout),
    ] {
        if let Some(d) = value {
            // An integer we format ourselves: nothing from input reaches the SQL.
            sql.push_str(&format!("SET {scope}{name} = '{}ms';", d.as_millis()));
        }
    }
    sql
}

/// One history row to write.
struct Attempt<'a> {
    m: &'a Migration,
    started_at: DateTime<Utc>,
    elapsed: Duration,
    success: bool,
    error: Option<String>,
    statements_applied: usize,
    interrupted: bool,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The history's error text: the message and, for operators, the detail.
/// The history lives in the target database, not on the pull request.
fn history_error(f: &Failure) -> String {
    match &f.detail {
        Some(d) => format!("{} ({d})", f.message),
        None => f.message.clone(),
    }
}

async fn record(
    conn: &mut PgConnection,
    a: &Attempt<'_>,
    opts: &DeployOptions,
) -> Result<(), sqlx::Error> {
    let finished_at = a.started_at
        + chrono::Duration::from_std(a.elapsed).unwrap_or_else(|_| chrono::Duration::zero());
    sqlx::query(
        "INSERT INTO bytegate.migration_history
           (version, name, checksum, applied_by, change_ref, started_at, finished_at,
            duration_ms, success, error, transactional, statements_applied, interrupted)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&a.m.version)
    .bind(&a.m.path)
    .bind(&a.m.checksum)
    .bind(&opts.applied_by)
    .bind(&opts.change_ref)
    .bind(a.started_at)
    .bind(finished_at)
    .bind(millis(a.elapsed))
    .bind(a.success)
    .bind(&a.error)
    .bind(a.m.mode == Mode::Transactional)
    .bind(count(a.statements_applied))
    .bind(a.interrupted)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes and commits the row of a non-transactional file before its first
/// statement: unfinished (no `finished_at`) until [`finish_row`].
async fn start_row(
    conn: &mut PgConnection,
    m: &Migration,
    opts: &DeployOptions,
    started_at: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO bytegate.migration_history
           (version, name, checksum, applied_by, change_ref, started_at, finished_at,
            duration_ms, success, error, transactional, statements_applied)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, false, NULL, false, 0)
         RETURNING id",
    )
    .bind(&m.version)
    .bind(&m.path)
    .bind(&m.checksum)
    .bind(&opts.applied_by)
    .bind(&opts.change_ref)
    .bind(started_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Completes a started row with the attempt's outcome.
async fn finish_row(conn: &mut PgConnection, id: i64, a: &Attempt<'_>) -> Result<(), sqlx::Error> {
    let finished_at = a.started_at
        + chrono::Duration::from_std(a.elapsed).unwrap_or_else(|_| chrono::Duration::zero());
    sqlx::query(
        "UPDATE bytegate.migration_history
         SET finished_at = $2, duration_ms = $3, success = $4, error = $5,
             statements_applied = $6, interrupted = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(finished_at)
    .bind(millis(a.elapsed))
    .bind(a.success)
    .bind(&a.error)
    .bind(count(a.statements_applied))
    .bind(a.interrupted)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn apply_in_transaction(
    conn: &mut PgConnection,
    m: &Migration,
    opts: &DeployOptions,
) -> Result<Applied, DeployError> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let mut failure = None;
    let mut stopped = false;
    let mut taken = backup::Taken::default();
    {
        let mut tx = begin_with_timeouts(conn, opts).await?;
        for (i, step) in m.steps.iter().enumerate() {
            if opts.stop.is_stopped() {
                stopped = true;
                break;
            }
            // The rows it will touch, copied first in the same transaction.
            if let (Some(policy), Some(dml)) = (&opts.backup, &step.dml)
                && let Err(f) = backup::back_up(&mut tx, m, i, dml, policy, &mut taken).await
            {
                failure = Some(*f);
                break;
            }
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(step.text.as_str()))
                .execute(&mut *tx)
                .await
            {
                failure = Some(failure_of(m, i, &e, 0));
                break;
            }
        }
        if failure.is_none() && !stopped {
            let attempt = Attempt {
                m,
                started_at,
                elapsed: clock.elapsed(),
                success: true,
                error: None,
                statements_applied: m.steps.len(),
                interrupted: false,
            };
            let committed = match record(&mut tx, &attempt, opts).await {
                Ok(()) => tx.commit().await,
                Err(e) => Err(e),
            };
            match committed {
                Ok(()) => {
                    return Ok(Applied {
                        version: m.version.clone(),
                        path: m.path.clone(),
                        checksum: m.checksum.clone(),
                        duration_ms: millis(attempt.elapsed),
                        transactional: true,
                        backups: taken.backups,
                        not_backed_up: taken.skipped,
                    });
                }
                // A deferred constraint fails at COMMIT: it belongs to the last statement.
                Err(e) => failure = Some(failure_of(m, m.steps.len().saturating_sub(1), &e, 0)),
            }
        } else {
            tx.rollback().await?;
        }
    }
    if stopped {
        let attempt = Attempt {
            m,
            started_at,
            elapsed: clock.elapsed(),
            success: false,
            error: Some("stopped: the worker lost its job lease (rolled back)".to_string()),
            statements_applied: 0,
            interrupted: true,
        };
        record(conn, &attempt, opts).await?;
        return Err(DeployError::Stopped {
            path: m.path.clone(),
            version: m.version.clone(),
            statements_applied: 0,
            transactional: true,
            applied_before: Vec::new(),
        });
    }
    let failure = failure.unwrap_or_else(|| unreachable_failure(m));
    let attempt = Attempt {
        m,
        started_at,
        elapsed: clock.elapsed(),
        success: false,
        error: Some(history_error(&failure)),
        statements_applied: 0,
        interrupted: false,
    };
    record(conn, &attempt, opts).await?;
    Err(DeployError::Failed(Box::new(failure)))
}

/// How a non-transactional file's statements ended.
enum Ended {
    Done,
    Failed(Box<Failure>),
    Stopped,
}

async fn apply_statement_by_statement(
    conn: &mut PgConnection,
    m: &Migration,
    opts: &DeployOptions,
) -> Result<Applied, DeployError> {
    if let Some(refusal) = backup::refuse_outside_transaction(m, opts) {
        return Err(DeployError::Failed(Box::new(refusal)));
    }
    let started_at = Utc::now();
    let clock = Instant::now();
    // Committed before the first statement: when the process dies or this
    // future is dropped mid-file, the row stays unfinished and the target
    // reads as dirty, naming the file and the statement reached.
    let id = start_row(conn, m, opts, started_at).await?;
    let mut done = 0usize;
    let ended: Result<Ended, sqlx::Error> = async {
        let settings = timeout_settings(opts, false);
        if !settings.is_empty() {
            sqlx::raw_sql(AssertSqlSafe(settings))
                .execute(&mut *conn)
                .await?;
        }
        for (i, step) in m.steps.iter().enumerate() {
            if opts.stop.is_stopped() {
                return Ok(Ended::Stopped);
            }
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(step.text.as_str()))
                .execute(&mut *conn)
                .await
            {
                return Ok(Ended::Failed(Box::new(failure_of(m, i, &e, i))));
            }
            done = i + 1;
            sqlx::query(
                "UPDATE bytegate.migration_history SET statements_applied = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(count(done))
            .execute(&mut *conn)
            .await?;
        }
        Ok(Ended::Done)
    }
    .await;
    let (ended, bookkeeping) = match ended {
        Ok(e) => (e, None),
        // Best effort below: if the connection is gone the row stays
        // unfinished, and the target dirty, which is the truth.
        Err(e) => (Ended::Stopped, Some(e)),
    };
    let attempt = Attempt {
        m,
        started_at,
        elapsed: clock.elapsed(),
        success: matches!(ended, Ended::Done),
        error: match (&ended, &bookkeeping) {
            (_, Some(e)) => Some(format!("deploy bookkeeping failed: {e}")),
            (Ended::Failed(f), None) => Some(history_error(f)),
            (Ended::Stopped, None) => Some("stopped: the worker lost its job lease".to_string()),
            (Ended::Done, None) => None,
        },
        statements_applied: match &ended {
            Ended::Failed(f) => f.statements_applied,
            _ => done,
        },
        interrupted: bookkeeping.is_none() && matches!(ended, Ended::Stopped),
    };
    finish_row(conn, id, &attempt).await?;
    if let Some(e) = bookkeeping {
        return Err(DeployError::Query(e));
    }
    // The session outlives this file: later files get their own settings.
    sqlx::raw_sql("RESET lock_timeout; RESET statement_timeout")
        .execute(&mut *conn)
        .await?;
    match ended {
        Ended::Failed(f) => Err(DeployError::Failed(f)),
        Ended::Stopped => Err(DeployError::Stopped {
            path: m.path.clone(),
            version: m.version.clone(),
            statements_applied: done,
            transactional: false,
            applied_before: Vec::new(),
        }),
        Ended::Done => Ok(Applied {
            version: m.version.clone(),
            path: m.path.clone(),
            checksum: m.checksum.clone(),
            duration_ms: millis(attempt.elapsed),
            transactional: false,
            backups: Vec::new(),
            not_backed_up: backup::outside_transaction(m, opts),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_become_set_statements() {
        let opts = DeployOptions {
            lock_timeout: Some(Duration::from_secs(5)),
            statement_timeout: Some(Duration::from_millis(1500)),
            ..DeployOptions::default()
        };
        assert_eq!(
            timeout_settings(&opts, true),
            "SET LOCAL lock_timeout = '5000ms';SET LOCAL statement_timeout = '1500ms';"
        );
        assert_eq!(timeout_settings(&DeployOptions::default(), false), "");
    }
}
