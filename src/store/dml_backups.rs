//! Prior backups of data changes (`dml_backups`): which backup table on
//! which target holds the rows of which migration statement, until when.
//! Rollback reads them; the cleaner claims expired ones with
//! `FOR UPDATE SKIP LOCKED`, so several replicas never drop one twice.

use super::StoreError;
use super::text_enum::text_enum_sqlx;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool, Postgres, Transaction};
use std::fmt;

/// What kind of data change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmlKind {
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
}

impl DmlKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DmlKind::Update => "update",
            DmlKind::Delete => "delete",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<DmlKind> {
        match s {
            "update" => Some(DmlKind::Update),
            "delete" => Some(DmlKind::Delete),
            _ => None,
        }
    }
}

impl fmt::Display for DmlKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DmlKind::Update => "UPDATE",
            DmlKind::Delete => "DELETE",
        })
    }
}

text_enum_sqlx!(DmlKind);

/// A backup a deploy took (the deploy reports it; this table keeps it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupTaken {
    /// 1-based statement of the migration.
    pub statement_number: usize,
    /// UPDATE or DELETE.
    pub kind: DmlKind,
    /// The table changed, as SQL.
    pub table: String,
    /// The backup table's own name (in [`BACKUP_SCHEMA`]).
    pub backup_table: String,
    /// Rows copied.
    pub rows: i64,
    /// The changed table's primary key columns (empty: none).
    pub primary_key: Vec<String>,
    /// The changed table's writable columns, in order.
    pub columns: Vec<String>,
    /// Columns the `UPDATE` assigns.
    pub assigned: Vec<String>,
}

/// Where a backup was taken.
#[derive(Debug, Clone, Copy)]
pub struct BackupSite<'a> {
    /// The rollout whose stage took it.
    pub rollout_id: Option<i64>,
    /// Environment.
    pub environment: &'a str,
    /// Database (config name).
    pub database: &'a str,
    /// Migration version.
    pub version: &'a str,
    /// Migration file.
    pub path: &'a str,
}

/// Records a backup a deploy took.
pub async fn record<'e>(
    db: impl PgExecutor<'e>,
    site: &BackupSite<'_>,
    b: &BackupTaken,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO dml_backups
           (rollout_id, environment, database, version, path, statement_number, kind,
            source_table, backup_table, row_count, primary_key, columns, assigned,
            created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         RETURNING id",
    )
    .bind(site.rollout_id)
    .bind(site.environment)
    .bind(site.database)
    .bind(site.version)
    .bind(site.path)
    .bind(i32::try_from(b.statement_number).unwrap_or(i32::MAX))
    .bind(b.kind)
    .bind(&b.table)
    .bind(&b.backup_table)
    .bind(b.rows)
    .bind(&b.primary_key)
    .bind(&b.columns)
    .bind(&b.assigned)
    .bind(created_at)
    .bind(expires_at)
    .fetch_one(db)
    .await?;
    Ok(id)
}

/// A stored backup.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct StoredBackup {
    /// Primary key.
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// Database (config name).
    pub database: String,
    /// Migration version.
    pub version: String,
    /// 1-based statement.
    pub statement_number: i32,
    /// `update` or `delete` (an unknown stored name fails to decode).
    pub kind: DmlKind,
    /// The table changed.
    pub source_table: String,
    /// The backup table (in `bytegate_backup`).
    pub backup_table: String,
    /// Rows copied.
    pub row_count: i64,
    /// Primary key columns of the changed table.
    pub primary_key: Vec<String>,
    /// Writable columns of the changed table.
    pub columns: Vec<String>,
    /// Columns the UPDATE assigned.
    pub assigned: Vec<String>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

impl StoredBackup {
    /// As the deploy reported it (what rollback builds its restore from).
    pub fn taken(&self) -> Option<BackupTaken> {
        Some(BackupTaken {
            statement_number: usize::try_from(self.statement_number).ok()?,
            kind: self.kind,
            table: self.source_table.clone(),
            backup_table: self.backup_table.clone(),
            rows: self.row_count,
            primary_key: self.primary_key.clone(),
            columns: self.columns.clone(),
            assigned: self.assigned.clone(),
        })
    }
}

const COLUMNS: &str = "id, environment, database, version, statement_number, kind, source_table, \
    backup_table, row_count, primary_key, columns, assigned, expires_at";

/// The live backups (not dropped, not restored) of `version` on one database,
/// newest first per statement.
pub async fn live_for<'e>(
    db: impl PgExecutor<'e>,
    environment: &str,
    database: &str,
    version: &str,
) -> Result<Vec<StoredBackup>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dml_backups
         WHERE environment = $1 AND database = $2 AND version = $3
           AND dropped_at IS NULL AND restored_at IS NULL
         ORDER BY statement_number, id DESC"
    )))
    .bind(environment)
    .bind(database)
    .bind(version)
    .fetch_all(db)
    .await?)
}

/// Marks backups restored at `now`.
pub async fn mark_restored<'e>(
    db: impl PgExecutor<'e>,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE dml_backups SET restored_at = $2 WHERE id = ANY($1)")
        .bind(ids)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Claims up to `limit` backups expired at `now` that no other cleaner holds
/// (`FOR UPDATE SKIP LOCKED`, in `tx`): the caller drops each table, then
/// [`mark_dropped`] in the same transaction.
pub async fn claim_expired(
    tx: &mut Transaction<'_, Postgres>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<StoredBackup>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dml_backups
         WHERE expires_at <= $1 AND dropped_at IS NULL
         ORDER BY expires_at, id
         LIMIT $2
         FOR UPDATE SKIP LOCKED"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?)
}

/// Marks a backup dropped at `now`.
pub async fn mark_dropped<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE dml_backups SET dropped_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// Every backup, oldest first (for listings and tests).
pub async fn all(pool: &PgPool) -> Result<Vec<StoredBackup>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dml_backups ORDER BY id"
    )))
    .fetch_all(pool)
    .await?)
}
