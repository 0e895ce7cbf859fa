//! The driver: moves a rollout stage by stage under its drive lock (a
//! session advisory lock in the meta database), claiming each stage.

use super::gates::{Order, gate, order_gate};
use super::report::{overall_state, report};
use super::stage::{StageOutcome, run_stage};
use super::*;

/// A session-level advisory lock in the meta database on its own connection:
/// held across the deploy without an open transaction, released when dropped
/// (the connection closes).
pub(super) struct DriveLock {
    conn: Option<PgConnection>,
}

impl DriveLock {
    pub(super) async fn acquire(
        ctx: &FlowContext,
        rollout_id: i64,
    ) -> Result<Option<DriveLock>, FlowError> {
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

    pub(super) async fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the session releases its advisory locks.
            let _ = conn.close().await;
        }
    }
}

/// Moves the rollout as far as it can go now, then reports.
pub(super) async fn drive(
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
pub(super) async fn drive_locked(
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
        let Some(stage) = stages.iter().find(|s| !s.state.is_through()) else {
            break;
        };
        if stage.state == StageState::Failed {
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
        if stage.state != StageState::Running {
            let mut reason = gate(ctx, forge, pr, env, ctx.clock.now()).await?;
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
                        &entry(
                            cr,
                            BOT_ACTOR,
                            AuditAction::StageWaiting,
                            Some(&env.name),
                            detail,
                        ),
                    )
                    .await?;
                }
                break;
            }
        }
        // We hold the rollout's drive lock: a stage still `running` belongs to a driver that died.
        let Some(stage) =
            rollouts::claim_stage(&ctx.db, stage.id, STAGE_LEASE, true, ctx.clock.now()).await?
        else {
            break;
        };
        rollouts::set_state(&ctx.db, rollout.id, RolloutState::Running).await?;
        crate::flow::notices::audit(
            ctx,
            &ctx.db,
            &entry(
                cr,
                actor,
                AuditAction::StageStarted,
                Some(&env.name),
                // One entry per start, naming operator-approved files it carries.
                json!({
                    "rollout": rollout.id, "merge_sha": rollout.merge_sha,
                    "operator_approved": extra.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
                }),
            ),
        )
        .await?;
        report(ctx, forge, pr, &rollout).await?;
        let mut files = extra;
        files.extend(own_files);
        let outcome = run_stage(ctx, cr, &rollout, env, &files, actor).await?;
        match outcome {
            StageOutcome::Succeeded(result) => {
                progressed = true;
                rollouts::finish_stage(&ctx.db, stage.id, true, None, &result, ctx.clock.now())
                    .await?;
                crate::flow::notices::audit(
                    ctx,
                    &ctx.db,
                    &entry(
                        cr,
                        BOT_ACTOR,
                        AuditAction::StageSucceeded,
                        Some(&env.name),
                        json!({"rollout": rollout.id, "databases": result}),
                    ),
                )
                .await?;
            }
            StageOutcome::Failed { error, result } => {
                record_failure(ctx, cr, &rollout, &stage, &error, result).await?;
                break;
            }
            StageOutcome::Retry { reason, result } => {
                rollouts::release_stage(&ctx.db, stage.id, &reason, &result, ctx.clock.now())
                    .await?;
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
pub(super) async fn fail_unclaimed(
    ctx: &FlowContext,
    cr: &ChangeRequest,
    rollout: &Rollout,
    stage: &Stage,
    error: &str,
) -> Result<(), FlowError> {
    if rollouts::claim_stage(&ctx.db, stage.id, STAGE_LEASE, true, ctx.clock.now())
        .await?
        .is_none()
    {
        return Ok(());
    }
    record_failure(ctx, cr, rollout, stage, error, json!([])).await
}

/// A claimed stage failed for good: its row and the audit entry say why and
/// what each database did.
async fn record_failure(
    ctx: &FlowContext,
    cr: &ChangeRequest,
    rollout: &Rollout,
    stage: &Stage,
    error: &str,
    result: Value,
) -> Result<(), FlowError> {
    rollouts::finish_stage(
        &ctx.db,
        stage.id,
        false,
        Some(error),
        &result,
        ctx.clock.now(),
    )
    .await?;
    crate::flow::notices::audit(
        ctx,
        &ctx.db,
        &entry(
            cr,
            BOT_ACTOR,
            AuditAction::StageFailed,
            Some(&stage.environment),
            json!({"rollout": rollout.id, "error": error, "databases": result}),
        ),
    )
    .await?;
    Ok(())
}
