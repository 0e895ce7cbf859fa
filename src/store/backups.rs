//! Rows of `backups`: logical backups of target databases, their files,
//! checksums and expiry. The files themselves are written by
//! [`crate::backup`].

use super::StoreError;
use super::text_enum::text_enum;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};

text_enum! {
    /// Why a backup was taken (`backups.kind`).
    pub enum BackupKind {
        /// By the environment's schedule.
        Scheduled = "scheduled",
        /// By an operator (`bytegate backup create`).
        Manual = "manual",
    }
}

text_enum! {
    /// Where a backup is (`backups.state`).
    pub enum BackupState {
        /// pg_dump is writing the file.
        Running = "running",
        /// The file is complete; size and checksum are recorded.
        Succeeded = "succeeded",
        /// pg_dump failed (see `error`); no file is kept.
        Failed = "failed",
    }
}

/// A row of `backups`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BackupRow {
    /// Primary key (what `bytegate backup restore ID` names).
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// Database (its name in config).
    pub database_name: String,
    /// Scheduled or manual.
    pub kind: BackupKind,
    /// Running, succeeded or failed.
    pub state: BackupState,
    /// The schedule period it belongs to (scheduled backups only).
    pub slot: Option<i64>,
    /// The dump file.
    pub path: Option<String>,
    /// Its size.
    pub size_bytes: Option<i64>,
    /// sha256 (hex) of the file.
    pub sha256: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Who asked (`bytegate` for the schedule).
    pub created_by: String,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// When the cleaner removes it.
    pub expires_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, environment, database_name, kind, state, slot, path, size_bytes, \
     sha256, error, created_by, created_at, finished_at, expires_at";

/// A backup about to start.
#[derive(Debug, Clone)]
pub struct NewBackup<'a> {
    /// Environment.
    pub environment: &'a str,
    /// Database.
    pub database_name: &'a str,
    /// Scheduled or manual.
    pub kind: BackupKind,
    /// Schedule period (scheduled only).
    pub slot: Option<i64>,
    /// Who asked.
    pub created_by: &'a str,
    /// Now.
    pub created_at: DateTime<Utc>,
    /// Now plus the environment's retention.
    pub expires_at: DateTime<Utc>,
}

/// Records a backup as running. `None` when a scheduled backup of this slot
/// already exists (another replica took it).
pub async fn start(pool: &PgPool, b: &NewBackup<'_>) -> Result<Option<BackupRow>, StoreError> {
    let row = sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(format!(
        "INSERT INTO backups (environment, database_name, kind, state, slot, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, 'running', $4, $5, $6, $7)
         ON CONFLICT (environment, database_name, slot) DO NOTHING
         RETURNING {COLUMNS}"
    )))
    .bind(b.environment)
    .bind(b.database_name)
    .bind(b.kind)
    .bind(b.slot)
    .bind(b.created_by)
    .bind(b.created_at)
    .bind(b.expires_at)
    .fetch_optional(pool)
    .await?;
    Ok(row)
}

/// Marks a backup complete with its file, size and checksum.
pub async fn succeed(
    pool: &PgPool,
    id: i64,
    path: &str,
    size_bytes: i64,
    sha256: &str,
    at: DateTime<Utc>,
) -> Result<BackupRow, StoreError> {
    let row = sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE backups SET state = 'succeeded', path = $2, size_bytes = $3, sha256 = $4, finished_at = $5
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(path)
    .bind(size_bytes)
    .bind(sha256)
    .bind(at)
    .fetch_one(pool)
    .await?;
    Ok(row)
}

/// Marks a backup failed.
pub async fn fail(
    pool: &PgPool,
    id: i64,
    error: &str,
    at: DateTime<Utc>,
) -> Result<BackupRow, StoreError> {
    let row = sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(format!(
        "UPDATE backups SET state = 'failed', error = $2, finished_at = $3
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(error)
    .bind(at)
    .fetch_one(pool)
    .await?;
    Ok(row)
}

/// One backup.
pub async fn get<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<Option<BackupRow>, StoreError> {
    let row = sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM backups WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row)
}

/// Every backup, newest first; optionally of one environment.
pub async fn list<'e>(
    db: impl PgExecutor<'e>,
    environment: Option<&str>,
) -> Result<Vec<BackupRow>, StoreError> {
    let rows = sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM backups WHERE $1::text IS NULL OR environment = $1
         ORDER BY created_at DESC, id DESC"
    )))
    .bind(environment)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Locks up to `limit` expired backups for removal, in the caller's
/// transaction. Rows another replica is removing are skipped, so several
/// cleaners never fight over one backup.
pub async fn lock_expired<'e>(
    db: impl PgExecutor<'e>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<BackupRow>, StoreError> {
    let rows = sqlx::query_as::<_, BackupRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM backups WHERE expires_at <= $1
           -- A dump still running a day after it started died with its process.
           AND (state <> 'running' OR created_at < $1 - interval '1 day')
         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows)
}

/// Deletes the rows of backups whose files are gone.
pub async fn delete<'e>(db: impl PgExecutor<'e>, ids: &[i64]) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM backups WHERE id = ANY($1)")
        .bind(ids)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
