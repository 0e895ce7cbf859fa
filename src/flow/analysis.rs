//! Pure part of the pull-request flow: which changed files are migrations, and
//! how the reviews of several environments combine into one result.

use crate::config::{Config, Engine, Environment, FileKind, MigrationSuffixes};
use crate::forge::{ChangedFile, CheckConclusion, FileStatus};
use crate::review::finding::{Finding, RiskLevel, Severity};
use crate::review::model::Dialect;
use crate::review::risk::RiskReason;
use crate::review::{FileChange, ReviewReport};
use std::collections::BTreeMap;

/// A migration file the pull request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationChange {
    /// Path at the head (for removed files: the deleted path).
    pub path: String,
    /// How the PR touches it.
    pub change: FileChange,
    /// Blob id at the head, when known.
    pub blob_sha: Option<String>,
}

/// True when `path` is inside `dir` (at any depth) and a migration by its
/// suffix (`.sql`, or as `migration_suffixes` maps it).
pub fn is_migration(path: &str, dir: &str, suffixes: &MigrationSuffixes) -> bool {
    let dir = dir.trim_matches('/');
    let inside = dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'));
    inside && suffixes.kind(path).is_migration()
}

/// Why a path from a PR is refused outright (never reviewed, never
/// deployed): `..` segments, control characters, absolute or backslash paths.
pub fn refused_path(path: &str) -> Option<&'static str> {
    if path.chars().any(char::is_control) {
        Some("it contains control characters")
    } else if path.split('/').any(|s| s == ".." || s == ".") {
        Some("it contains `.` or `..` segments")
    } else if path.starts_with('/') || path.contains('\\') {
        Some("it is absolute or contains a backslash")
    } else {
        None
    }
}

/// The PR's files whose paths are refused, with the reason.
pub fn refused_paths(files: &[ChangedFile]) -> Vec<(String, &'static str)> {
    files
        .iter()
        .flat_map(|f| {
            let from = match &f.status {
                FileStatus::Renamed { from } => Some(from.as_str()),
                _ => None,
            };
            std::iter::once(f.path.as_str()).chain(from)
        })
        .filter_map(|p| refused_path(p).map(|why| (p.to_string(), why)))
        .collect()
}

/// Rule id of the finding for a refused path.
pub const PATH_REFUSED: &str = "path-refused";

/// Adds an error finding per refused path.
pub fn add_refused_paths(combined: &mut Combined, refused: &[(String, &'static str)]) {
    for (path, why) in refused {
        add_file_finding(
            combined,
            path,
            Finding {
                rule: PATH_REFUSED.to_string(),
                severity: Severity::Error,
                span: line_one(),
                message: format!(
                    "this path is refused: {why}; it is neither reviewed nor deployed"
                ),
                help: Some("Rename the file to a plain relative path.".to_string()),
            },
        );
    }
}

/// Rule id of the finding on a migration pinned (by its suffix) to a dialect
/// other than an environment's.
pub const DIALECT_MISMATCH: &str = "dialect-mismatch";

/// The applied migrations whose suffix pins them to a dialect some target
/// does not use, with those targets' environment names: they are left out of
/// those reviews, but a deploy applies every migration to every environment.
pub fn dialect_mismatches(
    changes: &[MigrationChange],
    targets: &[ReviewTarget],
    suffixes: &MigrationSuffixes,
) -> Vec<(String, Dialect, Vec<String>)> {
    let mut out = Vec::new();
    for c in changes.iter().filter(|c| c.change.is_applied()) {
        let FileKind::Pinned(dialect) = suffixes.kind(&c.path) else {
            continue;
        };
        let envs: Vec<String> = targets
            .iter()
            .filter(|t| t.dialect != dialect)
            .map(|t| {
                t.environment
                    .clone()
                    .unwrap_or_else(|| "default".to_string())
            })
            .collect();
        if !envs.is_empty() {
            out.push((c.path.clone(), dialect, envs));
        }
    }
    out
}

/// Adds an error finding per migration of [`dialect_mismatches`].
pub fn add_dialect_mismatches(
    combined: &mut Combined,
    mismatches: &[(String, Dialect, Vec<String>)],
) {
    for (path, dialect, envs) in mismatches {
        add_file_finding(
            combined,
            path,
            Finding {
                rule: DIALECT_MISMATCH.to_string(),
                severity: Severity::Error,
                span: line_one(),
                message: format!(
                    "this file's suffix maps it to {dialect}, but environment(s) {} use another engine: it was not reviewed for them and a deploy would apply it there",
                    envs.join(", ")
                ),
                help: Some(
                    "Map the suffix to `ignore`, or to the environments' dialect, in `migration_suffixes`.".to_string(),
                ),
            },
        );
    }
}

/// A span at the start of a file (findings about a whole file).
fn line_one() -> crate::review::finding::Span {
    let at = crate::review::finding::Position { line: 1, column: 1 };
    crate::review::finding::Span { start: at, end: at }
}

/// Puts a finding about a whole file first and counts it in the conclusion.
fn add_file_finding(combined: &mut Combined, path: &str, finding: Finding) {
    match finding.severity {
        Severity::Error => {
            combined.errors += 1;
            combined.conclusion = CheckConclusion::Failure;
        }
        Severity::Warning => {
            combined.warnings += 1;
            if combined.conclusion == CheckConclusion::Success {
                combined.conclusion = CheckConclusion::Neutral;
            }
        }
        Severity::Info => combined.infos += 1,
        Severity::Off => return,
    }
    combined.findings.insert(
        0,
        MergedFinding {
            path: path.to_string(),
            finding,
            only_in: None,
        },
    );
}

/// The PR's changed files that are migrations. A file renamed into the folder
/// counts as added, one renamed out of it as removed. Refused paths
/// ([`refused_path`]) are never migrations.
pub fn migration_changes(
    files: &[ChangedFile],
    dir: &str,
    suffixes: &MigrationSuffixes,
) -> Vec<MigrationChange> {
    let mut out = Vec::new();
    for f in files {
        if refused_path(&f.path).is_some()
            || matches!(&f.status, FileStatus::Renamed { from } if refused_path(from).is_some())
        {
            continue;
        }
        let here = is_migration(&f.path, dir, suffixes);
        let change = match &f.status {
            FileStatus::Added | FileStatus::Copied { .. } if here => FileChange::Added,
            FileStatus::Modified if here => FileChange::Modified,
            FileStatus::Removed if here => FileChange::Removed,
            FileStatus::Renamed { from } => match (is_migration(from, dir, suffixes), here) {
                (true, true) => FileChange::Renamed { from: from.clone() },
                (false, true) => FileChange::Added,
                (true, false) => {
                    out.push(MigrationChange {
                        path: from.clone(),
                        change: FileChange::Removed,
                        blob_sha: None,
                    });
                    continue;
                }
                (false, false) => continue,
            },
            _ => continue,
        };
        out.push(MigrationChange {
            path: f.path.clone(),
            change,
            blob_sha: f.blob_sha.clone(),
        });
    }
    out
}

/// `added`, `modified`, `removed`, `renamed from X`.
pub fn change_label(change: &FileChange) -> String {
    match change {
        FileChange::Added => "added".to_string(),
        FileChange::Modified => "modified".to_string(),
        FileChange::Removed => "removed".to_string(),
        FileChange::Renamed { from } => format!("renamed from {from}"),
        FileChange::Unchanged => "unchanged".to_string(),
    }
}

/// One review to run: an environment (or none) with its SQL dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewTarget {
    /// Environment name (`None` when the config has no environments).
    pub environment: Option<String>,
    /// Dialect of the environment's databases.
    pub dialect: Dialect,
    /// The environment sets a lock timeout for migrations.
    pub lock_timeout_configured: bool,
}

/// The reviews to run for a configuration: one per environment, in rollout order.
pub fn review_targets(config: &Config) -> Vec<ReviewTarget> {
    if config.environments.is_empty() {
        return vec![ReviewTarget {
            environment: None,
            dialect: Dialect::Postgres,
            lock_timeout_configured: false,
        }];
    }
    config.environments.iter().map(target_for).collect()
}

fn target_for(env: &Environment) -> ReviewTarget {
    let dialect = match env.databases.first().map(|d| d.engine) {
        Some(Engine::Mysql) => Dialect::Mysql,
        _ => Dialect::Postgres,
    };
    ReviewTarget {
        environment: Some(env.name.clone()),
        dialect,
        lock_timeout_configured: env.lock_timeout.is_some(),
    }
}

/// A finding as reported in more than one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedFinding {
    /// The file.
    pub path: String,
    /// The finding (as reported by the first environment that has it).
    pub finding: Finding,
    /// The environments that report it; `None` when every reviewed environment does.
    pub only_in: Option<Vec<String>>,
}

/// Risk of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRisk {
    /// Environment (`None`: no environments configured).
    pub environment: Option<String>,
    /// Level.
    pub level: RiskLevel,
    /// Reasons at that level.
    pub reasons: Vec<RiskReason>,
}

/// The combined result of every environment's review.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    /// Files in version order with how they changed and their statement count.
    pub files: Vec<(String, String, usize)>,
    /// Findings, per file in version order, then by position.
    pub findings: Vec<MergedFinding>,
    /// Per-environment risk.
    pub risks: Vec<EnvRisk>,
    /// The highest risk over environments.
    pub risk: RiskLevel,
    /// Error-severity findings (counted once over environments).
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Infos.
    pub infos: usize,
    /// Suppressed by comments (the maximum over environments).
    pub suppressed: usize,
    /// failure (an error), neutral (warnings only), success.
    pub conclusion: CheckConclusion,
    /// Per migration, how `rollback` would undo it (path, one line).
    pub rollback: Vec<(String, String)>,
}

/// Per migration of the change (down scripts and removed files aside), how a
/// rollback would undo it, and, for data changes no backup can be taken of,
/// what each environment does with them at deploy: one line for the review comment.
pub fn rollback_notes(
    files: &[(String, Vec<u8>, bool)],
    dialect: Dialect,
    environments: &[Environment],
) -> Vec<(String, String)> {
    let all: Vec<(String, Vec<u8>)> = files
        .iter()
        .filter(|(_, _, removed)| !removed)
        .map(|(p, b, _)| (p.clone(), b.clone()))
        .collect();
    all.iter()
        .filter(|(p, _)| !crate::deploy::is_revert(p))
        .map(|(p, b)| {
            let text = String::from_utf8_lossy(b);
            let how = crate::deploy::revert::how_undone(p, &text, dialect, &all);
            let mut line = how.to_string();
            if let Some(at_deploy) = unbackable_at_deploy(&text, dialect, environments) {
                line.push_str(". ");
                line.push_str(&at_deploy);
            }
            (p.clone(), line)
        })
        .collect()
}

/// What a deploy does with this file's `UPDATE`/`DELETE`s that cannot be
/// backed up, per environment (`None` when it has none).
fn unbackable_at_deploy(
    text: &str,
    dialect: Dialect,
    environments: &[Environment],
) -> Option<String> {
    use crate::config::WhenImpossible;
    let (statements, outside) = crate::deploy::statements(text, dialect);
    let numbers: Vec<String> = statements
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let d = crate::deploy::backup::Dml::of(s)?;
            (outside.is_some() || d.static_obstacle().is_some()).then(|| (i + 1).to_string())
        })
        .collect();
    if numbers.is_empty() || environments.is_empty() {
        return None;
    }
    let names = |w: Option<WhenImpossible>| -> Vec<String> {
        environments
            .iter()
            .filter(|e| (e.backup.enabled).then_some(e.backup.when_impossible) == w)
            .map(|e| format!("`{}`", e.name))
            .collect()
    };
    let mut parts = Vec::new();
    for (w, what) in [
        (Some(WhenImpossible::Refuse), "the migration is refused in"),
        (Some(WhenImpossible::Proceed), "it runs without a backup in"),
        (None, "backups are off in"),
    ] {
        let envs = names(w);
        if !envs.is_empty() {
            parts.push(format!("{what} {}", envs.join(", ")));
        }
    }
    Some(format!(
        "No prior backup can be taken of statement(s) {}: {}",
        numbers.join(", "),
        parts.join("; ")
    ))
}

/// Merges per-environment reports: a finding reported identically (same file,
/// position, rule, severity and message) in several environments is listed
/// once, with the environments that have it when not all do.
pub fn combine(
    reports: &[(Option<String>, ReviewReport)],
    changes: &[MigrationChange],
) -> Combined {
    let all_envs: Vec<String> = reports.iter().filter_map(|(e, _)| e.clone()).collect();
    // key → (order, finding, envs)
    type Key = (usize, String, u32, u32, String, Severity, String);
    let mut merged: BTreeMap<Key, (MergedFinding, Vec<String>)> = BTreeMap::new();
    let mut file_order: Vec<String> = Vec::new();
    let mut files = Vec::new();
    for (env, report) in reports {
        for file in &report.files {
            let idx = match file_order.iter().position(|p| p == &file.path) {
                Some(i) => i,
                None => {
                    file_order.push(file.path.clone());
                    let change = changes
                        .iter()
                        .find(|c| c.path == file.path)
                        .map(|c| change_label(&c.change))
                        .unwrap_or_else(|| "changed".to_string());
                    files.push((file.path.clone(), change, file.statements));
                    file_order.len() - 1
                }
            };
            for f in &file.findings {
                let key = (
                    idx,
                    f.rule.clone(),
                    f.span.start.line,
                    f.span.start.column,
                    f.message.clone(),
                    f.severity,
                    file.path.clone(),
                );
                let entry = merged.entry(key).or_insert_with(|| {
                    (
                        MergedFinding {
                            path: file.path.clone(),
                            finding: f.clone(),
                            only_in: None,
                        },
                        Vec::new(),
                    )
                });
                if let Some(e) = env
                    && !entry.1.contains(e)
                {
                    entry.1.push(e.clone());
                }
            }
        }
    }
    let mut findings: Vec<MergedFinding> = merged
        .into_values()
        .map(|(mut m, envs)| {
            if !all_envs.is_empty() && envs.len() < all_envs.len() {
                m.only_in = Some(envs);
            }
            m
        })
        .collect();
    // Key order is (file, rule, line, …); present by position within a file.
    findings.sort_by(|a, b| {
        let ia = file_order.iter().position(|p| p == &a.path);
        let ib = file_order.iter().position(|p| p == &b.path);
        (ia, a.finding.span.start, &a.finding.rule).cmp(&(
            ib,
            b.finding.span.start,
            &b.finding.rule,
        ))
    });
    let count = |s: Severity| findings.iter().filter(|m| m.finding.severity == s).count();
    let (errors, warnings, infos) = (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    );
    let risks: Vec<EnvRisk> = reports
        .iter()
        .map(|(env, r)| EnvRisk {
            environment: env.clone(),
            level: r.risk.level,
            reasons: r.risk.reasons.clone(),
        })
        .collect();
    let risk = risks.iter().map(|r| r.level).max().unwrap_or_default();
    let conclusion = if errors > 0 {
        CheckConclusion::Failure
    } else if warnings > 0 {
        CheckConclusion::Neutral
    } else {
        CheckConclusion::Success
    };
    Combined {
        files,
        findings,
        risks,
        risk,
        errors,
        warnings,
        infos,
        suppressed: reports
            .iter()
            .map(|(_, r)| r.summary.suppressed)
            .max()
            .unwrap_or(0),
        conclusion,
        rollback: Vec::new(),
    }
}

/// Rule id of the finding that tells a PR its `.bytegate.yaml` edit only
/// governs later pull requests.
pub const REPO_CONFIG_CHANGED: &str = "repo-config-changed";

/// Adds the warning that the PR's edit of the repository config takes effect
/// only after merge: this PR is reviewed and deployed under the base
/// commit's config (its migrations folder, its rules).
pub fn add_repo_config_changed(combined: &mut Combined) {
    let path = crate::flow::repo_config::REPO_CONFIG_PATH;
    add_file_finding(
        combined,
        path,
        Finding {
            rule: REPO_CONFIG_CHANGED.to_string(),
            severity: Severity::Warning,
            span: line_one(),
            message: format!(
                "this pull request changes {path}: the change takes effect after merge; this pull request is reviewed and deployed under the base branch's version"
            ),
            help: Some(
                "Settings such as `migrations_dir` and rule severities apply to pull requests opened after this one is merged. Migrations outside the base branch's folder are neither reviewed nor deployed.".to_string(),
            ),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::finding::{Position, Span};
    use crate::review::{FileReport, Summary};

    #[test]
    fn rollback_notes_say_how_each_migration_is_undone_and_what_cannot_be_backed_up() {
        let envs: Vec<Environment> = serde_norway::from_str(
            "- name: dev\n  backup: {enabled: false}\n- name: staging\n- name: production\n  backup: {when_impossible: refuse}\n",
        )
        .unwrap();
        let files = vec![
            (
                "m/1_purge.sql".to_string(),
                b"DELETE FROM sessions;\nDELETE FROM users WHERE id = 1;".to_vec(),
                false,
            ),
            (
                "m/2_t.sql".to_string(),
                b"CREATE TABLE t (id int);".to_vec(),
                false,
            ),
            (
                "m/2_t.down.sql".to_string(),
                b"DROP TABLE t;".to_vec(),
                false,
            ),
            ("m/0_old.sql".to_string(), b"DROP TABLE x;".to_vec(), true),
        ];
        let notes = rollback_notes(&files, Dialect::Postgres, &envs);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(
            notes[0].1,
            "not reversible: statement 1 (DELETE with no prior backup: it has no WHERE clause (every row would be copied)); add a down script to make it so. No prior backup can be taken of statement(s) 1: the migration is refused in `production`; it runs without a backup in `staging`; backups are off in `dev`"
        );
        assert_eq!(
            notes[1],
            (
                "m/2_t.sql".to_string(),
                "reversible: down script `m/2_t.down.sql`".to_string()
            )
        );
    }

    fn file(path: &str, status: FileStatus) -> ChangedFile {
        ChangedFile {
            path: path.to_string(),
            status,
            blob_sha: Some("b".into()),
        }
    }

    #[test]
    fn migration_paths_are_sql_files_inside_the_folder() {
        let dir = "schema/migrations/";
        let sql = MigrationSuffixes::default();
        assert!(is_migration("schema/migrations/001_a.sql", dir, &sql));
        assert!(is_migration("schema/migrations/pg/001_a.SQL", dir, &sql));
        assert!(!is_migration("schema/migrations/README.md", dir, &sql));
        assert!(!is_migration("schema/migrations_old/001.sql", dir, &sql));
        assert!(!is_migration("other/001.sql", dir, &sql));
        assert!(!is_migration(
            "schema/migrations/001.sql.postgres",
            dir,
            &sql
        ));
    }

    #[test]
    fn renames_across_the_folder_boundary_are_adds_or_removes() {
        let dir = "m";
        let files = [
            file("m/1.sql", FileStatus::Added),
            file("m/2.sql", FileStatus::Removed),
            file(
                "m/3.sql",
                FileStatus::Renamed {
                    from: "m/old3.sql".into(),
                },
            ),
            file(
                "m/4.sql",
                FileStatus::Renamed {
                    from: "x/4.sql".into(),
                },
            ),
            file(
                "y/5.sql",
                FileStatus::Renamed {
                    from: "m/5.sql".into(),
                },
            ),
            file("README.md", FileStatus::Modified),
        ];
        let got: Vec<(String, FileChange)> =
            migration_changes(&files, dir, &MigrationSuffixes::default())
                .into_iter()
                .map(|c| (c.path, c.change))
                .collect();
        assert_eq!(
            got,
            vec![
                ("m/1.sql".into(), FileChange::Added),
                ("m/2.sql".into(), FileChange::Removed),
                (
                    "m/3.sql".into(),
                    FileChange::Renamed {
                        from: "m/old3.sql".into()
                    }
                ),
                ("m/4.sql".into(), FileChange::Added),
                ("m/5.sql".into(), FileChange::Removed),
            ]
        );
    }

    fn pg_pairs() -> MigrationSuffixes {
        use crate::config::SuffixTarget;
        MigrationSuffixes(
            [
                (".sql.postgres".to_string(), SuffixTarget::Postgres),
                (".sql.sqlite".to_string(), SuffixTarget::Ignore),
                (".sql.mysql".to_string(), SuffixTarget::Mysql),
            ]
            .into_iter()
            .collect(),
        )
    }

    #[test]
    fn suffix_mapping_decides_which_files_of_the_pr_are_migrations() {
        let files = [
            file("db/1_init.sql.postgres", FileStatus::Added),
            file("db/1_init.sql.sqlite", FileStatus::Added),
            file("db/2_more.sql", FileStatus::Modified),
        ];
        let got: Vec<String> = migration_changes(&files, "db", &pg_pairs())
            .into_iter()
            .map(|c| c.path)
            .collect();
        assert_eq!(got, ["db/1_init.sql.postgres", "db/2_more.sql"]);
        // Without the mapping, only `.sql` is a migration.
        assert_eq!(
            migration_changes(&files, "db", &MigrationSuffixes::default()).len(),
            1
        );
    }

    #[test]
    fn a_file_pinned_to_another_engine_than_an_environment_is_an_error() {
        let changes: Vec<MigrationChange> = ["db/1.sql.postgres", "db/2.sql.mysql", "db/3.sql"]
            .iter()
            .map(|p| MigrationChange {
                path: p.to_string(),
                change: FileChange::Added,
                blob_sha: None,
            })
            .collect();
        let target = |env: &str, dialect| ReviewTarget {
            environment: Some(env.to_string()),
            dialect,
            lock_timeout_configured: false,
        };
        let targets = [
            target("staging", Dialect::Postgres),
            target("prod", Dialect::Postgres),
        ];
        let mismatches = dialect_mismatches(&changes, &targets, &pg_pairs());
        assert_eq!(
            mismatches,
            vec![(
                "db/2.sql.mysql".to_string(),
                Dialect::Mysql,
                vec!["staging".to_string(), "prod".to_string()]
            )]
        );
        let mut combined = combine(&[], &changes);
        add_dialect_mismatches(&mut combined, &mismatches);
        assert_eq!(combined.errors, 1);
        assert_eq!(combined.conclusion, CheckConclusion::Failure);
        assert_eq!(combined.findings[0].finding.rule, DIALECT_MISMATCH);
        assert_eq!(combined.findings[0].path, "db/2.sql.mysql");
    }

    #[test]
    fn hostile_paths_are_refused_and_never_migrations() {
        for p in [
            "schema/migrations/../../etc/x.sql",
            "schema/migrations/./1.sql",
            "schema/migrations/1\n<!-- bytegate:approvals:start -->.sql",
            "/abs/1.sql",
            "schema\\migrations\\1.sql",
        ] {
            assert!(refused_path(p).is_some(), "{p:?}");
            assert!(
                migration_changes(
                    &[file(p, FileStatus::Added)],
                    "schema/migrations",
                    &MigrationSuffixes::default()
                )
                .is_empty(),
                "{p:?}"
            );
        }
        assert_eq!(refused_path("schema/migrations/001 add <b>.sql"), None);
        let refused = refused_paths(&[file("a/../b.sql", FileStatus::Added)]);
        assert_eq!(refused.len(), 1);
    }

    fn finding(rule: &str, line: u32, severity: Severity) -> Finding {
        let at = Position { line, column: 1 };
        Finding {
            rule: rule.into(),
            severity,
            span: Span { start: at, end: at },
            message: format!("{rule} at {line}"),
            help: None,
        }
    }

    fn report(findings: Vec<Finding>, level: RiskLevel) -> ReviewReport {
        ReviewReport {
            files: vec![FileReport {
                path: "m/1.sql".into(),
                statements: 2,
                findings,
                suppressed: 0,
                risk: Default::default(),
            }],
            risk: crate::review::risk::RiskReport {
                level,
                reasons: vec![],
            },
            summary: Summary::default(),
        }
    }

    #[test]
    fn findings_shared_by_all_environments_are_listed_once() {
        let shared = finding("table-require-pk", 1, Severity::Error);
        let prod_only = finding("no-truncate", 3, Severity::Warning);
        let reports = vec![
            (
                Some("staging".to_string()),
                report(vec![shared.clone()], RiskLevel::Low),
            ),
            (
                Some("production".to_string()),
                report(vec![shared.clone(), prod_only.clone()], RiskLevel::High),
            ),
        ];
        let c = combine(&reports, &[]);
        assert_eq!(c.findings.len(), 2);
        assert_eq!(c.findings[0].only_in, None);
        assert_eq!(c.findings[1].only_in, Some(vec!["production".to_string()]));
        assert_eq!((c.errors, c.warnings), (1, 1));
        assert_eq!(c.risk, RiskLevel::High);
        assert_eq!(c.conclusion, CheckConclusion::Failure);
    }

    #[test]
    fn conclusion_follows_the_worst_severity() {
        let warn = vec![(
            None,
            report(vec![finding("w", 1, Severity::Warning)], RiskLevel::Low),
        )];
        assert_eq!(combine(&warn, &[]).conclusion, CheckConclusion::Neutral);
        let info = vec![(
            None,
            report(vec![finding("i", 1, Severity::Info)], RiskLevel::Low),
        )];
        assert_eq!(combine(&info, &[]).conclusion, CheckConclusion::Success);
    }
}
