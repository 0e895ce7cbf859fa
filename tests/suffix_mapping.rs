//! A repository that keeps `*.sql.postgres` / `*.sql.sqlite` pairs, through the
//! GitHub pull-request flow: its `.bytegate.yaml` maps the suffixes, the
//! PostgreSQL half is reviewed, the SQLite half is never read, and a file
//! pinned to another engine than the environments' fails the check.

mod support;

use serde_json::Value;
use support::{Harness, REPO, base_sha, pr_payload, pull_request_event};

const SHA_A: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const PR: u64 = 2;
const PG: &str = "schema/migrations/002_drop_users.sql.postgres";
const LITE: &str = "schema/migrations/002_drop_users.sql.sqlite";
const MY: &str = "schema/migrations/003_more.sql.mysql";

#[tokio::test]
async fn the_base_commits_suffix_mapping_picks_what_is_reviewed() {
    let h = Harness::app().await;
    h.github.put_file(
        REPO,
        &base_sha(),
        ".bytegate.yaml",
        "migration_suffixes:\n  .sql.postgres: postgres\n  .sql.sqlite: ignore\n  .sql.mysql: mysql\n",
    );
    h.github.set_pr_files(
        REPO,
        PR,
        &[
            (PG, "added", None),
            (LITE, "added", None),
            (MY, "added", None),
        ],
    );
    h.github.put_file(REPO, SHA_A, PG, "DROP TABLE users;\n");
    h.github.put_file(
        REPO,
        SHA_A,
        LITE,
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT);\n",
    );
    h.github.put_file(
        REPO,
        SHA_A,
        MY,
        "CREATE TABLE m (id BIGINT UNSIGNED PRIMARY KEY);\n",
    );

    h.handle(&pull_request_event(&pr_payload(
        "pull_request.opened",
        SHA_A,
        "2019-05-15T15:20:33Z",
    )))
    .await
    .unwrap();

    let runs = h.github.sql_review_runs_on(SHA_A);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
    let a: &Vec<Value> = &runs[0].annotations;
    let on = |path: &str, title: &str| a.iter().any(|x| x["path"] == path && x["title"] == title);
    assert!(on(PG, "no-drop-table"), "{a:#?}");
    assert!(on(MY, "dialect-mismatch"), "{a:#?}");
    assert!(a.iter().all(|x| x["path"] != LITE), "{a:#?}");
    let reads: Vec<String> = h
        .github
        .requests_of("repos/get-content")
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        reads.iter().all(|p| !p.contains(".sql.sqlite")),
        "{reads:?}"
    );
    h.github.assert_clean();
}
