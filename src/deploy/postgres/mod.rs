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

use super::backup::{BackupPolicy, BackupTaken, Dml, NoBackup};
use super::executor::{self, Attempt, Session, count, millis};
use super::failure::Described;
use super::{
    DeployError, DeployFuture, DeployOptions, DeployReport, HistoryRow, Migration, Mode,
    RepairDecision, Repaired, RestorePoint, Revert, RollbackReport, Step, Target,
};
use crate::config::Engine;
use crate::review::model::RowFilter;
use crate::store::redact_url;
use chrono::{DateTime, Utc};
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

    /// A connection that holds the target's deploy lock.
    async fn locked(&self, wait: Duration) -> Result<PgSession, DeployError> {
        let mut conn = self.connect().await?;
        if let Err(e) = lock(&mut conn, wait).await {
            let _ = conn.close().await;
            return Err(e);
        }
        Ok(PgSession(conn))
    }

    async fn deploy_impl(
        &self,
        plan: &[Migration],
        opts: &DeployOptions,
    ) -> Result<DeployReport, DeployError> {
        let mut session = self.locked(opts.lock_wait).await?;
        let result = executor::deploy_locked(&mut session, plan, opts).await;
        release(session.0).await;
        result
    }

    async fn rollback_impl(
        &self,
        reverts: &[Revert],
        opts: &DeployOptions,
    ) -> Result<RollbackReport, DeployError> {
        let mut session = self.locked(opts.lock_wait).await?;
        let result = executor::rollback_locked(&mut session, reverts, opts).await;
        release(session.0).await;
        result
    }

    async fn repair_impl(
        &self,
        version: &str,
        decision: RepairDecision,
        by: &str,
        reason: Option<&str>,
    ) -> Result<Repaired, DeployError> {
        let mut session = self.locked(super::DEFAULT_LOCK_WAIT).await?;
        let result = executor::repair_locked(&mut session, version, decision, by, reason).await;
        release(session.0).await;
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

/// `pg_create_restore_point`, where the role and `wal_level` allow it; a
/// refusal is recorded, never a reason to stop the deploy.
async fn create_restore_point(conn: &mut PgConnection, name: &str) -> RestorePoint {
    let made: Result<(String,), sqlx::Error> =
        sqlx::query_as("SELECT pg_create_restore_point($1)::text")
            .bind(name)
            .fetch_one(&mut *conn)
            .await;
    match made {
        Ok((lsn,)) => RestorePoint {
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
            RestorePoint {
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
        .map(|r| super::history::history_row_from(r, |r, c| r.try_get(c)))
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

/// The deploy connection, holding the advisory lock.
struct PgSession(PgConnection);

impl Session for PgSession {
    async fn ensure_history(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(ENSURE_HISTORY).execute(&mut self.0).await?;
        Ok(())
    }

    async fn read_history(&mut self) -> Result<Vec<HistoryRow>, DeployError> {
        read_history(&mut self.0).await
    }

    async fn preflight(&mut self) -> Result<(), DeployError> {
        let invalid: Vec<(String,)> = sqlx::query_as(INVALID_INDEXES)
            .fetch_all(&mut self.0)
            .await?;
        if invalid.is_empty() {
            Ok(())
        } else {
            Err(DeployError::InvalidIndex {
                indexes: invalid.into_iter().map(|(n,)| n).collect(),
            })
        }
    }

    async fn restore_point(&mut self, name: &str) -> RestorePoint {
        create_restore_point(&mut self.0, name).await
    }

    async fn begin(&mut self, opts: &DeployOptions) -> Result<(), sqlx::Error> {
        let sql = format!("BEGIN;{}", timeout_settings(opts, true));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.0)
            .await?;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("COMMIT").execute(&mut self.0).await?;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("ROLLBACK").execute(&mut self.0).await?;
        Ok(())
    }

    async fn set_timeouts(&mut self, opts: &DeployOptions) -> Result<(), sqlx::Error> {
        let settings = timeout_settings(opts, false);
        if !settings.is_empty() {
            sqlx::raw_sql(AssertSqlSafe(settings))
                .execute(&mut self.0)
                .await?;
        }
        Ok(())
    }

    async fn reset_timeouts(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("RESET lock_timeout; RESET statement_timeout")
            .execute(&mut self.0)
            .await?;
        Ok(())
    }

    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        // The reviewed migration text, run as written.
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.0)
            .await?;
        Ok(())
    }

    fn describe(&self, step: Option<&Step>, e: &sqlx::Error) -> Described {
        failure::describe(step, e)
    }

    async fn copy_rows(
        &mut self,
        m: &Migration,
        number: usize,
        dml: &Dml,
        filter: &RowFilter,
        policy: &BackupPolicy,
    ) -> Result<Result<BackupTaken, NoBackup>, sqlx::Error> {
        backup::copy(&mut self.0, m, number, dml, filter, policy).await
    }

    async fn record(&mut self, a: &Attempt<'_>, opts: &DeployOptions) -> Result<(), sqlx::Error> {
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
        .bind(a.finished_at())
        .bind(millis(a.elapsed))
        .bind(a.success)
        .bind(&a.error)
        .bind(a.m.mode == Mode::Transactional)
        .bind(count(a.statements_applied))
        .bind(a.interrupted)
        .execute(&mut self.0)
        .await?;
        Ok(())
    }

    async fn start_row(
        &mut self,
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
        .fetch_one(&mut self.0)
        .await?;
        Ok(id)
    }

    async fn progress(&mut self, id: i64, done: i32) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE bytegate.migration_history SET statements_applied = $2 WHERE id = $1")
            .bind(id)
            .bind(done)
            .execute(&mut self.0)
            .await?;
        Ok(())
    }

    async fn finish_row(&mut self, id: i64, a: &Attempt<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE bytegate.migration_history
             SET finished_at = $2, duration_ms = $3, success = $4, error = $5,
                 statements_applied = $6, interrupted = $7
             WHERE id = $1",
        )
        .bind(id)
        .bind(a.finished_at())
        .bind(millis(a.elapsed))
        .bind(a.success)
        .bind(&a.error)
        .bind(count(a.statements_applied))
        .bind(a.interrupted)
        .execute(&mut self.0)
        .await?;
        Ok(())
    }

    async fn record_repair(
        &mut self,
        dirty: &HistoryRow,
        decision: RepairDecision,
        by: &str,
        reason: Option<&str>,
    ) -> Result<(), sqlx::Error> {
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
        .execute(&mut self.0)
        .await?;
        Ok(())
    }

    async fn mark_rolled_back(&mut self, version: &str, by: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE bytegate.migration_history SET rolled_back_at = now(), rolled_back_by = $2
             WHERE version = $1 AND success AND rolled_back_at IS NULL",
        )
        .bind(version)
        .bind(by)
        .execute(&mut self.0)
        .await?
        .rows_affected())
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
