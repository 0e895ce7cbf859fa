//! The crash the issue demands: a real `bytegate serve` process is killed
//! (SIGKILL) between the two statements of a `CREATE INDEX CONCURRENTLY`
//! file. On restart the target is dirty: its history row was started and
//! never finished, the retried rollout is refused and the PR names the file
//! and the statement; `bytegate repair` records the operator's decision and
//! the next deploy proceeds. Real PostgreSQL (meta and target), fake GitHub.

mod support;

use bytegate::flow::rollout::DEPLOY_COMMENT_MARKER;
use bytegate::store::embedded::free_port;
use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use sqlx::PgPool;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::fake_github::FakeGithub;
use support::{REPO, app_auth, config_yaml, payload, pr_payload};

const SECRET: &str = "It's a Secret to Everybody";
const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "5555555555555555555555555555555555555555";
const AT: &str = "2019-05-15T15:20:33Z";
const PR: u64 = 2;
const MIGRATION: &str = "schema/migrations/001_indexes.sql";
const SQL: &str = "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\nCREATE INDEX CONCURRENTLY accounts_owner_idx ON accounts (owner);\n";
/// How long any awaited state may take before the test fails (never a wait in itself).
const PATIENCE: Duration = Duration::from_secs(90);

/// A `bytegate serve` child, SIGKILLed when dropped (a failing test leaves no process).
struct Serve {
    child: Option<Child>,
    port: u16,
}

impl Serve {
    fn start(config: &Path, data: &Path, meta_url: &str) -> Serve {
        let port = free_port().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bytegate"))
            .args(["serve", "--config"])
            .arg(config)
            .args(["--bind", "127.0.0.1"])
            .env("BB_PORT", port.to_string())
            .env("BYTEBASE_DATA_DIR", data)
            .env("PG_URL", meta_url)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Serve {
            child: Some(child),
            port,
        }
    }

    fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhooks/github", self.port)
    }

    async fn wait_healthy(&mut self) {
        let url = format!("http://127.0.0.1:{}/health", self.port);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if matches!(reqwest::get(&url).await, Ok(r) if r.status() == 200) {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("bytegate serve exited with {status}");
            }
            assert!(Instant::now() < deadline, "bytegate did not become healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The crash: no shutdown, no cleanup.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already gone (it failed to start): nothing to kill.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = child.wait();
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` until it holds; fails the test after [`PATIENCE`].
async fn poll<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliver(url: &str, event: &str, id: &str, body: &serde_json::Value) {
    let body = serde_json::to_vec(body).unwrap();
    let status = reqwest::Client::new()
        .post(url)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sign_github(SECRET.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(status, 202, "delivery {id} not accepted");
}

fn merged_payload() -> serde_json::Value {
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = MERGE.into();
    p
}

/// `/bytebase deploy ENV` by `user` on the PR, as GitHub delivers it.
fn deploy_comment_payload(github: &FakeGithub, user: &str, env: &str) -> serde_json::Value {
    let body = format!("/bytebase deploy {env}");
    let id = github.add_comment(REPO, PR, user, &body);
    let pr = pr_payload("pull_request.opened", HEAD, AT);
    let mut p = payload("issue_comment.created");
    p["issue"]["number"] = PR.into();
    p["issue"]["pull_request"] =
        serde_json::json!({"url": format!("https://api.github.com/repos/{REPO}/pulls/{PR}")});
    p["comment"]["id"] = id.into();
    p["comment"]["body"] = body.into();
    p["comment"]["user"]["login"] = user.into();
    p["sender"]["login"] = user.into();
    p["repository"] = pr["repository"].clone();
    p["installation"] = pr["installation"].clone();
    p
}

fn deploy_comment(github: &FakeGithub) -> Option<String> {
    github
        .comments(REPO, PR)
        .into_iter()
        .find(|c| c.body.starts_with(DEPLOY_COMMENT_MARKER))
        .map(|c| c.body)
}

/// Sessions of bytegate's deploy executor on the target, waiting for a lock
/// while running `query_prefix`.
async fn deploy_sessions(target: &PgPool, waiting_on: Option<&str>) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'bytegate-deploy'
           AND ($1::text IS NULL OR (wait_event_type = 'Lock' AND query LIKE $1 || '%'))",
    )
    .bind(waiting_on)
    .fetch_one(target)
    .await
    .unwrap();
    n
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
    deliver(
        &first.webhook_url(),
        "pull_request",
        "d-open",
        &pr_payload("pull_request.opened", HEAD, AT),
    )
    .await;
    poll("the review check run", || async {
        github
            .sql_review_runs_on(HEAD)
            .iter()
            .any(|r| r.status == "completed")
    })
    .await;

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
        &merged_payload(),
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
        &deploy_comment_payload(&github, "dana", "development"),
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
