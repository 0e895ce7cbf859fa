//! The crash the issue demands: a real `bytegate serve` process is killed
//! (SIGKILL) between the two statements of a `CREATE INDEX CONCURRENTLY`
//! file. On restart the target is dirty: its history row was started and
//! never finished, the retried rollout is refused and the PR names the file
//! and the statement; `bytegate repair` records the operator's decision and
//! the next deploy proceeds. Real PostgreSQL (meta and target), fake GitHub.

mod support;

use bytegate::flow::rollout::DEPLOY_COMMENT_MARKER;
use bytegate::store::testdb::TestDb;
use sqlx::PgPool;
use std::process::Command;
use support::fake_github::FakeGithub;
use support::serve::{
    Serve, comment_event, deliver, deploy_sessions, merged_event, open_and_review, poll,
};
use support::{REPO, app_auth, config_yaml};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "5555555555555555555555555555555555555555";
const PR: u64 = 2;
const MIGRATION: &str = "schema/migrations/001_indexes.sql";
const SQL: &str = "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\nCREATE INDEX CONCURRENTLY accounts_owner_idx ON accounts (owner);\n";

fn deploy_comment(github: &FakeGithub) -> Option<String> {
    github
        .comments(REPO, PR)
        .into_iter()
        .find(|c| c.body.starts_with(DEPLOY_COMMENT_MARKER))
        .map(|c| c.body)
}

/// (finished, success, statements_applied, repair) of each history row of version 1.
async fn attempts(target: &PgPool) -> Vec<(bool, bool, i32, Option<String>)> {
    sqlx::query_as(
        "SELECT finished_at IS NOT NULL, success, statements_applied, repair
         FROM bytegate.migration_history WHERE version = '1' ORDER BY id",
    )
    .fetch_all(target)
    .await
    .unwrap()
}

async fn stage_state(meta: &PgPool) -> String {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT state FROM rollout_stages WHERE environment = 'development'")
            .fetch_optional(meta)
            .await
            .unwrap();
    row.map(|r| r.0).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_between_two_concurrently_statements_leaves_the_target_dirty_on_restart() {
    let github = FakeGithub::start().await;
    let meta = TestDb::migrated().await.unwrap();
    let target = TestDb::empty().await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text);
         CREATE TABLE accounts (id bigint PRIMARY KEY, owner text);",
    )
    .execute(&target.pool)
    .await
    .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    // No lock_timeout: statement 2 waits for the test's lock as long as it is held.
    // A short job lease: the restarted process reclaims the killed one's job.
    let extra = format!(
        "server:\n  workers: 1\n  job_lease: 2s\nroles:\n  dba:\n    users: [dana]\nenvironments:\n  - name: development\n    databases:\n      - name: app\n        engine: postgres\n        url: \"{}\"\n  - name: production\n    approvals: 1\n    roles: [dba]\n",
        target.url()
    );
    let config = tmp.path().join("bytegate.yaml");
    std::fs::write(&config, config_yaml(&github.url, &app_auth(), &extra)).unwrap();
    let data = tmp.path().join("data");

    github.set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    github.put_file(REPO, HEAD, MIGRATION, SQL);
    github.put_file(REPO, MERGE, MIGRATION, SQL);
    github.set_permission(REPO, "dana", "write");

    let mut first = Serve::start(&config, &data, &meta.url());
    first.wait_healthy().await;
    // Reviewed, then merged.
    open_and_review(&github, &first.webhook_url(), PR, HEAD).await;

    // The test holds a lock statement 2 needs.
    let mut blocker = target.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    deliver(
        &first.webhook_url(),
        "pull_request",
        "d-merge",
        &merged_event(PR, HEAD, MERGE),
    )
    .await;
    poll("statement 2 to wait for the test's lock", || async {
        deploy_sessions(
            &target.pool,
            Some("CREATE INDEX CONCURRENTLY accounts_owner_idx"),
        )
        .await
            > 0
    })
    .await;

    first.kill();
    blocker.rollback().await.unwrap();
    // The killed process's backend finishes its statement, then sees the
    // closed connection and goes (releasing the target's advisory lock).
    poll("the killed deploy's session to end", || async {
        deploy_sessions(&target.pool, None).await == 0
    })
    .await;
    assert_eq!(
        attempts(&target.pool).await,
        [(false, false, 1, None)],
        "a started history row, never finished, statement 1 completed"
    );
    assert!(
        deploy_comment(&github).is_none_or(|b| !b.contains("dirty")),
        "nothing said dirty before the restart"
    );

    // Restart: the queue reclaims the merge job and drives the rollout again.
    let mut second = Serve::start(&config, &data, &meta.url());
    second.wait_healthy().await;
    poll("the deploy comment to report the dirty target", || async {
        deploy_comment(&github).is_some_and(|b| b.contains("dirty"))
            && stage_state(&meta.pool).await == "failed"
    })
    .await;
    let body = deploy_comment(&github).unwrap_or_default();
    assert!(body.contains(MIGRATION), "names the file: {body}");
    assert!(
        body.contains("statement 2"),
        "names the statement reached: {body}"
    );
    assert!(
        body.contains("bytegate repair"),
        "says how to repair: {body}"
    );
    assert!(body.contains("❌ failed"), "{body}");
    assert_eq!(
        attempts(&target.pool).await,
        [(false, false, 1, None)],
        "the retry ran nothing: still the one unfinished row"
    );
    let dev: Vec<_> = github
        .deployments()
        .into_iter()
        .filter(|d| d.environment == "development")
        .collect();
    assert_eq!(
        dev.last()
            .and_then(|d| d.statuses.last())
            .map(String::as_str),
        Some("failure"),
        "{dev:?}"
    );

    // The operator checked both indexes and records the file as applied.
    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["repair", "--config"])
        .arg(&config)
        .args([
            "development",
            "app",
            "--version",
            "1",
            "--decision",
            "applied",
            "--reason",
            "both indexes checked valid",
            "--actor",
            "olga",
        ])
        .env("PG_URL", meta.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "repair failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        attempts(&target.pool).await,
        [
            (false, false, 1, None),
            (true, true, 1, Some("applied".to_string()))
        ]
    );
    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_log WHERE action = 'target.repaired' AND actor = 'olga'
           AND environment = 'development' AND detail->>'version' = '1'
           AND detail->>'decision' = 'applied'",
    )
    .fetch_one(&meta.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1, "the repair is in the audit trail");

    // A deploy command now gets through: the stage succeeds with nothing left to apply.
    deliver(
        &second.webhook_url(),
        "issue_comment",
        "d-deploy",
        &comment_event(&github, PR, "dana", "/bytebase deploy development"),
    )
    .await;
    poll(
        "the development stage to succeed after the repair",
        || async { stage_state(&meta.pool).await == "succeeded" },
    )
    .await;
    poll("the deploy comment to show the stage deployed", || async {
        deploy_comment(&github).is_some_and(|b| b.contains("✅ deployed"))
    })
    .await;
    assert_eq!(attempts(&target.pool).await.len(), 2, "nothing re-ran");
}
