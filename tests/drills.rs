//! Issue 11 item 12, fault drills: the process holding a deploy is SIGKILLed
//! and a second replica takes over; the target is unreachable during a stage;
//! the meta database restarts under live deliveries. (The forge answering 500s
//! is drilled in `github_end_to_end.rs`; a kill in the middle of a
//! non-transactional file in `crash_deploy.rs`.) Each drill checks the
//! databases and what the pull request shows.

mod support;

use bytegate::event::Event;
use bytegate::flow::rollout::DEPLOY_COMMENT_MARKER;
use bytegate::store::embedded::{Binaries, EmbeddedPostgres, free_port};
use bytegate::store::testdb::TestDb;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use std::os::unix::fs::PermissionsExt;
use std::str::FromStr;
use support::fake_github::{BOT_LOGIN, FakeGithub};
use support::serve::{
    Serve, comment_event, deliver, deploy_sessions, merged_event, open_and_review, poll, post,
    pr_event,
};
use support::{Harness, REPO, TWO_ENVIRONMENTS, app_auth, config_yaml};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "5555555555555555555555555555555555555555";
const PR: u64 = 2;
const REVIEW_MARKER: &str = "<!-- bytegate:sql-review -->";

/// The typed event a GitHub delivery becomes (the webhook layer's parser).
fn event(kind: &str, payload: &serde_json::Value) -> Event {
    bytegate::webhook::github::parse(kind, payload)
        .expect("a delivery the parser knows")
        .event
        .expect("an event the flow acts on")
}

fn bot_comments(github: &FakeGithub, number: u64, marker: &str) -> Vec<String> {
    github
        .comments(REPO, number)
        .into_iter()
        .filter(|c| c.author == BOT_LOGIN && c.body.starts_with(marker))
        .map(|c| c.body)
        .collect()
}

fn deploy_comment(github: &FakeGithub) -> String {
    let all = bot_comments(github, PR, DEPLOY_COMMENT_MARKER);
    assert!(all.len() <= 1, "one sticky deploy comment: {all:#?}");
    all.into_iter().next().unwrap_or_default()
}

/// (version, success, statements_applied) of every history row of a target.
async fn history(target: &PgPool) -> Vec<(String, bool, i32)> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT to_regclass('bytegate.migration_history') IS NOT NULL")
            .fetch_one(target)
            .await
            .unwrap();
    if !exists {
        return Vec::new();
    }
    sqlx::query_as(
        "SELECT version, success, statements_applied FROM bytegate.migration_history ORDER BY id",
    )
    .fetch_all(target)
    .await
    .unwrap()
}

/// (state, waiting_for, error) of the development stage.
async fn dev_stage(meta: &PgPool) -> Option<(String, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT state, waiting_for, error FROM rollout_stages WHERE environment = 'development'",
    )
    .fetch_optional(meta)
    .await
    .unwrap()
}

async fn audit_count(meta: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(meta)
        .await
        .unwrap()
}

/// A development environment deploying to `url` (production, without
/// databases, waits for a DBA), and `server` settings.
fn one_target(url: &str, server: &str) -> String {
    format!(
        "{server}roles:\n  dba:\n    users: [dana]\nenvironments:\n  - name: development\n    databases:\n      - name: app\n        engine: postgres\n        url: \"{url}\"\n  - name: production\n    approvals: 1\n    roles: [dba]\n"
    )
}

// ---------------------------------------------------------------------------
// a. SIGKILL of the replica holding a deploy
// ---------------------------------------------------------------------------

/// The process id in the `locked_by` (`host:pid:worker`) of the running job.
async fn holder_pid(meta: &PgPool) -> Option<u32> {
    let by: Option<String> =
        sqlx::query_scalar("SELECT locked_by FROM jobs WHERE state = 'running' LIMIT 1")
            .fetch_optional(meta)
            .await
            .unwrap()
            .flatten();
    by?.rsplit(':').nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_while_deploying_is_taken_over_by_another_and_applies_once() {
    let github = FakeGithub::start().await;
    let meta = TestDb::migrated().await.unwrap();
    let target = TestDb::empty().await.unwrap();
    sqlx::query("CREATE TABLE accounts (id bigint PRIMARY KEY)")
        .execute(&target.pool)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // A short lease: the surviving replica takes the dead one's job soon.
    let extra = one_target(&target.url(), "server:\n  workers: 1\n  job_lease: 2s\n");
    let config = tmp.path().join("bytegate.yaml");
    std::fs::write(&config, config_yaml(&github.url, &app_auth(), &extra)).unwrap();
    let migration = "schema/migrations/001_ledger.sql";
    // One transaction: a table, then a row in a table the test keeps locked.
    let sql =
        "CREATE TABLE ledger (id bigint PRIMARY KEY);\nINSERT INTO accounts (id) VALUES (1);\n";
    github.set_pr_files(REPO, PR, &[(migration, "added", None)]);
    github.put_file(REPO, HEAD, migration, sql);
    github.put_file(REPO, MERGE, migration, sql);

    let mut replicas = [
        Serve::start(&config, &tmp.path().join("a"), &meta.url()),
        Serve::start(&config, &tmp.path().join("b"), &meta.url()),
    ];
    for r in &mut replicas {
        r.wait_healthy().await;
    }
    open_and_review(&github, &replicas[0].webhook_url(), PR, HEAD).await;

    let mut blocker = target.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    deliver(
        &replicas[1].webhook_url(),
        "pull_request",
        "merge",
        &merged_event(PR, HEAD, MERGE),
    )
    .await;
    poll("the deploy to wait for the test's lock", || async {
        deploy_sessions(&target.pool, Some("INSERT INTO accounts")).await > 0
    })
    .await;
    let pid = holder_pid(&meta.pool)
        .await
        .expect("a replica holds the job");
    let dead = replicas
        .iter()
        .position(|r| r.pid() == Some(pid))
        .unwrap_or_else(|| panic!("the job's holder {pid} is not one of the replicas"));
    replicas[dead].kill();
    let alive = &replicas[1 - dead];
    blocker.rollback().await.unwrap();

    poll("the surviving replica to finish the deploy", || async {
        matches!(dev_stage(&meta.pool).await, Some((s, ..)) if s == "succeeded" || s == "failed")
    })
    .await;
    poll("the deploy comment to show the outcome", || async {
        deploy_comment(&github).contains("✅ deployed")
    })
    .await;
    assert_eq!(
        dev_stage(&meta.pool).await.map(|s| s.0).as_deref(),
        Some("succeeded")
    );
    // The killed transaction left nothing; the takeover applied the file once.
    assert_eq!(history(&target.pool).await, [("1".to_string(), true, 2)]);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&target.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the INSERT ran once");
    assert_eq!(audit_count(&meta.pool, "deploy.applied").await, 1);
    assert_eq!(audit_count(&meta.pool, "stage.succeeded").await, 1);
    // The job is marked done just after its handler published the comment.
    poll("the taken-over merge job to be marked done", || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM jobs WHERE state = 'done' AND attempts > 1",
        )
        .fetch_one(&meta.pool)
        .await
        .unwrap()
            > 0
    })
    .await;
    let holder: Option<String> = sqlx::query_scalar(
        "SELECT locked_by FROM jobs WHERE state = 'done' AND attempts > 1 ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(&meta.pool)
    .await
    .unwrap()
    .flatten();
    let alive_pid = alive.pid().unwrap().to_string();
    assert!(
        holder
            .as_deref()
            .is_some_and(|h| h.contains(&format!(":{alive_pid}:"))),
        "the merge job was finished by the other replica: {holder:?}"
    );
    let body = deploy_comment(&github);
    assert!(
        body.contains("| `development` | ✅ deployed |") && body.contains("1 migration(s) applied"),
        "{body}"
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
        Some("success"),
        "{dev:?}"
    );
    github.assert_clean();
}

// ---------------------------------------------------------------------------
// b. The target unreachable during a stage
// ---------------------------------------------------------------------------

/// A TCP gate in front of the test PostgreSQL: closed (connection refused)
/// until opened, then forwarding every connection.
struct Gate {
    port: u16,
    upstream: (String, u16),
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Gate {
    /// A closed gate to the server of `url`, and `url` rewritten to go through it.
    fn closed(url: &str) -> (Gate, String) {
        let opts = PgConnectOptions::from_str(url).unwrap();
        let (host, port) = (opts.get_host().to_string(), opts.get_port());
        let gate = free_port().unwrap();
        let through = url.replacen(&format!("{host}:{port}"), &format!("127.0.0.1:{gate}"), 1);
        assert_ne!(through, url, "the URL names no host:port to replace: {url}");
        let gate = Gate {
            port: gate,
            upstream: (host, port),
            task: None,
        };
        (gate, through)
    }

    async fn open(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap();
        let upstream = self.upstream.clone();
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        }));
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[tokio::test]
async fn an_unreachable_target_fails_the_stage_visibly_and_a_deploy_command_retries_it() {
    let target = TestDb::empty().await.unwrap();
    let (mut gate, through) = Gate::closed(&target.url());
    let h = Harness::app_with(&one_target(&through, "")).await;
    let migration = "schema/migrations/001_users.sql";
    h.github
        .set_pr_files(REPO, PR, &[(migration, "added", None)]);
    h.github
        .put_file(REPO, MERGE, migration, "CREATE TABLE users (id bigint);\n");
    h.github.set_permission(REPO, "dana", "write");

    let merged = event("pull_request", &merged_event(PR, HEAD, MERGE));
    h.handle(&merged).await.unwrap();
    // A failed stage, not one waiting for a retry nothing would start.
    let (state, _, error) = dev_stage(&h.db.pool).await.expect("a development stage");
    let error = error.unwrap_or_default();
    assert_eq!(state, "failed", "{error}");
    assert!(
        error.contains("app: cannot connect to the database"),
        "{error}"
    );
    let rollout: String = sqlx::query_scalar("SELECT state FROM rollouts")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(rollout, "failed");
    let body = deploy_comment(&h.github);
    assert!(
        body.contains("| `development` | ❌ failed |"),
        "the PR shows the failure: {body}"
    );
    assert!(body.contains("cannot connect to the database"), "{body}");
    assert!(
        body.contains("retry with `/bytebase deploy development`"),
        "names the command that retries: {body}"
    );
    // No host, port or driver text on the PR: those stay in the audit trail.
    assert!(
        !body.contains("refused") && !body.contains(&gate.port.to_string()),
        "{body}"
    );
    let refused: String = sqlx::query_scalar(
        "SELECT detail->>'private_detail' FROM audit_log WHERE action = 'deploy.refused'",
    )
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    assert!(refused.contains("refused"), "{refused}");
    assert!(history(&target.pool).await.is_empty());
    let statuses = |h: &Harness| {
        h.github
            .deployments()
            .into_iter()
            .filter(|d| d.environment == "development")
            .flat_map(|d| d.statuses)
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&h), ["in_progress", "failure"]);

    // The database is back; the command the PR names deploys.
    gate.open().await;
    let command = comment_event(&h.github, PR, "dana", "/bytebase deploy development");
    h.handle(&event("issue_comment", &command)).await.unwrap();
    assert_eq!(
        dev_stage(&h.db.pool).await.map(|s| s.0).as_deref(),
        Some("succeeded")
    );
    assert_eq!(history(&target.pool).await, [("1".to_string(), true, 1)]);
    let body = deploy_comment(&h.github);
    assert!(body.contains("✅ deployed"), "{body}");
    assert!(
        !body.contains("cannot connect"),
        "the failure is replaced: {body}"
    );
    assert_eq!(
        statuses(&h),
        ["in_progress", "failure", "in_progress", "success"]
    );
    assert_eq!(h.count("rollouts").await, 1);
    h.github.assert_clean();
}

// ---------------------------------------------------------------------------
// c. The meta database restarted under live deliveries
// ---------------------------------------------------------------------------

const MIGRATION: &str = "schema/migrations/001_users.sql";

/// The sender's next answer: (PR number, status).
async fn next(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(u64, u16)>,
    seen: &mut Vec<(u64, u16)>,
) -> u16 {
    let r = rx.recv().await.expect("the sender stopped");
    seen.push(r);
    r.1
}

/// The throwaway meta cluster, stopped however the test ends.
struct Cluster(Option<EmbeddedPostgres>);

impl Drop for Cluster {
    fn drop(&mut self) {
        let Some(pg) = self.0.take() else { return };
        // Drop may run inside the test's runtime: stop it from a thread of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(pg.stop());
            }
        })
        .join();
    }
}

fn head_of(number: u64) -> String {
    format!("{number:0>40}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_delivery_is_lost_when_the_meta_database_restarts() {
    if Binaries::find().is_err() {
        assert!(
            std::env::var("BYTEGATE_REQUIRE_MATERIAL").as_deref() != Ok("1"),
            "no PostgreSQL server binaries on this machine"
        );
        eprintln!("skipped: no PostgreSQL server binaries on this machine");
        return;
    }
    let github = FakeGithub::start().await;
    let tmp = tempfile::tempdir().unwrap();
    // The cluster user (when run as root) must reach the data directory.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let pg = Cluster(Some(
        EmbeddedPostgres::start(&tmp.path().join("meta"))
            .await
            .unwrap(),
    ));
    let pg = pg.0.as_ref().unwrap();
    // A job whose worker could not record its end while the database was
    // down is run again after its lease: a short one keeps the drill short.
    let extra = format!("server:\n  workers: 1\n  job_lease: 3s\n{TWO_ENVIRONMENTS}");
    let config = tmp.path().join("bytegate.yaml");
    std::fs::write(&config, config_yaml(&github.url, &app_auth(), &extra)).unwrap();
    let mut serve = Serve::start(&config, &tmp.path().join("data"), &pg.url());
    serve.wait_healthy().await;
    let url = serve.webhook_url();

    for number in 100..200 {
        github.set_pr_files(REPO, number, &[(MIGRATION, "added", None)]);
        github.put_file(
            REPO,
            &head_of(number),
            MIGRATION,
            "CREATE TABLE users (id bigint);\n",
        );
    }
    // One delivery after another, each for a new PR, until told to stop
    // (between requests: none is left half sent).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (record_tx, mut record_rx) = tokio::sync::mpsc::unbounded_channel::<(u64, u16)>();
    let sender = {
        let (url, stop) = (url.clone(), stop.clone());
        tokio::spawn(async move {
            for number in 100u64..200 {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let status = post(
                    &url,
                    "pull_request",
                    &format!("d-{number}"),
                    &pr_event("opened", number, &head_of(number)),
                )
                .await;
                if record_tx.send((number, status)).is_err() {
                    return;
                }
            }
        })
    };
    let mut seen: Vec<(u64, u16)> = Vec::new();
    // Acknowledged before the restart.
    while seen.iter().filter(|(_, s)| *s == 202).count() < 3 {
        next(&mut record_rx, &mut seen).await;
    }
    pg.stop().await.unwrap();
    // Refused while it is down: never a 2xx.
    while next(&mut record_rx, &mut seen).await != 503 {}
    pg.start_again().await.unwrap();
    let restarted = seen.len();
    while seen[restarted..].iter().filter(|(_, s)| *s == 202).count() < 3 {
        next(&mut record_rx, &mut seen).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    sender.await.unwrap();
    while let Ok(r) = record_rx.try_recv() {
        seen.push(r);
    }

    let statuses: std::collections::BTreeSet<u16> = seen.iter().map(|(_, s)| *s).collect();
    assert!(
        statuses.iter().all(|s| [202, 503].contains(s)),
        "only stored (202) or refused (503): {seen:?}"
    );
    let meta = PgPool::connect(&pg.url()).await.unwrap();
    let acknowledged: Vec<String> = seen
        .iter()
        .filter(|(_, s)| *s == 202)
        .map(|(n, _)| format!("d-{n}"))
        .collect();
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT delivery_id FROM webhook_deliveries ORDER BY id")
            .fetch_all(&meta)
            .await
            .unwrap();
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "acknowledged {id} was lost; stored: {stored:?}"
        );
    }
    // GitHub redelivers what was refused; then every PR gets its review.
    for (number, status) in &seen {
        if *status == 503 {
            deliver(
                &url,
                "pull_request",
                &format!("d-{number}"),
                &pr_event("opened", *number, &head_of(*number)),
            )
            .await;
        }
    }
    let numbers: Vec<u64> = seen.iter().map(|(n, _)| *n).collect();
    poll("a review of every PR", || async {
        numbers
            .iter()
            .all(|n| bot_comments(&github, *n, REVIEW_MARKER).len() == 1)
    })
    .await;
    poll("every job to finish", || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jobs WHERE state <> 'done'")
            .fetch_one(&meta)
            .await
            .is_ok_and(|n| n == 0)
    })
    .await;
    for n in &numbers {
        let runs = github.sql_review_runs_on(&head_of(*n));
        assert_eq!(runs.len(), 1, "#{n}: {runs:#?}");
        assert_eq!(runs[0].status, "completed", "#{n}");
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(&meta)
        .await
        .unwrap();
    assert_eq!(stored, numbers.len() as i64);
    meta.close().await;
    serve.kill();
    github.assert_clean();
}
