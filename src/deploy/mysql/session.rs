//! MySQL's SQL for the shared deploy flow: the history table in the
//! `bytegate` database, transactions, timeouts, and what its errors say.

use super::super::backup::{BackupPolicy, BackupTaken, Dml, NoBackup};
use super::super::executor::{Attempt, Session, count, millis};
use super::super::failure::Described;
use super::super::{
    DeployError, DeployOptions, HistoryRow, Migration, Mode, RepairDecision, RestorePoint, Step,
};
use crate::config::Engine;
use crate::review::model::RowFilter;
use chrono::{DateTime, Utc};
use sqlx::mysql::MySqlDatabaseError;
use sqlx::{AssertSqlSafe, Connection, MySqlConnection, Row};
use std::sync::LazyLock;

/// The history table. One for the server: rows carry their target database.
/// `live_version` is the version of a live applied row (else NULL): unique
/// per target database, as PostgreSQL's partial unique index.
const ENSURE_HISTORY: &str = "
CREATE DATABASE IF NOT EXISTS bytegate;
CREATE TABLE IF NOT EXISTS bytegate.migration_history (
    id                 BIGINT AUTO_INCREMENT PRIMARY KEY,
    target_database    VARCHAR(64) NOT NULL,
    version            VARCHAR(255) NOT NULL,
    name               TEXT NOT NULL,
    checksum           VARCHAR(128) NOT NULL,
    applied_by         TEXT NOT NULL,
    change_ref         TEXT NULL,
    started_at         DATETIME(6) NOT NULL,
    finished_at        DATETIME(6) NULL,
    duration_ms        BIGINT NOT NULL,
    success            BOOLEAN NOT NULL,
    error              TEXT NULL,
    transactional      BOOLEAN NOT NULL DEFAULT TRUE,
    statements_applied INT NOT NULL DEFAULT 0,
    interrupted        BOOLEAN NOT NULL DEFAULT FALSE,
    repair             VARCHAR(32) NULL,
    repair_reason      TEXT NULL,
    rolled_back_at     DATETIME(6) NULL,
    rolled_back_by     TEXT NULL,
    live_version       VARCHAR(255) AS
        (CASE WHEN success AND rolled_back_at IS NULL THEN version END) STORED,
    UNIQUE KEY migration_history_live_version (target_database, live_version),
    KEY migration_history_target (target_database, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
";

const COLUMNS: &str = "version, name, checksum, applied_by, change_ref, success, error,
    transactional, statements_applied, CAST(finished_at IS NOT NULL AS SIGNED) AS finished,
    interrupted, repair, CAST(rolled_back_at IS NOT NULL AS SIGNED) AS rolled_back";

/// `... at line N` of a syntax error (ER_PARSE_ERROR).
static AT_LINE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"at line (\d+)\s*$").ok());

/// Which server: their timeout variables differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Mysql,
    Mariadb,
}

/// The deploy connection (holding the user lock when `lock` is set).
pub(super) struct MySqlSession {
    conn: MySqlConnection,
    database: String,
    lock: Option<String>,
    flavor: Flavor,
}

impl MySqlSession {
    /// A session on a connection that holds the lock `lock`.
    pub(super) async fn new(
        mut conn: MySqlConnection,
        database: String,
        lock: String,
    ) -> Result<MySqlSession, sqlx::Error> {
        let (version,): (String,) = sqlx::query_as("SELECT VERSION()")
            .fetch_one(&mut conn)
            .await?;
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::Mariadb
        } else {
            Flavor::Mysql
        };
        Ok(MySqlSession {
            conn,
            database,
            lock: Some(lock),
            flavor,
        })
    }

    /// A session for reading only (no lock, no deploy).
    pub(super) fn unlocked(conn: MySqlConnection, database: String) -> MySqlSession {
        MySqlSession {
            conn,
            database,
            lock: None,
            flavor: Flavor::Mysql,
        }
    }

    /// The history, empty when the table does not exist yet.
    pub(super) async fn history_if_any(&mut self) -> Result<Vec<HistoryRow>, DeployError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = 'bytegate' AND TABLE_NAME = 'migration_history'",
        )
        .fetch_one(&mut self.conn)
        .await?;
        if n == 0 {
            return Ok(Vec::new());
        }
        self.read_history().await
    }

    /// Releases the lock and closes. Closing releases the lock too;
    /// releasing first keeps a slow-closing connection from holding it.
    pub(super) async fn release(mut self) {
        if let Some(name) = self.lock.take() {
            let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
                .bind(name)
                .execute(&mut self.conn)
                .await;
        }
        self.close().await;
    }

    /// Closes the connection.
    pub(super) async fn close(self) {
        let _ = self.conn.close().await;
    }

    fn timeout_settings(&self, opts: &DeployOptions) -> String {
        settings(self.flavor, opts)
    }

    async fn raw(&mut self, sql: String) -> Result<(), sqlx::Error> {
        if !sql.is_empty() {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut self.conn)
                .await?;
        }
        Ok(())
    }
}

impl Session for MySqlSession {
    async fn ensure_history(&mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(ENSURE_HISTORY)
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    async fn read_history(&mut self) -> Result<Vec<HistoryRow>, DeployError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM bytegate.migration_history WHERE target_database = ? ORDER BY id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(&self.database)
            .fetch_all(&mut self.conn)
            .await?;
        // `x IS NOT NULL` is an integer in MySQL.
        rows.iter()
            .map(|r| {
                crate::deploy::history::history_row_from(r, |r, c| Ok(r.try_get::<i64, _>(c)? != 0))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DeployError::Query)
    }

    async fn preflight(&mut self) -> Result<(), DeployError> {
        Ok(())
    }

    async fn restore_point(&mut self, name: &str) -> RestorePoint {
        RestorePoint {
            name: name.to_string(),
            lsn: None,
            skipped: Some(
                "MySQL has no named restore points: recover to a binary-log position of your backups"
                    .to_string(),
            ),
        }
    }

    async fn begin(&mut self, opts: &DeployOptions) -> Result<(), sqlx::Error> {
        let settings = self.timeout_settings(opts);
        self.raw(settings).await?;
        self.raw("START TRANSACTION".to_string()).await
    }

    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        self.raw("COMMIT".to_string()).await?;
        self.reset_timeouts().await
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.raw("ROLLBACK".to_string()).await?;
        self.reset_timeouts().await
    }

    async fn set_timeouts(&mut self, opts: &DeployOptions) -> Result<(), sqlx::Error> {
        let settings = self.timeout_settings(opts);
        self.raw(settings).await
    }

    async fn reset_timeouts(&mut self) -> Result<(), sqlx::Error> {
        let statement = match self.flavor {
            Flavor::Mariadb => "max_statement_time",
            Flavor::Mysql => "max_execution_time",
        };
        self.raw(format!(
            "SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT, {statement} = DEFAULT"
        ))
        .await
    }

    async fn execute(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        // The reviewed migration text, run as written.
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    fn describe(&self, step: Option<&Step>, e: &sqlx::Error) -> Described {
        describe(step, e)
    }

    async fn copy_rows(
        &mut self,
        _m: &Migration,
        _number: usize,
        _dml: &Dml,
        _filter: &RowFilter,
        _policy: &BackupPolicy,
    ) -> Result<Result<BackupTaken, NoBackup>, sqlx::Error> {
        Ok(Err(NoBackup::NotOnEngine(Engine::Mysql)))
    }

    async fn record(&mut self, a: &Attempt<'_>, opts: &DeployOptions) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO bytegate.migration_history
               (target_database, version, name, checksum, applied_by, change_ref, started_at,
                finished_at, duration_ms, success, error, transactional, statements_applied,
                interrupted)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&self.database)
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
        .execute(&mut self.conn)
        .await?;
        Ok(())
    }

    async fn start_row(
        &mut self,
        m: &Migration,
        opts: &DeployOptions,
        started_at: DateTime<Utc>,
    ) -> Result<i64, sqlx::Error> {
        // Autocommit: the row is there before the first statement runs.
        let done = sqlx::query(
            "INSERT INTO bytegate.migration_history
               (target_database, version, name, checksum, applied_by, change_ref, started_at,
                finished_at, duration_ms, success, error, transactional, statements_applied)
             VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, false, NULL, false, 0)",
        )
        .bind(&self.database)
        .bind(&m.version)
        .bind(&m.path)
        .bind(&m.checksum)
        .bind(&opts.applied_by)
        .bind(&opts.change_ref)
        .bind(started_at)
        .execute(&mut self.conn)
        .await?;
        Ok(i64::try_from(done.last_insert_id()).unwrap_or(i64::MAX))
    }

    async fn progress(&mut self, id: i64, done: i32) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE bytegate.migration_history SET statements_applied = ? WHERE id = ?")
            .bind(done)
            .bind(id)
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    async fn finish_row(&mut self, id: i64, a: &Attempt<'_>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE bytegate.migration_history
             SET finished_at = ?, duration_ms = ?, success = ?, error = ?,
                 statements_applied = ?, interrupted = ?
             WHERE id = ?",
        )
        .bind(a.finished_at())
        .bind(millis(a.elapsed))
        .bind(a.success)
        .bind(&a.error)
        .bind(count(a.statements_applied))
        .bind(a.interrupted)
        .bind(id)
        .execute(&mut self.conn)
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
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO bytegate.migration_history
               (target_database, version, name, checksum, applied_by, change_ref, started_at,
                finished_at, duration_ms, success, error, transactional, statements_applied,
                repair, repair_reason)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, NULL, false, ?, ?, ?)",
        )
        .bind(&self.database)
        .bind(&dirty.version)
        .bind(&dirty.name)
        .bind(&dirty.checksum)
        .bind(by)
        .bind(&dirty.change_ref)
        .bind(now)
        .bind(now)
        .bind(applied)
        .bind(if applied { dirty.statements_applied } else { 0 })
        .bind(decision.as_str())
        .bind(reason)
        .execute(&mut self.conn)
        .await?;
        Ok(())
    }

    async fn mark_rolled_back(&mut self, version: &str, by: &str) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query(
            "UPDATE bytegate.migration_history SET rolled_back_at = ?, rolled_back_by = ?
             WHERE target_database = ? AND version = ? AND success AND rolled_back_at IS NULL",
        )
        .bind(Utc::now())
        .bind(by)
        .bind(&self.database)
        .bind(version)
        .execute(&mut self.conn)
        .await?
        .rows_affected())
    }
}

/// `SET SESSION` of the configured timeouts (seconds: MySQL's unit).
fn settings(flavor: Flavor, opts: &DeployOptions) -> String {
    let mut parts = Vec::new();
    if let Some(d) = opts.lock_timeout {
        // Integers and decimals we format ourselves: nothing from input.
        let secs = d.as_secs().max(1);
        parts.push(format!("lock_wait_timeout = {secs}"));
        parts.push(format!("innodb_lock_wait_timeout = {secs}"));
    }
    if let Some(d) = opts.statement_timeout {
        parts.push(match flavor {
            Flavor::Mariadb => format!("max_statement_time = {:.3}", d.as_secs_f64()),
            // MySQL's only limit is for SELECTs.
            Flavor::Mysql => format!("max_execution_time = {}", d.as_millis().max(1)),
        });
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("SET SESSION {}", parts.join(", "))
    }
}

/// What MySQL's error says. Duplicate-key messages quote the row's values:
/// they stay off the pull request (in `detail`).
fn describe(step: Option<&Step>, e: &sqlx::Error) -> Described {
    let sqlx::Error::Database(db) = e else {
        return Described::connection(e);
    };
    let number = db
        .try_downcast_ref::<MySqlDatabaseError>()
        .map(MySqlDatabaseError::number);
    let code = db.code().map(|c| c.to_string());
    let tag = match (number, &code) {
        (Some(n), Some(c)) => format!(" (MySQL error {n}, SQLSTATE {c})"),
        (Some(n), None) => format!(" (MySQL error {n})"),
        (None, Some(c)) => format!(" (SQLSTATE {c})"),
        (None, None) => String::new(),
    };
    // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME, ER_DUP_UNKNOWN_IN_INDEX.
    let (message, detail) = if matches!(number, Some(1062 | 1586 | 1859)) {
        (
            format!(
                "duplicate entry for a unique key (the values are kept off the pull request){tag}"
            ),
            Some(db.message().to_string()),
        )
    } else {
        (format!("{}{tag}", db.message()), None)
    };
    // ER_PARSE_ERROR names the line inside the statement.
    let position = match (number, step) {
        (Some(1064), Some(step)) => AT_LINE
            .as_ref()
            .and_then(|re| re.captures(db.message()))
            .and_then(|c| c[1].parse::<u32>().ok())
            .map(|n| {
                if n <= 1 {
                    (step.line, step.column)
                } else {
                    (step.line + n - 1, 1)
                }
            }),
        _ => None,
    };
    Described {
        message,
        sqlstate: code,
        detail,
        position,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timeouts_are_session_settings_in_seconds() {
        let opts = DeployOptions {
            lock_timeout: Some(Duration::from_millis(5500)),
            statement_timeout: Some(Duration::from_millis(1500)),
            ..DeployOptions::default()
        };
        assert_eq!(
            settings(Flavor::Mariadb, &opts),
            "SET SESSION lock_wait_timeout = 5, innodb_lock_wait_timeout = 5, max_statement_time = 1.500"
        );
        assert_eq!(
            settings(Flavor::Mysql, &opts),
            "SET SESSION lock_wait_timeout = 5, innodb_lock_wait_timeout = 5, max_execution_time = 1500"
        );
        assert_eq!(settings(Flavor::Mysql, &DeployOptions::default()), "");
    }
}
