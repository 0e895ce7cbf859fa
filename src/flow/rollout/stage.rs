//! Running one stage: the plan applied to each database of the
//! environment, and what each database did.

use super::*;
use crate::deploy::backup::{BackupPolicy, BackupSkipped, BackupTaken, consequence};
use crate::store::dml_backups::{self, BackupSite};
use crate::telemetry::metrics::DeployResult;

pub(super) enum StageOutcome {
    Succeeded(Value),
    Failed {
        error: String,
        result: Value,
    },
    /// The worker lost its job lease and stopped with nothing half done:
    /// the stage waits for the job's new holder to drive it again.
    Retry {
        reason: String,
        result: Value,
    },
}

/// Applies the plan to every database of the environment, in config order;
/// the first failure stops the stage.
pub(super) async fn run_stage(
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
    if let Some(stop) = deploy::current_stop_signal() {
        opts.stop = stop;
    }
    // Point-in-time recovery to just before this stage (recorded in its result).
    opts.restore_point = Some(deploy::restore_point_name(
        &format!("pr{}", cr.number),
        &env.name,
    ));
    let now = ctx.clock.now();
    opts.backup = BackupPolicy::for_environment(&env.backup, now);
    for db in &env.databases {
        let before = super::drift::before_stage(ctx, cr, rollout, env, db).await?;
        let started = std::time::Instant::now();
        let outcome = deploy_one(db, files, &opts).await;
        ctx.metrics
            .deployment(&env.name, metric_result(&outcome), started.elapsed());
        let schema = super::drift::after_stage(ctx, rollout, env, db, before).await?;
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
            let site = BackupSite {
                rollout_id: Some(rollout.id),
                environment: &env.name,
                database: &db.name,
                version: &a.version,
                path: &a.path,
            };
            let expires_at = opts.backup.as_ref().map_or(now, |p| p.expires_at);
            for b in &a.backups {
                dml_backups::record(&ctx.db, &site, b, now, expires_at).await?;
            }
            let detail = json!({
                "rollout": rollout.id, "database": db.name, "version": a.version,
                "path": a.path, "sha256": a.checksum, "duration_ms": a.duration_ms,
                "transactional": a.transactional,
                "backups": a.backups.iter().map(backup_json).collect::<Vec<_>>(),
                "not_backed_up": a.not_backed_up.iter().map(skipped_json).collect::<Vec<_>>(),
            });
            audit::append(
                &ctx.db,
                &entry(
                    cr,
                    BOT_ACTOR,
                    AuditAction::DeployApplied,
                    Some(&env.name),
                    detail,
                ),
            )
            .await?;
        }
        let (mut value, failure) = match outcome {
            Ok(report) => (database_result(&db.name, Some(&report), None), None),
            Err(e) => {
                // The pull request gets the public message; DETAIL lines (row
                // values) and internal texts stay in the meta database (this
                // audit entry) and the logs, under a reference shown with it.
                let public = e.public_message();
                let private = e.private_detail();
                let reference = private.as_ref().map(|_| crate::flow::error_ref());
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
                        restore_point: f.restore_point.clone(),
                        ..DeployReport::default()
                    }),
                    _ => None,
                };
                audit::append(
                    &ctx.db,
                    &entry(
                        cr,
                        BOT_ACTOR,
                        AuditAction::DeployRefused,
                        Some(&env.name),
                        json!({"rollout": rollout.id, "database": db.name, "error": message,
                               "ref": reference, "private_detail": private}),
                    ),
                )
                .await?;
                (
                    database_result(&db.name, partial.as_ref(), Some(&message)),
                    Some((e.waits_for_takeover(), message)),
                )
            }
        };
        if !schema.is_null() {
            value["schema"] = schema;
        }
        results.push(value);
        if let Some((waits, message)) = failure {
            let error = format!("{}: {message}", db.name);
            let result = Value::Array(results);
            return Ok(if waits {
                StageOutcome::Retry {
                    reason: format!(
                        "{error} (retry with `{} deploy {}`)",
                        ctx.config.project.command_prefix, env.name
                    ),
                    result,
                }
            } else {
                StageOutcome::Failed { error, result }
            });
        }
    }
    Ok(StageOutcome::Succeeded(Value::Array(results)))
}

/// The `result` label of a deployment of one database.
fn metric_result<T>(outcome: &Result<T, DeployFailure>) -> DeployResult {
    match outcome {
        Ok(_) => DeployResult::Succeeded,
        Err(DeployFailure::Deploy(DeployError::Stopped { .. })) => DeployResult::Stopped,
        Err(_) => DeployResult::Failed,
    }
}

/// Why one database was not deployed.
#[derive(Debug, thiserror::Error)]
pub(super) enum DeployFailure {
    #[error("{0}")]
    Plan(#[from] deploy::PlanError),
    #[error("{0}")]
    Deploy(DeployError),
    #[error("the deploy task failed: {0}")]
    Task(String),
}

impl DeployFailure {
    /// Only a deploy stopped by a lost lease (nothing half done) leaves the
    /// stage waiting: the job's new holder drives it again. Any other
    /// failure, an unreachable or busy target too, fails the stage where the
    /// PR and the rollout show it: nothing re-drives a waiting stage on its
    /// own, and the failed-stage report names the `deploy` command to retry.
    fn waits_for_takeover(&self) -> bool {
        matches!(self, DeployFailure::Deploy(e @ DeployError::Stopped { .. }) if e.is_retryable())
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

pub(super) async fn deploy_one(
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

pub(super) fn database_result(
    name: &str,
    report: Option<&DeployReport>,
    error: Option<&str>,
) -> Value {
    let applied: Vec<Value> = report
        .map(|r| {
            r.applied
                .iter()
                .map(|a| {
                    json!({"version": a.version, "path": a.path, "sha256": a.checksum,
                           "duration_ms": a.duration_ms, "transactional": a.transactional,
                           "backups": a.backups.iter().map(backup_json).collect::<Vec<_>>(),
                           "not_backed_up": a.not_backed_up.iter().map(skipped_json).collect::<Vec<_>>()})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "database": name,
        "applied": applied,
        "already_applied": report.map_or(0, |r| r.already_applied),
        "restore_point": report.and_then(|r| r.restore_point.as_ref()),
        "error": error,
    })
}

fn backup_json(b: &BackupTaken) -> Value {
    json!({"statement": b.statement_number, "kind": b.kind.as_str(), "table": b.table,
           "backup_table": format!("{}.{}", crate::deploy::backup::BACKUP_SCHEMA, b.backup_table),
           "rows": b.rows})
}

/// A statement deployed without a backup, with why and what it means (the
/// deploy comment shows `message`).
fn skipped_json(s: &BackupSkipped) -> Value {
    json!({"statement": s.statement_number, "kind": s.kind.as_str(), "table": s.table,
           "message": format!("statement {} ({} on {}) was not backed up: {}; {}",
               s.statement_number, s.kind, s.table, s.reason,
               consequence(crate::config::WhenImpossible::Proceed))})
}
