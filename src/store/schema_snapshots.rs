//! Rows of `stage_schema_snapshots`: a target's schema text before and after
//! each rollout stage, per database. The drift check reads the latest
//! "after" of an environment and database.

use super::StoreError;
use super::text_enum::text_enum;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

text_enum! {
    /// When in a stage a snapshot was taken (`stage_schema_snapshots.phase`).
    pub enum SnapshotPhase {
        /// Before the stage applied anything.
        Before = "before",
        /// After the stage (also when it failed part way).
        After = "after",
    }
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SchemaSnapshotRow {
    /// Primary key.
    pub id: i64,
    /// The rollout whose stage took it.
    pub rollout_id: i64,
    /// Environment.
    pub environment: String,
    /// Database (its name in config).
    pub database: String,
    /// Before or after the stage.
    pub phase: SnapshotPhase,
    /// The normalized schema text.
    pub schema_text: String,
    /// sha256 of `schema_text` (hex).
    pub sha256: String,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

/// A snapshot to record.
#[derive(Debug, Clone, Copy)]
pub struct NewSchemaSnapshot<'a> {
    /// The rollout whose stage took it.
    pub rollout_id: i64,
    /// Environment.
    pub environment: &'a str,
    /// Database (its name in config).
    pub database: &'a str,
    /// Before or after the stage.
    pub phase: SnapshotPhase,
    /// The normalized schema text.
    pub schema_text: &'a str,
    /// sha256 of `schema_text` (hex).
    pub sha256: &'a str,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, rollout_id, environment, database, phase, schema_text, sha256, taken_at";

/// Records a snapshot; returns its id.
pub async fn record<'e>(
    db: impl PgExecutor<'e>,
    s: &NewSchemaSnapshot<'_>,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO stage_schema_snapshots
           (rollout_id, environment, database, phase, schema_text, sha256, taken_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id",
    )
    .bind(s.rollout_id)
    .bind(s.environment)
    .bind(s.database)
    .bind(s.phase)
    .bind(s.schema_text)
    .bind(s.sha256)
    .bind(s.taken_at)
    .fetch_one(db)
    .await?;
    Ok(id)
}

/// The latest "after" snapshot bytegate left on `environment`/`database`,
/// across rollouts: what the target's schema should still be.
pub async fn latest_after<'e>(
    db: impl PgExecutor<'e>,
    environment: &str,
    database: &str,
) -> Result<Option<SchemaSnapshotRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stage_schema_snapshots
         WHERE environment = $1 AND database = $2 AND phase = 'after'
         ORDER BY id DESC LIMIT 1"
    )))
    .bind(environment)
    .bind(database)
    .fetch_optional(db)
    .await?)
}

/// Every snapshot of a rollout, oldest first.
pub async fn for_rollout<'e>(
    db: impl PgExecutor<'e>,
    rollout_id: i64,
) -> Result<Vec<SchemaSnapshotRow>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stage_schema_snapshots WHERE rollout_id = $1 ORDER BY id"
    )))
    .bind(rollout_id)
    .fetch_all(db)
    .await?)
}
