//! `bytegate targets check [ENV]`: the "Test Connection" of every configured
//! target database (see [`crate::deploy::check`]); exit 1 when any fails.

use super::EXIT_USAGE;
use crate::config::Config;
use crate::config::HumanDuration;
use crate::deploy::check::{self, TargetsReport};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output format of `targets check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub(super) enum Format {
    /// An aligned table, then one line per failure.
    #[default]
    Human,
    /// The report as one JSON document (as `GET /api/v1/targets` serves it).
    Json,
}

/// `bytegate targets ...`.
#[derive(Subcommand, Debug)]
pub(super) enum TargetsCommand {
    /// Connect to every configured database (or the environment's) and report
    /// reachability, server version, TLS, the history table and the deploy
    /// lock (taken and released at once). Changes nothing. Exit 1 when any
    /// target fails.
    Check {
        /// Only this environment's databases.
        environment: Option<String>,
        /// Configuration file.
        #[arg(long, short, env = "BB_CONFIG", default_value = "bytegate.yaml")]
        config: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// How long one database may take to answer (`10s`, `1m`).
        #[arg(long, default_value = "10s")]
        timeout: HumanDuration,
    },
}

/// Runs a targets command.
pub(super) fn run(command: TargetsCommand) -> ExitCode {
    let TargetsCommand::Check {
        environment,
        config,
        format,
        timeout,
    } = command;
    let cfg = match Config::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut report: Option<TargetsReport> = None;
    let code = super::block_on(async {
        let r = check::check_targets(&cfg, environment.as_deref(), timeout.0)
            .await
            .map_err(|e| format!("{e} in {}", config.display()))?;
        report = Some(r);
        Ok(())
    });
    let Some(report) = report else {
        return code;
    };
    match format {
        Format::Human => print!("{}", check::render_table(&report)),
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("bytegate: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
