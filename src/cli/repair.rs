//! `bytegate repair`: an operator's decision about a dirty target database,
//! recorded in the target's history (so the next deploy proceeds) and, when a
//! meta database is configured, in the audit trail.

use crate::config::Config;
use crate::deploy::{self, RepairDecision};
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::telemetry::{self, LogFormat};
use clap::Args;
use std::path::PathBuf;

/// `bytegate repair ...`.
#[derive(Args, Debug)]
pub(super) struct RepairArgs {
    /// Configuration file (the environments and their databases).
    #[arg(long, short, env = "BB_CONFIG", default_value = "bytegate.yaml")]
    config: PathBuf,
    /// The environment of the dirty database.
    environment: String,
    /// The database (may be left out when the environment has only one).
    database: Option<String>,
    /// The version of the dirty migration (as the deploy error names it).
    #[arg(long = "version")]
    migration_version: String,
    /// `applied`: its effects are complete (finished by hand), it counts as
    /// applied; `not-applied`: its effects are undone, it is pending again.
    #[arg(long)]
    decision: RepairDecision,
    /// Why (recorded with the decision).
    #[arg(long)]
    reason: Option<String>,
    /// Who decides (recorded in the history and the audit trail).
    #[arg(long, env = "USER", default_value = "operator")]
    actor: String,
    /// PostgreSQL URL of the meta database for the audit entry; unset: the
    /// decision is recorded in the target's history only.
    #[arg(long, env = "PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
}

/// Records the decision; the error is printed by the caller (exit 2).
pub(super) async fn run(args: RepairArgs) -> Result<(), String> {
    telemetry::init(LogFormat::Human, false);
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    let (env, db) = super::database_of(
        &config,
        &args.config,
        &args.environment,
        args.database.as_deref(),
    )?;
    let target = deploy::target_for(db).map_err(|e| e.to_string())?;
    let repaired = target
        .repair(
            &args.migration_version,
            args.decision,
            &args.actor,
            args.reason.as_deref(),
        )
        .await
        .map_err(|e| match e.private_detail() {
            Some(d) => format!("{e} ({d})"),
            None => e.to_string(),
        })?;
    println!(
        "recorded on {}/{}: {} (version {}) {}",
        env.name,
        db.name,
        repaired.path,
        repaired.version,
        match repaired.decision {
            RepairDecision::Applied => "counts as applied; the next deploy continues after it",
            RepairDecision::NotApplied => "is pending again; the next deploy runs it",
        }
    );
    let Some(url) = args.pg_url.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(());
    };
    let pool = crate::store::connect(url).await.map_err(|e| {
        format!("the decision is recorded on the target, but the audit entry failed: {e}")
    })?;
    let entry = AuditEntry::new(&args.actor, AuditAction::TargetRepaired)
        .in_environment(Some(&env.name))
        .with_detail(repaired.audit_detail(&db.name, args.reason.as_deref()));
    let appended = audit::append(&pool, &entry).await;
    pool.close().await;
    appended.map_err(|e| {
        format!("the decision is recorded on the target, but the audit entry failed: {e}")
    })?;
    Ok(())
}
