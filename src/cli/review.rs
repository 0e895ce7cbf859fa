//! `bytegate review` (placeholder until the review engine lands).

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bytegate review`.
#[derive(clap::Args, Debug)]
pub struct ReviewArgs {
    /// Files or folders of migrations.
    pub paths: Vec<PathBuf>,
}

/// Runs the review.
pub fn run(_args: &ReviewArgs) -> ExitCode {
    eprintln!("bytegate review: not implemented yet");
    ExitCode::from(2)
}
