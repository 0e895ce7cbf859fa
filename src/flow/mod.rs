//! The pull-request flow, forge-neutral: what bytegate does for each event.
//!
//! For a pull request that wants review (opened, synchronize, reopened,
//! ready_for_review, base changed) and touches the migrations folder:
//! list the changed files, read each migration at the head commit, review it
//! for every environment, then publish a check (`bytegate/sql-review`) on the
//! head commit and one sticky comment, and store the results and audit entries.
//!
//! Ordering: every event records the newest head it knows of
//! ([`store::change_requests::record_seen`] never moves the head backwards).
//! A review of an older commit still completes its own check, but the sticky
//! comment is edited only under a row lock and only while the reviewed commit
//! is still the newest head, so a slow job never overwrites newer results.
//!
//! Fork pull requests are reviewed statically: this module never connects to
//! a target database for any pull request.

pub mod abandon;
pub mod analysis;
pub mod approvals;
pub mod cleaner;
pub mod commands;
pub mod decision;
pub mod dry_run;
pub mod guard;
mod head;
pub mod notices;
pub mod render;
pub mod repo_config;
pub mod rollout;
pub mod sticky;

pub use abandon::{GaveUp, give_up};
pub(crate) use head::review_snapshot;
use head::{ReviewScope, review_and_publish};
pub use sticky::CommentOutcome;

use crate::config::Config;
use crate::event::{Event, PrAction, PrRef, PullRequestEvent, RerunEvent};
use crate::forge::{
    ChangedFile, CheckConclusion, CheckHandle, CheckResult, Forge, ForgeError, ForgeSet,
    PullRequestInfo,
};
use crate::review::{self, ReviewInput, ReviewOptions, ReviewReport};
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::change_requests::{self, ChangeRequest, CrState, PrSeen};
use crate::store::{StoreError, reviews, snapshots};
use analysis::MigrationChange;
use futures::{StreamExt, TryStreamExt};
use render::{CHECK_NAME, COMMENT_MARKER, RenderContext};
use repo_config::{REPO_CONFIG_PATH, RepoConfig};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

pub use crate::store::audit::BOT_ACTOR;
/// Files read from the forge at the same time (well under GitHub's concurrency limit).
const CONCURRENT_READS: usize = 8;

/// Everything the flow needs, shared by all workers.
#[derive(Clone)]
pub struct FlowContext {
    /// The meta database.
    pub db: PgPool,
    /// The server's configuration.
    pub config: Arc<Config>,
    /// Forge clients.
    pub forges: ForgeSet,
    /// bytegate's public URL (`BB_EXTERNAL_URL`), linked from checks.
    pub external_url: Option<String>,
    /// Role/permission cache and per-user command limits (bounded forge cost).
    pub guard: guard::CommandGuard,
    /// Where decisions read the time (deploy windows, leases, staleness).
    pub clock: Arc<dyn crate::clock::Clock>,
    /// Prometheus series (shared with the server's `AppState`).
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
}

impl FlowContext {
    /// A context with a client for every forge in `config` (`forges.github`, ...).
    pub fn from_config(
        db: PgPool,
        config: Arc<Config>,
        external_url: Option<String>,
    ) -> Result<FlowContext, ForgeError> {
        let metrics = Arc::default();
        let forges = ForgeSet::from_config(&config, &metrics)?;
        let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock);
        Ok(FlowContext {
            metrics,
            db,
            config,
            forges,
            external_url,
            guard: guard::CommandGuard::new(clock.clone()),
            clock,
        })
    }
}

/// A short random reference (8 hex digits) shown on a pull request next to
/// an error whose details stay in the meta database and the logs.
pub fn error_ref() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// Why handling an event failed.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Talking to the forge failed.
    #[error(transparent)]
    Forge(#[from] ForgeError),
    /// The meta database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// bytegate itself failed (a bug): retrying will not help.
    #[error("internal error: {0}")]
    Internal(String),
}

impl FlowError {
    /// True when the job should be retried (with backoff).
    pub fn is_retryable(&self) -> bool {
        match self {
            FlowError::Forge(e) => e.is_retryable(),
            // Connection loss, deadlocks, failover: worth another attempt.
            FlowError::Store(_) => true,
            FlowError::Internal(_) => false,
        }
    }

    /// The earliest sensible retry, when the forge said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FlowError::Forge(e) => e.retry_after(),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for FlowError {
    fn from(e: sqlx::Error) -> Self {
        FlowError::Store(StoreError::Query(e))
    }
}

/// The change request of `pr`; `None` when bytegate has not seen the PR.
pub(crate) async fn find_change_request(
    ctx: &FlowContext,
    pr: &PrRef,
) -> Result<Option<ChangeRequest>, FlowError> {
    let forge = pr.repo.forge.as_str();
    Ok(change_requests::find(&ctx.db, forge, &pr.repo.full_name, pr.number as i64).await?)
}

/// Handles one event. Events the flow does not act on (yet) succeed without effect.
pub async fn handle_event(ctx: &FlowContext, event: &Event) -> Result<(), FlowError> {
    match event {
        Event::PullRequest(pr) => {
            let filled = fill_from_forge(ctx, pr).await?;
            let pr = filled.as_ref().unwrap_or(pr);
            if pr.action.wants_review() {
                review_pull_request(ctx, pr).await
            } else {
                pull_request_lifecycle(ctx, pr).await
            }
        }
        Event::Rerun(rerun) => rerun_review(ctx, rerun).await,
        // Reviews and comments drive approvals.
        Event::Review(review) => {
            approvals::on_review(ctx, review).await?;
            // Approvals after merge may let a waiting stage run (before
            // merge there is no rollout and this does nothing).
            rollout::advance(ctx, &review.pr).await
        }
        Event::Comment(comment) => commands::on_comment(ctx, comment).await,
    }
}

/// The event as the forge knows it: what its hook left out is filled in
/// (see [`crate::forge::Forge::complete_event`]). `None` when complete already.
async fn fill_from_forge(
    ctx: &FlowContext,
    pr: &PullRequestEvent,
) -> Result<Option<PullRequestEvent>, FlowError> {
    let forge = ctx.forges.for_repo(&pr.pr.repo)?;
    Ok(forge.complete_event(pr).await?)
}

pub(crate) fn seen(pr: &PullRequestEvent) -> PrSeen<'_> {
    PrSeen {
        forge: pr.pr.repo.forge.as_str(),
        repo: &pr.pr.repo.full_name,
        number: pr.pr.number as i64,
        title: &pr.title,
        author: &pr.author,
        head_sha: &pr.head_sha,
        base_ref: &pr.base_ref,
        is_fork: pr.is_fork,
        at: pr.at,
    }
}

/// Closed, merged, or edited without a base change: record the state.
async fn pull_request_lifecycle(ctx: &FlowContext, pr: &PullRequestEvent) -> Result<(), FlowError> {
    let cr = change_requests::record_seen(&ctx.db, &seen(pr)).await?;
    if let PrAction::Closed { merged, merge_sha } = &pr.action {
        let (state, action) = if *merged {
            (CrState::Merged, AuditAction::ChangeRequestMerged)
        } else {
            (CrState::Closed, AuditAction::ChangeRequestClosed)
        };
        change_requests::set_state(&ctx.db, cr.id, state, merge_sha.as_deref()).await?;
        let e = AuditEntry::for_pr_ref(BOT_ACTOR, action, &pr.pr)
            .with_detail(json!({"head_sha": pr.head_sha, "merge_sha": merge_sha}));
        audit::append(&ctx.db, &e).await?;
        if *merged {
            rollout::start_on_merge(ctx, pr, &cr).await?;
        }
    }
    Ok(())
}

/// A user asked to re-run the check: review the PR's current head again.
async fn rerun_review(ctx: &FlowContext, rerun: &RerunEvent) -> Result<(), FlowError> {
    let forge = ctx.forges.for_repo(&rerun.repo)?;
    let mut numbers = rerun.pr_numbers.clone();
    if numbers.is_empty() {
        // A re-run may not name its pull requests (GitHub leaves them empty
        // for forks): find them by head in bytegate's own records.
        numbers = change_requests::open_with_head(
            &ctx.db,
            rerun.repo.forge.as_str(),
            &rerun.repo.full_name,
            &rerun.head_sha,
        )
        .await?
        .into_iter()
        .map(|cr| cr.number as u64)
        .collect();
    }
    for &number in &numbers {
        let pr_ref = PrRef {
            repo: rerun.repo.clone(),
            number,
        };
        let info = forge.get_pull_request(&pr_ref).await?;
        if info.state != "open" {
            continue;
        }
        review_pull_request(ctx, &rereview_event(pr_ref, info, ctx.clock.now())).await?;
    }
    if numbers.is_empty() {
        tracing::info!(repo = %rerun.repo.full_name, sha = %rerun.head_sha, "re-run of a commit that is no open pull request's head; ignored");
    }
    Ok(())
}

/// A review of `pr` as the forge shows it now (`info`), asked for outside a
/// push (a check re-run, the `plan` command): the one conversion of a
/// pull request's info into its event.
pub(crate) fn rereview_event(
    pr: PrRef,
    info: PullRequestInfo,
    at: chrono::DateTime<chrono::Utc>,
) -> PullRequestEvent {
    PullRequestEvent {
        pr,
        action: PrAction::Synchronize,
        head_sha: info.head_sha,
        base_ref: info.base_ref,
        base_sha: info.base_sha,
        author: info.author,
        title: info.title,
        html_url: String::new(),
        is_fork: info.is_fork,
        draft: info.draft,
        at,
    }
}

/// The repository's own settings, from the PR's base commit: never from its
/// head or merge commit, so a PR cannot change the rules it is reviewed and
/// deployed by. An invalid file is ignored (the error is returned to show).
pub(crate) async fn read_repo_config(
    forge: &dyn Forge,
    repo: &crate::event::RepoRef,
    base_sha: &str,
) -> Result<(RepoConfig, Option<String>), FlowError> {
    Ok(
        match forge.file_content(repo, REPO_CONFIG_PATH, base_sha).await? {
            None => (RepoConfig::default(), None),
            Some(bytes) => match RepoConfig::parse(&String::from_utf8_lossy(&bytes)) {
                Ok(c) => (c, None),
                Err(e) => (RepoConfig::default(), Some(e)),
            },
        },
    )
}

/// A pull request's migration changes, by the base commit's repository config.
pub(crate) struct PrMigrations {
    /// `.bytegate.yaml` at the base commit (default when absent or broken).
    pub(crate) repo_config: RepoConfig,
    /// Why the base commit's `.bytegate.yaml` could not be used, if so.
    pub(crate) repo_config_error: Option<String>,
    /// The migrations directory in effect.
    pub(crate) dir: String,
    /// Every file the pull request changes.
    pub(crate) files: Vec<ChangedFile>,
    /// The changed files that are migrations.
    pub(crate) changes: Vec<MigrationChange>,
}

/// Reads the base commit's config and the PR's files, and picks out its migrations.
pub(crate) async fn pr_migrations(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PullRequestEvent,
) -> Result<PrMigrations, FlowError> {
    let (repo_config, repo_config_error) =
        read_repo_config(forge, &pr.pr.repo, &pr.base_sha).await?;
    let dir = repo_config
        .migrations_dir
        .clone()
        .unwrap_or_else(|| ctx.config.project.migrations_dir.clone());
    let suffixes = repo_config.merged_suffixes(&ctx.config.project.migration_suffixes);
    let files = forge.list_pr_files(&pr.pr).await?;
    let changes = analysis::migration_changes(&files, &dir, &suffixes);
    Ok(PrMigrations {
        repo_config,
        repo_config_error,
        dir,
        files,
        changes,
    })
}

/// Reviews a pull request's head commit and publishes the result.
pub async fn review_pull_request(
    ctx: &FlowContext,
    pr: &PullRequestEvent,
) -> Result<(), FlowError> {
    review_pull_request_for(ctx, pr, dry_run::DryRunTrigger::Push).await
}

/// [`review_pull_request`], saying what asked for it (`/bytebase plan` also
/// dry-runs where configured).
pub async fn review_pull_request_for(
    ctx: &FlowContext,
    pr: &PullRequestEvent,
    trigger: dry_run::DryRunTrigger,
) -> Result<(), FlowError> {
    let forge = ctx.forges.for_repo(&pr.pr.repo)?;
    let cr = change_requests::record_seen(&ctx.db, &seen(pr)).await?;
    if pr.action == PrAction::Reopened && cr.state != CrState::Open {
        change_requests::reopen(&ctx.db, cr.id).await?;
        audit::append(
            &ctx.db,
            &AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::ChangeRequestReopened, &pr.pr)
                .with_detail(json!({})),
        )
        .await?;
    }

    let PrMigrations {
        repo_config,
        repo_config_error,
        dir,
        files,
        changes,
    } = pr_migrations(ctx, forge.as_ref(), pr).await?;
    // A PR that edits the repository config is told it governs only later
    // PRs (a PR that moves `migrations_dir` must not escape review that way).
    let config_changed = files.iter().any(|f| f.path == REPO_CONFIG_PATH);
    let refused = analysis::refused_paths(&files);
    if changes.is_empty() && !config_changed && refused.is_empty() {
        if cr.comment_id.is_some() {
            // It used to change migrations: say that it no longer does.
            let body = render::comment_no_migrations(&pr.head_sha);
            publish_comment(ctx, forge.as_ref(), &cr, pr, &body).await?;
        }
        return Ok(());
    }

    let handle = match (&cr.check_sha, &cr.check_handle) {
        (Some(sha), Some(stored)) if sha == &pr.head_sha => CheckHandle::from_stored(stored),
        _ => None,
    };
    let handle = match handle {
        Some(h) => h,
        None => {
            let h = forge
                .start_check(
                    &pr.pr.repo,
                    &pr.head_sha,
                    CHECK_NAME,
                    ctx.external_url.as_deref(),
                )
                .await?;
            change_requests::set_check(&ctx.db, cr.id, &pr.head_sha, &h.to_stored()).await?;
            h
        }
    };
    audit::append(
        &ctx.db,
        &AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::ReviewStarted, &pr.pr)
            .with_detail(json!({"head_sha": pr.head_sha, "files": changes.len()})),
    )
    .await?;

    let scope = ReviewScope {
        changes: &changes,
        repo_config: &repo_config,
        repo_config_error,
        config_changed,
        refused: &refused,
        dir: &dir,
        dry_run: trigger,
    };
    match review_and_publish(ctx, forge.as_ref(), &cr, pr, &scope, &handle).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let reference = error_ref();
            let detail = json!({"head_sha": pr.head_sha, "error": e.to_string(), "retryable": e.is_retryable(), "ref": reference});
            // Best effort: the error being reported is the one that matters.
            let _ = audit::append(
                &ctx.db,
                &AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::ReviewFailed, &pr.pr)
                    .with_detail(detail),
            )
            .await;
            if !e.is_retryable() {
                tracing::error!(reference = %reference, head_sha = %pr.head_sha, error = %e, "the review failed for good");
                let _ = fail_review_check(
                    ctx,
                    forge.as_ref(),
                    pr,
                    &handle,
                    "bytegate could not finish the review",
                    "The review failed and will not be retried. ",
                    &reference,
                )
                .await;
            }
            Err(e)
        }
    }
}

/// Completes the review check of `pr.head_sha` as failed: `title`, then
/// `what` happened and the `reference` under which operators find the error
/// (the internal text stays in the logs and the audit trail).
pub(crate) async fn fail_review_check(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PullRequestEvent,
    handle: &CheckHandle,
    title: &str,
    what: &str,
    reference: &str,
) -> Result<(), FlowError> {
    let result = CheckResult {
        conclusion: CheckConclusion::Failure,
        title: title.to_string(),
        summary: format!(
            "{what}Operators find the error in bytegate's logs and audit trail under ref `{reference}`."
        ),
        annotations: Vec::new(),
        details_url: ctx.external_url.clone(),
    };
    forge
        .complete_check(&pr.pr.repo, &pr.head_sha, CHECK_NAME, Some(handle), &result)
        .await?;
    Ok(())
}

/// Creates or edits the sticky comment, under the change request's row lock
/// and only while `pr.head_sha` is the newest known head.
async fn publish_comment(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PullRequestEvent,
    body: &str,
) -> Result<CommentOutcome, FlowError> {
    let mut tx = ctx.db.begin().await?;
    let current = change_requests::lock(&mut tx, cr.id).await?;
    if current.head_sha != pr.head_sha {
        tx.rollback().await?;
        let detail = json!({"head_sha": pr.head_sha, "newer_head": current.head_sha});
        audit::append(
            &ctx.db,
            &AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::ReviewSuperseded, &pr.pr)
                .with_detail(detail),
        )
        .await?;
        return Ok(CommentOutcome::Superseded);
    }
    let stored_id = current
        .comment_id
        .as_deref()
        .and_then(|s| s.parse::<u64>().ok());
    let (id, outcome) = sticky::publish(forge, &pr.pr, COMMENT_MARKER, stored_id, body).await?;
    change_requests::set_comment(&mut tx, cr.id, &id.to_string(), &pr.head_sha).await?;
    tx.commit().await?;
    // Audited after the commit, never inside the transaction that waited on
    // the forge: the audit chain's lock is held only by short transactions.
    let action = match outcome {
        CommentOutcome::Created => Some(AuditAction::CommentCreated),
        CommentOutcome::Updated => Some(AuditAction::CommentUpdated),
        _ => None,
    };
    if let Some(action) = action {
        audit::append(
            &ctx.db,
            &AuditEntry::for_pr_ref(BOT_ACTOR, action, &pr.pr)
                .with_detail(json!({"comment_id": id, "head_sha": pr.head_sha})),
        )
        .await?;
    }
    Ok(outcome)
}
