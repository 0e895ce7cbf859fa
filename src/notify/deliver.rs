//! Delivery of `notify` jobs: one POST per attempt, every attempt recorded.
//!
//! A 2xx answer delivers. A timeout, a connection failure, 408, 429 or a 5xx
//! is retried with the queue's exponential backoff (the worker's clock sets
//! the next attempt's time; a `Retry-After` is honoured up to the longest
//! backoff) until `notifications.max_attempts`; any other answer (a 4xx: the
//! receiver refuses the hook) is given up at once. Redirects are not
//! followed: the receiver's configured URL is the only place a signed body goes.

use super::NotifyJob;
use super::body::{self, ATTEMPT_HEADER, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER};
use crate::clock::Clock;
use crate::config::{Config, NotificationWebhook};
use crate::jobs::{JobError, JobHandler};
use crate::store::jobs::{Job, Lane, NOTIFY_JOB};
use crate::store::notifications::{self, AttemptStatus, NewAttempt};
use crate::telemetry::metrics::Metrics;
use futures::future::BoxFuture;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest error text kept per attempt.
const MAX_ERROR_CHARS: usize = 500;

/// Why the delivery client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the notification HTTP client: {0}")]
pub struct ClientError(String);

/// Runs `notify` jobs (the queue's notifications lane).
pub struct NotifyJobHandler {
    db: PgPool,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
}

impl NotifyJobHandler {
    /// A handler delivering to the receivers of `config`, recording attempts
    /// in `db` at `clock`'s time and counting them in `metrics`.
    pub fn new(
        db: PgPool,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<NotifyJobHandler, ClientError> {
        let timeout = config.notifications.timeout.0;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("bytegate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(e.without_url().to_string()))?;
        Ok(NotifyJobHandler {
            db,
            config,
            clock,
            metrics,
            client,
        })
    }

    async fn deliver(&self, job: &Job) -> Result<(), JobError> {
        if job.kind != NOTIFY_JOB {
            return Err(JobError::permanent(format!(
                "unknown job kind `{}`",
                job.kind
            )));
        }
        let n: NotifyJob = serde_json::from_value(job.payload.clone()).map_err(|e| {
            JobError::permanent(format!("stored notification does not deserialize: {e}"))
        })?;
        let Some(receiver) = self.config.notifications.receiver(&n.receiver) else {
            let error = format!(
                "receiver `{}` is no longer configured; not delivered",
                n.receiver
            );
            self.record(job, &n, AttemptStatus::GaveUp, None, Some(&error), 0)
                .await?;
            return Err(JobError::permanent(error));
        };
        let started = Instant::now();
        let sent = self.post(receiver, &n, job.attempts).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (http_status, failure) = match sent {
            Ok((status, _)) if (200..300).contains(&status) => (Some(status), None),
            Ok((status, retry_after)) => {
                let retryable = matches!(status, 408 | 429) || status >= 500;
                let error = format!("the receiver answered HTTP {status}");
                (Some(status), Some((error, retryable, retry_after)))
            }
            Err(error) => (None, Some((error, true, None))),
        };
        let Some((error, retryable, retry_after)) = failure else {
            self.record(
                job,
                &n,
                AttemptStatus::Delivered,
                http_status,
                None,
                duration_ms,
            )
            .await?;
            tracing::info!(job = job.id, receiver = %n.receiver, event = %n.notice.event, attempt = job.attempts, "notification delivered");
            return Ok(());
        };
        let last = !retryable || job.attempts >= job.max_attempts;
        let status = if last {
            AttemptStatus::GaveUp
        } else {
            AttemptStatus::Retrying
        };
        self.record(job, &n, status, http_status, Some(&error), duration_ms)
            .await?;
        tracing::warn!(job = job.id, receiver = %n.receiver, event = %n.notice.event, attempt = job.attempts, %status, error = %error, "notification not delivered");
        let max = self.config.notifications.retry_max.0;
        Err(JobError {
            message: error,
            retryable,
            retry_after: retry_after.map(|d| d.min(max)),
        })
    }

    /// One POST; the receiver's status and `Retry-After`, or why there was
    /// no answer (without the URL: it may hold a token).
    async fn post(
        &self,
        receiver: &NotificationWebhook,
        n: &NotifyJob,
        attempt: i32,
    ) -> Result<(u16, Option<Duration>), String> {
        let payload = body::render(&n.notice, receiver.format);
        let mut request = self
            .client
            .post(receiver.url.expose())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, n.notice.event.as_str())
            .header(DELIVERY_HEADER, &n.delivery)
            .header(ATTEMPT_HEADER, attempt.to_string());
        if let Some(secret) = &receiver.secret {
            request = request.header(
                SIGNATURE_HEADER,
                body::sign(secret.expose().as_bytes(), &payload),
            );
        }
        let response = request
            .body(payload)
            .send()
            .await
            .map_err(|e| describe(e.without_url()))?;
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Ok((response.status().as_u16(), retry_after))
    }

    async fn record(
        &self,
        job: &Job,
        n: &NotifyJob,
        status: AttemptStatus,
        http_status: Option<u16>,
        error: Option<&str>,
        duration_ms: i64,
    ) -> Result<(), JobError> {
        let attempt = NewAttempt {
            job_id: job.id,
            delivery_id: &n.delivery,
            receiver: &n.receiver,
            event: n.notice.event.as_str(),
            attempt: job.attempts,
            status,
            http_status,
            error,
            duration_ms,
            at: self.clock.now(),
        };
        // Every attempt is recorded here, so it is counted here too.
        let format = self
            .config
            .notifications
            .receiver(&n.receiver)
            .map_or("unknown", |r| r.format.as_str());
        self.metrics
            .notification(&n.receiver, format, status.as_str());
        notifications::record_attempt(&self.db, &attempt)
            .await
            .map(|_| ())
            .map_err(|e| JobError::transient(format!("recording the attempt: {e}")))
    }
}

/// A request error and its causes on one line, cut to [`MAX_ERROR_CHARS`].
fn describe(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::forge::truncate_with_note(&text, MAX_ERROR_CHARS, "…")
}

impl JobHandler for NotifyJobHandler {
    fn lane(&self) -> Lane {
        Lane::Notifications
    }

    fn handle<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(self.deliver(job))
    }

    fn gave_up<'a>(&'a self, job: &'a Job, error: &'a JobError) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Only a job whose lease kept expiring ends here without an
            // attempt row saying so (every run records its own).
            if !job.lease_exhausted {
                return;
            }
            let Ok(n) = serde_json::from_value::<NotifyJob>(job.payload.clone()) else {
                return;
            };
            if let Err(e) = self
                .record(
                    job,
                    &n,
                    AttemptStatus::GaveUp,
                    None,
                    Some(&error.message),
                    0,
                )
                .await
            {
                tracing::warn!(job = job.id, error = %e, "could not record a given-up notification");
            }
        })
    }
}
