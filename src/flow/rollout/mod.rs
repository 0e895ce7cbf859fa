//! Rollouts: a merged pull request that changed migrations is applied
//! environment by environment (config order), over the migration files as
//! they are in the merge commit.
//!
//! A stage runs when the previous stage succeeded, its approval policy holds
//! and its deploy window is open; otherwise it waits and the deploy comment
//! says what for. A failed stage stops the rollout. Everything that moves a
//! rollout ([`start_on_merge`], [`advance`], [`command`]) goes through
//! one driver that holds a per-rollout session lock in the meta database
//! (polled, never waited for inside a transaction), so two workers never
//! drive one rollout at once; stages are claimed atomically on top of that,
//! and each target's own advisory lock and history make a repeated run apply
//! nothing twice.
//!
//! Only merged pull requests reach a database here: for a fork PR that is
//! the base repository's code (the merge commit), never the fork's head.
//!
//! Here: the entry points and the reviewed files a rollout applies.
//! `gates` decides whether a stage may start (policy, window, order),
//! `drive` moves the rollout under its lock, `stage` runs one stage against
//! its databases, `report` shows it on the forge. Time comes from
//! [`FlowContext::clock`].

use super::{BOT_ACTOR, FlowContext, FlowError};
use super::{analysis, decision};
use crate::config::{DeployWindow, Environment};
use crate::deploy::{self, DeployError, DeployOptions, DeployReport};
use crate::event::{ForgeKind, PrAction, PrRef, PullRequestEvent, RepoRef};
use crate::forge::{DeploymentState, Forge, ForgeError, NewDeployment, truncate_with_note};
use crate::review::version_key;
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::change_requests::{self, ChangeRequest, CrState};
use crate::store::rollouts::{self, Rollout, RolloutState, Stage, StageState};
use crate::store::snapshots::{self, ReviewedFile};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::{ConnectOptions, Connection, PgConnection};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The hidden marker that finds the deploy comment (separate from the review comment).
pub const DEPLOY_COMMENT_MARKER: &str = "<!-- bytegate:deploy -->";
/// A running stage is someone's for this long (then a crashed worker's stage is taken over).
const STAGE_LEASE: Duration = Duration::from_secs(30 * 60);
/// How long a driver waits for another driver of the same rollout. The holder
/// re-evaluates every stage before it lets go, so giving up loses nothing.
const DRIVE_LOCK_WAIT: Duration = Duration::from_secs(30);
const DRIVE_LOCK_POLL: Duration = Duration::from_millis(100);
/// Advisory-lock keys of rollout drivers: this base plus the rollout id.
const DRIVE_LOCK_BASE: i64 = 0x5230_0000_0000_0000;

/// A merged pull request that changed migrations gets a rollout (once, however
/// often the merge event arrives), and its first stages run. The rollout is
/// bound to the review snapshot of the merged head: it applies exactly those
/// files, as reviewed. A head bytegate never reviewed (a push raced the
/// merge) is reviewed now, from the merge commit, under the base commit's
/// config; approvals given for other bytes do not count for it.
pub async fn start_on_merge(
    ctx: &FlowContext,
    pr: &PullRequestEvent,
    cr: &ChangeRequest,
) -> Result<(), FlowError> {
    let PrAction::Closed {
        merged: true,
        merge_sha: Some(merge_sha),
    } = &pr.action
    else {
        return Ok(());
    };
    if ctx.config.environments.is_empty() {
        return Ok(());
    }
    let forge = ctx.forges.for_repo(&pr.pr.repo)?;
    let snapshot = match snapshots::for_head(&ctx.db, cr.id, &pr.head_sha).await? {
        Some(s) => Some(s),
        None => review_at_merge(ctx, forge.as_ref(), cr, pr, merge_sha).await?,
    };
    let Some(snapshot) = snapshot else {
        return Ok(());
    };
    let files = snapshots::files(&ctx.db, snapshot.id).await?;
    if !files.iter().any(ReviewedFile::is_applied_on_deploy) {
        return Ok(());
    }
    let envs: Vec<&str> = ctx
        .config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let (rollout, created) = rollouts::create(
        &ctx.db,
        &rollouts::NewRollout {
            change_request_id: cr.id,
            merge_sha,
            html_url: &pr.html_url,
            repo_id: pr.pr.repo.id.and_then(|i| i64::try_from(i).ok()),
            snapshot_id: Some(snapshot.id),
        },
        &envs,
    )
    .await?;
    if created {
        let detail = json!({
            "rollout": rollout.id, "merge_sha": merge_sha, "environments": envs,
            "head_sha": snapshot.head_sha, "digest": snapshot.digest,
            "files": files.iter().map(|f| json!({"path": f.path, "sha256": f.sha256})).collect::<Vec<_>>(),
        });
        audit::append(
            &ctx.db,
            &entry(cr, BOT_ACTOR, AuditAction::RolloutCreated, None, detail),
        )
        .await?;
    }
    drive(ctx, forge.as_ref(), cr, &pr.pr, rollout.id, BOT_ACTOR).await
}

/// Reviews a merged PR whose head was never reviewed: its migrations (by the
/// base commit's config) as they are in the merge commit. `None` when it
/// changed none.
async fn review_at_merge(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PullRequestEvent,
    merge_sha: &str,
) -> Result<Option<snapshots::Snapshot>, FlowError> {
    let super::PrMigrations {
        repo_config,
        dir,
        changes,
        ..
    } = super::pr_migrations(ctx, forge, pr).await?;
    if changes.is_empty() {
        return Ok(None);
    }
    let snapshot =
        super::review_snapshot(ctx, forge, cr, pr, &changes, &repo_config, &dir, merge_sha)
            .await?
            .snapshot;
    crate::flow::notices::audit(
        ctx,
        &ctx.db,
        &entry(
            cr,
            BOT_ACTOR,
            AuditAction::ReviewCompleted,
            None,
            json!({"head_sha": pr.head_sha, "read_at": merge_sha, "digest": snapshot.digest, "at_merge": true}),
        ),
    )
    .await?;
    Ok(Some(snapshot))
}

/// Re-evaluates a merged PR's rollout (after an approval, or when a deploy
/// window may have opened): runs every stage whose turn has come.
pub async fn advance(ctx: &FlowContext, pr: &PrRef) -> Result<(), FlowError> {
    let Some((cr, rollout)) = find(ctx, pr).await? else {
        return Ok(());
    };
    let forge = ctx.forges.for_repo(&pr.repo)?;
    drive(ctx, forge.as_ref(), &cr, pr, rollout.id, BOT_ACTOR).await
}

/// Drives every rollout whose next stage waits for a deploy window that is
/// open now. Returns how many were driven. Errors of one rollout are logged
/// and do not stop the others.
pub async fn advance_open_windows(ctx: &FlowContext) -> Result<usize, FlowError> {
    let now = ctx.clock.now();
    let mut driven = 0;
    for (rollout, forge, repo, number, env) in rollouts::waiting_for_window(&ctx.db).await? {
        let open = ctx
            .config
            .environment(&env)
            .and_then(|e| e.deploy_window.as_ref())
            .is_none_or(|w| w.is_open(now));
        let Some(kind) = ForgeKind::from_name(&forge) else {
            continue;
        };
        if !open {
            continue;
        }
        let pr = PrRef {
            repo: RepoRef {
                forge: kind,
                full_name: repo,
                id: rollout.repo_id.and_then(|i| u64::try_from(i).ok()),
            },
            number: u64::try_from(number).unwrap_or(0),
        };
        if let Err(e) = advance(ctx, &pr).await {
            tracing::warn!(rollout = rollout.id, error = %e, "re-checking a rollout whose deploy window opened failed");
        } else {
            driven += 1;
        }
    }
    Ok(driven)
}

/// Every `every`, runs [`advance_open_windows`] and the cleaner of expired
/// prior backups until `stopped` turns true.
/// `serve` spawns it next to the job workers.
pub async fn window_ticker(
    ctx: FlowContext,
    every: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_head = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => {}
        }
        if *stopped.borrow() {
            return;
        }
        if let Err(e) = advance_open_windows(&ctx).await {
            tracing::warn!(error = %e, "deploy-window check failed");
        }
        if let Err(e) = super::cleaner::clean_expired_backups(&ctx).await {
            tracing::warn!(error = %e, "cleaning expired backups failed");
        }
        log_audit_head(&ctx, &mut last_head).await;
    }
}

/// Logs the audit chain's head when it moved since the last tick, so the
/// log keeps heads to check with `bytegate audit verify --expect-head`.
async fn log_audit_head(ctx: &FlowContext, last: &mut Option<i64>) {
    match crate::store::audit::head_hash(&ctx.db).await {
        Ok(Some((id, hash))) => {
            if last.replace(id) != Some(id) {
                tracing::info!(audit_head_id = id, audit_head = %hash, "audit chain head");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "reading the audit chain head failed"),
    }
}

/// `/bytebase deploy ENV` on a merged PR, or the API's deploy action
/// ([`command`]): starts the waiting stage of the environment when its turn
/// has come and its policy holds (a failed stage is tried again).
async fn deploy_requested(
    ctx: &FlowContext,
    pr: &PrRef,
    actor: &str,
    Requested { env, cr, rollout }: Requested<'_>,
) -> Result<ActionReply, FlowError> {
    use ActionOutcome as O;
    let stages = rollouts::stages(&ctx.db, rollout.id).await?;
    let Some(stage) = stages.iter().find(|s| s.environment == env.name) else {
        return Ok(ActionReply::new(
            O::NotFound,
            format!(
                "The rollout of this pull request has no `{}` stage (it was created before the environment was configured).",
                env.name
            ),
        ));
    };
    let done = |outcome, text: String| Ok(ActionReply::new(outcome, text).at(stage.state));
    match stage.state {
        StageState::Succeeded => {
            return done(
                O::AlreadyDone,
                format!("`{}` is already deployed.", env.name),
            );
        }
        StageState::Running => {
            return done(O::InProgress, format!("`{}` is deploying now.", env.name));
        }
        StageState::RolledBack => {
            return done(
                O::NotApplicable,
                format!(
                    "`{}` was rolled back; the rollout does not deploy it again (apply the change again with a new pull request).",
                    env.name
                ),
            );
        }
        _ => {}
    }
    if let Some(prev) = stages
        .iter()
        .take_while(|s| s.position < stage.position)
        .find(|s| !s.state.is_through())
    {
        return done(
            O::Waiting,
            format!(
                "`{}` comes after `{}`, which is {}.",
                env.name, prev.environment, prev.state
            ),
        );
    }
    if stage.state == StageState::Failed {
        // Asked for explicitly: a failed stage (a timeout, a busy target) gets another try.
        rollouts::set_waiting_after_failure(
            &ctx.db,
            stage.id,
            &format!("retry requested by @{actor}"),
        )
        .await?;
        rollouts::set_state(&ctx.db, rollout.id, RolloutState::Running).await?;
    }
    let forge = ctx.forges.for_repo(&pr.repo)?;
    drive(ctx, forge.as_ref(), &cr, pr, rollout.id, actor).await?;
    let after = rollouts::stages(&ctx.db, rollout.id).await?;
    let Some(stage) = after.into_iter().find(|s| s.environment == env.name) else {
        return Ok(ActionReply::new(O::NotFound, String::new()));
    };
    let (outcome, text) = match stage.state {
        StageState::Succeeded => (O::Done, format!("Deployed to `{}`.", env.name)),
        StageState::Failed => (
            O::Failed,
            format!(
                "Deploying to `{}` failed:\n\n```text\n{}\n```",
                env.name,
                stage.error.as_deref().unwrap_or("unknown error")
            ),
        ),
        StageState::Running => (O::InProgress, format!("`{}` is deploying now.", env.name)),
        _ => (
            O::Waiting,
            format!(
                "`{}` is waiting: {}.",
                env.name,
                stage.waiting_for.as_deref().unwrap_or("its turn")
            ),
        ),
    };
    Ok(ActionReply::new(outcome, text).at(stage.state))
}

/// An operator's decision about a migration that reached a branch without a
/// pull request (`bytegate migrations decide`): recorded and audited; stages
/// blocked on it are re-checked by the next drive (a deploy command, an
/// approval or the periodic re-check).
pub async fn decide_unmanaged(
    db: &sqlx::PgPool,
    d: &snapshots::NewDecision<'_>,
) -> Result<(), FlowError> {
    let mut tx = db.begin().await?;
    snapshots::decide(&mut *tx, d).await?;
    audit::append(
        &mut *tx,
        &AuditEntry {
            actor: d.decided_by,
            action: AuditAction::MigrationDecided,
            forge: Some(d.forge),
            repo: Some(d.repo),
            number: None,
            environment: d.environment,
            detail: json!({
                "path": d.path, "sha256": d.sha256, "decision": d.decision.as_str(),
                "reason": d.reason,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Creates the rollout of a merged change request that has none, as the
/// merge event would have; `None` when it changed no migrations (or its merge
/// commit is unknown).
async fn start_after_given_up_merge(
    ctx: &FlowContext,
    pr: &PrRef,
    cr: &ChangeRequest,
) -> Result<Option<Rollout>, FlowError> {
    let Some(merge_sha) = cr.merge_sha.clone() else {
        return Ok(None);
    };
    // The base commit governs the repository config: ask the forge, as the
    // merge event's own flow does when its hook lacks it.
    let info = ctx.forges.for_repo(&pr.repo)?.get_pull_request(pr).await?;
    let merged = PullRequestEvent {
        pr: pr.clone(),
        action: PrAction::Closed {
            merged: true,
            merge_sha: Some(merge_sha),
        },
        head_sha: cr.head_sha.clone(),
        base_ref: cr.base_ref.clone(),
        base_sha: if info.base_sha.is_empty() {
            info.base_ref
        } else {
            info.base_sha
        },
        author: cr.author.clone(),
        title: cr.title.clone(),
        html_url: String::new(),
        is_fork: cr.is_fork,
        draft: false,
        at: ctx.clock.now(),
    };
    start_on_merge(ctx, &merged, cr).await?;
    Ok(rollouts::for_change_request(&ctx.db, cr.id).await?)
}

/// The reply to a command on a pull request bytegate has no record of.
const UNSEEN: &str = "bytegate has not seen this pull request.";

/// The change request of a pull request, if bytegate has seen it.
async fn change_request(ctx: &FlowContext, pr: &PrRef) -> Result<Option<ChangeRequest>, FlowError> {
    Ok(change_requests::find(
        &ctx.db,
        pr.repo.forge.as_str(),
        &pr.repo.full_name,
        pr.number as i64,
    )
    .await?)
}

async fn find(
    ctx: &FlowContext,
    pr: &PrRef,
) -> Result<Option<(ChangeRequest, Rollout)>, FlowError> {
    let Some(cr) = change_request(ctx, pr).await? else {
        return Ok(None);
    };
    if cr.state != CrState::Merged {
        return Ok(None);
    }
    Ok(rollouts::for_change_request(&ctx.db, cr.id)
        .await?
        .map(|r| (cr, r)))
}

/// A rollout's audit entry: the change request's, in an environment.
fn entry<'a>(
    cr: &'a ChangeRequest,
    actor: &'a str,
    action: AuditAction,
    environment: Option<&'a str>,
    detail: Value,
) -> AuditEntry<'a> {
    AuditEntry::for_change_request(actor, action, cr)
        .in_environment(environment)
        .with_detail(detail)
}

/// The reviewed files of a rollout, read from the merge commit and checked
/// byte for byte against what the review saw. `Ok(Err(reason))`: they must
/// not be deployed (the stage fails with the reason).
async fn reviewed_files_at_merge(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    rollout: &Rollout,
) -> Result<Result<Vec<(String, Vec<u8>)>, String>, FlowError> {
    let Some(snapshot_id) = rollout.snapshot_id else {
        return Ok(Err(
            "this rollout has no reviewed snapshot (it predates content-bound deploys); nothing is applied without one".to_string(),
        ));
    };
    let mut out = Vec::new();
    for f in snapshots::files(&ctx.db, snapshot_id).await? {
        if !f.is_applied_on_deploy() {
            continue;
        }
        if !f.deployable {
            return Ok(Err(format!(
                "`{}` was not reviewed (it is over the reviewable size) and is never deployed",
                f.path
            )));
        }
        let Some(bytes) = forge
            .file_content(&pr.repo, &f.path, &rollout.merge_sha)
            .await?
        else {
            return Ok(Err(format!(
                "`{}` was reviewed but is missing from the merge commit",
                f.path
            )));
        };
        let sha = deploy::checksum(&bytes);
        if sha != f.sha256 {
            return Ok(Err(format!(
                "`{}` in the merge commit (sha256 {}) differs from what was reviewed (sha256 {}); only reviewed bytes are deployed",
                f.path,
                short(&sha),
                short(&f.sha256)
            )));
        }
        out.push((f.path, bytes));
    }
    Ok(Ok(out))
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

mod action;
mod drift;
mod drive;
mod gates;
mod repair;
mod report;
mod request;
mod rollback;
mod stage;

pub use action::{ActionOutcome, ActionReply};
use drive::drive;
pub use repair::repair_command;
use request::Requested;
pub use request::{RolloutCommand, command};
