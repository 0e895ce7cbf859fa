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
            flow::handle_event(&self.ctx, &event)
                .await
                .map_err(|e| JobError {
                    message: e.to_string(),
                    retryable: e.is_retryable(),
                    retry_after: e.retry_after(),
                })
        })
    }

    fn gave_up<'a>(&'a self, job: &'a Job, error: &'a JobError) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Ok(event) = serde_json::from_value::<Event>(job.payload.clone()) else {
                return;
            };
            if let Err(e) = flow::give_up(&self.ctx, &event, &error.message).await {
                tracing::warn!(job = job.id, error = %e, "could not report the failed job on the pull request");
            }
        })
    }
}
