//! The whole path: a signed GitHub delivery over HTTP → stored delivery and
//! job → a worker runs the flow → the fake GitHub holds the check run and the
//! sticky comment. Real meta database, production code paths, fake forge.

mod support;

use bytegate::jobs::{self, EventJobHandler, RunOutcome};
use bytegate::server::AppState;
use bytegate::webhook::signature::sign_github;
use support::{Harness, REPO, pr_payload};

const SECRET: &str = "It's a Secret to Everybody";
const SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MIGRATION: &str = "schema/migrations/002_drop_users.sql";

async fn serve(h: &Harness) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/github", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(h.db.pool.clone(), h.ctx.config.clone());
    tokio::spawn(bytegate::server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (url, stop)
}

async fn deliver(url: &str, event: &str, id: &str, body: &[u8]) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sign_github(SECRET.as_bytes(), body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The SQL review's check runs (the approval check is another one).
fn review_checks(h: &Harness) -> Vec<support::fake_github::CheckRun> {
    h.github
        .check_runs_on(SHA)
        .into_iter()
        .filter(|r| r.name == "bytegate/sql-review")
        .collect()
}

#[tokio::test]
async fn signed_delivery_becomes_a_check_run_and_one_comment() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, 2, &[(MIGRATION, "added", None)]);
    h.github.put_file(
        REPO,
        SHA,
        MIGRATION,
        "CREATE TABLE a (id bigint PRIMARY KEY);\nDROP TABLE users;\n",
    );
    let (url, _stop) = serve(&h).await;

    let opened = serde_json::to_vec(&pr_payload(
        "pull_request.opened",
        SHA,
        "2019-05-15T15:20:33Z",
    ))
    .unwrap();
    // Redelivery of the same id and a semantically equal event (reopened at the
    // same head) must not produce a second check run or comment.
    assert_eq!(deliver(&url, "pull_request", "d-1", &opened).await, 202);
    assert_eq!(deliver(&url, "pull_request", "d-1", &opened).await, 200);
    let mut reopened = pr_payload("pull_request.opened", SHA, "2019-05-15T15:20:40Z");
    reopened["action"] = "reopened".into();
    let reopened = serde_json::to_vec(&reopened).unwrap();
    assert_eq!(deliver(&url, "pull_request", "d-2", &reopened).await, 202);

    let handler = EventJobHandler { ctx: h.ctx.clone() };
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    assert!(
        matches!(outcomes.as_slice(), [RunOutcome::Done(_)]),
        "{outcomes:?}"
    );

    let runs = review_checks(&h);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
    let drop = runs[0]
        .annotations
        .iter()
        .find(|a| a["title"] == "no-drop-table")
        .expect("an annotation for the DROP TABLE");
    assert_eq!(drop["start_line"], 2);
    assert_eq!(h.github.comments(REPO, 2).len(), 1);
    let actions = h.audit_actions().await;
    assert_eq!(
        actions.first().map(String::as_str),
        Some("delivery.accepted")
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "delivery.accepted").count(),
        1
    );
    // Every request bytegate sent was one GitHub accepts (credentials, bodies).
    h.github.assert_clean();
}

/// A PR adding a DROP TABLE migration is opened (delivered over HTTP) while
/// GitHub answers the next `times` comment requests with `status`.
async fn opened_during_outage(
    h: &Harness,
    status: u16,
    times: usize,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    h.github
        .set_pr_files(REPO, 2, &[(MIGRATION, "added", None)]);
    h.github
        .put_file(REPO, SHA, MIGRATION, "DROP TABLE users;\n");
    h.github.fail_next("issues/create-comment", status, times);
    let (url, stop) = serve(h).await;
    let opened = serde_json::to_vec(&pr_payload(
        "pull_request.opened",
        SHA,
        "2019-05-15T15:20:33Z",
    ))
    .unwrap();
    assert_eq!(
        deliver(&url, "pull_request", "d-outage", &opened).await,
        202
    );
    (url, stop)
}

#[tokio::test]
async fn a_forge_outage_is_retried_by_the_queue_and_posted_once() {
    let h = Harness::app().await;
    // More 502s than the client's own bounded retries absorb: the job fails
    // transiently and the queue runs it again.
    let (_url, _stop) = opened_during_outage(&h, 502, 10).await;

    let handler = EventJobHandler { ctx: h.ctx.clone() };
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    assert!(
        matches!(outcomes.last(), Some(RunOutcome::Done(_))),
        "{outcomes:?}"
    );
    assert!(outcomes.len() >= 2, "expected a retry: {outcomes:?}");
    assert_eq!(h.github.comments(REPO, 2).len(), 1);
    let all = review_checks(&h);
    assert!(
        all.iter().all(|r| r.status == "completed"),
        "a check run left in progress: {all:#?}"
    );
    assert_eq!(all.len(), 1, "the retry must reuse its check run: {all:#?}");
    // The injected outage was used up, and nothing sent was malformed.
    h.github.assert_clean();
}

/// Issue 11 item 12 (d): GitHub answers 500 for longer than the job's
/// attempts last. Each attempt retries in the client, then the queue retries
/// the job, then it fails for good, visibly: the check run says the review
/// could not be done (nothing is left in progress) and the audit trail has
/// it. When GitHub is back, a re-run posts the review comment once.
#[tokio::test]
async fn a_forge_outage_past_the_retry_budget_fails_visibly_and_a_rerun_posts_once() {
    let h = Harness::app_with(&format!(
        "server:\n  job_max_attempts: 2\n{}",
        support::TWO_ENVIRONMENTS
    ))
    .await;
    // The outage: every comment GitHub is asked for fails until it recovers.
    let (url, _stop) = opened_during_outage(&h, 500, 1000).await;

    let handler = EventJobHandler { ctx: h.ctx.clone() };
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    let [RunOutcome::Retrying(a), RunOutcome::Failed(b)] = outcomes.as_slice() else {
        panic!("expected one queue retry, then a failure: {outcomes:?}")
    };
    assert_eq!(a, b);
    let (state, attempts, error): (String, i32, Option<String>) =
        sqlx::query_as("SELECT state, attempts, last_error FROM jobs WHERE id = $1")
            .bind(a)
            .fetch_one(&h.db.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("failed", 2));
    assert!(error.is_some_and(|e| !e.is_empty()));
    // The client retried within each attempt, too.
    let tried = h.github.requests_of("issues/create-comment").len();
    assert!(tried > 2, "{tried} comment requests");
    assert!(h.github.comments(REPO, 2).is_empty());
    let runs = review_checks(&h);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].status, "completed", "{runs:#?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
    assert_eq!(
        runs[0].title.as_deref(),
        Some("bytegate could not review this commit")
    );
    // Each attempt's failure is audited; the last says it was final.
    let failed: Vec<(bool,)> = sqlx::query_as(
        "SELECT coalesce((detail->>'final')::boolean, false) FROM audit_log
         WHERE action = 'review.failed' ORDER BY id",
    )
    .fetch_all(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(failed, [(false,), (false,), (true,)]);

    // GitHub is back; someone asks for a re-run of the check.
    h.github.recover("issues/create-comment");
    h.github.set_pull(
        REPO,
        2,
        support::fake_github::Pull {
            head_sha: SHA.into(),
            base_sha: support::base_sha(),
            head_repo: REPO.into(),
        },
    );
    let pr = pr_payload("pull_request.opened", SHA, "2019-05-15T15:20:33Z");
    let mut rerun = support::payload("check_run.rerequested");
    rerun["check_run"]["head_sha"] = SHA.into();
    rerun["check_run"]["pull_requests"] = serde_json::json!([]);
    rerun["repository"] = pr["repository"].clone();
    rerun["installation"] = pr["installation"].clone();
    let rerun = serde_json::to_vec(&rerun).unwrap();
    assert_eq!(deliver(&url, "check_run", "d-11", &rerun).await, 202);
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    assert!(
        matches!(outcomes.as_slice(), [RunOutcome::Done(_)]),
        "{outcomes:?}"
    );

    let comments = h.github.comments(REPO, 2);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0].body.contains("no-drop-table"),
        "{}",
        comments[0].body
    );
    let runs = review_checks(&h);
    assert!(
        runs.iter().all(|r| r.status == "completed"),
        "a check run left in progress: {runs:#?}"
    );
    let last = runs.last().unwrap();
    assert_eq!(last.conclusion.as_deref(), Some("failure"));
    assert!(
        last.annotations
            .iter()
            .any(|a| a["title"] == "no-drop-table"),
        "the re-run's check run carries the review: {runs:#?}"
    );
    h.github.assert_clean();
}
