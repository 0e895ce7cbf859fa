//! `POST /webhooks/github` and `/webhooks/gitlab` over HTTP against a real
//! meta database, driven by the forges' own payload examples with real
//! signatures and tokens.

use bytegate::config::Config;
use bytegate::server::AppState;
use bytegate::store::jobs;
use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use std::sync::Arc;

const SECRET: &str = "It's a Secret to Everybody";
const GITLAB_TOKEN: &str = "gl-hook-token";

fn config(max_body: usize) -> Arc<Config> {
    let yaml = format!(
        "project: {{key: T, name: Test}}\n\
         server: {{max_body_bytes: {max_body}}}\n\
         forges:\n  github:\n    webhook_secret: \"{SECRET}\"\n    token: t\n  \
         gitlab:\n    webhook_token: {GITLAB_TOKEN}\n    token: t\n"
    );
    Arc::new(Config::from_yaml(&yaml, "test", &|_| None).unwrap())
}

/// A forge's payload example (`github/…` or `gitlab/…`; bare names are GitHub's),
/// from the verbatim copies under tests/fixtures/FORGE/upstream.
fn upstream(name: &str) -> Vec<u8> {
    let (forge, file) = name.split_once('/').unwrap_or(("github", name));
    let path = format!(
        "{}/tests/fixtures/{forge}/upstream/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Server {
    db: TestDb,
    url: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn server(max_body: usize) -> Server {
    let db = TestDb::migrated().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/github", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(db.pool.clone(), config(max_body));
    tokio::spawn(bytegate::server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Server {
        db,
        url,
        client: reqwest::Client::new(),
        _stop: stop,
    }
}

impl Server {
    async fn deliver(
        &self,
        event: &str,
        id: &str,
        body: &[u8],
        signature: Option<String>,
    ) -> (u16, String) {
        let mut req = self
            .client
            .post(&self.url)
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", id)
            .header("Content-Type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("X-Hub-Signature-256", sig);
        }
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (code, text)
    }

    async fn signed(&self, event: &str, id: &str, body: &[u8]) -> (u16, String) {
        self.deliver(event, id, body, Some(sign_github(SECRET.as_bytes(), body)))
            .await
    }

    async fn gitlab(
        &self,
        event: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let mut req = self
            .client
            .post(self.url.replace("/github", "/gitlab"))
            .header("X-Gitlab-Event", event)
            .body(body.to_vec());
        if let Some(t) = token {
            req = req.header("X-Gitlab-Token", t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16();
        (code, resp.text().await.unwrap_or_default())
    }

    async fn counts(&self) -> (i64, usize) {
        self.counts_of("github").await
    }

    async fn counts_of(&self, forge: &str) -> (i64, usize) {
        let deliveries = bytegate::store::deliveries::count(&self.db.pool, forge)
            .await
            .unwrap();
        let jobs = jobs::list(&self.db.pool).await.unwrap().len();
        (deliveries, jobs)
    }
}

#[tokio::test]
async fn bad_or_missing_signature_is_401_and_nothing_is_stored() {
    let s = server(25 << 20).await;
    let body = upstream("pull_request.opened.json");
    let (code, _) = s.deliver("pull_request", "d-1", &body, None).await;
    assert_eq!(code, 401);
    let wrong = sign_github(b"not the secret", &body);
    let (code, _) = s.deliver("pull_request", "d-2", &body, Some(wrong)).await;
    assert_eq!(code, 401);
    // A signature of other bytes: the body was changed in transit.
    let tampered = sign_github(SECRET.as_bytes(), b"{}");
    let (code, _) = s
        .deliver("pull_request", "d-3", &body, Some(tampered))
        .await;
    assert_eq!(code, 401);
    assert_eq!(s.counts().await, (0, 0));
}

#[tokio::test]
async fn ping_is_answered_200() {
    let s = server(25 << 20).await;
    let (code, body) = s.signed("ping", "p-1", &upstream("ping.json")).await;
    assert_eq!(code, 200);
    assert!(body.contains("pong"));
}

#[tokio::test]
async fn opened_pr_is_queued_once_and_a_redelivery_is_a_duplicate() {
    let s = server(25 << 20).await;
    let body = upstream("pull_request.opened.json");
    let (code, text) = s.signed("pull_request", "72d3162e-1", &body).await;
    assert_eq!((code, text.contains("queued")), (202, true), "{text}");
    let (code, text) = s.signed("pull_request", "72d3162e-1", &body).await;
    assert_eq!((code, text.contains("duplicate")), (200, true), "{text}");
    assert_eq!(s.counts().await, (1, 1));
    let job = &jobs::list(&s.db.pool).await.unwrap()[0];
    assert_eq!(
        (job.kind.as_str(), job.state),
        ("event", jobs::JobState::Queued)
    );
    let (event, action, repo): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT event, action, repo FROM webhook_deliveries WHERE delivery_id = '72d3162e-1'",
    )
    .fetch_one(&s.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (event.as_str(), action.as_deref(), repo.as_deref()),
        (
            "pull_request",
            Some("opened"),
            Some("Codertocat/Hello-World")
        )
    );
}

#[tokio::test]
async fn a_nul_in_the_title_is_stored_and_queued_and_a_redelivery_is_a_duplicate() {
    let s = server(25 << 20).await;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&upstream("pull_request.opened.json")).unwrap();
    payload["pull_request"]["title"] = serde_json::json!("a\u{0}b");
    let body = serde_json::to_vec(&payload).unwrap();
    assert!(String::from_utf8_lossy(&body).contains("a\\u0000b"));
    let (code, text) = s.signed("pull_request", "nul-1", &body).await;
    assert_eq!((code, text.contains("queued")), (202, true), "{text}");
    let (code, text) = s.signed("pull_request", "nul-1", &body).await;
    assert_eq!((code, text.contains("duplicate")), (200, true), "{text}");
    assert_eq!(s.counts().await, (1, 1));
    // The body is kept as received, NUL and all.
    let (stored,): (Vec<u8>,) =
        sqlx::query_as("SELECT body FROM webhook_deliveries WHERE delivery_id = 'nul-1'")
            .fetch_one(&s.db.pool)
            .await
            .unwrap();
    assert_eq!(stored, body);
    let job = &jobs::list(&s.db.pool).await.unwrap()[0];
    assert_eq!(
        (job.kind.as_str(), job.state),
        ("event", jobs::JobState::Queued)
    );
}

#[tokio::test]
async fn opened_and_reopened_for_one_head_coalesce_into_one_job() {
    let s = server(25 << 20).await;
    // Both examples are PR #2 at head ec26c3e…: the same work.
    let (c1, _) = s
        .signed("pull_request", "a", &upstream("pull_request.opened.json"))
        .await;
    let (c2, t2) = s
        .signed("pull_request", "b", &upstream("pull_request.reopened.json"))
        .await;
    assert_eq!((c1, c2), (202, 202));
    assert!(t2.contains("coalesced"), "{t2}");
    assert_eq!(s.counts().await, (2, 1));
}

#[tokio::test]
async fn events_bytegate_ignores_are_stored_and_acknowledged() {
    let s = server(25 << 20).await;
    let (code, text) = s.signed("push", "push-1", &upstream("push.json")).await;
    assert_eq!(code, 202);
    assert!(text.contains("ignored"));
    // A comment on a plain issue is not ours either.
    let (code, _) = s
        .signed(
            "issue_comment",
            "ic-1",
            &upstream("issue_comment.created.json"),
        )
        .await;
    assert_eq!(code, 202);
    assert_eq!(s.counts().await, (2, 0));
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_400() {
    let s = server(25 << 20).await;
    let (code, _) = s.signed("pull_request", "bad-1", b"{not json").await;
    assert_eq!(code, 400);
    assert_eq!(s.counts().await, (0, 0));
}

#[tokio::test]
async fn a_pr_number_past_i64_is_400_naming_the_field() {
    let s = server(25 << 20).await;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&upstream("pull_request.opened.json")).unwrap();
    payload["number"] = serde_json::json!(u64::MAX);
    payload["pull_request"]["number"] = serde_json::json!(u64::MAX);
    let body = serde_json::to_vec(&payload).unwrap();
    let (code, text) = s.signed("pull_request", "big-1", &body).await;
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("`number`"), "{text}");
    assert_eq!(s.counts().await, (0, 0));
}

#[tokio::test]
async fn a_form_encoded_delivery_is_accepted_and_one_without_payload_is_400_with_the_fix() {
    let s = server(25 << 20).await;
    let json = upstream("pull_request.opened.json");
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &String::from_utf8(json).unwrap())
        .finish();
    let post = |id: &'static str, body: Vec<u8>| {
        let sig = sign_github(SECRET.as_bytes(), &body);
        s.client
            .post(&s.url)
            .header("X-GitHub-Event", "pull_request")
            .header("X-GitHub-Delivery", id)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Hub-Signature-256", sig)
            .body(body)
            .send()
    };
    let resp = post("form-1", form.into_bytes()).await.unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!((code, text.contains("queued")), (202, true), "{text}");
    assert_eq!(s.counts().await, (1, 1));
    let (repo,): (Option<String>,) =
        sqlx::query_as("SELECT repo FROM webhook_deliveries WHERE delivery_id = 'form-1'")
            .fetch_one(&s.db.pool)
            .await
            .unwrap();
    assert_eq!(repo.as_deref(), Some("Codertocat/Hello-World"));

    let resp = post("form-2", b"other=1".to_vec()).await.unwrap();
    let code = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("application/json"), "{text}");
    assert_eq!(s.counts().await, (1, 1));
}

#[tokio::test]
async fn oversized_body_is_413() {
    let s = server(1024).await;
    let body = upstream("pull_request.opened.json");
    assert!(body.len() > 1024);
    let (code, _) = s.signed("pull_request", "big-1", &body).await;
    assert_eq!(code, 413);
    assert_eq!(s.counts().await, (0, 0));
}

#[tokio::test]
async fn gitlab_wrong_or_missing_token_is_401_and_nothing_is_stored() {
    let s = server(25 << 20).await;
    let body = upstream("gitlab/merge_request.open.json");
    let uuid = [("X-Gitlab-Event-UUID", "u-1")];
    let (code, _) = s
        .gitlab("Merge Request Hook", Some("wrong"), &uuid, &body)
        .await;
    assert_eq!(code, 401);
    let (code, _) = s.gitlab("Merge Request Hook", None, &uuid, &body).await;
    assert_eq!(code, 401);
    assert_eq!(s.counts_of("gitlab").await, (0, 0));
}

#[tokio::test]
async fn gitlab_duplicate_event_uuid_queues_one_job() {
    let s = server(25 << 20).await;
    let body = upstream("gitlab/merge_request.open.json");
    let uuid = [("X-Gitlab-Event-UUID", "u-2")];
    let (c1, t1) = s
        .gitlab("Merge Request Hook", Some(GITLAB_TOKEN), &uuid, &body)
        .await;
    let (c2, t2) = s
        .gitlab("Merge Request Hook", Some(GITLAB_TOKEN), &uuid, &body)
        .await;
    assert_eq!((c1, c2), (202, 200), "{t1} {t2}");
    assert!(t2.contains("duplicate"));
    assert_eq!(s.counts_of("gitlab").await, (1, 1));
}

#[tokio::test]
async fn gitlab_resend_keeps_its_idempotency_key() {
    let s = server(25 << 20).await;
    let body = upstream("gitlab/note.merge_request.json");
    let first = [("X-Gitlab-Event-UUID", "u-3"), ("Idempotency-Key", "k-1")];
    let resend = [("X-Gitlab-Event-UUID", "u-4"), ("Idempotency-Key", "k-1")];
    let (c1, _) = s
        .gitlab("Note Hook", Some(GITLAB_TOKEN), &first, &body)
        .await;
    let (c2, _) = s
        .gitlab("Note Hook", Some(GITLAB_TOKEN), &resend, &body)
        .await;
    assert_eq!((c1, c2), (202, 200));
    assert_eq!(s.counts_of("gitlab").await, (1, 1));
}

#[tokio::test]
async fn gitlab_duplicate_merge_request_hooks_for_one_push_coalesce() {
    let s = server(25 << 20).await;
    let body = upstream("gitlab/merge_request.update-new-commit.capture.json");
    let (c1, _) = s
        .gitlab(
            "Merge Request Hook",
            Some(GITLAB_TOKEN),
            &[("X-Gitlab-Event-UUID", "a")],
            &body,
        )
        .await;
    let (c2, t2) = s
        .gitlab(
            "Merge Request Hook",
            Some(GITLAB_TOKEN),
            &[("X-Gitlab-Event-UUID", "b")],
            &body,
        )
        .await;
    assert_eq!((c1, c2), (202, 202));
    assert!(t2.contains("coalesced"), "{t2}");
    assert_eq!(s.counts_of("gitlab").await, (2, 1));
}

#[tokio::test]
async fn gitlab_push_hooks_are_stored_and_acknowledged() {
    let s = server(25 << 20).await;
    let body = upstream("gitlab/push.json");
    let (code, text) = s
        .gitlab(
            "Push Hook",
            Some(GITLAB_TOKEN),
            &[("X-Gitlab-Event-UUID", "p")],
            &body,
        )
        .await;
    assert_eq!(code, 202);
    assert!(text.contains("ignored"));
    assert_eq!(s.counts_of("gitlab").await, (1, 0));
}

/// Issue 10, hole 10: GitLab disables a hook after four failed deliveries in
/// a row, so an authenticated delivery bytegate cannot parse is stored (with
/// why), logged and acknowledged, and queues nothing.
#[tokio::test]
async fn gitlab_authenticated_deliveries_that_do_not_parse_are_stored_and_acknowledged() {
    let s = server(25 << 20).await;
    // The merge request hook without the fields bytegate needs.
    let mut wrong_shape: serde_json::Value =
        serde_json::from_slice(&upstream("gitlab/merge_request.open.json")).unwrap();
    wrong_shape["object_attributes"] = serde_json::json!({ "iid": "not a number" });
    let wrong_shape = serde_json::to_vec(&wrong_shape).unwrap();
    let bodies: [&[u8]; 5] = [
        b"{not json",
        b"\0\xff binary",
        &wrong_shape,
        b"",
        br#"{"object_attributes": "\u0000"}"#,
    ];
    for (i, body) in bodies.iter().enumerate() {
        let uuid = format!("bad-{i}");
        let (code, text) = s
            .gitlab(
                "Merge Request Hook",
                Some(GITLAB_TOKEN),
                &[("X-Gitlab-Event-UUID", uuid.as_str())],
                body,
            )
            .await;
        assert!((200..300).contains(&code), "delivery {i}: {code} {text}");
    }
    assert_eq!(s.counts_of("gitlab").await, (5, 0));
    let stored: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT delivery_id, parse_error FROM webhook_deliveries ORDER BY id")
            .fetch_all(&s.db.pool)
            .await
            .unwrap();
    let ids: Vec<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["bad-0", "bad-1", "bad-2", "bad-3", "bad-4"]);
    assert!(
        stored.iter().all(|(_, why)| why.is_some()),
        "each says why: {stored:?}"
    );
    let (why_shape,) = (stored[2].1.as_deref().unwrap_or_default(),);
    assert!(
        why_shape.contains("unexpected payload shape"),
        "{why_shape}"
    );
    // Unauthenticated ones are still refused and not stored.
    let (code, _) = s
        .gitlab(
            "Merge Request Hook",
            Some("wrong"),
            &[("X-Gitlab-Event-UUID", "bad-5")],
            b"{not json",
        )
        .await;
    assert_eq!(code, 401);
    assert_eq!(s.counts_of("gitlab").await, (5, 0));
}
