//! `bytegate review`: review migration files on disk and print findings and risk.
//!
//! A thin shell over [`crate::review::review`]: collect the `.sql` files, read
//! them, pick settings from `--config`/`--env`, render in `--format`. Exit
//! status 0 (no error finding), 1 (at least one), 2 (could not do its job).

use crate::config::{Config, Engine};
use crate::review::model::Dialect;
use crate::review::report::Format;
use crate::review::settings::{ReviewSettings, RiskSettings};
use crate::review::{FileChange, ReviewInput, ReviewOptions, review, version_key};
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
    /// scanning, github for Actions annotations.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Largest file reviewed, in bytes: a larger one is not parsed and gets a
    /// `file-too-large` error [default: the config's review.max_file_bytes, else 5 MiB].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_file_bytes: Option<u64>,
    /// Migration files or folders (folders: every `.sql` file below, in version order).
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
    /// Writing the report failed (closed pipe, full disk).
    #[error("cannot write the report: {0}")]
    Output(std::io::Error),
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
}

fn resolve(args: &ReviewArgs) -> Result<Resolved, ReviewCliError> {
    let Some(path) = &args.config else {
        return Ok(Resolved {
            settings: ReviewSettings::default(),
            risk: RiskSettings::default(),
            lock_timeout_configured: false,
            dialect: None,
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
    })
}

/// Reviews and prints; `Ok(true)` when an error-severity finding was reported.
fn execute(args: &ReviewArgs) -> Result<bool, ReviewCliError> {
    let mut resolved = resolve(args)?;
    // The person running the CLI owns the machine: the flag may raise the cap too.
    if let Some(max) = args.max_file_bytes {
        resolved.settings.max_file_bytes = Some(max);
    }
    let files = collect_sql_files(&args.paths)?;
    let mut inputs = Vec::with_capacity(files.len());
    for path in &files {
        let text = std::fs::read(path).map_err(|source| ReviewCliError::Path {
            path: path.display().to_string(),
            source,
        })?;
        inputs.push(ReviewInput {
            path: display_path(path),
            text,
            change: FileChange::Added,
        });
    }
    if inputs.is_empty() {
        eprintln!("bytegate review: no .sql files found");
    }
    let opts = ReviewOptions {
        dialect: args.dialect.or(resolved.dialect).unwrap_or_default(),
        environment: args.env.as_deref(),
        settings: &resolved.settings,
        risk: &resolved.risk,
        lock_timeout_configured: resolved.lock_timeout_configured,
        base_versions: Vec::new(),
    };
    let report = review(&inputs, &opts);
    let rendered = args.format.render(&report);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(rendered.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(ReviewCliError::Output)?;
    Ok(report.has_errors())
}

/// The path as shown in reports: as given, with `/` separators.
fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    s.replace('\\', "/")
}

/// Files named on the command line, plus every `.sql` file below each folder,
/// in version order (see [`version_key`]). A path that does not exist, or a
/// folder that cannot be listed, is an error.
pub fn collect_sql_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReviewCliError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| ReviewCliError::Path {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, &mut out, 0)?;
        } else {
            out.push(path.clone());
        }
    }
    out.sort_by_cached_key(|p| version_key(&display_path(p)));
    out.dedup();
    Ok(out)
}

/// Deep enough for any real migrations tree, shallow enough to stop symlink loops.
const MAX_DEPTH: usize = 32;

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<(), ReviewCliError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let err = |source| ReviewCliError::Path {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out, depth + 1)?;
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
        {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_walked_in_version_order_and_only_sql_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("10_b")).unwrap();
        std::fs::create_dir_all(root.join("9_a")).unwrap();
        std::fs::write(root.join("10_b/up.sql"), "select 1;").unwrap();
        std::fs::write(root.join("9_a/up.sql"), "select 1;").unwrap();
        std::fs::write(root.join("9_a/down.sql"), "select 1;").unwrap();
        std::fs::write(root.join("README.md"), "x").unwrap();
        let files = collect_sql_files(&[root.to_path_buf()]).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["9_a/up.sql", "10_b/up.sql", "9_a/down.sql"]);
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = collect_sql_files(&[PathBuf::from("/nonexistent/x.sql")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.sql"), "{err}");
    }

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
            paths: vec![dir.path().to_path_buf()],
        };
        match resolve(&args) {
            Err(ReviewCliError::UnknownEnvironment { known, .. }) => assert_eq!(known, "dev"),
            Err(e) => panic!("unexpected error: {e}"),
            Ok(_) => panic!("accepted an unknown environment"),
        }
    }
}
