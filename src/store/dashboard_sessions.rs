//! Dashboard sign-ins (`dashboard_sessions`): the sha256 of a random session
//! id (the cookie's value never reaches the database), the API token it
//! stands for, the CSRF token of its forms, and an expiry set from bytegate's
//! clock.

use super::StoreError;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

/// A live session.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct SessionRow {
    /// sha256 (hex) of the cookie's session id.
    pub id_sha256: String,
    /// The API token the session was opened with (its scope and revocation
    /// are read from the token on every request).
    pub token_id: i64,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// When the session stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session.
pub async fn create(pool: &PgPool, row: &SessionRow, now: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO dashboard_sessions (id_sha256, token_id, csrf, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&row.id_sha256)
    .bind(row.token_id)
    .bind(&row.csrf)
    .bind(now)
    .bind(row.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// The session with this id hash, unless it expired by `now`.
pub async fn find_live(
    pool: &PgPool,
    id_sha256: &str,
    now: DateTime<Utc>,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(sqlx::query_as::<_, SessionRow>(
        "SELECT id_sha256, token_id, csrf, expires_at FROM dashboard_sessions
         WHERE id_sha256 = $1 AND expires_at > $2",
    )
    .bind(id_sha256)
    .bind(now)
    .fetch_optional(pool)
    .await?)
}

/// Ends a session (logout).
pub async fn delete(pool: &PgPool, id_sha256: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM dashboard_sessions WHERE id_sha256 = $1")
        .bind(id_sha256)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes sessions expired by `now` (done at each sign-in, so the table
/// holds only live sessions and the few that expired since); how many.
pub async fn delete_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
