//! The handler of `event` jobs: a stored forge-neutral event goes to the flow.

use super::{JobError, JobHandler};
use crate::event::Event;
use crate::flow::{self, FlowContext};
use crate::store::jobs::Job;
use futures::future::BoxFuture;

/// Runs `event` jobs through [`flow::handle_event`].
pub struct EventJobHandler {
    /// What the flow needs.
    pub ctx: FlowContext,
}

impl JobHandler for EventJobHandler {
    fn handle<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            if job.kind != crate::webhook::EVENT_JOB {
                return Err(JobError::permanent(format!(
                    "unknown job kind `{}`",
                    job.kind
                )));
            }
            let event: Event = serde_json::from_value(job.payload.clone()).map_err(|e| {
                JobError::permanent(format!("stored event does not deserialize: {e}"))
            })?;
            if job.attempts == 1 {
                // Audited here, not in the webhook handler: the chain's lock
                // would serialize every acknowledgement behind one commit.
                audit_accepted(&self.ctx, job, &event).await?;
            }
            flow::handle_event(&self.ctx, &event)
                .await
                .map_err(|e| JobError {
                    message: e.to_string(),
                    retryable: e.is_retryable(),
                    retry_after: e.retry_after(),
                })
        })
    }

    fn metrics(&self) -> Option<&crate::telemetry::metrics::Metrics> {
        Some(&self.ctx.metrics)
    }

    fn gave_up<'a>(&'a self, job: &'a Job, error: &'a JobError) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok(event) = serde_json::from_value::<Event>(job.payload.clone()) else {
                return;
            };
            let failure = flow::GaveUp {
                job_id: job.id,
                attempts: job.attempts,
                error: &error.message,
            };
            if let Err(e) = flow::give_up(&self.ctx, &event, &failure).await {
                tracing::warn!(job = job.id, error = %e, "could not report the failed job on the pull request");
            }
        })
    }
}

async fn audit_accepted(ctx: &FlowContext, job: &Job, event: &Event) -> Result<(), JobError> {
    use crate::store::audit::{self, AuditAction, AuditEntry};
    let (pr, kind) = match event {
        Event::PullRequest(e) => (Some(&e.pr), "pull_request"),
        Event::Review(e) => (Some(&e.pr), "review"),
        Event::Comment(e) => (Some(&e.pr), "comment"),
        Event::Rerun(_) => (None, "rerun"),
    };
    let repo = match event {
        Event::Rerun(r) => &r.repo,
        _ => match pr {
            Some(p) => &p.repo,
            None => return Ok(()),
        },
    };
    let entry = AuditEntry {
        actor: crate::flow::BOT_ACTOR,
        action: AuditAction::DeliveryAccepted,
        forge: Some(repo.forge.as_str()),
        repo: Some(&repo.full_name),
        number: pr.map(|p| p.number as i64),
        environment: None,
        detail: serde_json::json!({ "job": job.id, "delivery": job.delivery_id, "event": kind }),
    };
    audit::append(&ctx.db, &entry)
        .await
        .map(|_| ())
        .map_err(|e| JobError::transient(format!("audit: {e}")))
}
