//! The durable job queue: claim with `FOR UPDATE SKIP LOCKED`, hold a lease,
//! retry with backoff, fail for good after `max_attempts`.

//!
//! Every decision about time (is a job due, has its lease run out, when does
//! a retry run) uses the `now` the caller passes: the worker's clock, so
//! tests drive time instead of sleeping.

use super::StoreError;
use super::text_enum::text_enum;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};
use std::time::Duration;

text_enum! {
    /// Where a job is (`jobs.state`).
    pub enum JobState {
        /// Waiting to be claimed (new, or back after a failed attempt).
        Queued = "queued",
        /// Claimed by a worker holding a lease.
        Running = "running",
        /// Finished.
        Done = "done",
        /// Failed for good.
        Failed = "failed",
    }
}

/// The kind of notification jobs (see [`crate::notify`]).
pub const NOTIFY_JOB: &str = "notify";

/// Which jobs a worker claims. Notifications have their own lane, so a slow
/// or dead receiver only ever holds notification workers, never one that a
/// review or a deploy is waiting for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lane {
    /// Every job but notifications (events: reviews, approvals, deploys).
    #[default]
    Work,
    /// Only notifications ([`NOTIFY_JOB`]).
    Notifications,
}

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// What kind of work (`event`).
    pub kind: String,
    /// The work's input.
    pub payload: serde_json::Value,
    /// Semantically equal work shares a key; a second insert while a job with
    /// the key is queued or running is a no-op (after it is done or failed,
    /// the key queues new work).
    pub coalesce_key: Option<String>,
    /// Attempts before the job fails for good.
    pub max_attempts: i32,
}

/// What happened to an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job with this id.
    Queued(i64),
    /// Equal work is already queued or running: nothing added.
    Coalesced,
}

/// A claimed job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Input.
    pub payload: serde_json::Value,
    /// Attempts so far, including this one.
    pub attempts: i32,
    /// Limit.
    pub max_attempts: i32,
    /// The delivery that created it.
    pub delivery_id: Option<i64>,
    /// How often a claim of it ran out (its worker died or hung).
    pub lease_expiries: i32,
    /// Claimed only to be given up: the lease of its last attempt expired
    /// with no attempt left. The worker reports it and fails it; it never runs.
    pub lease_exhausted: bool,
}

/// SQL text inserting jobs from `$rows` (a `VALUES` or `SELECT` giving kind,
/// delivery id, coalesce key, payload, max attempts) and returning the ids
/// inserted; equal pending work (same coalesce key, queued or running) is
/// skipped. A macro so [`enqueue`] and a delivery's one-statement record
/// (`deliveries::record`) share it.
macro_rules! insert_job {
    ($rows:literal) => {
        concat!(
            "INSERT INTO jobs (kind, delivery_id, coalesce_key, payload, max_attempts) ",
            $rows,
            " ON CONFLICT (coalesce_key)
                 WHERE coalesce_key IS NOT NULL AND state IN ('queued', 'running')
              DO NOTHING
              RETURNING id"
        )
    };
}
pub(crate) use insert_job;

/// Inserts a job.
pub async fn enqueue<'e>(
    exec: impl PgExecutor<'e>,
    delivery: Option<i64>,
    job: &NewJob,
) -> Result<Enqueued, StoreError> {
    let row: Option<(i64,)> = sqlx::query_as(insert_job!("VALUES ($1, $2, $3, $4, $5)"))
        .bind(&job.kind)
        .bind(delivery)
        .bind(&job.coalesce_key)
        .bind(&job.payload)
        .bind(job.max_attempts)
        .fetch_optional(exec)
        .await?;
    Ok(row.map_or(Enqueued::Coalesced, |(id,)| Enqueued::Queued(id)))
}

/// Claims the next runnable job at `now`: queued and due (new work is due at
/// once, a retry after its backoff), or running with a lease expired by `now`
/// (its worker died or hung). Concurrent claimers never get the same job.
///
/// Every claim counts as an attempt, a reclaim after an expired lease too. A
/// job whose lease expired with its attempts used up is claimed with
/// [`Job::lease_exhausted`] set: the caller gives it up instead of running it
/// again, so a job that kills its process cannot loop forever.
///
/// Only the work lane's jobs: notifications are claimed with [`claim_in`].
pub async fn claim(
    pool: &PgPool,
    worker: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Job>, StoreError> {
    claim_in(pool, Lane::Work, worker, lease, now).await
}

/// [`claim`] in `lane`.
pub async fn claim_in(
    pool: &PgPool,
    lane: Lane,
    worker: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<Job>, StoreError> {
    let job = sqlx::query_as::<_, Job>(
        "WITH next AS (
             SELECT id, state = 'running' AS expired, attempts >= max_attempts AS used_up
             FROM jobs
             WHERE ((state = 'queued' AND (attempts = 0 OR run_after <= $3))
                    OR (state = 'running' AND lease_expires_at < $3))
               AND (kind = $4) = $5
             ORDER BY run_after, id
             FOR UPDATE SKIP LOCKED
             LIMIT 1)
         UPDATE jobs j SET state = 'running',
                attempts = CASE WHEN next.expired AND next.used_up
                                THEN j.attempts ELSE j.attempts + 1 END,
                lease_expiries = j.lease_expiries + CASE WHEN next.expired THEN 1 ELSE 0 END,
                locked_by = $1,
                lease_expires_at = $3 + make_interval(secs => $2), updated_at = now()
         FROM next
         WHERE j.id = next.id
         RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts, j.delivery_id,
                   j.lease_expiries, (next.expired AND next.used_up) AS lease_exhausted",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(now)
    .bind(NOTIFY_JOB)
    .bind(lane == Lane::Notifications)
    .fetch_optional(pool)
    .await?;
    Ok(job)
}

/// Extends the lease of a job this worker still holds to `now + lease`.
/// `false`: the lease was lost (another worker took the job over).
pub async fn heartbeat(
    pool: &PgPool,
    id: i64,
    worker: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $4 + make_interval(secs => $3), updated_at = now()
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(now)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Marks a job done at `now` (only if this worker still holds it).
pub async fn complete(
    pool: &PgPool,
    id: i64,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $3, updated_at = now(),
                lease_expires_at = NULL, last_error = NULL
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// What a failure did to the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// It will run again after the backoff.
    WillRetry,
    /// It is failed for good.
    GaveUp,
}

/// Records a failed attempt at `now`: back to the queue, due `retry_in` after
/// `now`, or failed for good when `retry_in` is `None` or the attempts are used up.
pub async fn fail(
    pool: &PgPool,
    id: i64,
    worker: &str,
    error: &str,
    retry_in: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<Failed, StoreError> {
    let row: Option<(JobState,)> = sqlx::query_as(
        "UPDATE jobs SET
            state = CASE WHEN $4::float8 IS NOT NULL AND attempts < max_attempts
                         THEN 'queued' ELSE 'failed' END,
            run_after = $5 + make_interval(secs => coalesce($4::float8, 0)),
            finished_at = CASE WHEN $4::float8 IS NOT NULL AND attempts < max_attempts
                               THEN NULL ELSE $5 END,
            last_error = $3, lease_expires_at = NULL, updated_at = now()
         WHERE id = $1 AND locked_by = $2 AND state = 'running'
         RETURNING state",
    )
    .bind(id)
    .bind(worker)
    .bind(error)
    .bind(retry_in.map(|d| d.as_secs_f64()))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        Some((JobState::Queued,)) => Failed::WillRetry,
        _ => Failed::GaveUp,
    })
}

/// A job's state as stored, for tests, `/health` and the API.
#[derive(Debug, Clone, sqlx::FromRow, PartialEq)]
pub struct JobRow {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Where it is.
    pub state: JobState,
    /// Attempts made.
    pub attempts: i32,
    /// Last error message.
    pub last_error: Option<String>,
    /// Worker holding or last holding it.
    pub locked_by: Option<String>,
    /// How often a claim of it ran out.
    pub lease_expiries: i32,
}

/// All jobs, oldest first.
pub async fn list(pool: &PgPool) -> Result<Vec<JobRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, kind, state, attempts, last_error, locked_by, lease_expiries FROM jobs ORDER BY id",
    )
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testdb::TestDb;

    #[tokio::test]
    async fn an_unknown_job_state_is_an_error_not_a_default() {
        let db = TestDb::migrated().await.unwrap();
        let job = NewJob {
            kind: "test".into(),
            payload: serde_json::json!({}),
            coalesce_key: None,
            max_attempts: 1,
        };
        enqueue(&db.pool, None, &job).await.unwrap();
        assert_eq!(list(&db.pool).await.unwrap()[0].state, JobState::Queued);
        // Another version of bytegate may know states this one does not.
        sqlx::query("ALTER TABLE jobs DROP CONSTRAINT jobs_state_check")
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE jobs SET state = 'parked'")
            .execute(&db.pool)
            .await
            .unwrap();
        let err = list(&db.pool).await.expect_err("must not decode");
        assert!(err.to_string().contains("parked"), "{err}");
    }
}
