//! Webhook deliveries: stored with their job in one statement; a delivery id
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
    /// The body as received (kept as bytes: PostgreSQL parses nothing, and
    /// any payload fits, NUL included).
    pub body: &'a [u8],
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

/// Stores the delivery and, when given, its job, atomically: one statement
/// (its own transaction), so one round trip per delivery.
pub async fn record(
    pool: &PgPool,
    delivery: &NewDelivery<'_>,
    job: Option<&NewJob>,
) -> Result<Recorded, StoreError> {
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(concat!(
        "WITH delivery AS (
             INSERT INTO webhook_deliveries
                 (forge, delivery_id, event, action, repo, body, parse_error)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (forge, delivery_id) DO NOTHING
             RETURNING id),
         job AS (",
        jobs::insert_job!("SELECT $8, id, $9, $10, $11 FROM delivery WHERE $8 IS NOT NULL"),
        ")
         SELECT delivery.id, (SELECT id FROM job) FROM delivery"
    ))
    .bind(delivery.forge)
    .bind(delivery.delivery_id)
    .bind(delivery.event)
    .bind(delivery.action)
    .bind(delivery.repo)
    .bind(delivery.body)
    .bind(delivery.parse_error)
    .bind(job.map(|j| j.kind.as_str()))
    .bind(job.and_then(|j| j.coalesce_key.as_deref()))
    .bind(job.map(|j| &j.payload))
    .bind(job.map(|j| j.max_attempts))
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Recorded::Duplicate,
        // No job row with a job given: equal work is pending (coalesced).
        Some((id, queued)) => Recorded::Stored {
            id,
            job: job.map(|_| queued.map_or(Enqueued::Coalesced, Enqueued::Queued)),
        },
    })
}

/// Deliveries stored for a forge (tests and the API).
pub async fn count(pool: &PgPool, forge: &str) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_deliveries WHERE forge = $1")
        .bind(forge)
        .fetch_one(pool)
        .await?;
    Ok(n)
}
