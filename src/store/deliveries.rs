//! Webhook deliveries: stored with their job in one transaction; a delivery id
//! seen before is reported as a duplicate and queues nothing.

use super::StoreError;
use super::jobs::{self, Enqueued, NewJob};
use sqlx::PgPool;

/// A delivery to record.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// `github` or `gitlab`.
    pub forge: &'a str,
    /// The forge's delivery id (idempotency key).
    pub delivery_id: &'a str,
    /// Event type header.
    pub event: &'a str,
    /// Payload `action`.
    pub action: Option<&'a str>,
    /// Repository or project path.
    pub repo: Option<&'a str>,
    /// The payload.
    pub payload: &'a serde_json::Value,
    /// Why an authenticated delivery could not be parsed (it is stored and
    /// acknowledged all the same, and queues nothing).
    pub parse_error: Option<&'a str>,
}

/// What recording did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// This delivery id was stored before: nothing was added.
    Duplicate,
    /// Stored; with the job outcome when there was work to queue.
    Stored {
        /// Row id of the delivery.
        id: i64,
        /// The job, if any.
        job: Option<Enqueued>,
    },
}

/// Stores the delivery and, when given, its job, atomically.
pub async fn record(
    pool: &PgPool,
    delivery: &NewDelivery<'_>,
    job: Option<&NewJob>,
) -> Result<Recorded, StoreError> {
    let mut tx = pool.begin().await?;
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO webhook_deliveries
             (forge, delivery_id, event, action, repo, payload, parse_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (forge, delivery_id) DO NOTHING
         RETURNING id",
    )
    .bind(delivery.forge)
    .bind(delivery.delivery_id)
    .bind(delivery.event)
    .bind(delivery.action)
    .bind(delivery.repo)
    .bind(delivery.payload)
    .bind(delivery.parse_error)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id,)) = row else {
        tx.rollback().await?;
        return Ok(Recorded::Duplicate);
    };
    let job = match job {
        Some(j) => Some(jobs::enqueue(&mut *tx, Some(id), j).await?),
        None => None,
    };
    tx.commit().await?;
    Ok(Recorded::Stored { id, job })
}

/// Deliveries stored for a forge (tests and the API).
pub async fn count(pool: &PgPool, forge: &str) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_deliveries WHERE forge = $1")
        .bind(forge)
        .fetch_one(pool)
        .await?;
    Ok(n)
}
