//! `/bytebase repair ENV applied|not-applied`: the comment form of
//! `bytegate repair`, with the standing a deploy needs. It finds the one dirty
//! database of the environment, records the commenter's decision in its
//! history (as the CLI does) and audits it (`target.repaired`).

use super::*;
use crate::deploy::{RepairDecision, dirty_version};

/// Records `actor`'s decision about the dirty database of `environment`; the
/// reply says what was recorded or why nothing was.
pub async fn repair_command(
    ctx: &FlowContext,
    pr: &PrRef,
    environment: &str,
    decision: RepairDecision,
    actor: &str,
    comment_id: u64,
) -> Result<String, FlowError> {
    let Some(env) = ctx.config.environment(environment) else {
        return Ok(format!("There is no environment `{environment}`."));
    };
    let Some(cr) = change_request(ctx, pr).await? else {
        return Ok(UNSEEN.to_string());
    };
    let mut dirty = Vec::new();
    for db in &env.databases {
        let target = match deploy::target_for(db) {
            Ok(t) => t,
            Err(e) => return Ok(format!("`{}`: {}", db.name, e.public_message())),
        };
        let history = match target.history().await {
            Ok(h) => h,
            Err(e) => return Ok(format!("`{}`: {}", db.name, e.public_message())),
        };
        if let Some(row) = dirty_version(&history) {
            dirty.push((db, target, row.version.clone()));
        }
    }
    let (db, target, version) = match dirty.len() {
        0 => {
            return Ok(format!(
                "No database of `{}` is dirty: nothing to repair.",
                env.name
            ));
        }
        1 => dirty.remove(0),
        _ => {
            let names: Vec<String> = dirty
                .iter()
                .map(|(d, ..)| format!("`{}`", d.name))
                .collect();
            return Ok(format!(
                "Several databases of `{}` are dirty ({}): record each decision with {}.",
                env.name,
                names.join(", "),
                deploy::repair_hint(&dirty[0].2)
            ));
        }
    };
    let reason = format!(
        "{} repair on {pr} (comment {comment_id})",
        ctx.config.project.command_prefix
    );
    let repaired = match target
        .repair(&version, decision, actor, Some(&reason))
        .await
    {
        Ok(r) => r,
        Err(e) => return Ok(format!("`{}`: {}", db.name, e.public_message())),
    };
    audit::append(
        &ctx.db,
        &entry(
            &cr,
            actor,
            AuditAction::TargetRepaired,
            Some(&env.name),
            repaired.audit_detail(&db.name, Some(&reason)),
        ),
    )
    .await?;
    let next = match decision {
        RepairDecision::Applied => "counts as applied; the next deploy continues after it",
        RepairDecision::NotApplied => {
            "is pending again; the next deploy runs it from its first statement"
        }
    };
    Ok(format!(
        "Recorded on `{}` / `{}`: {} (version {}) {next}. Retry with `{} deploy {}`.",
        env.name,
        db.name,
        crate::flow::render::code(&repaired.path),
        repaired.version,
        ctx.config.project.command_prefix,
        env.name
    ))
}
