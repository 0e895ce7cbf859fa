//! Jobs that failed for good ([`give_up`]): a review's running check is
//! completed as failed, with a reference instead of the internal error.
//!
//! A job that was to start or continue a merged PR's rollout failed for good:
//! the PR says so, with the command that retries, and the audit trail records
//! it, so a rollout is never silently lost. The PR never sees the internal
//! error text: it gets an id (the job's), the log and the audit row the text.

use super::{BOT_ACTOR, FlowContext, FlowError, error_ref};
use crate::event::{Event, PrAction, PrRef, PullRequestEvent};
use crate::forge::CheckHandle;
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::change_requests::{self, CrState};
use crate::store::rollouts::{self, Rollout, Stage};
use serde_json::json;

/// Starts every give-up comment; with the job id it makes the comment unique,
/// so a give-up reported twice (a crash while reporting) comments once.
pub const GAVE_UP_MARKER: &str = "<!-- bytegate:rollout-gave-up";

/// A job that failed for good, as [`give_up`] reports it.
#[derive(Debug, Clone, Copy)]
pub struct GaveUp<'a> {
    /// The job's id: the error id shown on the PR (the text is in the log
    /// and in the job's row, never on the PR).
    pub job_id: i64,
    /// Attempts made.
    pub attempts: i32,
    /// The last error (internal text).
    pub error: &'a str,
}

/// Called when a job has failed for good (retries exhausted or a permanent
/// error): a review check still running on the event's commit is completed
/// as failed, so the pull request does not wait on it forever; a merge (or
/// an approval that drives a rollout) says on the PR that the deploy could
/// not be started or continued and how to retry, and is audited. Best effort.
pub async fn give_up(
    ctx: &FlowContext,
    event: &Event,
    failure: &GaveUp<'_>,
) -> Result<(), FlowError> {
    let error = failure.error;
    let pr = match event {
        Event::PullRequest(pr) if matches!(pr.action, PrAction::Closed { merged: true, .. }) => {
            return merge_job(ctx, pr, failure).await;
        }
        Event::Review(r) => return rollout_driver(ctx, &r.pr, failure).await,
        Event::Comment(c) => return rollout_driver(ctx, &c.pr, failure).await,
        Event::PullRequest(pr) => pr,
        Event::Rerun(_) => return Ok(()),
    };
    if !pr.action.wants_review() {
        return Ok(());
    }
    let forge = ctx.forges.for_repo(&pr.pr.repo)?;
    let Some(cr) = super::find_change_request(ctx, &pr.pr).await? else {
        return Ok(());
    };
    let handle = match (&cr.check_sha, &cr.check_handle) {
        (Some(sha), Some(stored)) if sha == &pr.head_sha => CheckHandle::from_stored(stored),
        _ => None,
    };
    let Some(handle) = handle else {
        return Ok(());
    };
    // The error text is internal (driver, forge, bookkeeping messages): it
    // goes to the audit trail and the logs under a reference, not on the PR.
    let reference = error_ref();
    tracing::error!(reference = %reference, head_sha = %pr.head_sha, error = %error, "the review was abandoned");
    super::fail_review_check(
        ctx,
        forge.as_ref(),
        pr,
        &handle,
        "bytegate could not review this commit",
        "The review failed after several attempts and was abandoned. Push again or ask for a re-run.\n\n",
        &reference,
    )
    .await?;
    let detail = json!({"head_sha": pr.head_sha, "error": error, "final": true, "ref": reference});
    audit::append(
        &ctx.db,
        &AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::ReviewFailed, &pr.pr).with_detail(detail),
    )
    .await?;
    Ok(())
}

/// The merge job itself failed for good.
pub async fn merge_job(
    ctx: &FlowContext,
    pr: &PullRequestEvent,
    failure: &GaveUp<'_>,
) -> Result<(), FlowError> {
    if ctx.config.environments.is_empty() {
        // Nothing would have been deployed.
        return Ok(());
    }
    let merge_sha = match &pr.action {
        PrAction::Closed { merge_sha, .. } => merge_sha.as_deref(),
        _ => None,
    };
    // Record the merge (it may not have got that far), so `/bytebase deploy`
    // can start the rollout later. Best effort: the database may be what failed.
    let recorded = async {
        let cr = change_requests::record_seen(&ctx.db, &super::seen(pr)).await?;
        if cr.state != CrState::Merged {
            change_requests::set_state(&ctx.db, cr.id, CrState::Merged, merge_sha).await?;
        }
        let rollout = rollouts::for_change_request(&ctx.db, cr.id).await?;
        let stages = match &rollout {
            Some(r) => rollouts::stages(&ctx.db, r.id).await?,
            None => Vec::new(),
        };
        Ok::<_, FlowError>(rollout.map(|r| (r, stages)))
    }
    .await;
    let rollout = recorded.unwrap_or_else(|e| {
        tracing::warn!(pr = %pr.pr, error = %e, "could not record the merge of a given-up job");
        None
    });
    report(ctx, &pr.pr, rollout.as_ref(), merge_sha, failure).await
}

/// A review or comment job on a merged PR failed for good: reported when the
/// PR's rollout still has stages to run (the job may have been what would
/// have started them).
pub async fn rollout_driver(
    ctx: &FlowContext,
    pr: &PrRef,
    failure: &GaveUp<'_>,
) -> Result<(), FlowError> {
    let Some(cr) = super::find_change_request(ctx, pr).await? else {
        return Ok(());
    };
    if cr.state != CrState::Merged {
        return Ok(());
    }
    let Some(rollout) = rollouts::for_change_request(&ctx.db, cr.id).await? else {
        return Ok(());
    };
    let stages = rollouts::stages(&ctx.db, rollout.id).await?;
    if next_stage(&stages).is_none() {
        return Ok(());
    }
    let merge_sha = rollout.merge_sha.clone();
    report(ctx, pr, Some(&(rollout, stages)), Some(&merge_sha), failure).await
}

fn next_stage(stages: &[Stage]) -> Option<&Stage> {
    stages.iter().find(|s| !s.state.is_through())
}

/// Audits, logs and comments (once per job).
async fn report(
    ctx: &FlowContext,
    pr: &PrRef,
    rollout: Option<&(Rollout, Vec<Stage>)>,
    merge_sha: Option<&str>,
    failure: &GaveUp<'_>,
) -> Result<(), FlowError> {
    let error_id = format!("job-{}", failure.job_id);
    let environment = rollout
        .and_then(|(_, stages)| next_stage(stages))
        .map(|s| s.environment.clone())
        .or_else(|| ctx.config.environments.first().map(|e| e.name.clone()));
    tracing::error!(pr = %pr, error_id, attempts = failure.attempts, error = failure.error, "a rollout's job failed for good; reported on the pull request");
    // The audit row first: it needs only the meta database, the comment the forge.
    let entry = AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::RolloutGaveUp, pr)
        .in_environment(environment.as_deref())
        .with_detail(json!({
            "job": failure.job_id,
            "error_id": error_id,
            "attempts": failure.attempts,
            "error": failure.error,
            "rollout": rollout.map(|(r, _)| r.id),
            "merge_sha": merge_sha,
        }));
    if let Err(e) = audit::append(&ctx.db, &entry).await {
        tracing::error!(pr = %pr, error_id, error = %e, "could not audit a given-up rollout job");
    }
    let forge = ctx.forges.for_repo(&pr.repo)?;
    let marker = format!("{GAVE_UP_MARKER} job={} -->", failure.job_id);
    let comments = forge.list_comments(pr).await?;
    // Only bytegate's own comment counts: a pasted marker must not silence it.
    for c in comments.iter().filter(|c| c.body.starts_with(&marker)) {
        if forge.is_bot(&c.author).await? {
            return Ok(());
        }
    }
    let body = render(
        &marker,
        rollout.is_some(),
        failure.attempts,
        environment.as_deref(),
        &error_id,
    );
    forge.create_comment(pr, &body).await?;
    Ok(())
}

fn render(
    marker: &str,
    started: bool,
    attempts: i32,
    environment: Option<&str>,
    error_id: &str,
) -> String {
    let what = if started { "continue" } else { "start" };
    let tries = if attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{attempts} attempts")
    };
    let retry = match environment {
        Some(env) => format!("To try again, comment `/bytebase deploy {env}`."),
        None => "To try again, comment `/bytebase deploy ENVIRONMENT`.".to_string(),
    };
    format!(
        "{marker}\n**bytegate could not {what} the deploy of this merge** after {tries}.\n\n\
         {retry}\n\n\
         Error id: `{error_id}` (the details are in bytegate's log and meta database, not here)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_comment_names_the_retry_and_the_id_only() {
        let body = render("<!-- m -->", true, 5, Some("staging"), "job-42");
        assert!(body.starts_with("<!-- m -->\n"));
        assert!(body.contains("could not continue the deploy"));
        assert!(body.contains("after 5 attempts"));
        assert!(body.contains("`/bytebase deploy staging`"));
        assert!(body.contains("`job-42`"));
        let first = render("<!-- m -->", false, 1, None, "job-1");
        assert!(first.contains("could not start"));
        assert!(first.contains("after 1 attempt."));
    }
}
