//! The whole path: a signed GitHub delivery over HTTP → stored delivery and
//! job → a worker runs the flow → the fake GitHub holds the check run and the
//! sticky comment. Real meta database, production code paths, fake forge.

mod support;

use bytegate::jobs::{self, EventJobHandler, RunOutcome, WorkerSettings};
use bytegate::server::AppState;
use bytegate::webhook::signature::sign_github;
use std::time::Duration;
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

fn fast() -> WorkerSettings {
    WorkerSettings {
        clock: std::sync::Arc::new(bytegate::clock::SystemClock),
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        backoff_base: Duration::ZERO,
        backoff_max: Duration::ZERO,
    }
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
    let outcomes = jobs::drain(&h.db.pool, &handler, &fast()).await.unwrap();
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

#[tokio::test]
async fn a_forge_outage_is_retried_by_the_queue_and_posted_once() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, 2, &[(MIGRATION, "added", None)]);
    h.github
        .put_file(REPO, SHA, MIGRATION, "DROP TABLE users;\n");
    // More 502s than the client's own bounded retries absorb: the job fails
    // transiently and the queue runs it again.
    h.github.fail_next("issues/create-comment", 502, 10);
    let (url, _stop) = serve(&h).await;
    let opened = serde_json::to_vec(&pr_payload(
        "pull_request.opened",
        SHA,
        "2019-05-15T15:20:33Z",
    ))
    .unwrap();
    assert_eq!(deliver(&url, "pull_request", "d-9", &opened).await, 202);

    let handler = EventJobHandler { ctx: h.ctx.clone() };
    let outcomes = jobs::drain(&h.db.pool, &handler, &fast()).await.unwrap();
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
