//! Outgoing notifications: every delivery attempt (`notification_attempts`),
//! and the reads their emission needs inside the caller's transaction.

use super::StoreError;
use super::text_enum::text_enum;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

text_enum! {
    /// What one delivery attempt came to (`notification_attempts.status`).
    pub enum AttemptStatus {
        /// The receiver answered 2xx: delivered, no more attempts.
        Delivered = "delivered",
        /// It failed; another attempt is queued after a backoff.
        Retrying = "retrying",
        /// It failed for good: the receiver refused it, its attempts are
        /// used up, or the receiver is no longer configured.
        GaveUp = "gave_up",
    }
}

/// One attempt to record.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    /// The job making it.
    pub job_id: i64,
    /// The delivery (the same on every attempt).
    pub delivery_id: &'a str,
    /// The receiver's name.
    pub receiver: &'a str,
    /// The event name.
    pub event: &'a str,
    /// Attempt number, from 1.
    pub attempt: i32,
    /// What it came to.
    pub status: AttemptStatus,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// Why it failed (never the URL: it may hold a token).
    pub error: Option<&'a str>,
    /// How long the request took.
    pub duration_ms: i64,
    /// When (the worker's clock).
    pub at: DateTime<Utc>,
}

/// Records an attempt.
pub async fn record_attempt<'e>(
    exec: impl PgExecutor<'e>,
    a: &NewAttempt<'_>,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO notification_attempts
             (job_id, delivery_id, receiver, event, attempt, status, http_status, error,
              duration_ms, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(a.job_id)
    .bind(a.delivery_id)
    .bind(a.receiver)
    .bind(a.event)
    .bind(a.attempt)
    .bind(a.status)
    .bind(a.http_status.map(i32::from))
    .bind(a.error)
    .bind(a.duration_ms)
    .bind(a.at)
    .fetch_one(exec)
    .await?;
    Ok(id)
}

/// A recorded attempt.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Attempt {
    /// Row id.
    pub id: i64,
    /// The job that made it.
    pub job_id: Option<i64>,
    /// The delivery.
    pub delivery_id: String,
    /// The receiver's name.
    pub receiver: String,
    /// The event name.
    pub event: String,
    /// Attempt number.
    pub attempt: i32,
    /// What it came to.
    pub status: AttemptStatus,
    /// The receiver's HTTP status.
    pub http_status: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Every attempt, oldest first (tests, operators).
pub async fn attempts(pool: &PgPool) -> Result<Vec<Attempt>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, job_id, delivery_id, receiver, event, attempt, status, http_status, error, at
         FROM notification_attempts ORDER BY id",
    )
    .fetch_all(pool)
    .await?)
}

/// Whether the audit trail holds exactly one `action` entry for PR `number`
/// (the one just appended in the caller's transaction, which holds the
/// chain's lock: no other append can race it).
pub async fn is_first_entry<'e>(
    exec: impl PgExecutor<'e>,
    action: &str,
    forge: &str,
    repo: &str,
    number: i64,
) -> Result<bool, StoreError> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_log
         WHERE action = $1 AND forge = $2 AND repo = $3 AND number = $4",
    )
    .bind(action)
    .bind(forge)
    .bind(repo)
    .bind(number)
    .fetch_one(exec)
    .await?;
    Ok(n == 1)
}

/// The title and author of a change request bytegate has seen.
pub async fn change_summary<'e>(
    exec: impl PgExecutor<'e>,
    forge: &str,
    repo: &str,
    number: i64,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT title, author FROM change_requests WHERE forge = $1 AND repo = $2 AND number = $3",
    )
    .bind(forge)
    .bind(repo)
    .bind(number)
    .fetch_optional(exec)
    .await?)
}
