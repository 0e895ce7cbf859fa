//! The PostgreSQL answer to [`crate::deploy::Target::check`]: read-only
//! catalog queries on the deploy's own kind of connection (same URL, same
//! TLS settings), plus the advisory lock taken and released at once.

use super::{LOCK_KEY, PostgresTarget, release};
use crate::deploy::DeployError;
use crate::deploy::check::{HistoryState, LockState, Probe};
use sqlx::Connection;

/// User tables: outside the system schemas and bytegate's own.
const USER_TABLES: &str = "
SELECT count(*)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'bytegate', 'bytegate_backup')
  AND n.nspname NOT LIKE 'pg\\_toast%'
  AND n.nspname NOT LIKE 'pg\\_temp%'";

/// Whether the history table is there, this user's rights on it, and
/// whether it could be created (CREATE on the database, or on an existing
/// `bytegate` schema).
const HISTORY: &str = "
SELECT to_regclass('bytegate.migration_history') IS NOT NULL,
       CASE WHEN to_regclass('bytegate.migration_history') IS NULL THEN false
            ELSE has_table_privilege('bytegate.migration_history', 'SELECT')
                 AND has_table_privilege('bytegate.migration_history', 'INSERT')
                 AND has_table_privilege('bytegate.migration_history', 'UPDATE') END,
       CASE WHEN to_regnamespace('bytegate') IS NULL
            THEN has_database_privilege(current_database(), 'CREATE')
            ELSE has_schema_privilege('bytegate', 'CREATE') END";

/// Connects and probes; the connection is closed (and the lock released) before returning.
pub(super) async fn probe(target: &PostgresTarget) -> Result<Probe, DeployError> {
    let mut conn = target.connect().await?;
    let (server_version, tls): (String, bool) = sqlx::query_as(
        "SELECT current_setting('server_version'),
                COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
    )
    .fetch_one(&mut conn)
    .await?;
    let (tables,): (i64,) = sqlx::query_as(USER_TABLES).fetch_one(&mut conn).await?;
    let (size_bytes,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
        .fetch_one(&mut conn)
        .await?;
    let (exists, writable, creatable): (bool, bool, bool) =
        sqlx::query_as(HISTORY).fetch_one(&mut conn).await?;
    let history = if exists {
        let rows = if writable {
            let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM bytegate.migration_history")
                .fetch_one(&mut conn)
                .await?;
            n
        } else {
            0
        };
        HistoryState::Present { rows, writable }
    } else {
        HistoryState::Absent { creatable }
    };
    let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut conn)
        .await?;
    let lock = if got {
        release(conn).await;
        LockState::Free
    } else {
        let _ = conn.close().await;
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
