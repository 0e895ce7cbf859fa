//! Job workers: claim a job from the meta database, run its handler with the
//! lease kept alive, then mark it done, retry it with backoff, or fail it.
//! Several workers and several bytegate processes share one queue.

use crate::clock::{Clock, SystemClock};
use crate::store::jobs::{self, Failed, Job};
use futures::FutureExt;
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tracing::Instrument;

mod events;
pub use events::EventJobHandler;

use crate::deploy::{StopSignal, scope_stop_signal};

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

    /// The jobs this handler runs (a worker claims only these).
    fn lane(&self) -> jobs::Lane {
        jobs::Lane::Work
    }

    /// Called once when a job has failed for good (e.g. to close a check run
    /// left in progress). Best effort: its own failure is only logged.
    fn gave_up<'a>(&'a self, _job: &'a Job, _error: &'a JobError) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Where job durations are counted (`bytegate_job_duration_seconds`), if anywhere.
    fn metrics(&self) -> Option<&crate::telemetry::metrics::Metrics> {
        None
    }
}

/// Worker timing.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Where leases, due times and retries read the time (tests drive it).
    pub clock: Arc<dyn Clock>,
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
            clock: Arc::new(SystemClock),
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

/// A job's give-up is retried at most this many times when the process dies
/// while reporting it (the report itself may be what kills it).
const GIVE_UP_TRIES: i32 = 3;

/// Claims one job and runs it to an outcome. A handler that panics makes a
/// failed attempt (retried like a transient error); it never takes the
/// worker down with it.
pub async fn run_one(
    pool: &PgPool,
    handler: &dyn JobHandler,
    worker: &str,
    settings: &WorkerSettings,
) -> Result<RunOutcome, crate::store::StoreError> {
    let now = settings.clock.now();
    let Some(job) = jobs::claim_in(pool, handler.lane(), worker, settings.lease, now).await? else {
        return Ok(RunOutcome::Idle);
    };
    if job.lease_exhausted {
        return give_up_expired(pool, handler, worker, &job, settings.clock.as_ref()).await;
    }
    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts, delivery = ?job.delivery_id);
    let stop = StopSignal::new();
    // Wall time of the run for the latency histogram (a measurement, not a decision).
    let started = std::time::Instant::now();
    // The call itself sits inside the guarded future, so a panic while
    // building the handler's future is caught as well.
    let guarded = AssertUnwindSafe(async { handler.handle(&job).await }).catch_unwind();
    let handle = scope_stop_signal(stop.clone(), guarded.instrument(span));
    tokio::pin!(handle);
    let mut tick = tokio::time::interval(settings.lease / 3);
    tick.tick().await;
    let mut lost = false;
    // The handler is never dropped mid-statement: a lost lease sets the stop
    // signal, and the handler (a deploy) stops at its next statement boundary
    // and records where.
    let outcome = loop {
        tokio::select! {
            r = &mut handle => break r.unwrap_or_else(|panic| {
                let message = format!("the job's handler panicked: {}", panic_message(panic.as_ref()));
                tracing::error!(job = job.id, attempt = job.attempts, error = %message, "job handler panicked");
                Err(JobError::transient(message))
            }),
            _ = tick.tick(), if !lost => {
                match jobs::heartbeat(pool, job.id, worker, settings.lease, settings.clock.now()).await {
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
    if let Some(m) = handler.metrics() {
        let outcome = match (&outcome, lost) {
            (_, true) => "lease_lost",
            (Ok(()), false) => "done",
            (Err(_), false) => "error",
        };
        m.job(&job.kind, outcome, started.elapsed());
    }
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
            jobs::complete(pool, job.id, worker, settings.clock.now()).await?;
            tracing::info!(job = job.id, kind = %job.kind, "job done");
            Ok(RunOutcome::Done(job.id))
        }
        Some(Err(e)) => {
            let retry_in = e.retryable.then(|| {
                let b = backoff(settings, job.attempts);
                e.retry_after.map_or(b, |after| after.max(b))
            });
            match jobs::fail(
                pool,
                job.id,
                worker,
                &e.message,
                retry_in,
                settings.clock.now(),
            )
            .await?
            {
                Failed::WillRetry => {
                    tracing::warn!(job = job.id, attempt = job.attempts, error = %e.message, retry_in = ?retry_in, "job failed; will retry");
                    Ok(RunOutcome::Retrying(job.id))
                }
                Failed::GaveUp => {
                    tracing::error!(job = job.id, attempt = job.attempts, error = %e.message, "job failed for good");
                    report_given_up(handler, &job, &e).await;
                    Ok(RunOutcome::Failed(job.id))
                }
            }
        }
        // The lease was lost: the other worker owns the outcome now.
        None => Ok(RunOutcome::Idle),
    }
}

/// A job whose lease expired with no attempt left: reported to the handler,
/// then failed for good. The report comes first, so a crash while reporting
/// leaves the job to be given up again (at most [`GIVE_UP_TRIES`] times).
async fn give_up_expired(
    pool: &PgPool,
    handler: &dyn JobHandler,
    worker: &str,
    job: &Job,
    clock: &dyn Clock,
) -> Result<RunOutcome, crate::store::StoreError> {
    let error = JobError::permanent(format!(
        "the job's lease expired {} times (its worker died or hung); no attempts left after {}",
        job.lease_expiries, job.attempts
    ));
    tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, lease_expiries = job.lease_expiries, "job failed for good: its lease kept expiring");
    if job.lease_expiries - job.attempts < GIVE_UP_TRIES {
        report_given_up(handler, job, &error).await;
    } else {
        tracing::error!(
            job = job.id,
            "reporting this job's failure died {GIVE_UP_TRIES} times; failing it without a report"
        );
    }
    jobs::fail(pool, job.id, worker, &error.message, None, clock.now()).await?;
    Ok(RunOutcome::Failed(job.id))
}

/// Calls [`JobHandler::gave_up`]; a panic in it is logged, never propagated.
async fn report_given_up(handler: &dyn JobHandler, job: &Job, error: &JobError) {
    let report = AssertUnwindSafe(async { handler.gave_up(job, error).await }).catch_unwind();
    if let Err(panic) = report.await {
        tracing::error!(job = job.id, panic = %panic_message(panic.as_ref()), "reporting a failed job panicked");
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
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

/// Starts `n` supervised workers; they stop after their current job when
/// `shutdown` turns true. A worker task that dies (a panic, or its loop
/// returning an error) is restarted after a backoff.
pub fn spawn_workers(
    n: usize,
    pool: PgPool,
    handler: Arc<dyn JobHandler>,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let host = hostname();
    // Workers of the two lanes get distinct names (leases are held by name).
    let lane = match handler.lane() {
        jobs::Lane::Work => "",
        jobs::Lane::Notifications => "notify-",
    };
    (0..n)
        .map(|i| {
            let worker = format!("{host}:{}:{lane}{i}", std::process::id());
            let (pool, handler, settings, wake, stop) = (
                pool.clone(),
                handler.clone(),
                settings.clone(),
                wake.clone(),
                shutdown.clone(),
            );
            supervise(worker.clone(), shutdown.clone(), move || {
                worker_loop(
                    pool.clone(),
                    handler.clone(),
                    worker.clone(),
                    settings.clone(),
                    wake.clone(),
                    stop.clone(),
                )
            })
        })
        .collect()
}

/// Why a worker loop stopped before shutdown.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The queue (meta database) failed.
    #[error("queue unavailable: {0}")]
    Queue(#[from] crate::store::StoreError),
}

/// First delay before a dead worker is restarted; doubles per restart in a row.
const RESTART_BASE: Duration = Duration::from_millis(100);
/// Longest delay before a restart.
const RESTART_MAX: Duration = Duration::from_secs(30);
/// A worker that ran this long before dying starts its backoff afresh.
const RESTART_RESET_AFTER: Duration = Duration::from_secs(60);

/// Runs the task `start` makes, and starts a new one whenever it dies (panics
/// or returns an error), after a growing delay; returns once a task ends with
/// `Ok` or `shutdown` turns true.
pub fn supervise<F, Fut>(
    name: String,
    mut shutdown: watch::Receiver<bool>,
    mut start: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), WorkerError>> + Send + 'static,
{
    tokio::spawn(async move {
        let mut restarts: u32 = 0;
        loop {
            let started = tokio::time::Instant::now();
            match tokio::spawn(start()).await {
                Ok(Ok(())) => return,
                Ok(Err(e)) => {
                    tracing::error!(worker = %name, error = %e, "worker stopped with an error")
                }
                Err(e) if e.is_panic() => {
                    let panic = e.into_panic();
                    tracing::error!(worker = %name, panic = %panic_message(panic.as_ref()), "worker panicked");
                }
                Err(_) => {
                    tracing::warn!(worker = %name, "worker cancelled");
                    return;
                }
            }
            if *shutdown.borrow() {
                return;
            }
            if started.elapsed() >= RESTART_RESET_AFTER {
                restarts = 0;
            }
            let delay = RESTART_BASE
                .saturating_mul(2u32.saturating_pow(restarts.min(16)))
                .min(RESTART_MAX);
            restarts = restarts.saturating_add(1);
            tracing::warn!(worker = %name, restarts, delay = ?delay, "restarting worker");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

/// One worker: claims and runs jobs until `shutdown` turns true.
async fn worker_loop(
    pool: PgPool,
    handler: Arc<dyn JobHandler>,
    worker: String,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), WorkerError> {
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        if run_one(&pool, handler.as_ref(), &worker, &settings).await? == RunOutcome::Idle {
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(settings.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "bytegate".to_string())
}
