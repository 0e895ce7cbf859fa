//! Schema snapshots around a stage and drift (issue 14, item 4).
//!
//! Before a stage deploys to a PostgreSQL database its schema is snapshotted
//! and compared with the latest "after" snapshot bytegate left on the same
//! environment and database (any rollout): a difference is drift made
//! outside bytegate, said on the PR and in the audit trail. It does not
//! block the deploy: the target's own history (checksums, order) decides
//! what may run, and nothing in config asks to refuse on drift. After the
//! stage a second snapshot gives the before→after diff the deploy comment
//! shows. A snapshot that cannot be taken is logged and skipped: it never
//! fails the deploy.

use super::*;
use crate::config::{Database, Engine};
use crate::deploy::line_diff;
use crate::deploy::schema_snapshot::{self, SchemaSnapshot, SnapshotSource};
use crate::store::schema_snapshots::{self, NewSchemaSnapshot, SnapshotPhase};

/// Unchanged lines shown around each change.
const CONTEXT: usize = 3;
/// Longest diff kept in a stage's result (the comment has a size limit).
const MAX_DIFF_CHARS: usize = 20_000;

/// One database's "before" snapshot and the drift it showed.
#[derive(Default)]
pub(super) struct Before {
    snapshot: Option<SchemaSnapshot>,
    drift: Option<String>,
}

/// Snapshots `db` before the stage, records it, and reports drift from the
/// previous deploy's "after" snapshot.
pub(super) async fn before_stage(
    ctx: &FlowContext,
    cr: &ChangeRequest,
    rollout: &Rollout,
    env: &Environment,
    db: &Database,
) -> Result<Before, FlowError> {
    let previous = match db.engine {
        Engine::Postgres => schema_snapshots::latest_after(&ctx.db, &env.name, &db.name).await?,
        Engine::Mysql => return Ok(Before::default()),
    };
    let Some(snapshot) = take(ctx, rollout, env, db, SnapshotPhase::Before, None).await? else {
        return Ok(Before::default());
    };
    let drift = previous
        .filter(|p| {
            p.sha256 != snapshot.sha256
                && schema_snapshot::comparable(&p.schema_text, &snapshot.text)
        })
        .map(|p| {
            let diff = diff_text(&p.schema_text, &snapshot.text);
            (p, diff)
        });
    let drift = match drift {
        Some((previous, diff)) => {
            tracing::warn!(rollout = rollout.id, environment = %env.name, database = %db.name,
                previous_rollout = previous.rollout_id, "schema drift outside bytegate");
            let detail = json!({
                "rollout": rollout.id, "database": db.name,
                "previous_rollout": previous.rollout_id, "previous_snapshot": previous.id,
                "expected_sha256": previous.sha256, "found_sha256": snapshot.sha256,
                "diff": diff, "blocked": false,
            });
            crate::flow::notices::audit(
                ctx,
                &ctx.db,
                &entry(
                    cr,
                    BOT_ACTOR,
                    AuditAction::DriftDetected,
                    Some(&env.name),
                    detail,
                ),
            )
            .await?;
            Some(diff)
        }
        None => None,
    };
    Ok(Before {
        snapshot: Some(snapshot),
        drift,
    })
}

/// Snapshots `db` after the stage (also a failed one: the next deploy
/// compares with what is really there) and returns what the stage's result
/// keeps: the before→after diff and any drift; `Null` without snapshots.
pub(super) async fn after_stage(
    ctx: &FlowContext,
    rollout: &Rollout,
    env: &Environment,
    db: &Database,
    before: Before,
) -> Result<Value, FlowError> {
    let Some(old) = before.snapshot else {
        return Ok(Value::Null);
    };
    // Taken the same way as "before", so the diff is about the schema.
    let like = Some(old.source);
    let Some(new) = take(ctx, rollout, env, db, SnapshotPhase::After, like).await? else {
        return Ok(json!({"drift": before.drift, "diff": null, "after": false}));
    };
    let diff = diff_text(&old.text, &new.text);
    Ok(json!({
        "drift": before.drift,
        "diff": (!diff.is_empty()).then_some(diff),
        "after": true,
    }))
}

/// Takes and records one snapshot; `None` (logged) when it cannot be taken.
async fn take(
    ctx: &FlowContext,
    rollout: &Rollout,
    env: &Environment,
    db: &Database,
    phase: SnapshotPhase,
    like: Option<SnapshotSource>,
) -> Result<Option<SchemaSnapshot>, FlowError> {
    let snapshot = match schema_snapshot::take(db.url.expose(), like).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(rollout = rollout.id, environment = %env.name, database = %db.name,
                %phase, error = %e, "no schema snapshot");
            return Ok(None);
        }
    };
    schema_snapshots::record(
        &ctx.db,
        &NewSchemaSnapshot {
            rollout_id: rollout.id,
            environment: &env.name,
            database: &db.name,
            phase,
            schema_text: &snapshot.text,
            sha256: &snapshot.sha256,
            taken_at: ctx.clock.now(),
        },
    )
    .await?;
    Ok(Some(snapshot))
}

fn diff_text(old: &str, new: &str) -> String {
    let diff = line_diff::unified(old, new, CONTEXT);
    truncate_with_note(&diff, MAX_DIFF_CHARS, "\n…(diff truncated)\n")
}

/// The schema sections of the deploy comment: per deployed database, a
/// warning with the collapsed drift diff, and the collapsed before→after
/// diff.
pub(super) fn schema_notes(out: &mut String, stages: &[Stage]) {
    for s in stages {
        for db in s.result.as_array().into_iter().flatten() {
            let schema = &db["schema"];
            let name = db["database"].as_str().unwrap_or_default();
            let place = format!(
                "{} / {}",
                crate::flow::render::code(&s.environment),
                crate::flow::render::code(name)
            );
            if let Some(drift) = schema["drift"].as_str() {
                let _ = write!(
                    out,
                    "\n⚠️ **Drift on {place}**: the schema before this deploy differs from what bytegate's previous deploy left; it was changed outside bytegate. The deploy was not blocked.\n{}",
                    collapsed("Drift (previous deploy → now)", drift)
                );
            }
            if let Some(diff) = schema["diff"].as_str() {
                let _ = write!(
                    out,
                    "\n**Schema changes on {place}**\n{}",
                    collapsed("Schema diff (before → after)", diff)
                );
            }
        }
    }
}

/// `text` in a `diff` block inside `<details>`; the fence is longer than
/// any backtick run in it, and no copy of a hidden marker survives.
fn collapsed(summary: &str, text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let body = text.replace("<!--", "<!\u{200b}--");
    format!(
        "<details><summary>{}</summary>\n\n{fence}diff\n{}\n{fence}\n\n</details>\n",
        crate::flow::render::cell(summary),
        body.trim_end_matches('\n')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fence_outgrows_backticks_in_the_diff() {
        let out = collapsed("s", "+ x ````` y\n");
        assert!(out.contains("\n``````diff\n+ x ````` y\n``````\n"), "{out}");
        let plain = collapsed("s", "+CREATE TABLE t ();\n");
        assert!(plain.contains("\n```diff\n"), "{plain}");
        assert!(!collapsed("s", "+<!-- bytegate:x -->").contains("<!--"));
    }
}
