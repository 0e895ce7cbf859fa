//! The MySQL / MariaDB answer to [`crate::deploy::Target::check`]: read-only
//! queries on the deploy's own kind of connection (same URL, same TLS
//! settings), plus the deploy's `GET_LOCK` taken and released at once.
//!
//! The history table: whether `bytegate.migration_history` exists comes from
//! `information_schema`; whether this user may write it is asked of the
//! server itself with `EXPLAIN INSERT` / `EXPLAIN UPDATE` (privileges are
//! checked, nothing runs, roles count). Whether it could be created is a best
//! effort from `information_schema` grants of the current account (global
//! `CREATE`, or `CREATE` on a schema pattern matching `bytegate`): a right
//! held only through a role reads as missing.

use super::{MysqlTarget, lock_name};
use crate::deploy::DeployError;
use crate::deploy::check::{HistoryState, LockState, Probe};
use sqlx::mysql::MySqlDatabaseError;
use sqlx::{Connection, MySqlConnection};

/// Tables (not views) of the target database, and their size.
const TABLES: &str = "
SELECT COUNT(*), CAST(COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) AS SIGNED)
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'";

const HISTORY_EXISTS: &str = "
SELECT COUNT(*) FROM information_schema.TABLES
WHERE TABLE_SCHEMA = 'bytegate' AND TABLE_NAME = 'migration_history'";

/// Whether the current account has CREATE globally or on `bytegate`
/// (`GRANTEE` is `'user'@'host'`; `CURRENT_USER()` is `user@host`, and a
/// host never holds an `@`).
const CREATABLE: &str = "
SELECT CAST(
    EXISTS (SELECT 1 FROM information_schema.USER_PRIVILEGES
            WHERE GRANTEE = @bytegate_grantee AND PRIVILEGE_TYPE = 'CREATE')
 OR EXISTS (SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES
            WHERE GRANTEE = @bytegate_grantee AND PRIVILEGE_TYPE = 'CREATE'
              AND 'bytegate' LIKE TABLE_SCHEMA)
  AS SIGNED)";

const GRANTEE: &str = "
SET @bytegate_grantee = CONCAT('''',
    LEFT(CURRENT_USER(), LENGTH(CURRENT_USER()) - LENGTH(SUBSTRING_INDEX(CURRENT_USER(), '@', -1)) - 1),
    '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')";

/// The statements a deploy writes history with, explained (not run).
const WRITES: [&str; 2] = [
    "EXPLAIN INSERT INTO bytegate.migration_history (target_database) VALUES ('')",
    "EXPLAIN UPDATE bytegate.migration_history SET statements_applied = 0 WHERE FALSE",
];

/// Access denied on a table, a column, or a database.
const DENIED: [u16; 4] = [1142, 1143, 1044, 1045];

/// Connects and probes; the connection is closed (and the lock released) before returning.
pub(super) async fn probe(target: &MysqlTarget) -> Result<Probe, DeployError> {
    let (mut conn, database) = target.connect().await?;
    let result = probe_on(&mut conn, &database).await;
    let _ = conn.close().await;
    result
}

async fn probe_on(conn: &mut MySqlConnection, database: &str) -> Result<Probe, DeployError> {
    let (server_version,): (String,) = sqlx::query_as("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await?;
    let cipher: Option<(String, String)> = sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .fetch_optional(&mut *conn)
        .await?;
    let tls = cipher.is_some_and(|(_, c)| !c.trim().is_empty());
    let (tables, size_bytes): (i64, i64) = sqlx::query_as(TABLES).fetch_one(&mut *conn).await?;
    let history = history(conn, database).await?;
    let name = lock_name(database);
    let (got,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, 0)")
        .bind(&name)
        .fetch_one(&mut *conn)
        .await?;
    let lock = if got == Some(1) {
        sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        LockState::Free
    } else {
        LockState::Held
    };
    Ok(Probe {
        server_version,
        tls,
        history,
        lock,
        tables,
        size_bytes,
    })
}

async fn history(conn: &mut MySqlConnection, database: &str) -> Result<HistoryState, DeployError> {
    let (exists,): (i64,) = sqlx::query_as(HISTORY_EXISTS).fetch_one(&mut *conn).await?;
    if exists == 0 {
        sqlx::query(GRANTEE).execute(&mut *conn).await?;
        let (creatable,): (i64,) = sqlx::query_as(CREATABLE).fetch_one(&mut *conn).await?;
        return Ok(HistoryState::Absent {
            creatable: creatable != 0,
        });
    }
    let mut writable = true;
    for sql in WRITES {
        match sqlx::query(sql).fetch_all(&mut *conn).await {
            Ok(_) => {}
            Err(e) if denied(&e) => writable = false,
            Err(e) => return Err(e.into()),
        }
    }
    // The table is the server's: this target's rows are its own.
    let rows = if writable {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM bytegate.migration_history WHERE target_database = ?",
        )
        .bind(database)
        .fetch_one(&mut *conn)
        .await?;
        n
    } else {
        0
    };
    Ok(HistoryState::Present { rows, writable })
}

fn denied(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.try_downcast_ref::<MySqlDatabaseError>())
        .is_some_and(|d| DENIED.contains(&d.number()))
}
