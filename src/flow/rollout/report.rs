//! Reporting a rollout on the forge: deployments with statuses and the
//! sticky deploy comment.

use super::*;

pub(super) fn overall_state(stages: &[Stage]) -> RolloutState {
    if stages.iter().any(|s| s.state == StageState::Failed) {
        RolloutState::Failed
    } else if stages.iter().all(|s| s.state.is_through()) {
        RolloutState::Succeeded
    } else if stages.iter().any(|s| s.state == StageState::Running) {
        RolloutState::Running
    } else {
        RolloutState::Waiting
    }
}

/// Brings the forge up to date: a deployment per started or waiting stage with
/// its current status, and the sticky deploy comment. Idempotent: only what
/// changed is sent.
pub(super) async fn report(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    rollout: &Rollout,
) -> Result<(), FlowError> {
    let stages = rollouts::stages(&ctx.db, rollout.id).await?;
    let last = stages.last().map(|s| s.id);
    for s in &stages {
        let Some(state) = deployment_state(s.state) else {
            continue;
        };
        if s.deployment_state == Some(state) {
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
        rollouts::set_deployment(&ctx.db, s.id, i64::try_from(id).unwrap_or(i64::MAX), state)
            .await?;
    }
    let body = render_comment(
        rollout,
        &stages,
        &ctx.config.project.command_prefix,
        ctx.clock.now(),
        forge.max_comment_chars(),
    );
    publish_comment(ctx, forge, pr, rollout, &body).await
}

pub(super) fn deployment_state(stage_state: StageState) -> Option<DeploymentState> {
    match stage_state {
        StageState::Waiting => Some(DeploymentState::Queued),
        StageState::Running => Some(DeploymentState::InProgress),
        StageState::Succeeded => Some(DeploymentState::Success),
        StageState::Failed => Some(DeploymentState::Failure),
        _ => None,
    }
}

pub(super) fn deployment_description(s: &Stage) -> String {
    match s.state {
        StageState::Waiting => format!(
            "waiting for {}",
            s.waiting_for.as_deref().unwrap_or("its turn")
        ),
        StageState::Running => "applying migrations".to_string(),
        StageState::Succeeded => format!("applied {} migration(s)", applied_count(s)),
        StageState::Failed => s.error.clone().unwrap_or_else(|| "failed".to_string()),
        other => other.as_str().to_string(),
    }
}

pub(super) fn applied_count(s: &Stage) -> usize {
    s.result
        .as_array()
        .map(|dbs| {
            dbs.iter()
                .map(|d| d["applied"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(0)
}

/// The sticky deploy comment; `prefix` is the comment-command prefix its
/// retry hint names (`/bytebase`).
pub(super) fn render_comment(
    rollout: &Rollout,
    stages: &[Stage],
    prefix: &str,
    now: DateTime<Utc>,
    max: usize,
) -> String {
    let state = overall_state(stages);
    let short = rollout.merge_sha.get(..7).unwrap_or(&rollout.merge_sha);
    let mut out = format!(
        "{DEPLOY_COMMENT_MARKER}\n## bytegate deploy\n\nMerge commit `{short}` · rollout **{state}**\n\n| # | Environment | State | Duration | Details |\n|---|---|---|---|---|\n"
    );
    let mut previous_done = true;
    for s in stages {
        let icon = match s.state {
            StageState::Succeeded => "✅ deployed",
            StageState::Failed => "❌ failed",
            StageState::Running => "🔄 running",
            StageState::Waiting => "⏳ waiting",
            StageState::Skipped => "⏭ skipped",
            StageState::RolledBack => "↩️ rolled back",
            _ => "⏸ pending",
        };
        let duration = s
            .duration_ms(now)
            .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let details = match s.state {
            StageState::Succeeded => format!("{} migration(s) applied", applied_count(s)),
            StageState::Failed => "see below".to_string(),
            StageState::Waiting => format!(
                "waiting for {}",
                s.waiting_for.as_deref().unwrap_or("its turn")
            ),
            StageState::Pending if !previous_done => "after the previous stage".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {icon} | {duration} | {} |",
            s.position + 1,
            s.environment,
            details.replace('|', "\\|").replace('\n', " ")
        );
        previous_done = s.state.is_through();
    }
    backup_notes(&mut out, stages);
    super::drift::schema_notes(&mut out, stages);
    for s in stages.iter().filter(|s| s.state == StageState::Failed) {
        let _ = write!(
            out,
            "\n### `{}` failed\n\n```text\n{}\n```\nThe rollout stopped here. Nothing after this stage runs; fix it in a new pull request, or retry with `{prefix} deploy {}` if the cause was temporary.\n",
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

/// What prior backups each deployed stage took, and, plainly, which data
/// changes ran without one.
fn backup_notes(out: &mut String, stages: &[Stage]) {
    for s in stages {
        let mut taken = Vec::new();
        let mut missing = Vec::new();
        for db in s.result.as_array().into_iter().flatten() {
            for a in db["applied"].as_array().into_iter().flatten() {
                let path = a["path"].as_str().unwrap_or_default();
                for b in a["backups"].as_array().into_iter().flatten() {
                    taken.push(format!(
                        "- `{}`: {} row(s) of {} (statement {} of {}) in `{}`",
                        db["database"].as_str().unwrap_or_default(),
                        b["rows"],
                        crate::flow::render::code(b["table"].as_str().unwrap_or_default()),
                        b["statement"],
                        crate::flow::render::code(path),
                        b["backup_table"]
                            .as_str()
                            .unwrap_or_default()
                            .replace('`', "'")
                    ));
                }
                for n in a["not_backed_up"].as_array().into_iter().flatten() {
                    missing.push(format!(
                        "- ⚠️ `{}`, {}: {}",
                        db["database"].as_str().unwrap_or_default(),
                        crate::flow::render::code(path),
                        crate::flow::render::cell(n["message"].as_str().unwrap_or_default())
                    ));
                }
            }
        }
        if !taken.is_empty() {
            let _ = write!(
                out,
                "\n**`{}`: prior backups** (restored by `rollback {}`)\n{}\n",
                s.environment,
                s.environment,
                taken.join("\n")
            );
        }
        if !missing.is_empty() {
            let _ = write!(
                out,
                "\n**`{}`: data changes without a backup**\n{}\n",
                s.environment,
                missing.join("\n")
            );
        }
    }
}

/// Creates or edits the deploy comment (the rollout's drive lock is held, so
/// nobody else edits it meanwhile).
pub(super) async fn publish_comment(
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
    // One publisher for every sticky comment: only bytegate's own marked
    // comment is ever edited or adopted.
    let (id, _) =
        super::super::sticky::publish(forge, pr, DEPLOY_COMMENT_MARKER, stored, body).await?;
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
            state: StageState::parse(state).expect("a stage state"),
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
            state: RolloutState::Waiting,
            comment_id: None,
            html_url: None,
            repo_id: None,
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
        assert_eq!(
            overall_state(&s(&["succeeded", "succeeded"])),
            RolloutState::Succeeded
        );
        assert_eq!(
            overall_state(&s(&["succeeded", "failed", "pending"])),
            RolloutState::Failed
        );
        assert_eq!(
            overall_state(&s(&["succeeded", "waiting", "pending"])),
            RolloutState::Waiting
        );
        assert_eq!(
            overall_state(&s(&["running", "pending"])),
            RolloutState::Running
        );
    }

    #[test]
    fn the_comment_shows_each_stage_and_the_error() {
        let stages = vec![
            stage(0, "development", "succeeded"),
            stage(1, "staging", "waiting"),
            stage(2, "production", "pending"),
        ];
        let body = render_comment(&rollout(), &stages, "/bytebase", Utc::now(), 65_536);
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
        let body = render_comment(&rollout(), &failed, "/bytebase", Utc::now(), 65_536);
        assert!(body.contains("### `development` failed"), "{body}");
        assert!(body.contains("boom | `x`"), "{body}");
        assert!(
            render_comment(&rollout(), &failed, "/bytebase", Utc::now(), 100)
                .chars()
                .count()
                <= 100
        );
    }
}
