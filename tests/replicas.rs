//! Issue 11 item 11: three `bytegate serve` processes on one meta database.
//! Every delivery of several PRs' lives (opened, a push, a review, a
//! `/bytebase approve` comment, merged) goes to a random replica, twice, the
//! copies racing each other. What GitHub and the targets end up with must be
//! what one process would have produced: one sticky comment of each kind per
//! PR, one completed check run per head and check, each migration applied
//! once per target, and an audit chain that verifies.

mod support;

use bytegate::flow::rollout::DEPLOY_COMMENT_MARKER;
use bytegate::store::audit;
use bytegate::store::testdb::TestDb;
use rand::seq::IndexedRandom;
use sqlx::PgPool;
use std::collections::BTreeMap;
use support::fake_github::{BOT_LOGIN, FakeGithub};
use support::serve::{
    Serve, comment_event, merged_event_at, poll, post, pr_event_at, review_event,
};
use support::{REPO, app_auth, config_yaml};

const REVIEW_MARKER: &str = "<!-- bytegate:sql-review -->";
const REPLICAS: usize = 3;
/// Development deploys on merge; staging needs one DBA's approval.
const DBA: &str = "dana";

/// One pull request: its number, its two heads, its merge commit, its file.
struct Pr {
    number: u64,
    opened: String,
    pushed: String,
    merge: String,
    path: String,
    table: String,
}

impl Pr {
    fn new(k: u64) -> Pr {
        Pr {
            number: 10 + k,
            opened: format!("{k:0>40}").replacen('0', "a", 1),
            pushed: format!("{k:0>40}").replacen('0', "b", 1),
            merge: format!("{k:0>40}").replacen('0', "c", 1),
            path: format!("schema/migrations/00{k}_t{k}.sql"),
            table: format!("t{k}"),
        }
    }

    fn first_sql(&self) -> String {
        format!("CREATE TABLE {} (id bigint PRIMARY KEY);\n", self.table)
    }

    fn pushed_sql(&self) -> String {
        format!(
            "CREATE TABLE {} (id bigint PRIMARY KEY, at timestamptz);\n",
            self.table
        )
    }
}

/// `2026-01-01T10:MM:00Z`: each step of a PR's life is later than the last.
fn at(minute: u32) -> String {
    format!("2026-01-01T10:{minute:02}:00Z")
}

/// Sends one delivery twice, both copies at once, each to a random replica:
/// exactly one is stored (202), the other is a duplicate (200).
async fn twice(urls: &[String], event: &str, id: &str, body: &serde_json::Value) {
    let (a, b) = {
        let mut rng = rand::rng();
        (
            urls.choose(&mut rng).unwrap().clone(),
            urls.choose(&mut rng).unwrap().clone(),
        )
    };
    let (x, y) = tokio::join!(post(&a, event, id, body), post(&b, event, id, body));
    let mut got = [x, y];
    got.sort();
    assert_eq!(
        got,
        [200, 202],
        "delivery {id} twice: one stored, one duplicate"
    );
}

/// Sends each PR's delivery of one step (all PRs at once).
async fn step(urls: &[String], event: &str, deliveries: Vec<(String, serde_json::Value)>) {
    futures::future::join_all(
        deliveries
            .iter()
            .map(|(id, body)| twice(urls, event, id, body)),
    )
    .await;
}

/// Jobs not finished yet (queued, running or waiting for a retry).
async fn unfinished_jobs(meta: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")
        .fetch_one(meta)
        .await
        .unwrap()
}

async fn settle(meta: &PgPool, what: &str) {
    poll(what, || async { unfinished_jobs(meta).await == 0 }).await;
}

/// (version, success) of every history row of a target.
async fn history(target: &PgPool) -> Vec<(String, bool)> {
    sqlx::query_as("SELECT version, success FROM bytegate.migration_history ORDER BY id")
        .fetch_all(target)
        .await
        .unwrap()
}

/// Development and staging deployed (production, without databases, waits
/// for a second approval nobody gives).
async fn stages_done(meta: &PgPool, number: u64) -> bool {
    let states: Vec<(String,)> = sqlx::query_as(
        "SELECT s.state FROM rollout_stages s JOIN rollouts r ON r.id = s.rollout_id
         JOIN change_requests c ON c.id = r.change_request_id
         WHERE c.number = $1 AND s.environment IN ('development', 'staging')",
    )
    .bind(number as i64)
    .fetch_all(meta)
    .await
    .unwrap();
    states.len() == 2 && states.iter().all(|(s,)| s == "succeeded")
}

fn comments_starting(github: &FakeGithub, number: u64, marker: &str) -> usize {
    github
        .comments(REPO, number)
        .iter()
        .filter(|c| c.author == BOT_LOGIN && c.body.starts_with(marker))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_given_every_delivery_twice_act_once() {
    let github = FakeGithub::start().await;
    let meta = TestDb::migrated().await.unwrap();
    let (dev, stg) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let extra = format!(
        "server:\n  workers: 2\nroles:\n  dba:\n    users: [{DBA}]\nenvironments:\n  - name: development\n    databases:\n      - name: app\n        engine: postgres\n        url: \"{}\"\n  - name: staging\n    approvals: 1\n    roles: [dba]\n    databases:\n      - name: app\n        engine: postgres\n        url: \"{}\"\n  - name: production\n    approvals: 2\n    roles: [dba]\n",
        dev.url(),
        stg.url()
    );
    let config = tmp.path().join("bytegate.yaml");
    std::fs::write(&config, config_yaml(&github.url, &app_auth(), &extra)).unwrap();
    github.set_permission(REPO, DBA, "write");

    let prs: Vec<Pr> = (1..=3).map(Pr::new).collect();
    for pr in &prs {
        github.set_pr_files(REPO, pr.number, &[(&pr.path, "added", None)]);
        github.put_file(REPO, &pr.opened, &pr.path, &pr.first_sql());
        github.put_file(REPO, &pr.pushed, &pr.path, &pr.pushed_sql());
    }
    // Each merge commit holds its own file and those merged before it.
    for (i, pr) in prs.iter().enumerate() {
        for earlier in &prs[..=i] {
            github.put_file(REPO, &pr.merge, &earlier.path, &earlier.pushed_sql());
        }
    }

    let mut replicas: Vec<Serve> = (0..REPLICAS)
        .map(|i| Serve::start(&config, &tmp.path().join(format!("data-{i}")), &meta.url()))
        .collect();
    for r in &mut replicas {
        r.wait_healthy().await;
    }
    let urls: Vec<String> = replicas.iter().map(Serve::webhook_url).collect();

    // The PRs live side by side: each step is delivered for all of them at once.
    let each =
        |f: &dyn Fn(&Pr) -> (String, serde_json::Value)| -> Vec<_> { prs.iter().map(f).collect() };
    step(
        &urls,
        "pull_request",
        each(&|pr| {
            let body = pr_event_at("opened", pr.number, &pr.opened, &at(0));
            (format!("open-{}", pr.number), body)
        }),
    )
    .await;
    settle(&meta.pool, "the opened PRs' reviews").await;
    for pr in &prs {
        github.set_pr_files(REPO, pr.number, &[(&pr.path, "modified", None)]);
    }
    step(
        &urls,
        "pull_request",
        each(&|pr| {
            let body = pr_event_at("synchronize", pr.number, &pr.pushed, &at(1));
            (format!("push-{}", pr.number), body)
        }),
    )
    .await;
    settle(&meta.pool, "the pushed heads' reviews").await;
    step(
        &urls,
        "pull_request_review",
        each(&|pr| {
            let body = review_event(&github, pr.number, DBA, "APPROVED", &pr.pushed);
            (format!("review-{}", pr.number), body)
        }),
    )
    .await;
    settle(&meta.pool, "the reviews").await;
    step(
        &urls,
        "issue_comment",
        each(&|pr| {
            let body = comment_event(&github, pr.number, DBA, "/bytebase approve staging");
            (format!("approve-{}", pr.number), body)
        }),
    )
    .await;
    settle(&meta.pool, "the approvals").await;
    // Merged one after another, in version order, as a branch receives them.
    for (i, pr) in prs.iter().enumerate() {
        let body = merged_event_at(pr.number, &pr.pushed, &pr.merge, &at(2 + i as u32));
        twice(
            &urls,
            "pull_request",
            &format!("merge-{}", pr.number),
            &body,
        )
        .await;
        poll("the rollout of both stages", || {
            stages_done(&meta.pool, pr.number)
        })
        .await;
        settle(&meta.pool, "the merge").await;
    }

    // Every job ran to success; nothing was given up.
    let failed: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT id, last_error FROM jobs WHERE state <> 'done'")
            .fetch_all(&meta.pool)
            .await
            .unwrap();
    assert!(failed.is_empty(), "jobs not done: {failed:?}");

    for pr in &prs {
        assert_eq!(
            comments_starting(&github, pr.number, REVIEW_MARKER),
            1,
            "one sticky review comment on #{}",
            pr.number
        );
        assert_eq!(
            comments_starting(&github, pr.number, DEPLOY_COMMENT_MARKER),
            1,
            "one sticky deploy comment on #{}",
            pr.number
        );
        let deploy = github
            .comments(REPO, pr.number)
            .into_iter()
            .find(|c| c.body.starts_with(DEPLOY_COMMENT_MARKER))
            .map(|c| c.body)
            .unwrap_or_default();
        assert!(!deploy.contains("❌"), "#{}: {deploy}", pr.number);
        for sha in [&pr.opened, &pr.pushed] {
            let review = github.sql_review_runs_on(sha);
            assert_eq!(
                review.len(),
                1,
                "one review check run on {sha}: {review:#?}"
            );
        }
    }
    // One run per (commit, check), none left in progress.
    let mut runs: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in github.check_runs() {
        runs.entry((r.head_sha, r.name)).or_default().push(r.status);
    }
    for (key, statuses) in &runs {
        assert_eq!(statuses, &["completed"], "check runs of {key:?}");
    }

    let versions = [("1", true), ("2", true), ("3", true)].map(|(v, ok)| (v.to_string(), ok));
    assert_eq!(history(&dev.pool).await, versions, "development");
    assert_eq!(history(&stg.pool).await, versions, "staging");

    let chain = audit::verify_chain(&meta.pool, None).await.unwrap();
    assert!(chain.broken.is_none(), "{:?}", chain.broken);
    assert!(chain.verified > 0);
    let (accepted,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_log WHERE action = 'delivery.accepted'")
            .fetch_one(&meta.pool)
            .await
            .unwrap();
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM webhook_deliveries")
        .fetch_one(&meta.pool)
        .await
        .unwrap();
    assert_eq!(stored, 5 * prs.len() as i64, "each delivery stored once");
    assert!(
        accepted >= 1 && accepted <= stored,
        "{accepted} of {stored}"
    );
    github.assert_clean();
}
