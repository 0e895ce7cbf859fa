//! Whether a stage may start now: the approval policy, the deploy window,
//! and the order of migrations across changes.

use super::*;

/// What the order of migrations lets a stage do.
pub(super) enum Order {
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
pub(super) async fn order_gate(
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
    // Which files are migrations: as the review saw it, by the base commit's config.
    let (repo_config, _) =
        crate::flow::read_repo_config(forge, &pr.repo, &snapshot.base_sha).await?;
    let suffixes = repo_config.merged_suffixes(&ctx.config.project.migration_suffixes);
    let mut older: Vec<(String, String)> = list_migrations(
        forge,
        pr,
        &snapshot.migrations_dir,
        &suffixes,
        &rollout.merge_sha,
    )
    .await?
    .into_iter()
    .filter(|p| !own.iter().any(|(o, _)| o == p) && !deploy::is_revert(p))
    .filter_map(|p| {
        let v = version_key(&p).version()?;
        (deploy::cmp_versions(&v, &newest_own) == std::cmp::Ordering::Less).then_some((p, v))
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
            .filter(|h| h.is_applied())
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
                .map(|s| match s.state {
                    StageState::Waiting => format!(
                        "waiting for {}",
                        s.waiting_for.as_deref().unwrap_or("its turn")
                    ),
                    StageState::Failed => "failed".to_string(),
                    StageState::Running => "deploying".to_string(),
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
pub(super) async fn list_migrations(
    forge: &dyn Forge,
    pr: &PrRef,
    dir: &str,
    suffixes: &crate::config::MigrationSuffixes,
    sha: &str,
) -> Result<Vec<String>, FlowError> {
    let mut paths = Vec::new();
    for e in forge.list_directory(&pr.repo, dir, sha).await? {
        if e.is_file {
            if analysis::is_migration(&e.path, dir, suffixes) {
                paths.push(e.path);
            }
        } else {
            for sub in forge.list_directory(&pr.repo, &e.path, sha).await? {
                if sub.is_file && analysis::is_migration(&sub.path, dir, suffixes) {
                    paths.push(sub.path);
                }
            }
        }
    }
    // Refused paths are never migrations (they are neither reviewed nor deployed).
    paths.retain(|p| analysis::refused_path(p).is_none());
    Ok(paths)
}

/// Why a stage cannot start now, or `None` when it may.
pub(super) async fn gate(
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

/// Whether `env`'s approval policy holds for the PR, decided now by the
/// approvals engine over every approval recorded (at merge time and after).
pub(super) async fn policy_gate(
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

pub(super) fn describe_window(w: &DeployWindow) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_described_for_people() {
        let w: DeployWindow = serde_norway::from_str(
            "days: [mon, tue]\nstart: \"09:00\"\nend: \"17:00\"\ntimezone: \"+02:00\"\n",
        )
        .unwrap();
        assert_eq!(describe_window(&w), "mon,tue 09:00–17:00 +02:00");
    }
}
