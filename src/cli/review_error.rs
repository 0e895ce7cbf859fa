//! The errors of `bytegate review` (exit status 2), apart from the command
//! and its inputs so that both can name them.

/// Why `bytegate review` could not do its job (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum ReviewCliError {
    /// A path does not exist or cannot be listed.
    #[error("{path}: {source}")]
    Path {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is invalid.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// `--env` names an environment the config does not have.
    #[error("--env {name}: no such environment in {config} (have: {known})")]
    UnknownEnvironment {
        /// The name given.
        name: String,
        /// The config file.
        config: String,
        /// The environments it defines.
        known: String,
    },
    /// `--base`: git could not say what changed.
    #[error("--base: {0}")]
    Git(#[from] super::git_change::GitError),
    /// The repository's `.bytegate.yaml` is invalid.
    #[error("{path}: {message}")]
    RepoConfig {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Writing the report failed (closed pipe, full disk).
    #[error("cannot write the report: {0}")]
    Output(std::io::Error),
}
