//! `bytegate serve` as a child process for the multi-process tests (crash,
//! replicas, drills): spawn, wait for health, SIGKILL; signed deliveries over
//! HTTP; GitHub payloads for a PR's life; polling with a deadline.

use super::fake_github::FakeGithub;
use super::{REPO, payload, pr_payload};
use bytegate::store::embedded::free_port;
use bytegate::webhook::signature::sign_github;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The webhook secret of [`super::config_yaml`].
pub const SECRET: &str = "It's a Secret to Everybody";
/// How long any awaited state may take before the test fails (never a wait in itself).
pub const PATIENCE: Duration = Duration::from_secs(90);
/// The `updated_at` of the payloads.
pub const AT: &str = "2019-05-15T15:20:33Z";

/// A `bytegate serve` child, SIGKILLed when dropped (a failing test leaves no process).
pub struct Serve {
    child: Option<Child>,
    /// Its HTTP port.
    pub port: u16,
}

impl Serve {
    /// Spawns `bytegate serve` with `config` on the meta database `meta_url`.
    pub fn start(config: &Path, data: &Path, meta_url: &str) -> Serve {
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

    /// The process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The GitHub webhook endpoint.
    pub fn webhook_url(&self) -> String {
        format!("http://127.0.0.1:{}/webhooks/github", self.port)
    }

    /// Polls `/health` until it answers 200; fails if the process exits.
    pub async fn wait_healthy(&mut self) {
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
    pub fn kill(&mut self) {
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
pub async fn poll<F, Fut>(what: &str, mut check: F)
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

/// Delivers PR `number` opened at `head` to `url` and waits until its
/// review check run is completed.
pub async fn open_and_review(github: &FakeGithub, url: &str, number: u64, head: &str) {
    deliver(
        url,
        "pull_request",
        &format!("open-{number}-{head}"),
        &pr_event("opened", number, head),
    )
    .await;
    poll("the review check run", || async {
        github
            .sql_review_runs_on(head)
            .iter()
            .any(|r| r.status == "completed")
    })
    .await;
}

/// Sessions of bytegate's deploy executor on a target; with `waiting_on`,
/// only those waiting for a lock while running a statement starting so.
pub async fn deploy_sessions(target: &sqlx::PgPool, waiting_on: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'bytegate-deploy'
           AND ($1::text IS NULL OR (wait_event_type = 'Lock' AND query LIKE $1 || '%'))",
    )
    .bind(waiting_on)
    .fetch_one(target)
    .await
    .unwrap()
}

/// Posts a signed GitHub delivery; the answer's status.
pub async fn post(url: &str, event: &str, id: &str, body: &serde_json::Value) -> u16 {
    let body = serde_json::to_vec(body).unwrap();
    reqwest::Client::new()
        .post(url)
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sign_github(SECRET.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts a delivery that must be accepted (202).
pub async fn deliver(url: &str, event: &str, id: &str, body: &serde_json::Value) {
    assert_eq!(
        post(url, event, id, body).await,
        202,
        "delivery {id} not accepted"
    );
}

/// A `pull_request` delivery of PR `number` at `head` (`opened`, `synchronize`, ...).
pub fn pr_event(action: &str, number: u64, head: &str) -> serde_json::Value {
    pr_event_at(action, number, head, AT)
}

/// [`pr_event`] updated at `at` (RFC 3339): later events of a PR carry later times.
pub fn pr_event_at(action: &str, number: u64, head: &str, at: &str) -> serde_json::Value {
    let mut p = pr_payload("pull_request.opened", head, at);
    p["action"] = action.into();
    p["number"] = number.into();
    p["pull_request"]["number"] = number.into();
    p
}

/// PR `number` closed and merged as `merge`.
pub fn merged_event(number: u64, head: &str, merge: &str) -> serde_json::Value {
    merged_event_at(number, head, merge, AT)
}

/// [`merged_event`] at `at`.
pub fn merged_event_at(number: u64, head: &str, merge: &str, at: &str) -> serde_json::Value {
    let mut p = pr_event_at("closed", number, head, at);
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = merge.into();
    p
}

/// `user` comments `body` on PR `number`: the comment is added to the fake
/// (commands are read back from it) and its delivery returned.
pub fn comment_event(
    github: &FakeGithub,
    number: u64,
    user: &str,
    body: &str,
) -> serde_json::Value {
    let id = github.add_comment(REPO, number, user, body);
    let pr = pr_payload("pull_request.opened", "0", AT);
    let mut p = payload("issue_comment.created");
    p["issue"]["number"] = number.into();
    p["issue"]["pull_request"] =
        serde_json::json!({"url": format!("https://api.github.com/repos/{REPO}/pulls/{number}")});
    p["comment"]["id"] = id.into();
    p["comment"]["body"] = body.into();
    p["comment"]["user"]["login"] = user.into();
    p["sender"]["login"] = user.into();
    p["repository"] = pr["repository"].clone();
    p["installation"] = pr["installation"].clone();
    p
}

/// `user` submits a review in `state` (REST spelling) of `commit` on PR
/// `number`: added to the fake and its delivery returned.
pub fn review_event(
    github: &FakeGithub,
    number: u64,
    user: &str,
    state: &str,
    commit: &str,
) -> serde_json::Value {
    let id = github.add_review_at(REPO, number, user, state, commit, AT);
    let pr = pr_payload("pull_request.opened", commit, AT);
    let mut p = payload("pull_request_review.submitted");
    p["review"]["id"] = id.into();
    p["review"]["user"]["login"] = user.into();
    p["review"]["state"] = state.to_ascii_lowercase().into();
    p["review"]["commit_id"] = commit.into();
    p["review"]["submitted_at"] = AT.into();
    p["pull_request"] = pr["pull_request"].clone();
    p["pull_request"]["number"] = number.into();
    p["sender"]["login"] = user.into();
    p["repository"] = pr["repository"].clone();
    p["installation"] = pr["installation"].clone();
    p
}
