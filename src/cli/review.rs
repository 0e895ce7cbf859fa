//! `bytegate review`: review migration files on disk and print findings and risk.
//!
//! A thin shell over [`crate::review::review`]: collect the migration files
//! (by the suffix mapping), split them into the change and history
//! (`--base`, `--history`, see [`super::review_inputs`]), read them, pick
//! settings from `--config`/`--env` and the repository's `.bytegate.yaml`,
//! render in `--format`. Exit status 0 (no error finding in the change), 1
//! (at least one), 2 (could not do its job).

pub use super::review_error::ReviewCliError;
use super::review_inputs;
use crate::config::{Config, Engine, FileKind, MigrationSuffixes};
use crate::flow::repo_config::{REPO_CONFIG_PATH, RepoConfig};
use crate::review::model::Dialect;
use crate::review::report::Format;
use crate::review::settings::{ReviewSettings, RiskSettings};
use crate::review::{FileChange, ReviewInput, ReviewOptions, review_owned};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `bytegate review`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_long_help = rules_help())]
pub struct ReviewArgs {
    /// SQL dialect of the migrations [default: postgres, or the engine of the
    /// environment's databases in --config].
    #[arg(long, value_parser = parse_dialect)]
    pub dialect: Option<Dialect>,
    /// Target environment: selects per-environment rule severities, custom-rule
    /// scope, production risk and the environment's lock_timeout (from --config).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// bytegate.yaml with `review` and `risk` sections [default: built-in rules].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Output format: text for people, json for scripts, sarif for code
    /// scanning, github for Actions annotations, gitlab for GitLab's
    /// code-quality report.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Largest file reviewed, in bytes: a larger one is not parsed and gets a
    /// `file-too-large` error [default: the config's review.max_file_bytes, else 5 MiB].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_file_bytes: Option<u64>,
    /// Git ref to compare with (e.g. `origin/main`): the files added, edited,
    /// renamed or deleted since the merge base of it and HEAD are the change;
    /// the other migration files under PATH are history. Needs the history of
    /// both in the clone (`fetch-depth: 0`).
    #[arg(long, value_name = "GIT_REF")]
    pub base: Option<String>,
    /// Migration files or folders already applied: they build the schema
    /// model (which tables exist, with what) and get no findings. Takes every
    /// value up to the next option: put it after PATH, or end it with `--`.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub history: Vec<PathBuf>,
    /// Migration files or folders (folders: every migration file below, by
    /// suffix: `.sql` unless `migration_suffixes` maps others, in version order).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// The rule catalog for `--help`: id, default severity, dialects, what it flags.
fn rules_help() -> String {
    let mut out = String::from(
        "Rules (set severities per rule and per environment in the config's `review.rules`;\n\
         `off` rules are team policy and run once given a severity; RULES.md maps\n\
         Bytebase's rule names to these ids):\n",
    );
    for rule in crate::review::rules::registry() {
        let dialects: Vec<&str> = rule.dialects.iter().map(|d| d.as_str()).collect();
        out.push_str(&format!(
            "  {:<34} {:<8} {:<15} {}\n",
            rule.id,
            rule.default_severity.as_str(),
            dialects.join(","),
            rule.description
        ));
    }
    out.push_str("\nExit status: 0 no error finding, 1 at least one, 2 the review could not run.");
    out
}

fn parse_dialect(s: &str) -> Result<Dialect, String> {
    s.parse()
}

/// Runs `bytegate review` and returns its exit status.
pub fn run(args: &ReviewArgs) -> ExitCode {
    match execute(args) {
        Ok(has_errors) => ExitCode::from(u8::from(has_errors)),
        Err(e) => {
            eprintln!("bytegate review: {e}");
            ExitCode::from(super::EXIT_USAGE)
        }
    }
}

/// Settings resolved from `--config` and `--env`.
struct Resolved {
    settings: ReviewSettings,
    risk: RiskSettings,
    lock_timeout_configured: bool,
    dialect: Option<Dialect>,
    /// Which files are migrations (the config's, with the repository's on top).
    suffixes: MigrationSuffixes,
}

/// `--config` and `--env`, then the repository's own `.bytegate.yaml` on top,
/// merged as the pull-request flow merges them.
fn resolve(args: &ReviewArgs) -> Result<Resolved, ReviewCliError> {
    let mut resolved = resolve_config(args)?;
    let repo_config = args.paths.first().and_then(|p| find_repo_config(p));
    if let Some(path) = repo_config {
        let text = std::fs::read_to_string(&path).map_err(|source| ReviewCliError::Path {
            path: path.display().to_string(),
            source,
        })?;
        let repo = RepoConfig::parse(&text).map_err(|message| ReviewCliError::RepoConfig {
            path: path.display().to_string(),
            message,
        })?;
        resolved.settings = repo.merged_review(&resolved.settings);
        resolved.suffixes = repo.merged_suffixes(&resolved.suffixes);
    }
    Ok(resolved)
}

fn resolve_config(args: &ReviewArgs) -> Result<Resolved, ReviewCliError> {
    let Some(path) = &args.config else {
        return Ok(Resolved {
            settings: ReviewSettings::default(),
            risk: RiskSettings::default(),
            lock_timeout_configured: false,
            dialect: None,
            suffixes: MigrationSuffixes::default(),
        });
    };
    let config = Config::load(path)?;
    let mut lock_timeout_configured = false;
    let mut dialect = None;
    if let Some(name) = &args.env {
        let Some(env) = config.environment(name) else {
            let known: Vec<&str> = config
                .environments
                .iter()
                .map(|e| e.name.as_str())
                .collect();
            return Err(ReviewCliError::UnknownEnvironment {
                name: name.clone(),
                config: path.display().to_string(),
                known: if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                },
            });
        };
        lock_timeout_configured = env.lock_timeout.is_some();
        // The environment's databases say which dialect its migrations are in.
        if !env.databases.is_empty() && env.databases.iter().all(|d| d.engine == Engine::Mysql) {
            dialect = Some(Dialect::Mysql);
        }
    }
    Ok(Resolved {
        settings: config.review,
        risk: config.risk,
        lock_timeout_configured,
        dialect,
        suffixes: config.project.migration_suffixes,
    })
}

/// Reviews and prints; `Ok(true)` when an error-severity finding was reported.
fn execute(args: &ReviewArgs) -> Result<bool, ReviewCliError> {
    let mut resolved = resolve(args)?;
    // The person running the CLI owns the machine: the flag may raise the cap too.
    if let Some(max) = args.max_file_bytes {
        resolved.settings.max_file_bytes = Some(max);
    }
    let dialect = args.dialect.or(resolved.dialect).unwrap_or_default();
    let planned = review_inputs::plan(
        &args.paths,
        &args.history,
        args.base.as_deref(),
        &resolved.suffixes,
    )?;
    let base_versions = review_inputs::base_versions(&planned);
    let mut inputs = Vec::with_capacity(planned.len());
    for p in planned {
        if let FileKind::Pinned(other) = resolved.suffixes.kind(&p.display)
            && other != dialect
        {
            if p.change != FileChange::Unchanged {
                eprintln!(
                    "bytegate review: skipped {}: its suffix maps it to {other}, this review is {dialect} (pass --dialect {other} to review it)",
                    p.display
                );
            }
            continue;
        }
        let (path, text, change) = p.read()?;
        inputs.push(ReviewInput { path, text, change });
    }
    if !inputs.iter().any(|i| i.change != FileChange::Unchanged) {
        match &args.base {
            Some(base) => eprintln!(
                "bytegate review: no migration file changed since the merge base with {base}"
            ),
            None => eprintln!("bytegate review: no migration files found"),
        }
    }
    let opts = ReviewOptions {
        dialect,
        environment: args.env.as_deref(),
        settings: &resolved.settings,
        risk: &resolved.risk,
        lock_timeout_configured: resolved.lock_timeout_configured,
        base_versions,
    };
    // By value: each file's bytes are freed once it is parsed (the report
    // owns what it shows).
    let report = review_owned(inputs, &opts);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    args.format
        .write(&report, &mut out)
        .and_then(|()| out.flush())
        .map_err(ReviewCliError::Output)?;
    Ok(report.has_errors())
}

/// The repository's own `.bytegate.yaml` for `path`: in the nearest folder
/// above it that has one, stopping at the repository's top (a `.git` entry).
fn find_repo_config(path: &Path) -> Option<PathBuf> {
    let abs = std::fs::canonicalize(path).ok()?;
    let start = if abs.is_dir() {
        abs.as_path()
    } else {
        abs.parent()?
    };
    for dir in start.ancestors() {
        let candidate = dir.join(REPO_CONFIG_PATH);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

/// Files named on the command line, plus every `.sql` file below each folder,
/// in version order (see [`crate::review::version_key`]). A path that does
/// not exist, or a folder that cannot be listed, is an error.
pub fn collect_sql_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReviewCliError> {
    review_inputs::collect_migrations(paths, &MigrationSuffixes::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_environment_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bytegate.yaml");
        std::fs::write(
            &cfg,
            "project:\n  key: T\n  name: t\nenvironments:\n  - name: dev\n",
        )
        .unwrap();
        let args = ReviewArgs {
            dialect: None,
            env: Some("prod".into()),
            config: Some(cfg),
            format: Format::Json,
            max_file_bytes: None,
            base: None,
            history: Vec::new(),
            paths: vec![dir.path().to_path_buf()],
        };
        match resolve(&args) {
            Err(ReviewCliError::UnknownEnvironment { known, .. }) => assert_eq!(known, "dev"),
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("accepted an unknown environment"),
        }
    }
}
