//! What `/bytebase deploy ENV` and `/bytebase rollback ENV` share before they
//! act: the environment, the merged change request, its rollout, and the
//! request in the audit log. Anything missing becomes the reply instead.

use super::*;

/// A command that acts on one environment of a merged PR's rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutCommand {
    /// Start (or retry) the environment's stage.
    Deploy,
    /// Undo the environment's stage.
    Rollback,
}

impl RolloutCommand {
    /// The command's name in a comment.
    pub fn name(self) -> &'static str {
        match self {
            RolloutCommand::Deploy => "deploy",
            RolloutCommand::Rollback => "rollback",
        }
    }

    fn not_merged(self) -> &'static str {
        match self {
            RolloutCommand::Deploy => {
                "`deploy` starts a stage of a merged pull request's rollout; this one is not merged. Deploys start on merge."
            }
            RolloutCommand::Rollback => {
                "`rollback` undoes a merged pull request's deploy; this one is not merged."
            }
        }
    }

    fn audit_action(self) -> AuditAction {
        match self {
            RolloutCommand::Deploy => AuditAction::DeployRequested,
            RolloutCommand::Rollback => AuditAction::RollbackRequested,
        }
    }
}

/// What a rollout command acts on.
pub(super) struct Requested<'a> {
    /// The environment named by the command.
    pub(super) env: &'a Environment,
    /// The merged change request.
    pub(super) cr: ChangeRequest,
    /// Its rollout.
    pub(super) rollout: Rollout,
}

/// Runs `/bytebase deploy ENV` or `/bytebase rollback ENV` on a merged PR
/// (or the API's deploy and rollback actions) and returns what it came to
/// with the reply for the thread. The caller has checked that `actor` has
/// the standing approving `environment` needs (the comment flow asks
/// `policy::may_act`; the API requires an admin token).
pub async fn command(
    ctx: &FlowContext,
    pr: &PrRef,
    environment: &str,
    actor: &str,
    command: RolloutCommand,
) -> Result<ActionReply, FlowError> {
    let found = match requested(ctx, pr, environment, actor, command).await? {
        Ok(found) => found,
        Err(reply) => return Ok(reply),
    };
    match command {
        RolloutCommand::Deploy => deploy_requested(ctx, pr, actor, found).await,
        RolloutCommand::Rollback => {
            super::rollback::rollback_requested(ctx, pr, actor, found).await
        }
    }
}

/// Finds what `command` acts on and audits the request; `Err(reply)` when
/// there is nothing to act on (unknown environment, unseen or unmerged PR,
/// no rollout). A deploy starts the rollout a given-up merge job never
/// created; a rollback has nothing to undo then.
async fn requested<'a>(
    ctx: &'a FlowContext,
    pr: &PrRef,
    environment: &str,
    actor: &str,
    command: RolloutCommand,
) -> Result<Result<Requested<'a>, ActionReply>, FlowError> {
    use ActionOutcome as O;
    let Some(env) = ctx.config.environment(environment) else {
        let known: Vec<String> = ctx
            .config
            .environments
            .iter()
            .map(|e| format!("`{}`", e.name))
            .collect();
        return Ok(Err(ActionReply::new(
            O::NotFound,
            format!(
                "There is no environment `{environment}` (known: {}).",
                known.join(", ")
            ),
        )));
    };
    let Some(cr) = change_request(ctx, pr).await? else {
        return Ok(Err(ActionReply::new(O::NotFound, UNSEEN)));
    };
    if cr.state != CrState::Merged {
        return Ok(Err(ActionReply::new(
            O::NotApplicable,
            command.not_merged(),
        )));
    }
    let rollout = match rollouts::for_change_request(&ctx.db, cr.id).await? {
        Some(r) => Some(r),
        // The merge job failed for good before it created the rollout (its
        // give-up comment points here): start it now.
        None if command == RolloutCommand::Deploy => {
            start_after_given_up_merge(ctx, pr, &cr).await?
        }
        None => None,
    };
    let Some(rollout) = rollout else {
        return Ok(Err(ActionReply::new(
            O::NotApplicable,
            "This pull request has no rollout (it changed no migrations).",
        )));
    };
    audit::append(
        &ctx.db,
        &entry(
            &cr,
            actor,
            command.audit_action(),
            Some(&env.name),
            json!({"rollout": rollout.id}),
        ),
    )
    .await?;
    Ok(Ok(Requested { env, cr, rollout }))
}
