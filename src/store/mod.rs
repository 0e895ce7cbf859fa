//! The meta database: connection, schema migrations, and the queries of each
//! concern (deliveries, jobs, audit) in their own modules. SQL lives here only.

pub mod api_tokens;
pub mod approvals;
pub mod audit;
pub mod backups;
pub mod change_requests;
pub mod dashboard_sessions;
pub mod deliveries;
pub mod dml_backups;
pub mod embedded;
pub mod jobs;
pub mod listings;
pub mod nodelay;
pub mod notifications;
pub mod reviews;
pub mod rollouts;
pub mod schema_snapshots;
pub mod snapshots;
#[cfg(any(test, feature = "test-support"))]
pub mod testdb;
pub(crate) mod text_enum;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// The schema in `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Meta-database failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Connecting failed (the URL is not shown: it may hold a password).
    #[error("cannot connect to the meta database at {target}: {source}")]
    Connect {
        /// Host and database, without credentials.
        target: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Applying the schema failed.
    #[error("applying meta-database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("meta-database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Opens a pool on the meta database.
pub async fn connect(url: &str) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // NULL over a Unix socket: nothing to do there.
                let (port,): (Option<i32>,) = sqlx::query_as("SELECT inet_client_port()")
                    .fetch_one(&mut *conn)
                    .await?;
                if let Some(port) = port.and_then(|p| u16::try_from(p).ok()) {
                    nodelay::set_for_local_port(port);
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(|source| StoreError::Connect {
            target: redact_url(url),
            source,
        })
}

/// Applies pending schema migrations. Safe to run from several processes at
/// once: sqlx takes an advisory lock before it reads the migration table.
pub async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// bytegate's own schema migrations not (successfully) applied to the meta
/// database yet, for `/readyz`: all of them before the first `migrate`.
pub async fn pending_migrations(pool: &PgPool) -> Result<usize, StoreError> {
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied: Vec<(i64,)> = if exists {
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .filter(|m| !applied.iter().any(|(v,)| *v == m.version))
        .count())
}

/// Jobs waiting to run (queued or running), for `/health` and metrics.
pub async fn queue_depth(pool: &PgPool) -> Result<i64, StoreError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")
            .fetch_one(pool)
            .await?;
    Ok(n)
}

/// `scheme://host:port/db` without user, password or query, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparsable URL)".to_string();
    };
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    format!("{scheme}://{rest}")
}

/// Replaces the database part of a PostgreSQL URL.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact_url("postgres://u:p%40ss@db:5432/meta?sslmode=require"),
            "postgres://db:5432/meta"
        );
        assert_eq!(redact_url("garbage"), "(unparsable URL)");
    }
}
