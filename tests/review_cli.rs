//! `bytegate review` end to end: the built binary on the fixtures under
//! fixtures/review (one per rule, a clean file, the seed guide's examples),
//! exit statuses, and the four output formats.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Runs `bytegate review ARGS...`; returns (exit code, stdout, stderr).
fn review(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .arg("review")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run bytegate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn review_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = review(&all);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (code, json)
}

/// (rule, line) of every finding in a one-file report.
fn findings(report: &Value) -> Vec<(String, u64)> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap().iter())
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The `-- expect: RULE line N [also: A, B]` header of a rule fixture.
struct Expect {
    rule: Option<(String, u64)>,
    also: BTreeSet<String>,
}

fn expectation(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let header = text.lines().next().unwrap_or("");
    let rest = header
        .strip_prefix("-- expect: ")
        .unwrap_or_else(|| panic!("{}: no `-- expect:` header", path.display()));
    if rest.trim() == "nothing" {
        return Expect {
            rule: None,
            also: BTreeSet::new(),
        };
    }
    let (main, also) = rest.split_once(" also: ").unwrap_or((rest, ""));
    let mut words = main.split_whitespace();
    let rule = words.next().unwrap().to_string();
    assert_eq!(words.next(), Some("line"), "{}", path.display());
    let line = words.next().unwrap().parse().unwrap();
    let also = also
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    Expect {
        rule: Some((rule, line)),
        also,
    }
}

fn rule_fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

fn check_fixtures(dir: &Path, dialect: &str) {
    let mut failures = Vec::new();
    for path in rule_fixtures(dir) {
        let expect = expectation(&path);
        let (code, report) = review_json(&["--dialect", dialect, path.to_str().unwrap()]);
        let got = findings(&report);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match &expect.rule {
            None => {
                if !got.is_empty() || code != 0 {
                    failures.push(format!(
                        "{name}: expected nothing, got {got:?} (exit {code})"
                    ));
                }
            }
            Some((rule, line)) => {
                if !got.iter().any(|(r, l)| r == rule && l == line) {
                    failures.push(format!("{name}: no {rule} at line {line}; got {got:?}"));
                }
                let stray: Vec<_> = got
                    .iter()
                    .filter(|(r, _)| r != rule && !expect.also.contains(r))
                    .collect();
                if !stray.is_empty() {
                    failures.push(format!("{name}: unexpected findings {stray:?}"));
                }
                let has_error = report["summary"]["errors"].as_u64().unwrap() > 0;
                if code != i32::from(has_error) {
                    failures.push(format!("{name}: exit {code} with errors={has_error}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_postgres_rule_fixture_shows_its_finding_at_its_line() {
    check_fixtures(&fixtures().join("review"), "postgres");
}

#[test]
fn every_mysql_rule_fixture_shows_its_finding_at_its_line() {
    check_fixtures(&fixtures().join("review/mysql"), "mysql");
}

#[test]
fn clean_file_prints_nothing_but_the_summary_and_exits_0() {
    let (code, stdout, stderr) = review(&["fixtures/review/clean.sql"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "risk: low\n1 file, 5 statements: 0 errors, 0 warnings, 0 infos, 0 suppressed\n"
    );
}

#[test]
fn error_findings_exit_1_with_file_line_and_hint_in_text() {
    let (code, stdout, _) = review(&["fixtures/review/drop-table.sql"]);
    assert_eq!(code, 1);
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("fixtures/review/drop-table.sql:3:")
            && first.contains(": error [drop-table] "),
        "{stdout}"
    );
    assert!(stdout.contains("\n  why: "), "{stdout}");
    assert!(stdout.contains("\n  instead: "), "{stdout}");
    assert!(stdout.contains("risk: high"), "{stdout}");
}

#[test]
fn bad_arguments_and_unreadable_paths_exit_2_with_a_message() {
    let (code, _, stderr) = review(&["fixtures/review/does-not-exist.sql"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("does-not-exist.sql"), "{stderr}");

    let (code, _, stderr) = review(&["--format", "xml", "fixtures/review/clean.sql"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("xml"), "{stderr}");

    let (code, _, stderr) = review(&["--dialect", "oracle", "fixtures/review/clean.sql"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("oracle"), "{stderr}");

    let (code, _, _) = review(&[]);
    assert_eq!(code, 2);
}

#[test]
fn a_bad_config_or_unknown_environment_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "project:\n  key: X\n  name: x\n  nonsense: 1\n").unwrap();
    let (code, _, stderr) = review(&[
        "--config",
        bad.to_str().unwrap(),
        "fixtures/review/clean.sql",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nonsense"), "{stderr}");

    let (code, _, stderr) = review(&[
        "--config",
        "fixtures/config/bytegate.yaml",
        "--env",
        "qa",
        "fixtures/review/clean.sql",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("qa"), "{stderr}");
}

#[test]
fn a_folder_is_reviewed_in_version_order() {
    let (_, report) = review_json(&["fixtures/review/seed"]);
    let paths: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "fixtures/review/seed/001_user_preferences.sql",
            "fixtures/review/seed/002_truncate.sql",
            "fixtures/review/seed/003_delete_all.sql",
            "fixtures/review/seed/004_delete_where.sql",
        ]
    );
}

fn seed(env: &str, file: &str) -> (i32, Value) {
    review_json(&[
        "--config",
        "fixtures/config/bytegate.yaml",
        "--env",
        env,
        &format!("fixtures/review/seed/{file}"),
    ])
}

fn rules_of(report: &Value) -> BTreeSet<String> {
    findings(report).into_iter().map(|(r, _)| r).collect()
}

#[test]
fn seed_user_preferences_is_low_risk_in_development_and_high_in_production() {
    let (code, dev) = seed("development", "001_user_preferences.sql");
    assert_eq!(code, 0, "{dev}");
    assert_eq!(dev["risk"]["level"], "low");
    // The guide's table is accepted (it has a key, its index is on a new table);
    // the type advice is warnings/infos only.
    let rules = rules_of(&dev);
    for blocking in [
        "table-require-pk",
        "create-index-concurrently",
        "pk-no-null",
    ] {
        assert!(!rules.contains(blocking), "{rules:?}");
    }
    let (_, prod) = seed("production", "001_user_preferences.sql");
    assert_eq!(prod["risk"]["level"], "high");
    assert_eq!(prod["risk"]["reasons"][0]["rule"], "production-ddl");
}

#[test]
fn seed_truncate_is_an_error_in_production_only_by_the_custom_rule() {
    let (code, prod) = seed("production", "002_truncate.sql");
    assert_eq!(code, 1);
    assert!(rules_of(&prod).contains("no_truncate_in_prod"), "{prod}");
    assert_eq!(prod["risk"]["level"], "high");

    let (_, dev) = seed("development", "002_truncate.sql");
    assert!(!rules_of(&dev).contains("no_truncate_in_prod"), "{dev}");
    assert!(rules_of(&dev).contains("truncate"), "{dev}");
    assert_eq!(dev["risk"]["level"], "high");
}

#[test]
fn seed_delete_without_where_is_high_risk_and_with_where_medium() {
    let (code, all) = seed("development", "003_delete_all.sql");
    assert_eq!(code, 1);
    let rules = rules_of(&all);
    assert!(rules.contains("dml-require-where"), "{all}");
    assert!(rules.contains("require_soft_delete"), "{all}");
    assert_eq!(all["risk"]["level"], "high");
    assert_eq!(all["risk"]["reasons"][0]["rule"], "dml-without-where");
    assert_eq!(all["risk"]["reasons"][0]["line"], 1);

    let (code, one) = seed("development", "004_delete_where.sql");
    assert_eq!(code, 0, "{one}");
    assert_eq!(
        rules_of(&one),
        BTreeSet::from(["require_soft_delete".to_string()])
    );
    assert_eq!(one["risk"]["level"], "medium");
}

#[test]
fn sarif_and_github_formats_render_the_same_findings() {
    let (_, json) = review_json(&["fixtures/review/drop-column.sql"]);
    let (_, sarif, _) = review(&["--format", "sarif", "fixtures/review/drop-column.sql"]);
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), findings(&json).len());
    assert_eq!(results[0]["ruleId"], "drop-column");
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );

    let (code, github, _) = review(&["--format", "github", "fixtures/review/drop-column.sql"]);
    assert_eq!(code, 1);
    assert!(
        github.starts_with("::error file=fixtures/review/drop-column.sql,line=3,"),
        "{github}"
    );
}

#[test]
fn non_utf8_and_garbage_input_is_reviewed_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("001_bad.sql");
    std::fs::write(
        &file,
        b"CREATE TABLE t (id bigint PRIMARY KEY, n text DEFAULT '\xff\xfe');\n$$ unterminated",
    )
    .unwrap();
    let (code, report) = review_json(&[file.to_str().unwrap()]);
    assert!(code == 0 || code == 1, "exit {code}");
    assert_eq!(report["files"].as_array().unwrap().len(), 1);
}

/// The four formats over the seed fixture set, reviewed for production with
/// the example config: what people, tools, code scanning and Actions see.
#[test]
fn snapshots_of_the_four_formats_over_the_seed_fixtures() {
    for format in ["text", "json", "sarif", "github"] {
        let (code, stdout, stderr) = review(&[
            "--config",
            "fixtures/config/bytegate.yaml",
            "--env",
            "production",
            "--format",
            format,
            "fixtures/review/seed",
        ]);
        assert_eq!(code, 1, "{stderr}");
        insta::assert_snapshot!(format!("seed_production_{format}"), stdout);
    }
}

/// A file above the cap is not parsed: one `file-too-large` error on line 1,
/// no statements, high risk, exit 1; at or under the cap it is reviewed as usual.
#[test]
fn a_file_above_max_file_bytes_gets_only_the_file_too_large_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("001_big.sql");
    let sql = "CREATE TABLE t (id bigint PRIMARY KEY);\n";
    std::fs::write(&file, sql).unwrap();
    let path = file.to_str().unwrap();
    let under = (sql.len()).to_string();
    let over = (sql.len() - 1).to_string();

    let (code, report) = review_json(&["--max-file-bytes", &over, path]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report), [("file-too-large".to_string(), 1)]);
    let f = &report["files"][0]["findings"][0];
    assert_eq!(f["severity"], "error");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("will not be deployed"),
        "{f}"
    );
    assert_eq!(report["files"][0]["statements"], 0);
    assert_eq!(report["risk"]["level"], "high");
    assert_eq!(report["risk"]["reasons"][0]["rule"], "file-too-large");

    let (code, report) = review_json(&["--max-file-bytes", &under, path]);
    assert_eq!(code, 0, "{report}");
    assert!(findings(&report).is_empty(), "{report}");
    assert_eq!(report["files"][0]["statements"], 1);
}

/// The config's `review.max_file_bytes` is the CLI's cap; `--max-file-bytes` overrides it.
#[test]
fn the_config_sets_the_cap_and_the_flag_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bytegate.yaml");
    std::fs::write(
        &cfg,
        "project:\n  key: T\n  name: t\nreview:\n  max_file_bytes: 16\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let clean = "fixtures/review/clean.sql";
    let (code, report) = review_json(&["--config", cfg, clean]);
    assert_eq!(code, 1);
    assert_eq!(findings(&report), [("file-too-large".to_string(), 1)]);

    let (code, report) = review_json(&["--config", cfg, "--max-file-bytes", "1000000", clean]);
    assert_eq!(code, 0, "{report}");
    assert!(findings(&report).is_empty(), "{report}");
}
