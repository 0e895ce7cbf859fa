//! `bytegate migrations decide`: an operator's audited decision about a
//! migration that reached a branch without a pull request. Such a file is
//! never applied automatically; it blocks the stages behind it until decided.

use super::{MetaDbArgs, meta_database};
use crate::store::snapshots::{Decision, NewDecision};
use clap::{ArgGroup, Subcommand};
use std::process::ExitCode;

/// `bytegate migrations ...`.
#[derive(Subcommand, Debug)]
pub(super) enum MigrationsCommand {
    /// Decide about a migration pushed without a pull request: apply it with
    /// the change it blocks, or skip it (bytegate never applies it).
    #[command(group(ArgGroup::new("decision").required(true).args(["apply", "skip"])))]
    Decide {
        /// Forge of the repository.
        #[arg(long, default_value = "github", value_parser = ["github", "gitlab"])]
        forge: String,
        /// Repository (`owner/name`, or the GitLab project path).
        #[arg(long)]
        repo: String,
        /// The file's path in the repository.
        #[arg(long)]
        path: String,
        /// sha256 of the file's content, as the blocked stage names it (a
        /// later edit of the file needs a new decision).
        #[arg(long)]
        sha256: String,
        /// Apply it (in version order, with the change it blocks).
        #[arg(long)]
        apply: bool,
        /// Never apply it from bytegate; stop blocking on it.
        #[arg(long)]
        skip: bool,
        /// Only for this environment (default: every environment).
        #[arg(long)]
        env: Option<String>,
        /// Who decides (recorded in the audit trail).
        #[arg(long)]
        by: String,
        /// Why (recorded in the audit trail).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
}

/// Runs a migrations command.
pub(super) fn run(command: MigrationsCommand) -> ExitCode {
    super::block_on(run_async(command))
}

async fn run_async(command: MigrationsCommand) -> Result<(), String> {
    let MigrationsCommand::Decide {
        forge,
        repo,
        path,
        sha256,
        apply,
        skip: _,
        env,
        by,
        reason,
        meta,
    } = command;
    let sha256 = sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "--sha256 must be 64 hex digits (the file's content hash), got `{sha256}`"
        ));
    }
    if path.split('/').any(|s| s == "..") || path.chars().any(char::is_control) {
        return Err(format!(
            "--path `{}` is not a repository path",
            path.escape_debug()
        ));
    }
    let (url, embedded) = meta_database(&meta).await?;
    let result = async {
        let pool = crate::store::connect(&url)
            .await
            .map_err(|e| e.to_string())?;
        let decision = if apply {
            Decision::Apply
        } else {
            Decision::Skip
        };
        crate::flow::rollout::decide_unmanaged(
            &pool,
            &NewDecision {
                forge: &forge,
                repo: &repo,
                path: &path,
                sha256: &sha256,
                environment: env.as_deref(),
                decision,
                decided_by: &by,
                reason: &reason,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        println!(
            "recorded: {} {path} ({}) for {}; blocked stages go on at their next check",
            decision.as_str(),
            &sha256[..12],
            env.as_deref().unwrap_or("every environment")
        );
        pool.close().await;
        Ok(())
    }
    .await;
    if let Some(pg) = embedded
        && let Err(e) = pg.stop().await
    {
        tracing::warn!(error = %e, "stopping the embedded PostgreSQL failed");
    }
    result
}
