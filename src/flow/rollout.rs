//! Rollouts: a merged pull request that changed migrations is applied
//! environment by environment (config order), over the migration files as
//! they are in the merge commit.
//!
//! A stage runs when the previous stage succeeded, its approval policy holds
//! and its deploy window is open; otherwise it waits and the deploy comment
//! says what for. A failed stage stops the rollout. Everything that moves a
//! rollout ([`start_on_merge`], [`advance`], [`deploy_command`]) goes through
//! one driver that holds a per-rollout session lock in the meta database
//! (polled, never waited for inside a transaction), so two workers never
//! drive one rollout at once; stages are claimed atomically on top of that,
//! and each target's own advisory lock and history make a repeated run apply
//! nothing twice.
//!
//! Only merged pull requests reach a database here: for a fork PR that is
//! the base repository's code (the merge commit), never the fork's head.

use super::{BOT_ACTOR, FlowContext, FlowError};
use super::{analysis, decision, sticky};
use crate::config::{DeployWindow, Environment};
use crate::deploy::{self, DeployError, DeployOptions, DeployReport};
use crate::event::{ForgeKind, PrAction, PrRef, PullRequestEvent, RepoRef};
use crate::forge::{DeploymentState, Forge, ForgeError, NewDeployment, truncate_with_note};
use crate::review::version_key;
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::change_requests::{self, ChangeRequest};
use crate::store::rollouts::{self, Rollout, Stage};
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
            installation_id: pr
                .pr
                .repo
                .installation_id
                .and_then(|i| i64::try_from(i).ok()),
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
            &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::RolloutCreated, cr)
                .with_detail(detail),
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
    let (repo_config, _) = super::read_repo_config(forge, &pr.pr.repo, &pr.base_sha).await?;
    let dir = repo_config
        .migrations_dir
        .clone()
        .unwrap_or_else(|| ctx.config.project.migrations_dir.clone());
    let files = forge.list_pr_files(&pr.pr).await?;
    let changes = analysis::migration_changes(&files, &dir);
    if changes.is_empty() {
        return Ok(None);
    }
    let (_, snapshot) =
        super::review_snapshot(ctx, forge, cr, pr, &changes, &repo_config, &dir, merge_sha).await?;
    audit::append(
        &ctx.db,
        &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::ReviewCompleted, cr).with_detail(json!({"head_sha": pr.head_sha, "read_at": merge_sha, "digest": snapshot.digest, "at_merge": true})),
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
    let now = Utc::now();
    let mut driven = 0;
    for (rollout, forge, repo, number, env) in rollouts::waiting_for_window(&ctx.db).await? {
        let open = ctx
            .config
            .environment(&env)
            .and_then(|e| e.deploy_window.as_ref())
            .is_none_or(|w| w.is_open(now));
        let kind = match forge.as_str() {
            "github" => ForgeKind::Github,
            "gitlab" => ForgeKind::Gitlab,
            _ => continue,
        };
        if !open {
            continue;
        }
        let pr = PrRef {
            repo: RepoRef {
                forge: kind,
                full_name: repo,
                id: rollout.repo_id.and_then(|i| u64::try_from(i).ok()),
                installation_id: rollout.installation_id.and_then(|i| u64::try_from(i).ok()),
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

/// Every `every`, runs [`advance_open_windows`] until `stopped` turns true.
/// `serve` spawns it next to the job workers.
pub async fn window_ticker(
    ctx: FlowContext,
    every: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
    }
}

/// `/bytebase deploy ENV` on a merged PR: starts the waiting stage of `environment`
/// when its turn has come and its policy holds (a failed stage is tried again).
/// Returns the reply for the thread. The caller has checked that `actor` has
/// the standing approving `environment` needs (`policy::may_act`, asked by the
/// comment flow before it gets here).
pub async fn deploy_command(
    ctx: &FlowContext,
    pr: &PrRef,
    environment: &str,
    actor: &str,
) -> Result<String, FlowError> {
    let Some(env) = ctx.config.environment(environment) else {
        let known: Vec<_> = ctx.config.environments.iter().map(|e| &e.name).collect();
        return Ok(format!(
            "There is no environment `{environment}` (known: {}).",
            known
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let Some(cr) = change_requests::find(
        &ctx.db,
        pr.repo.forge.as_str(),
        &pr.repo.full_name,
        pr.number as i64,
    )
    .await?
    else {
        return Ok("bytegate has not seen this pull request.".to_string());
    };
    if cr.state != "merged" {
        return Ok(
            "`deploy` starts a stage of a merged pull request's rollout; this one is not merged. Deploys start on merge.".to_string(),
        );
    }
    let rollout = match rollouts::for_change_request(&ctx.db, cr.id).await? {
        Some(r) => Some(r),
        // The merge job failed for good before it created the rollout (its
        // give-up comment points here): start it now.
        None => start_after_given_up_merge(ctx, pr, &cr).await?,
    };
    let Some(rollout) = rollout else {
        return Ok("This pull request has no rollout (it changed no migrations).".to_string());
    };
    audit::append(
        &ctx.db,
        &AuditEntry::for_change_request(actor, AuditAction::DeployRequested, &cr)
            .in_environment(Some(&env.name))
            .with_detail(json!({"rollout": rollout.id})),
    )
    .await?;
    let stages = rollouts::stages(&ctx.db, rollout.id).await?;
    let Some(stage) = stages.iter().find(|s| s.environment == env.name) else {
        return Ok(format!(
            "The rollout of this pull request has no `{}` stage (it was created before the environment was configured).",
            env.name
        ));
    };
    match stage.state.as_str() {
        "succeeded" => return Ok(format!("`{}` is already deployed.", env.name)),
        "running" => return Ok(format!("`{}` is deploying now.", env.name)),
        _ => {}
    }
    if let Some(prev) = stages
        .iter()
        .take_while(|s| s.position < stage.position)
        .find(|s| s.state != "succeeded" && s.state != "skipped")
    {
        return Ok(format!(
            "`{}` comes after `{}`, which is {}.",
            env.name, prev.environment, prev.state
        ));
    }
    if stage.state == "failed" {
        // Asked for explicitly: a failed stage (a timeout, a busy target) gets another try.
        rollouts::set_waiting_after_failure(
            &ctx.db,
            stage.id,
            &format!("retry requested by @{actor}"),
        )
        .await?;
        rollouts::set_state(&ctx.db, rollout.id, "running").await?;
    }
    let forge = ctx.forges.for_repo(&pr.repo)?;
    drive(ctx, forge.as_ref(), &cr, pr, rollout.id, actor).await?;
    let after = rollouts::stages(&ctx.db, rollout.id).await?;
    let Some(stage) = after.into_iter().find(|s| s.environment == env.name) else {
        return Ok(String::new());
    };
    Ok(match stage.state.as_str() {
        "succeeded" => format!("Deployed to `{}`.", env.name),
        "failed" => format!(
            "Deploying to `{}` failed:\n\n```text\n{}\n```",
            env.name,
            stage.error.as_deref().unwrap_or("unknown error")
        ),
        "running" => format!("`{}` is deploying now.", env.name),
        _ => format!(
            "`{}` is waiting: {}.",
            env.name,
            stage.waiting_for.as_deref().unwrap_or("its turn")
        ),
    })
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
        &AuditEntry::new(d.decided_by, AuditAction::MigrationDecided)
            .in_repo(d.forge, d.repo)
            .in_environment(d.environment)
            .with_detail(json!({
                "path": d.path, "sha256": d.sha256, "decision": d.decision.as_str(),
                "reason": d.reason,
            })),
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
        at: Utc::now(),
    };
    start_on_merge(ctx, &merged, cr).await?;
    Ok(rollouts::for_change_request(&ctx.db, cr.id).await?)
}

async fn find(
    ctx: &FlowContext,
    pr: &PrRef,
) -> Result<Option<(ChangeRequest, Rollout)>, FlowError> {
    let Some(cr) = change_requests::find(
        &ctx.db,
        pr.repo.forge.as_str(),
        &pr.repo.full_name,
        pr.number as i64,
    )
    .await?
    else {
        return Ok(None);
    };
    if cr.state != "merged" {
        return Ok(None);
    }
    Ok(rollouts::for_change_request(&ctx.db, cr.id)
        .await?
        .map(|r| (cr, r)))
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

/// What the order of migrations lets a stage do.
enum Order {
    /// Go, applying these operator-approved migrations (pushed without a PR)
    /// together with the change's own.
    Clear(Vec<(String, Vec<u8>)>),
    /// Wait: an older migration that is not this change's has not reached
    /// the environment (starts with [`rollouts::BLOCKED_PREFIX`]).
    Blocked(String),
}

/// Checks the migrations folder at the merge commit for older migrations of
/// other changes (or of none) that the environment's databases do not have:
/// they block the stage, in order, naming the PR and what it waits for, or
/// the file when it reached the branch without a PR (until an operator decides).
#[allow(clippy::too_many_arguments)]
async fn order_gate(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PrRef,
    rollout: &Rollout,
    env: &Environment,
    own: &[(String, Vec<u8>)],
) -> Result<Order, FlowError> {
    let Some(snapshot_id) = rollout.snapshot_id else {
        return Ok(Order::Clear(Vec::new()));
    };
    let snapshot = snapshots::get(&ctx.db, snapshot_id).await?;
    let Some(newest_own) = own
        .iter()
        .filter_map(|(p, _)| version_key(p).version())
        .max_by(|a, b| deploy::cmp_versions(a, b))
    else {
        return Ok(Order::Clear(Vec::new()));
    };
    let mut older: Vec<(String, String)> =
        list_migrations(forge, pr, &snapshot.migrations_dir, &rollout.merge_sha)
            .await?
            .into_iter()
            .filter(|p| !own.iter().any(|(o, _)| o == p) && !deploy::is_revert(p))
            .filter_map(|p| {
                let v = version_key(&p).version()?;
                (deploy::cmp_versions(&v, &newest_own) == std::cmp::Ordering::Less)
                    .then_some((p, v))
            })
            .collect();
    if older.is_empty() {
        return Ok(Order::Clear(Vec::new()));
    }
    older.sort_by(|a, b| deploy::cmp_versions(&a.1, &b.1));
    // Versions every database of the environment has applied.
    let mut applied: Option<std::collections::HashSet<String>> = None;
    for db in &env.databases {
        let Ok(target) = deploy::target_for(db) else {
            return Ok(Order::Clear(Vec::new()));
        };
        let Ok(history) = target.history().await else {
            // Unreachable: the deploy itself reports it (and is retried).
            return Ok(Order::Clear(Vec::new()));
        };
        let here: std::collections::HashSet<String> = history
            .into_iter()
            .filter(|h| h.success)
            .map(|h| h.version)
            .collect();
        applied = Some(match applied {
            None => here,
            Some(a) => a.intersection(&here).cloned().collect(),
        });
    }
    let applied = applied.unwrap_or_default();
    let mut extra = Vec::new();
    for (path, version) in older {
        if applied.contains(&version) {
            continue;
        }
        let carriers =
            snapshots::rollouts_carrying(&ctx.db, &cr.forge, &cr.repo, &path, cr.id).await?;
        if let Some(c) = carriers.first() {
            if env.allow_out_of_order {
                continue;
            }
            let waits = rollouts::stages(&ctx.db, c.rollout_id)
                .await?
                .into_iter()
                .find(|s| s.environment == env.name)
                .map(|s| match s.state.as_str() {
                    "waiting" => format!(
                        "waiting for {}",
                        s.waiting_for.as_deref().unwrap_or("its turn")
                    ),
                    "failed" => "failed".to_string(),
                    "running" => "deploying".to_string(),
                    _ => "waiting for earlier stages".to_string(),
                })
                .unwrap_or_else(|| format!("no `{}` stage", env.name));
            return Ok(Order::Blocked(format!(
                "{} (`{path}` of #{}) to reach `{}` first; #{} is {waits}",
                rollouts::BLOCKED_PREFIX,
                c.number,
                env.name,
                c.number
            )));
        }
        // No change carries it: it reached the branch without a pull request.
        let Some(bytes) = forge
            .file_content(&pr.repo, &path, &rollout.merge_sha)
            .await?
        else {
            continue;
        };
        let sha = deploy::checksum(&bytes);
        match snapshots::decision_for(&ctx.db, &cr.forge, &cr.repo, &path, &sha, &env.name).await? {
            Some(snapshots::Decision::Skip) => {}
            Some(snapshots::Decision::Apply) => extra.push((path, bytes)),
            None => {
                return Ok(Order::Blocked(format!(
                    "{} (`{path}`, sha256 {}) that reached the branch without a pull request: it is never applied automatically; an operator decides with `bytegate migrations decide --repo {} --path {path} --sha256 {sha} --apply|--skip`",
                    rollouts::BLOCKED_PREFIX,
                    short(&sha),
                    cr.repo
                )));
            }
        }
    }
    Ok(Order::Clear(extra))
}

/// Migration files in the folder at `sha` (one level of subfolders, for
/// `VERSION_name/up.sql` layouts).
async fn list_migrations(
    forge: &dyn Forge,
    pr: &PrRef,
    dir: &str,
    sha: &str,
) -> Result<Vec<String>, FlowError> {
    let mut paths = Vec::new();
    for e in forge.list_directory(&pr.repo, dir, sha).await? {
        if e.is_file {
            if analysis::is_migration(&e.path, dir) {
                paths.push(e.path);
            }
        } else {
            for sub in forge.list_directory(&pr.repo, &e.path, sha).await? {
                if sub.is_file && analysis::is_migration(&sub.path, dir) {
                    paths.push(sub.path);
                }
            }
        }
    }
    // Refused paths are never migrations (they are neither reviewed nor deployed).
    paths.retain(|p| analysis::refused_path(p).is_none());
    Ok(paths)
}

/// A session-level advisory lock in the meta database on its own connection:
/// held across the deploy without an open transaction, released when dropped
/// (the connection closes).
struct DriveLock {
    conn: Option<PgConnection>,
}

impl DriveLock {
    async fn acquire(ctx: &FlowContext, rollout_id: i64) -> Result<Option<DriveLock>, FlowError> {
        let mut conn = (*ctx.db.connect_options()).clone().connect().await?;
        let key = DRIVE_LOCK_BASE.wrapping_add(rollout_id);
        let start = Instant::now();
        loop {
            let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut conn)
                .await?;
            if got {
                return Ok(Some(DriveLock { conn: Some(conn) }));
            }
            if start.elapsed() >= DRIVE_LOCK_WAIT {
                let _ = conn.close().await;
                return Ok(None);
            }
            tokio::time::sleep(DRIVE_LOCK_POLL).await;
        }
    }

    async fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the session releases its advisory locks.
            let _ = conn.close().await;
        }
    }
}

/// Why a stage cannot start now, or `None` when it may.
async fn gate(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    env: &Environment,
    now: DateTime<Utc>,
) -> Result<Option<String>, FlowError> {
    if let Some(reason) = policy_gate(ctx, forge, pr, env).await? {
        return Ok(Some(reason));
    }
    if let Some(w) = &env.deploy_window
        && !w.is_open(now)
    {
        return Ok(Some(format!(
            "the deploy window ({}) is closed",
            describe_window(w)
        )));
    }
    Ok(None)
}

/// Whether `env`'s approval policy holds for the PR, decided now
/// ([`super::decision`]) over every approval recorded (at merge and after).
async fn policy_gate(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    env: &Environment,
) -> Result<Option<String>, FlowError> {
    let evaluation = decision::evaluate(ctx, forge, pr).await?;
    let decision = evaluation
        .as_ref()
        .and_then(|e| e.decision.environment(&env.name));
    match decision {
        Some(d) if d.satisfied => Ok(None),
        Some(d) => {
            let line = d.summary_line();
            let counts = line
                .strip_prefix(&format!("{}: ", env.name))
                .unwrap_or(&line);
            Ok(Some(format!("approvals for `{}`: {counts}", env.name)))
        }
        None => Ok(Some(format!("approvals for `{}`", env.name))),
    }
}

fn describe_window(w: &DeployWindow) -> String {
    let days: Vec<String> = w
        .days
        .iter()
        .map(|d| format!("{d:?}").to_lowercase())
        .collect();
    format!(
        "{} {}–{} {}",
        days.join(","),
        w.start.0.format("%H:%M"),
        w.end.0.format("%H:%M"),
        w.timezone.0
    )
}

/// Moves the rollout as far as it can go now, then reports.
async fn drive(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PrRef,
    rollout_id: i64,
    actor: &str,
) -> Result<(), FlowError> {
    let Some(lock) = DriveLock::acquire(ctx, rollout_id).await? else {
        tracing::info!(
            rollout = rollout_id,
            "another worker is driving this rollout"
        );
        return Ok(());
    };
    let result = drive_locked(ctx, forge, cr, pr, rollout_id, actor).await;
    lock.release().await;
    if result? {
        // A stage deployed: rollouts blocked behind its migrations may go on.
        for (other, number) in rollouts::blocked_in_repo(&ctx.db, &cr.forge, &cr.repo).await? {
            if other == rollout_id {
                continue;
            }
            let next = PrRef {
                repo: pr.repo.clone(),
                number: u64::try_from(number).unwrap_or(0),
            };
            Box::pin(advance(ctx, &next)).await?;
        }
    }
    Ok(())
}

/// Drives under the lock; returns whether a stage succeeded (then rollouts
/// blocked behind this one are re-checked).
async fn drive_locked(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PrRef,
    rollout_id: i64,
    actor: &str,
) -> Result<bool, FlowError> {
    let mut progressed = false;
    let rollout = rollouts::get(&ctx.db, rollout_id).await?;
    let mut own: Option<Vec<(String, Vec<u8>)>> = None;
    loop {
        let stages = rollouts::stages(&ctx.db, rollout.id).await?;
        let Some(stage) = stages
            .iter()
            .find(|s| s.state != "succeeded" && s.state != "skipped")
        else {
            break;
        };
        if stage.state == "failed" {
            break;
        }
        let Some(env) = ctx.config.environment(&stage.environment) else {
            let msg = format!(
                "environment `{}` is no longer configured",
                stage.environment
            );
            rollouts::set_waiting(&ctx.db, stage.id, &msg).await?;
            break;
        };
        // Exactly the reviewed bytes of this change, or nothing.
        let own_files = match &own {
            Some(f) => f.clone(),
            None => match reviewed_files_at_merge(ctx, forge, pr, &rollout).await {
                Ok(Ok(f)) => {
                    own = Some(f.clone());
                    f
                }
                Ok(Err(refusal)) => {
                    fail_unclaimed(ctx, cr, &rollout, stage, &refusal).await?;
                    break;
                }
                // Nothing was applied: the job's retry reads again.
                Err(e) => return Err(e),
            },
        };
        let mut extra = Vec::new();
        if stage.state != "running" {
            let mut reason = gate(ctx, forge, pr, env, Utc::now()).await?;
            if reason.is_none() {
                match order_gate(ctx, forge, cr, pr, &rollout, env, &own_files).await? {
                    Order::Clear(e) => extra = e,
                    Order::Blocked(r) => reason = Some(r),
                }
            }
            if let Some(reason) = reason {
                if stage.waiting_for.as_deref() != Some(reason.as_str()) {
                    rollouts::set_waiting(&ctx.db, stage.id, &reason).await?;
                    let detail = json!({"rollout": rollout.id, "waiting_for": reason});
                    audit::append(
                        &ctx.db,
                        &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::StageWaiting, cr)
                            .in_environment(Some(&env.name))
                            .with_detail(detail),
                    )
                    .await?;
                }
                break;
            }
        }
        // We hold the rollout's drive lock: a stage still `running` belongs to a driver that died.
        let Some(stage) = rollouts::claim_stage(&ctx.db, stage.id, STAGE_LEASE, true).await? else {
            break;
        };
        rollouts::set_state(&ctx.db, rollout.id, "running").await?;
        audit::append(
            &ctx.db,
            &AuditEntry::for_change_request(actor, AuditAction::StageStarted, cr)
                .in_environment(Some(&env.name))
                .with_detail(json!({"rollout": rollout.id, "merge_sha": rollout.merge_sha})),
        )
        .await?;
        report(ctx, forge, pr, &rollout).await?;
        if !extra.is_empty() {
            let paths: Vec<&str> = extra.iter().map(|(p, _)| p.as_str()).collect();
            audit::append(
                &ctx.db,
                &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::StageStarted, cr)
                    .in_environment(Some(&env.name))
                    .with_detail(json!({"rollout": rollout.id, "operator_approved": paths})),
            )
            .await?;
        }
        let mut files = extra;
        files.extend(own_files);
        let outcome = run_stage(ctx, cr, &rollout, env, &files, actor).await?;
        match outcome {
            StageOutcome::Succeeded(result) => {
                progressed = true;
                rollouts::finish_stage(&ctx.db, stage.id, true, None, &result).await?;
                audit::append(
                    &ctx.db,
                    &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::StageSucceeded, cr)
                        .in_environment(Some(&env.name))
                        .with_detail(json!({"rollout": rollout.id, "databases": result})),
                )
                .await?;
            }
            StageOutcome::Failed { error, result } => {
                rollouts::finish_stage(&ctx.db, stage.id, false, Some(&error), &result).await?;
                audit::append(
                    &ctx.db,
                    &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::StageFailed, cr)
                        .in_environment(Some(&env.name))
                        .with_detail(
                            json!({"rollout": rollout.id, "error": error, "databases": result}),
                        ),
                )
                .await?;
                break;
            }
            StageOutcome::Retry { reason, result } => {
                rollouts::release_stage(&ctx.db, stage.id, &reason, &result).await?;
                break;
            }
        }
    }
    let stages = rollouts::stages(&ctx.db, rollout.id).await?;
    let state = overall_state(&stages);
    rollouts::set_state(&ctx.db, rollout.id, state).await?;
    report(ctx, forge, pr, &rollout).await?;
    Ok(progressed)
}

/// Fails a stage that never started (its files must not be deployed).
async fn fail_unclaimed(
    ctx: &FlowContext,
    cr: &ChangeRequest,
    rollout: &Rollout,
    stage: &Stage,
    error: &str,
) -> Result<(), FlowError> {
    if rollouts::claim_stage(&ctx.db, stage.id, STAGE_LEASE, true)
        .await?
        .is_none()
    {
        return Ok(());
    }
    rollouts::finish_stage(&ctx.db, stage.id, false, Some(error), &json!([])).await?;
    audit::append(
        &ctx.db,
        &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::StageFailed, cr)
            .in_environment(Some(&stage.environment))
            .with_detail(json!({"rollout": rollout.id, "error": error})),
    )
    .await?;
    Ok(())
}

fn overall_state(stages: &[Stage]) -> &'static str {
    if stages.iter().any(|s| s.state == "failed") {
        "failed"
    } else if stages
        .iter()
        .all(|s| s.state == "succeeded" || s.state == "skipped")
    {
        "succeeded"
    } else if stages.iter().any(|s| s.state == "running") {
        "running"
    } else {
        "waiting"
    }
}

enum StageOutcome {
    Succeeded(Value),
    Failed {
        error: String,
        result: Value,
    },
    /// Nothing failed for good (unreachable or busy target): the stage waits again.
    Retry {
        reason: String,
        result: Value,
    },
}

/// Applies the plan to every database of the environment, in config order;
/// the first failure stops the stage.
async fn run_stage(
    ctx: &FlowContext,
    cr: &ChangeRequest,
    rollout: &Rollout,
    env: &Environment,
    files: &[(String, Vec<u8>)],
    actor: &str,
) -> Result<StageOutcome, FlowError> {
    let mut results = Vec::new();
    let applied_by = if actor == BOT_ACTOR {
        BOT_ACTOR.to_string()
    } else {
        format!("{BOT_ACTOR} (deploy by {actor})")
    };
    let mut opts = DeployOptions::for_environment(env, &applied_by, rollout.html_url.as_deref());
    // A deploy that waits longer than the stage lease would be taken over.
    opts.lock_wait = opts.lock_wait.min(STAGE_LEASE / 2);
    // The job's lease: when lost, the deploy stops at a statement boundary.
    if let Some(stop) = crate::jobs::current_stop_signal() {
        opts.stop = stop;
    }
    for db in &env.databases {
        let outcome = deploy_one(db, files, &opts).await;
        // What this deploy applied, also when a later migration failed.
        let applied = match &outcome {
            Ok(report) => report.applied.as_slice(),
            Err(DeployFailure::Deploy(DeployError::Failed(f))) => f.applied_before.as_slice(),
            Err(DeployFailure::Deploy(DeployError::Stopped { applied_before, .. })) => {
                applied_before.as_slice()
            }
            Err(_) => &[],
        };
        for a in applied {
            let detail = json!({
                "rollout": rollout.id, "database": db.name, "version": a.version,
                "path": a.path, "sha256": a.checksum, "duration_ms": a.duration_ms,
                "transactional": a.transactional,
            });
            audit::append(
                &ctx.db,
                &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::DeployApplied, cr)
                    .in_environment(Some(&env.name))
                    .with_detail(detail),
            )
            .await?;
        }
        let (value, failure) = match outcome {
            Ok(report) => (database_result(&db.name, Some(&report), None), None),
            Err(e) => {
                // The pull request gets the public message; DETAIL lines (row
                // values) and internal texts stay in the meta database (this
                // audit entry) and the logs, under a reference shown with it.
                let public = e.public_message();
                let private = e.private_detail();
                let reference = private.as_ref().map(|_| super::error_ref());
                let message = match &reference {
                    Some(r) => format!("{public} (ref {r})"),
                    None => public,
                };
                if let (Some(r), Some(d)) = (&reference, &private) {
                    tracing::error!(reference = %r, rollout = rollout.id, database = %db.name, detail = %d, error = %message, "deploy failed");
                }
                let partial = match &e {
                    DeployFailure::Deploy(DeployError::Failed(f)) => Some(DeployReport {
                        applied: f.applied_before.clone(),
                        already_applied: 0,
                    }),
                    _ => None,
                };
                audit::append(
                    &ctx.db,
                    &AuditEntry::for_change_request(BOT_ACTOR, AuditAction::DeployRefused, cr)
                        .in_environment(Some(&env.name))
                        .with_detail(
                            json!({"rollout": rollout.id, "database": db.name, "error": message,
                               "ref": reference, "private_detail": private}),
                        ),
                )
                .await?;
                (
                    database_result(&db.name, partial.as_ref(), Some(&message)),
                    Some((e.is_retryable(), message)),
                )
            }
        };
        results.push(value);
        if let Some((retryable, message)) = failure {
            let error = format!("{}: {message}", db.name);
            let result = Value::Array(results);
            return Ok(if retryable {
                StageOutcome::Retry {
                    reason: format!("{error} (retry with `deploy {}`)", env.name),
                    result,
                }
            } else {
                StageOutcome::Failed { error, result }
            });
        }
    }
    Ok(StageOutcome::Succeeded(Value::Array(results)))
}

/// Why one database was not deployed.
#[derive(Debug, thiserror::Error)]
enum DeployFailure {
    #[error("{0}")]
    Plan(#[from] deploy::PlanError),
    #[error("{0}")]
    Deploy(DeployError),
    #[error("the deploy task failed: {0}")]
    Task(String),
}

impl DeployFailure {
    fn is_retryable(&self) -> bool {
        matches!(self, DeployFailure::Deploy(e) if e.is_retryable())
    }

    /// What the pull request may show (see [`DeployError::public_message`]).
    fn public_message(&self) -> String {
        match self {
            DeployFailure::Plan(e) => e.to_string(),
            DeployFailure::Deploy(e) => e.public_message(),
            DeployFailure::Task(_) => "internal error while planning the deploy".to_string(),
        }
    }

    /// What stays in the meta database and the logs.
    fn private_detail(&self) -> Option<String> {
        match self {
            DeployFailure::Plan(_) => None,
            DeployFailure::Deploy(e) => e.private_detail(),
            DeployFailure::Task(t) => Some(t.clone()),
        }
    }
}

async fn deploy_one(
    db: &crate::config::Database,
    files: &[(String, Vec<u8>)],
    opts: &DeployOptions,
) -> Result<DeployReport, DeployFailure> {
    let dialect = deploy::dialect(db.engine);
    let owned = files.to_vec();
    // Parsing is CPU-bound: off the async workers.
    let plan = tokio::task::spawn_blocking(move || deploy::plan(&owned, dialect))
        .await
        .map_err(|e| DeployFailure::Task(e.to_string()))??;
    let target = deploy::target_for(db).map_err(DeployFailure::Deploy)?;
    target
        .deploy(&plan, opts)
        .await
        .map_err(DeployFailure::Deploy)
}

fn database_result(name: &str, report: Option<&DeployReport>, error: Option<&str>) -> Value {
    let applied: Vec<Value> = report
        .map(|r| {
            r.applied
                .iter()
                .map(|a| {
                    json!({"version": a.version, "path": a.path, "sha256": a.checksum,
                           "duration_ms": a.duration_ms, "transactional": a.transactional})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "database": name,
        "applied": applied,
        "already_applied": report.map_or(0, |r| r.already_applied),
        "error": error,
    })
}

/// Brings the forge up to date: a deployment per started or waiting stage with
/// its current status, and the sticky deploy comment. Idempotent: only what
/// changed is sent.
async fn report(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    rollout: &Rollout,
) -> Result<(), FlowError> {
    let stages = rollouts::stages(&ctx.db, rollout.id).await?;
    let last = stages.last().map(|s| s.id);
    for s in &stages {
        let Some(state) = deployment_state(&s.state) else {
            continue;
        };
        if s.deployment_state.as_deref() == Some(state.as_str()) {
            continue;
        }
        let id = match s.deployment_id {
            Some(id) => u64::try_from(id).unwrap_or(0),
            None => {
                let d = NewDeployment {
                    sha: &rollout.merge_sha,
                    environment: &s.environment,
                    description: "bytegate rollout",
                    production: Some(s.id) == last,
                };
                match forge.create_deployment(&pr.repo, &d).await {
                    Ok(id) => id,
                    // No deployments on this forge: the comment reports alone.
                    Err(ForgeError::Unsupported { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let description = deployment_description(s);
        forge
            .set_deployment_status(
                &pr.repo,
                id,
                state,
                &description,
                ctx.external_url.as_deref(),
            )
            .await?;
        rollouts::set_deployment(
            &ctx.db,
            s.id,
            i64::try_from(id).unwrap_or(i64::MAX),
            state.as_str(),
        )
        .await?;
    }
    let body = render_comment(rollout, &stages, Utc::now(), forge.max_comment_chars());
    publish_comment(ctx, forge, pr, rollout, &body).await
}

fn deployment_state(stage_state: &str) -> Option<DeploymentState> {
    match stage_state {
        "waiting" => Some(DeploymentState::Queued),
        "running" => Some(DeploymentState::InProgress),
        "succeeded" => Some(DeploymentState::Success),
        "failed" => Some(DeploymentState::Failure),
        _ => None,
    }
}

fn deployment_description(s: &Stage) -> String {
    match s.state.as_str() {
        "waiting" => format!(
            "waiting for {}",
            s.waiting_for.as_deref().unwrap_or("its turn")
        ),
        "running" => "applying migrations".to_string(),
        "succeeded" => format!("applied {} migration(s)", applied_count(s)),
        "failed" => s.error.clone().unwrap_or_else(|| "failed".to_string()),
        other => other.to_string(),
    }
}

fn applied_count(s: &Stage) -> usize {
    s.result
        .as_array()
        .map(|dbs| {
            dbs.iter()
                .map(|d| d["applied"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0)
}

/// The sticky deploy comment.
fn render_comment(rollout: &Rollout, stages: &[Stage], now: DateTime<Utc>, max: usize) -> String {
    let state = overall_state(stages);
    let short = rollout.merge_sha.get(..7).unwrap_or(&rollout.merge_sha);
    let mut out = format!(
        "{DEPLOY_COMMENT_MARKER}\n## bytegate deploy\n\nMerge commit `{short}` · rollout **{state}**\n\n| # | Environment | State | Duration | Details |\n|---|---|---|---|---|\n"
    );
    let mut previous_done = true;
    for s in stages {
        let icon = match s.state.as_str() {
            "succeeded" => "✅ deployed",
            "failed" => "❌ failed",
            "running" => "🔄 running",
            "waiting" => "⏳ waiting",
            "skipped" => "⏭ skipped",
            _ => "⏸ pending",
        };
        let duration = s
            .duration_ms(now)
            .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let details = match s.state.as_str() {
            "succeeded" => format!("{} migration(s) applied", applied_count(s)),
            "failed" => "see below".to_string(),
            "waiting" => format!(
                "waiting for {}",
                s.waiting_for.as_deref().unwrap_or("its turn")
            ),
            "pending" if !previous_done => "after the previous stage".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {icon} | {duration} | {} |",
            s.position + 1,
            s.environment,
            details.replace('|', "\\|").replace('\n', " ")
        );
        previous_done = s.state == "succeeded" || s.state == "skipped";
    }
    for s in stages.iter().filter(|s| s.state == "failed") {
        let _ = write!(
            out,
            "\n### `{}` failed\n\n```text\n{}\n```\nThe rollout stopped here. Nothing after this stage runs; fix it in a new pull request, or retry with `deploy {}` if the cause was temporary.\n",
            s.environment,
            s.error
                .as_deref()
                .unwrap_or("unknown error")
                .replace("```", "'''"),
            s.environment
        );
    }
    truncate_with_note(&out, max, "\n\n…(truncated)")
}

/// Creates or edits the deploy comment (the rollout's drive lock is held, so
/// nobody else edits it meanwhile).
async fn publish_comment(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    rollout: &Rollout,
    body: &str,
) -> Result<(), FlowError> {
    let current = rollouts::get(&ctx.db, rollout.id).await?;
    let stored = current
        .comment_id
        .as_deref()
        .and_then(|s| s.parse::<u64>().ok());
    let (id, _) = sticky::publish(forge, pr, DEPLOY_COMMENT_MARKER, stored, body).await?;
    if stored != Some(id) {
        rollouts::set_comment(&ctx.db, rollout.id, &id.to_string()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(position: i32, env: &str, state: &str) -> Stage {
        Stage {
            id: i64::from(position) + 1,
            rollout_id: 1,
            position,
            environment: env.into(),
            state: state.into(),
            waiting_for: (state == "waiting").then(|| "approvals for `staging`".into()),
            started_at: None,
            finished_at: None,
            error: (state == "failed").then(|| "boom | `x`".into()),
            deployment_id: None,
            deployment_state: None,
            result: json!([{"database": "main", "applied": [{"version": "1"}]}]),
        }
    }

    fn rollout() -> Rollout {
        Rollout {
            id: 1,
            change_request_id: 1,
            merge_sha: "0123456789abcdef".into(),
            state: "waiting".into(),
            comment_id: None,
            html_url: None,
            repo_id: None,
            installation_id: None,
            created_at: Utc::now(),
            snapshot_id: None,
        }
    }

    #[test]
    fn overall_state_follows_the_stages() {
        let s = |states: &[&str]| -> Vec<Stage> {
            states
                .iter()
                .enumerate()
                .map(|(i, st)| stage(i as i32, "e", st))
                .collect()
        };
        assert_eq!(overall_state(&s(&["succeeded", "succeeded"])), "succeeded");
        assert_eq!(
            overall_state(&s(&["succeeded", "failed", "pending"])),
            "failed"
        );
        assert_eq!(
            overall_state(&s(&["succeeded", "waiting", "pending"])),
            "waiting"
        );
        assert_eq!(overall_state(&s(&["running", "pending"])), "running");
    }

    #[test]
    fn the_comment_shows_each_stage_and_the_error() {
        let stages = vec![
            stage(0, "development", "succeeded"),
            stage(1, "staging", "waiting"),
            stage(2, "production", "pending"),
        ];
        let body = render_comment(&rollout(), &stages, Utc::now(), 65_536);
        assert!(body.starts_with(DEPLOY_COMMENT_MARKER));
        assert!(body.contains("`0123456`"));
        assert!(
            body.contains("| 1 | `development` | ✅ deployed |  | 1 migration(s) applied |"),
            "{body}"
        );
        assert!(
            body.contains("waiting for approvals for `staging`"),
            "{body}"
        );
        assert!(body.contains("after the previous stage"), "{body}");

        let failed = vec![
            stage(0, "development", "failed"),
            stage(1, "staging", "pending"),
        ];
        let body = render_comment(&rollout(), &failed, Utc::now(), 65_536);
        assert!(body.contains("### `development` failed"), "{body}");
        assert!(body.contains("boom | `x`"), "{body}");
        assert!(
            render_comment(&rollout(), &failed, Utc::now(), 100)
                .chars()
                .count()
                <= 100
        );
    }

    #[test]
    fn windows_are_described_for_people() {
        let w: DeployWindow = serde_norway::from_str(
            "days: [mon, tue]\nstart: \"09:00\"\nend: \"17:00\"\ntimezone: \"+02:00\"\n",
        )
        .unwrap();
        assert_eq!(describe_window(&w), "mon,tue 09:00–17:00 +02:00");
    }
}
