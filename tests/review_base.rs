//! `bytegate review --base REF` and `--history` in a real git repository: the
//! files changed since the merge base are the change, the older migrations are
//! history that tells the rules which tables already exist.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A throwaway repository with a `main` branch.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "ci@example.com"]);
        repo.git(&["config", "user.name", "CI"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// `bytegate review ARGS` in the repository: (exit code, JSON report, stderr).
    fn review(&self, args: &[&str]) -> (i32, Value, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
            .arg("review")
            .args(["--format", "json"])
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run bytegate");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
        (out.status.code().unwrap_or(-1), json, stderr)
    }
}

const CREATE: &str = "CREATE TABLE orders (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    note text\n);\n";

/// (path, rule) of every finding.
fn findings(report: &Value) -> Vec<(String, String)> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["findings"].as_array().unwrap().iter().map(move |x| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    x["rule"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect()
}

fn paths(report: &Value) -> Vec<String> {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

/// A repository whose main has the table, and a feature branch on top.
fn repo_with_history() -> Repo {
    let repo = Repo::new();
    repo.write("db/migrations/001_create_orders.sql", CREATE);
    repo.commit("orders");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

#[test]
fn a_new_drop_table_of_a_table_from_an_older_file_fails_with_base() {
    let repo = repo_with_history();
    repo.write("db/migrations/002_drop_orders.sql", "DROP TABLE orders;\n");
    repo.commit("drop");

    let (code, report, stderr) = repo.review(&["--base", "main", "db/migrations"]);
    assert_eq!(code, 1, "{report}\n{stderr}");
    assert!(
        findings(&report).contains(&(
            "db/migrations/002_drop_orders.sql".to_string(),
            "drop-table".to_string()
        )),
        "{report}"
    );
    // History builds the model and is not reported.
    assert_eq!(paths(&report), ["db/migrations/002_drop_orders.sql"]);
    assert_eq!(report["risk"]["level"], "high");

    // The old way (every file new) says nothing: the table was "created here".
    let (code, report, _) = repo.review(&["db/migrations"]);
    assert_eq!(code, 0, "{report}");
    assert!(findings(&report).iter().all(|(_, r)| r != "drop-table"));
}

#[test]
fn lock_rules_fire_on_tables_from_history_and_exit_follows_only_the_change() {
    let repo = repo_with_history();
    // Main's file has a finding of its own (a table without a primary key):
    // history never fails the run.
    repo.write(
        "db/migrations/000_audit.sql",
        "CREATE TABLE audit (at timestamptz);\n",
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.write(
        "db/migrations/000_audit.sql",
        "CREATE TABLE audit (at timestamptz);\n",
    );
    repo.commit("audit");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&["merge", "-q", "main"]);
    repo.write(
        "db/migrations/003_slim.sql",
        "ALTER TABLE orders DROP COLUMN note;\nCREATE INDEX orders_id ON orders (id);\n",
    );
    // Uncommitted and untracked: still the change.
    let (code, report, stderr) = repo.review(&["--base", "main", "db/migrations"]);
    assert_eq!(code, 1, "{report}\n{stderr}");
    let got = findings(&report);
    for rule in ["drop-column", "create-index-concurrently"] {
        assert!(
            got.contains(&("db/migrations/003_slim.sql".to_string(), rule.to_string())),
            "{rule}: {got:?}"
        );
    }
    assert!(
        got.iter().all(|(p, _)| p == "db/migrations/003_slim.sql"),
        "{got:?}"
    );

    // A change with nothing wrong exits 0 although history has an error.
    std::fs::remove_file(repo.path().join("db/migrations/003_slim.sql")).unwrap();
    repo.write(
        "db/migrations/003_index.sql",
        "CREATE INDEX CONCURRENTLY orders_id ON orders (id);\n",
    );
    let (code, report, stderr) = repo.review(&["--base", "main", "db/migrations"]);
    assert_eq!(code, 0, "{report}\n{stderr}");
    assert_eq!(paths(&report), ["db/migrations/003_index.sql"]);
}

#[test]
fn explicit_history_paths_build_the_model_without_git() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("applied");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("001_create_orders.sql"), CREATE).unwrap();
    let new: PathBuf = dir.path().join("002_drop_column.sql");
    std::fs::write(&new, "ALTER TABLE orders DROP COLUMN note;\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["review", "--format", "json"])
        .arg(&new)
        .arg("--history")
        .arg(&old)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    let rules: Vec<String> = findings(&report).into_iter().map(|(_, r)| r).collect();
    assert!(rules.contains(&"drop-column".to_string()), "{rules:?}");
    assert_eq!(report["files"].as_array().unwrap().len(), 1);
}

#[test]
fn edited_and_deleted_migrations_are_the_change_too() {
    let repo = repo_with_history();
    repo.write(
        "db/migrations/002_more.sql",
        "CREATE TABLE more (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);\n",
    );
    repo.git(&["checkout", "-q", "main"]);
    repo.write(
        "db/migrations/002_more.sql",
        "CREATE TABLE more (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);\n",
    );
    repo.commit("more");
    repo.git(&["checkout", "-q", "feature"]);
    repo.git(&["merge", "-q", "main"]);
    std::fs::remove_file(repo.path().join("db/migrations/002_more.sql")).unwrap();
    repo.write(
        "db/migrations/001_create_orders.sql",
        &format!("{CREATE}-- edited\n"),
    );
    let (code, report, stderr) = repo.review(&["--base", "main", "db/migrations"]);
    assert_eq!(code, 1, "{report}\n{stderr}");
    let got = findings(&report);
    for path in [
        "db/migrations/001_create_orders.sql",
        "db/migrations/002_more.sql",
    ] {
        assert!(
            got.contains(&(path.to_string(), "migration-edited".to_string())),
            "{path}: {got:?}"
        );
    }
}

#[test]
fn an_unknown_base_or_a_folder_outside_git_exits_2() {
    let repo = repo_with_history();
    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["review", "--base", "no-such-branch", "db/migrations"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--base") && stderr.contains("merge-base"),
        "{stderr}"
    );
}

#[test]
fn the_repositorys_suffix_mapping_picks_the_postgres_half_of_pairs() {
    let repo = Repo::new();
    repo.write(
        ".bytegate.yaml",
        "migration_suffixes:\n  .sql.postgres: postgres\n  .sql.sqlite: ignore\n",
    );
    repo.write("db/001_orders.sql.postgres", CREATE);
    repo.write(
        "db/001_orders.sql.sqlite",
        "CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT);\n",
    );
    repo.commit("pairs");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.write("db/002_drop.sql.postgres", "DROP TABLE orders;\n");
    repo.write("db/002_drop.sql.sqlite", "DROP TABLE orders;\n");
    let (code, report, stderr) = repo.review(&["--base", "main", "db"]);
    assert_eq!(code, 1, "{report}\n{stderr}");
    assert_eq!(paths(&report), ["db/002_drop.sql.postgres"]);
    assert!(
        findings(&report).contains(&(
            "db/002_drop.sql.postgres".to_string(),
            "drop-table".to_string()
        )),
        "{report}"
    );
}

#[test]
fn the_configs_suffix_mapping_and_the_gitlab_format_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("bytegate.yaml"),
        "project:\n  key: T\n  name: t\n  migration_suffixes:\n    .sql.postgres: postgres\n    .sql.sqlite: ignore\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("db")).unwrap();
    std::fs::write(root.join("db/001_a.sql.postgres"), CREATE).unwrap();
    std::fs::write(
        root.join("db/002_b.sql.postgres"),
        "ALTER TABLE orders DROP COLUMN note;\n",
    )
    .unwrap();
    std::fs::write(
        root.join("db/002_b.sql.sqlite"),
        "garbage that is not SQL\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args([
            "review",
            "--format",
            "gitlab",
            "--config",
            "bytegate.yaml",
            "db/002_b.sql.postgres",
        ])
        .args(["--history", "db"])
        .current_dir(root)
        .output()
        .unwrap();
    let issues: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(1), "{issues}");
    let issues = issues.as_array().unwrap();
    let drop = issues
        .iter()
        .find(|i| i["check_name"] == "drop-column")
        .unwrap_or_else(|| panic!("{issues:?}"));
    assert_eq!(drop["location"]["path"], "db/002_b.sql.postgres");
    assert_eq!(drop["location"]["lines"]["begin"], 1);
    assert_eq!(drop["severity"], "major");
    assert_eq!(drop["fingerprint"].as_str().unwrap().len(), 64);
    assert!(drop["description"].as_str().unwrap().contains("note"));
    // Only the change is reported; history (the .sql.postgres files of db/) built the model.
    assert!(
        issues
            .iter()
            .all(|i| i["location"]["path"] == "db/002_b.sql.postgres")
    );
}
