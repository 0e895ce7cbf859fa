//! `/bytebase rollback ENV` on a merged PR: undoes the change on the
//! environment's databases, newest migration first, through the targets' own
//! executor ([`deploy::Target::rollback`]), with history and audit entries.
//!
//! Refused, with nothing run, when the environment's policy does not hold,
//! when a later environment still has the change applied (later environments
//! first), or when any of its migrations cannot be undone (each reason said).

use super::drive::DriveLock;
use super::gates::policy_gate;
use super::report::report;
use super::*;
use crate::config::Database;
use crate::deploy::revert::{self, HowUndone};
use crate::deploy::{Revert, RollbackReport, Step, Target};
use crate::store::dml_backups;

/// Irreversible migrations named in a refusal (the rest counted).
const MAX_REASONS_LISTED: usize = 20;

/// One database's part of a rollback: what to run, and the backups it restores.
struct DatabasePlan<'a> {
    db: &'a Database,
    target: Box<dyn Target>,
    reverts: Vec<Revert>,
    /// (version, backup ids) restored by the reverts.
    restores: Vec<(String, Vec<i64>)>,
}

/// `/bytebase rollback ENV` on a merged PR, or the API's rollback action
/// ([`super::command`]): undoes the environment's stage unless a refusal
/// says why not.
pub(super) async fn rollback_requested(
    ctx: &FlowContext,
    pr: &PrRef,
    actor: &str,
    Requested { env, cr, rollout }: Requested<'_>,
) -> Result<ActionReply, FlowError> {
    use ActionOutcome as O;
    let forge = ctx.forges.for_repo(&pr.repo)?;
    if let Some(reason) = policy_gate(ctx, forge.as_ref(), pr, env).await? {
        let why = format!("the policy of `{}` does not hold: {reason}", env.name);
        return refuse(ctx, &cr, &rollout, env, &why).await;
    }
    let Some(lock) = DriveLock::acquire(ctx, rollout.id).await? else {
        return Ok(ActionReply::new(
            O::Busy,
            "Another worker is moving this rollout; try again in a moment.",
        ));
    };
    let result = rollback_locked(ctx, forge.as_ref(), &cr, pr, &rollout, env, actor).await;
    lock.release().await;
    let reply = result?;
    report(ctx, forge.as_ref(), pr, &rollout).await?;
    Ok(reply)
}

/// Audits a refusal and returns its reply.
async fn refuse(
    ctx: &FlowContext,
    cr: &ChangeRequest,
    rollout: &Rollout,
    env: &Environment,
    why: &str,
) -> Result<ActionReply, FlowError> {
    audit::append(
        &ctx.db,
        &entry(
            cr,
            BOT_ACTOR,
            AuditAction::RollbackRefused,
            Some(&env.name),
            json!({"rollout": rollout.id, "reason": why}),
        ),
    )
    .await?;
    Ok(ActionReply::new(
        ActionOutcome::Refused,
        format!("Nothing was rolled back on `{}`: {why}", env.name),
    ))
}

async fn rollback_locked(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PrRef,
    rollout: &Rollout,
    env: &Environment,
    actor: &str,
) -> Result<ActionReply, FlowError> {
    use ActionOutcome as O;
    let stages = rollouts::stages(&ctx.db, rollout.id).await?;
    let Some(stage) = stages.iter().find(|s| s.environment == env.name) else {
        return Ok(ActionReply::new(
            O::NotFound,
            format!("The rollout has no `{}` stage.", env.name),
        ));
    };
    match stage.state {
        StageState::Succeeded => {}
        StageState::RolledBack => {
            return Ok(ActionReply::new(
                O::AlreadyDone,
                format!("`{}` is rolled back already.", env.name),
            )
            .at(stage.state));
        }
        other => {
            return Ok(ActionReply::new(
                O::NotApplicable,
                format!(
                    "This change is not deployed to `{}` (the stage is {other}); nothing to roll back.",
                    env.name
                ),
            )
            .at(other));
        }
    }
    let files = match reviewed_files_at_merge(ctx, forge, pr, rollout).await? {
        Ok(f) => f,
        Err(reason) => return refuse(ctx, cr, rollout, env, &reason).await,
    };
    // This change's migrations: (path, version, text).
    let ours: Vec<(String, String, String)> = files
        .iter()
        .filter(|(p, _)| !deploy::is_revert(p))
        .filter_map(|(p, b)| {
            let v = version_key(p).version()?;
            Some((p.clone(), v, String::from_utf8_lossy(b).into_owned()))
        })
        .collect();
    // Later environments first.
    for later in stages.iter().filter(|s| s.position > stage.position) {
        let Some(later_env) = ctx.config.environment(&later.environment) else {
            continue;
        };
        for db in &later_env.databases {
            let applied = match applied_versions(db, &ours).await {
                Ok(a) => a,
                Err(e) => {
                    let why = format!(
                        "the history of `{}` in `{}` (a later environment) could not be read ({e}); later environments are rolled back first",
                        db.name, later_env.name
                    );
                    return refuse(ctx, cr, rollout, env, &why).await;
                }
            };
            if !applied.is_empty() {
                let why = format!(
                    "`{}` comes later and still has this change applied (database `{}`: version(s) {}); roll back `{}` first",
                    later_env.name,
                    db.name,
                    applied.join(", "),
                    later_env.name
                );
                return refuse(ctx, cr, rollout, env, &why).await;
            }
        }
    }
    let mut plans = Vec::new();
    let mut irreversible = Vec::new();
    for db in &env.databases {
        let dialect = deploy::dialect(db.engine);
        let target = match deploy::target_for(db) {
            Ok(t) => t,
            Err(e) => return refuse(ctx, cr, rollout, env, &e.public_message()).await,
        };
        if let Some(e) = target.rollback_unavailable() {
            let why = format!("`{}`: {}; undo it by hand", db.name, e.public_message());
            return refuse(ctx, cr, rollout, env, &why).await;
        }
        let history = match target.history().await {
            Ok(h) => h,
            Err(e) => return refuse(ctx, cr, rollout, env, &e.public_message()).await,
        };
        let mut applied: Vec<&(String, String, String)> = ours
            .iter()
            .filter(|(_, v, _)| history.iter().any(|h| h.is_applied() && &h.version == v))
            .collect();
        // Newest first.
        applied.sort_by(|a, b| deploy::cmp_versions(&b.1, &a.1));
        let mut plan = DatabasePlan {
            db,
            target,
            reverts: Vec::new(),
            restores: Vec::new(),
        };
        for (path, version, text) in applied {
            match revert::how_undone(path, text, dialect, &files) {
                HowUndone::DownScript { path: source, sql } => {
                    let (steps, outside) = revert::down_steps(&sql, dialect);
                    if let Some(what) = outside {
                        irreversible.push(format!(
                            "`{path}`: its down script `{source}` uses {what}, which cannot run in a transaction; undo it by hand"
                        ));
                        continue;
                    }
                    plan.reverts.push(Revert {
                        version: version.clone(),
                        source,
                        steps,
                    });
                }
                HowUndone::Generated(undo) => {
                    let stored =
                        dml_backups::live_for(&ctx.db, &env.name, &db.name, version).await?;
                    let mut steps = Vec::new();
                    let mut used = Vec::new();
                    for u in &undo {
                        let number = match u {
                            revert::Undo::RestoreDeleted {
                                statement_number, ..
                            }
                            | revert::Undo::RestoreUpdated {
                                statement_number, ..
                            } => Some(*statement_number),
                            revert::Undo::Sql(_) => None,
                        };
                        let backup = number.and_then(|n| {
                            stored
                                .iter()
                                .find(|b| usize::try_from(b.statement_number).ok() == Some(n))
                        });
                        match revert::restore_sql(u, backup.and_then(|b| b.taken()).as_ref()) {
                            Ok(text) => {
                                used.extend(backup.map(|b| b.id));
                                steps.push(Step {
                                    text,
                                    line: 1,
                                    column: 1,
                                    dml: None,
                                });
                            }
                            Err(why) => irreversible.push(format!("`{path}`: {why}")),
                        }
                    }
                    plan.restores.push((version.clone(), used));
                    plan.reverts.push(Revert {
                        version: version.clone(),
                        source: format!("{path} (generated reverse)"),
                        steps,
                    });
                }
                HowUndone::Irreversible(reasons) => {
                    irreversible.push(format!("`{path}`: {}", reasons.join("; ")))
                }
            }
        }
        plans.push(plan);
    }
    if !irreversible.is_empty() {
        // A reply stays far below the forge's comment limit.
        let more = irreversible.len().saturating_sub(MAX_REASONS_LISTED);
        irreversible.truncate(MAX_REASONS_LISTED);
        if more > 0 {
            irreversible.push(format!("…and {more} more"));
        }
        let why = format!(
            "this change cannot be reversed automatically:\n\n{}\n\nAdd a down script (`NNN_name.down.sql` beside the migration, `down.sql` beside `up.sql`, or a `-- bytegate:down` section) in a new pull request, or undo it by hand.",
            irreversible
                .iter()
                .map(|r| format!("- {r}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        return refuse(ctx, cr, rollout, env, &why).await;
    }
    let applied_by = format!("{BOT_ACTOR} (rollback by {actor})");
    let opts = DeployOptions::for_environment(env, &applied_by, rollout.html_url.as_deref());
    let mut lines = Vec::new();
    for plan in &plans {
        let outcome = plan.target.rollback(&plan.reverts, &opts).await;
        let (report, error) = match outcome {
            Ok(RollbackReport { reverted, failure }) => {
                (reverted, failure.map(|f| DeployError::Failed(Box::new(f))))
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        for r in &report {
            audit::append(
                &ctx.db,
                &entry(
                    cr,
                    actor,
                    AuditAction::RollbackApplied,
                    Some(&env.name),
                    json!({"rollout": rollout.id, "database": plan.db.name, "version": r.version,
                           "source": r.source, "statements": r.statements, "duration_ms": r.duration_ms}),
                ),
            )
            .await?;
            if let Some((_, ids)) = plan.restores.iter().find(|(v, _)| v == &r.version) {
                dml_backups::mark_restored(&ctx.db, ids, ctx.clock.now()).await?;
            }
            lines.push(format!(
                "- `{}`: undid version {} ({})",
                plan.db.name,
                r.version,
                crate::flow::render::code(&r.source)
            ));
        }
        if let Some(e) = error {
            let message = e.public_message();
            crate::flow::notices::audit(
                ctx,
                &ctx.db,
                &entry(
                    cr,
                    BOT_ACTOR,
                    AuditAction::RollbackFailed,
                    Some(&env.name),
                    json!({"rollout": rollout.id, "database": plan.db.name, "error": message,
                           "private_detail": e.private_detail()}),
                ),
            )
            .await?;
            let done = if lines.is_empty() {
                String::new()
            } else {
                format!("\n\nUndone before the failure:\n{}", lines.join("\n"))
            };
            return Ok(ActionReply::new(
                O::Failed,
                format!(
                    "Rolling back `{}` failed on `{}`:\n\n```text\n{}\n```{done}",
                    env.name,
                    plan.db.name,
                    message.replace("```", "'''")
                ),
            )
            .at(stage.state));
        }
    }
    rollouts::set_rolled_back(&ctx.db, stage.id, ctx.clock.now()).await?;
    crate::flow::notices::audit(
        ctx,
        &ctx.db,
        &entry(
            cr,
            actor,
            AuditAction::StageRolledBack,
            Some(&env.name),
            json!({"rollout": rollout.id}),
        ),
    )
    .await?;
    let text = if lines.is_empty() {
        format!(
            "Rolled back `{}`: none of this change's migrations were applied there any more.",
            env.name
        )
    } else {
        format!(
            "Rolled back `{}`, newest migration first:\n\n{}\n",
            env.name,
            lines.join("\n")
        )
    };
    Ok(ActionReply::new(O::Done, text).at(StageState::RolledBack))
}

/// Which of `ours` a database has applied (and not rolled back).
async fn applied_versions(
    db: &Database,
    ours: &[(String, String, String)],
) -> Result<Vec<String>, DeployError> {
    let history = deploy::target_for(db)?.history().await?;
    Ok(ours
        .iter()
        .filter(|(_, v, _)| history.iter().any(|h| h.is_applied() && &h.version == v))
        .map(|(_, v, _)| v.clone())
        .collect())
}
