//! Job workers: claim a job from the meta database, run its handler with the
//! lease kept alive, then mark it done, retry it with backoff, or fail it.
//! Several workers and several bytegate processes share one queue.

use crate::store::jobs::{self, Failed, Job};
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

mod events;
pub use events::EventJobHandler;

use crate::deploy::StopSignal;

tokio::task_local! {
    /// Set by [`run_one`] around a handler: turns true when the job's lease is lost.
    static STOP: StopSignal;
}

/// The stop signal of the job running in this task, if any: deploys check it
/// between statements, so a lost lease stops them at a statement boundary.
/// Call it from inside the handler's future (it is scoped around its polls),
/// not while building the future.
pub fn current_stop_signal() -> Option<StopSignal> {
    STOP.try_with(StopSignal::clone).ok()
}

/// A handler failed; `retryable` says whether another attempt may succeed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// What went wrong (stored as the job's last error).
    pub message: String,
    /// Transient (network, 5xx, rate limit) or permanent (bad input, 4xx).
    pub retryable: bool,
    /// The earliest sensible retry, when the failing service said so.
    pub retry_after: Option<Duration>,
}

impl JobError {
    /// A failure worth retrying.
    pub fn transient(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    /// A failure that another attempt would repeat.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }
}

/// Runs one kind of work.
pub trait JobHandler: Send + Sync + 'static {
    /// Does the job's work.
    fn handle<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>>;

    /// Called once when a job has failed for good (e.g. to close a check run
    /// left in progress). Best effort: its own failure is only logged.
    fn gave_up<'a>(&'a self, _job: &'a Job, _error: &'a JobError) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Worker timing.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long a claim is held without a heartbeat.
    pub lease: Duration,
    /// How often an idle worker looks for work (it is also woken on enqueue).
    pub poll: Duration,
    /// First retry delay; doubles per attempt.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            lease: Duration::from_secs(300),
            poll: Duration::from_secs(1),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
        }
    }
}

/// Delay before attempt `attempts + 1`: exponential with up to 20% jitter.
pub fn backoff(settings: &WorkerSettings, attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    let base = settings
        .backoff_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(settings.backoff_max);
    let jitter = base.mul_f64(rand::random::<f64>() * 0.2);
    base + jitter
}

/// What one claim-and-run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Nothing to run.
    Idle,
    /// The job finished.
    Done(i64),
    /// The job failed and will run again.
    Retrying(i64),
    /// The job failed for good.
    Failed(i64),
}

/// Claims one job and runs it to an outcome.
pub async fn run_one(
    pool: &PgPool,
    handler: &dyn JobHandler,
    worker: &str,
    settings: &WorkerSettings,
) -> Result<RunOutcome, crate::store::StoreError> {
    let Some(job) = jobs::claim(pool, worker, settings.lease).await? else {
        return Ok(RunOutcome::Idle);
    };
    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts, delivery = ?job.delivery_id);
    let stop = StopSignal::new();
    let handle = STOP.scope(stop.clone(), handler.handle(&job).instrument(span));
    tokio::pin!(handle);
    let mut tick = tokio::time::interval(settings.lease / 3);
    tick.tick().await;
    let mut lost = false;
    // The handler is never dropped mid-statement: a lost lease sets the stop
    // signal, and the handler (a deploy) stops at its next statement boundary
    // and records where.
    let outcome = loop {
        tokio::select! {
            r = &mut handle => break r,
            _ = tick.tick(), if !lost => {
                match jobs::heartbeat(pool, job.id, worker, settings.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = job.id, "lease lost: another worker took the job; stopping the handler at its next safe point");
                        stop.stop();
                        lost = true;
                    }
                    Err(e) => tracing::warn!(job = job.id, error = %e, "heartbeat failed"),
                }
            }
        }
    };
    let result = if lost {
        if let Err(e) = &outcome {
            tracing::warn!(job = job.id, error = %e.message, "the handler of a job whose lease was lost failed");
        }
        None
    } else {
        Some(outcome)
    };
    match result {
        Some(Ok(())) => {
            jobs::complete(pool, job.id, worker).await?;
            tracing::info!(job = job.id, kind = %job.kind, "job done");
            Ok(RunOutcome::Done(job.id))
        }
        Some(Err(e)) => {
            let retry_in = e.retryable.then(|| {
                let b = backoff(settings, job.attempts);
                e.retry_after.map_or(b, |after| after.max(b))
            });
            match jobs::fail(pool, job.id, worker, &e.message, retry_in).await? {
                Failed::WillRetry => {
                    tracing::warn!(job = job.id, attempt = job.attempts, error = %e.message, retry_in = ?retry_in, "job failed; will retry");
                    Ok(RunOutcome::Retrying(job.id))
                }
                Failed::GaveUp => {
                    tracing::error!(job = job.id, attempt = job.attempts, error = %e.message, "job failed for good");
                    handler.gave_up(&job, &e).await;
                    Ok(RunOutcome::Failed(job.id))
                }
            }
        }
        // The lease was lost: the other worker owns the outcome now.
        None => Ok(RunOutcome::Idle),
    }
}

/// Runs jobs until none is runnable (tests drain the queue instead of sleeping).
pub async fn drain(
    pool: &PgPool,
    handler: &dyn JobHandler,
    settings: &WorkerSettings,
) -> Result<Vec<RunOutcome>, crate::store::StoreError> {
    let mut outcomes = Vec::new();
    loop {
        match run_one(pool, handler, "drain", settings).await? {
            RunOutcome::Idle => return Ok(outcomes),
            o => outcomes.push(o),
        }
    }
}

/// Starts `n` workers; they stop after their current job when `shutdown` turns true.
pub fn spawn_workers(
    n: usize,
    pool: PgPool,
    handler: Arc<dyn JobHandler>,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let host = hostname();
    (0..n)
        .map(|i| {
            let worker = format!("{host}:{}:{i}", std::process::id());
            let (pool, handler, settings, wake, mut shutdown) = (
                pool.clone(),
                handler.clone(),
                settings.clone(),
                wake.clone(),
                shutdown.clone(),
            );
            tokio::spawn(async move {
                loop {
                    if *shutdown.borrow() {
                        return;
                    }
                    match run_one(&pool, handler.as_ref(), &worker, &settings).await {
                        Ok(RunOutcome::Idle) => {
                            tokio::select! {
                                _ = wake.notified() => {}
                                _ = tokio::time::sleep(settings.poll) => {}
                                _ = shutdown.changed() => {}
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(%worker, error = %e, "queue unavailable");
                            tokio::time::sleep(settings.poll).await;
                        }
                    }
                }
            })
        })
        .collect()
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "bytegate".to_string())
}
