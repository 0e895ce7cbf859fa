//! Review of migration sets and the risk of issue 12's fixtures, through the
//! library: `fixtures/review/sets/NAME/` (history + change, each changed file
//! with its `-- expect:` line) and the risk level of single fixtures.

use bytegate::review::model::Dialect;
use bytegate::review::settings::{ReviewSettings, RiskSettings};
use bytegate::review::{FileChange, ReviewInput, ReviewOptions, ReviewReport, review};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/review")
}

fn run(inputs: &[ReviewInput], dialect: Dialect) -> ReviewReport {
    let settings = ReviewSettings::default();
    let risk = RiskSettings::default();
    review(
        inputs,
        &ReviewOptions {
            dialect,
            environment: None,
            settings: &settings,
            risk: &risk,
            lock_timeout_configured: false,
            base_versions: Vec::new(),
        },
    )
}

fn input(path: &Path, change: FileChange) -> ReviewInput {
    ReviewInput {
        path: path.to_string_lossy().into_owned(),
        text: std::fs::read(path).unwrap(),
        change,
    }
}

fn sql_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    files
}

/// `(rule, line)` expected and the rules also allowed, from the first line.
fn expectation(path: &Path) -> (Option<(String, u32)>, BTreeSet<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let rest = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("-- expect: "))
        .unwrap_or_else(|| panic!("{}: no `-- expect:` header", path.display()));
    if rest.trim() == "nothing" {
        return (None, BTreeSet::new());
    }
    let (main, also) = rest.split_once(" also: ").unwrap_or((rest, ""));
    let words: Vec<&str> = main.split_whitespace().collect();
    assert_eq!(words.get(1), Some(&"line"), "{}", path.display());
    let also = also
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (
        Some((words[0].to_string(), words[2].parse().unwrap())),
        also,
    )
}

#[test]
fn every_set_gives_each_changed_file_its_expected_findings() {
    let mut failures = Vec::new();
    let mut sets: Vec<PathBuf> = std::fs::read_dir(fixtures().join("sets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    assert!(!sets.is_empty());
    for set in sets {
        let mut inputs: Vec<ReviewInput> = sql_files(&set.join("history"))
            .iter()
            .map(|p| input(p, FileChange::Unchanged))
            .collect();
        let changed = sql_files(&set);
        inputs.extend(changed.iter().map(|p| input(p, FileChange::Added)));
        let report = run(&inputs, Dialect::Postgres);
        for path in &changed {
            let (expected, also) = expectation(path);
            let key = path.to_string_lossy();
            let got: Vec<(String, u32)> = report
                .files
                .iter()
                .filter(|f| f.path == key)
                .flat_map(|f| &f.findings)
                .map(|f| (f.rule.clone(), f.span.start.line))
                .collect();
            if let Some((rule, line)) = &expected
                && !got.iter().any(|(r, l)| r == rule && l == line)
            {
                failures.push(format!("{key}: no {rule} at line {line}; got {got:?}"));
            }
            let stray: Vec<_> = got
                .iter()
                .filter(|(r, _)| expected.as_ref().is_none_or(|(e, _)| e != r) && !also.contains(r))
                .collect();
            if !stray.is_empty() {
                failures.push(format!("{key}: unexpected findings {stray:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn risk_of(files: &[&str]) -> String {
    let inputs: Vec<ReviewInput> = files
        .iter()
        .map(|f| input(&fixtures().join(f), FileChange::Added))
        .collect();
    run(&inputs, Dialect::Postgres)
        .risk
        .level
        .as_str()
        .to_string()
}

#[test]
fn a_foreign_key_to_an_existing_table_is_not_low_risk() {
    assert_eq!(risk_of(&["fk-lock-referenced-table.sql"]), "medium");
    // Referencing a table created by the same change locks nothing in use.
    let dir = tempfile::tempdir().unwrap();
    let orders = dir.path().join("001_orders.sql");
    std::fs::write(&orders, "CREATE TABLE orders (id bigint PRIMARY KEY);\n").unwrap();
    let notes = dir.path().join("002_notes.sql");
    std::fs::copy(fixtures().join("fk-lock-referenced-table.sql"), &notes).unwrap();
    let report = run(
        &[
            input(&orders, FileChange::Added),
            input(&notes, FileChange::Added),
        ],
        Dialect::Postgres,
    );
    assert_eq!(report.risk.level.as_str(), "low", "{:?}", report.risk);
}

#[test]
fn other_databases_syntax_and_joined_statements_are_high_risk() {
    for f in [
        "parse-error-sqlite.sql",
        "parse-error-mysql-syntax.sql",
        "transaction-nesting-trigger-body.sql",
        "missing-semicolon.sql",
    ] {
        assert_eq!(risk_of(&[f]), "high", "{f}");
    }
    // A plain syntax error keeps its keyword classification.
    assert_eq!(risk_of(&["parse-error.sql"]), "low");
}
