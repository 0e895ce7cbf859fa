//! A fake GitHub REST API in the test process: an axum server with state
//! (pull requests, files, contents, check runs, statuses, comments, reviews,
//! permissions). bytegate's real octocrab client talks to it; only the URL differs.
//!
//! Strict: every request body is checked against GitHub's request schema
//! (`contract.rs`), every `/repos` call must carry a token the fake minted
//! (or the configured personal token), and a route the fake does not know is
//! a violation. [`FakeGithub::assert_clean`] fails the test on any violation.

use super::contract;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// A check run as the fake stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRun {
    /// Id.
    pub id: u64,
    /// Repository.
    pub repo: String,
    /// Commit.
    pub head_sha: String,
    /// Name.
    pub name: String,
    /// queued / in_progress / completed.
    pub status: String,
    /// Conclusion once completed.
    pub conclusion: Option<String>,
    /// output.title.
    pub title: Option<String>,
    /// output.summary.
    pub summary: Option<String>,
    /// Every annotation received, in order.
    pub annotations: Vec<Value>,
    /// Annotations per request that carried any (create and each PATCH).
    pub annotation_batches: Vec<usize>,
}

/// A comment as the fake stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    /// Id.
    pub id: u64,
    /// Repository.
    pub repo: String,
    /// PR number.
    pub number: u64,
    /// Text.
    pub body: String,
    /// Author.
    pub author: String,
    /// Times edited.
    pub edits: usize,
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path and query, without the API prefix.
    pub path: String,
    /// Operation name (contract op id) or `unknown`.
    pub op: String,
    /// Answer status.
    pub status: u16,
}

/// A deployment as the fake stores it, with its statuses.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// Id.
    pub id: u64,
    /// Repository.
    pub repo: String,
    /// The deployed ref.
    pub sha: String,
    /// Environment.
    pub environment: String,
    /// `production_environment`.
    pub production: bool,
    /// Status states in order (`queued`, `in_progress`, `success`, ...).
    pub statuses: Vec<String>,
    /// Status descriptions in order.
    pub descriptions: Vec<String>,
}

/// A pull request the fake can describe (`pulls/get`).
#[derive(Debug, Clone)]
pub struct Pull {
    /// Head commit.
    pub head_sha: String,
    /// Base commit.
    pub base_sha: String,
    /// Head repository.
    pub head_repo: String,
}

#[derive(Default)]
struct State_ {
    prefix: String,
    personal_token: Option<String>,
    /// Installation tokens minted: (token, installation id).
    minted: Vec<(String, u64)>,
    /// The installation of every token ever minted, in order.
    minted_for: Vec<u64>,
    /// Tokens GitHub revoked (their installation was removed): 401, not a violation.
    revoked: Vec<String>,
    /// Repositories whose App installation is not [`DEFAULT_INSTALLATION`]
    /// (`None`: the App is not installed there).
    installations: HashMap<String, Option<u64>>,
    /// Installations removed: no token can be minted for them.
    uninstalled: Vec<u64>,
    pulls: HashMap<(String, u64), Pull>,
    files: HashMap<(String, u64), Vec<Value>>,
    contents: BTreeMap<(String, String, String), Vec<u8>>,
    check_runs: Vec<CheckRun>,
    statuses: Vec<Value>,
    comments: Vec<Comment>,
    reviews: HashMap<(String, u64), Vec<Value>>,
    permissions: HashMap<(String, String), String>,
    /// `(org/team, user)`, lowercase: active team members.
    team_members: std::collections::HashSet<(String, String)>,
    deployments: Vec<Deployment>,
    requests: Vec<Request>,
    violations: Vec<String>,
    failures: VecDeque<Failure>,
    token_lifetime: Option<chrono::Duration>,
    next_id: u64,
    stalls: Vec<PendingStall>,
    /// The App may edit other users' comments (an App with write access to
    /// issues can, on GitHub): what bytegate edits is then its own choice.
    app_edits_others: bool,
}

/// A stall the fake applies to the next request of `op`.
struct PendingStall {
    op: String,
    entered: tokio::sync::oneshot::Sender<()>,
    release: tokio::sync::oneshot::Receiver<()>,
}

/// The test's end of a stalled request: learn that it arrived, then let it go.
pub struct Stall {
    entered: Option<tokio::sync::oneshot::Receiver<()>>,
    release: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Stall {
    /// Waits until the stalled request has arrived (and is being held).
    pub async fn entered(&mut self) {
        if let Some(rx) = self.entered.take() {
            rx.await.expect("the fake dropped the stalled request");
        }
    }

    /// Lets the stalled request be answered (dropping the stall does too).
    pub fn release(&mut self) {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
    }
}

/// The login comments created through the API get.
pub const BOT_LOGIN: &str = "bytegate[bot]";

/// The App installation of every repository unless a test says otherwise
/// (the id GitHub's example payloads carry).
pub const DEFAULT_INSTALLATION: u64 = 1;

type Shared = Arc<Mutex<State_>>;

/// An injected failure.
#[derive(Debug, Clone, Default)]
struct Failure {
    op: String,
    status: u16,
    headers: Vec<(String, String)>,
    message: String,
    apply: bool,
}

/// The running fake.
pub struct FakeGithub {
    /// Base URL to configure as `api_url` (includes the GHES-style prefix).
    pub url: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGithub {
    /// Starts a fake that expects GitHub App installation tokens. Its API
    /// lives under `/api/v3`, as on GitHub Enterprise Server, so the base-URL
    /// path handling is exercised too.
    pub async fn start() -> FakeGithub {
        FakeGithub::start_with(None).await
    }

    /// Starts a fake that accepts this personal token (token mode).
    pub async fn start_with_token(token: &str) -> FakeGithub {
        FakeGithub::start_with(Some(token.to_string())).await
    }

    async fn start_with(personal_token: Option<String>) -> FakeGithub {
        let state: Shared = Arc::new(Mutex::new(State_ {
            prefix: "/api/v3".to_string(),
            personal_token,
            next_id: 1000,
            ..State_::default()
        }));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGithub {
            url: format!("http://{addr}/api/v3"),
            state,
            task,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State_) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Sets a PR's changed files: `(path, status, previous_filename)`.
    pub fn set_pr_files(&self, repo: &str, number: u64, files: &[(&str, &str, Option<&str>)]) {
        let files = files
            .iter()
            .map(|(path, status, prev)| {
                let mut f = json!({
                    "sha": format!("blob-{path}-{}", rand_suffix()),
                    "filename": path,
                    "status": status,
                    "additions": 1, "deletions": 0, "changes": 1,
                    "blob_url": format!("https://github.com/{repo}/blob/x/{path}"),
                    "raw_url": format!("https://github.com/{repo}/raw/x/{path}"),
                    "contents_url": format!("https://api.github.com/repos/{repo}/contents/{path}"),
                });
                if let Some(p) = prev {
                    f["previous_filename"] = json!(p);
                }
                f
            })
            .collect();
        self.with(|s| s.files.insert((repo.to_string(), number), files));
    }

    /// Stores a file's content at a ref (a sha or branch).
    pub fn put_file(&self, repo: &str, git_ref: &str, path: &str, content: &str) {
        self.with(|s| {
            s.contents.insert(
                (repo.to_string(), git_ref.to_string(), path.to_string()),
                content.as_bytes().to_vec(),
            )
        });
    }

    /// Describes a PR for `pulls/get`.
    pub fn set_pull(&self, repo: &str, number: u64, pull: Pull) {
        self.with(|s| s.pulls.insert((repo.to_string(), number), pull));
    }

    /// Sets a user's permission on a repository.
    pub fn set_permission(&self, repo: &str, user: &str, permission: &str) {
        self.with(|s| {
            s.permissions
                .insert((repo.to_string(), user.to_string()), permission.to_string())
        });
    }

    /// Adds a review (REST shape: uppercase state).
    pub fn add_review(&self, repo: &str, number: u64, user: &str, state: &str, commit: &str) {
        self.with(|s| {
            s.next_id += 1;
            let mut r = contract::response_example("pulls/list-reviews", "200", None)[0].clone();
            r["id"] = json!(s.next_id);
            r["user"]["login"] = json!(user);
            r["state"] = json!(state);
            r["commit_id"] = json!(commit);
            s.reviews
                .entry((repo.to_string(), number))
                .or_default()
                .push(r);
        });
    }

    /// Adds a review submitted at `submitted_at` (RFC 3339); returns its id.
    pub fn add_review_at(
        &self,
        repo: &str,
        number: u64,
        user: &str,
        state: &str,
        commit: &str,
        submitted_at: &str,
    ) -> u64 {
        self.add_review(repo, number, user, state, commit);
        self.with(|s| {
            let r = s
                .reviews
                .get_mut(&(repo.to_string(), number))
                .and_then(|v| v.last_mut())
                .expect("the review just added");
            r["submitted_at"] = json!(submitted_at);
            r["id"].as_u64().unwrap_or(0)
        })
    }

    /// Changes a review's state (e.g. `DISMISSED`), as GitHub does on dismissal.
    pub fn set_review_state(&self, repo: &str, number: u64, id: u64, state: &str) {
        self.with(|s| {
            for r in s.reviews.entry((repo.to_string(), number)).or_default() {
                if r["id"].as_u64() == Some(id) {
                    r["state"] = json!(state);
                }
            }
        });
    }

    /// Makes `user` an active member of `team` (`org/team-slug`).
    pub fn add_team_member(&self, team: &str, user: &str) {
        self.with(|s| {
            s.team_members
                .insert((team.to_ascii_lowercase(), user.to_ascii_lowercase()))
        });
    }

    /// Deployments created, in order.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.with(|s| s.deployments.clone())
    }

    /// Answers the next `times` requests of operation `op` with `status`
    /// (and changes nothing), e.g. `fail_next("checks/create", 502, 1)`.
    pub fn fail_next(&self, op: &str, status: u16, times: usize) {
        self.fail_next_with(op, status, &[], "injected failure", times);
    }

    /// Like [`FakeGithub::fail_next`], with response headers and a message
    /// (rate limits: `retry-after`, `x-ratelimit-remaining`, ...).
    pub fn fail_next_with(
        &self,
        op: &str,
        status: u16,
        headers: &[(&str, &str)],
        message: &str,
        times: usize,
    ) {
        let failure = Failure {
            op: op.to_string(),
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            message: message.to_string(),
            apply: false,
        };
        self.with(|s| {
            for _ in 0..times {
                s.failures.push_back(failure.clone());
            }
        });
    }

    /// Drops the injected failures of `op` not yet used (the outage is over).
    pub fn recover(&self, op: &str) {
        self.with(|s| s.failures.retain(|f| f.op != op));
    }

    /// The next request of `op` takes effect, but its answer is `status`
    /// (a 502 after GitHub created the comment).
    pub fn fail_after_next(&self, op: &str, status: u16) {
        let failure = Failure {
            op: op.to_string(),
            status,
            message: "injected failure after the change".to_string(),
            apply: true,
            ..Failure::default()
        };
        self.with(|s| s.failures.push_back(failure));
    }

    /// Holds the next request of `op` before it is answered, until the
    /// returned [`Stall`] is released: a slow forge call, without timing.
    pub fn stall_next(&self, op: &str) -> Stall {
        let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel();
        self.with(|s| {
            s.stalls.push(PendingStall {
                op: op.to_string(),
                entered: entered_tx,
                release: release_rx,
            })
        });
        Stall {
            entered: Some(entered_rx),
            release: Some(release_tx),
        }
    }

    /// Installation tokens minted from now on expire after `lifetime` (default 1 hour).
    pub fn set_token_lifetime(&self, lifetime: chrono::Duration) {
        self.with(|s| s.token_lifetime = Some(lifetime));
    }

    /// Lets the App edit other users' comments, as an App with write access
    /// to issues may: nothing but bytegate's own restraint protects them then.
    pub fn let_app_edit_others_comments(&self) {
        self.with(|s| s.app_edits_others = true);
    }

    /// Adds a comment someone else wrote.
    pub fn add_comment(&self, repo: &str, number: u64, author: &str, body: &str) -> u64 {
        self.with(|s| {
            s.next_id += 1;
            let id = s.next_id;
            s.comments.push(Comment {
                id,
                repo: repo.to_string(),
                number,
                body: body.to_string(),
                author: author.to_string(),
                edits: 0,
            });
            id
        })
    }

    /// Adds an in-progress check run (one an earlier, crashed attempt left).
    pub fn add_check_run(&self, repo: &str, sha: &str, name: &str) -> u64 {
        self.with(|s| {
            s.next_id += 1;
            let id = s.next_id;
            s.check_runs.push(CheckRun {
                id,
                repo: repo.to_string(),
                head_sha: sha.to_string(),
                name: name.to_string(),
                status: "in_progress".to_string(),
                conclusion: None,
                title: None,
                summary: None,
                annotations: vec![],
                annotation_batches: vec![],
            });
            id
        })
    }

    /// Check runs, in creation order.
    pub fn check_runs(&self) -> Vec<CheckRun> {
        self.with(|s| s.check_runs.clone())
    }

    /// Check runs on one commit.
    pub fn check_runs_on(&self, sha: &str) -> Vec<CheckRun> {
        self.check_runs()
            .into_iter()
            .filter(|c| c.head_sha == sha)
            .collect()
    }

    /// Check runs of the SQL review (other checks, like `bytegate/approval`, left out).
    pub fn sql_review_runs(&self) -> Vec<CheckRun> {
        self.check_runs()
            .into_iter()
            .filter(|c| c.name == "bytegate/sql-review")
            .collect()
    }

    /// SQL-review check runs on one commit.
    pub fn sql_review_runs_on(&self, sha: &str) -> Vec<CheckRun> {
        self.sql_review_runs()
            .into_iter()
            .filter(|c| c.head_sha == sha)
            .collect()
    }

    /// The latest check run named `name` on `sha`.
    pub fn latest_check_run(&self, sha: &str, name: &str) -> Option<CheckRun> {
        self.check_runs_on(sha)
            .into_iter()
            .rfind(|c| c.name == name)
    }

    /// Commit statuses of one context, in order.
    pub fn statuses_of(&self, context: &str) -> Vec<Value> {
        self.statuses()
            .into_iter()
            .filter(|s| s["context"] == context)
            .collect()
    }

    /// Comments on a PR, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<Comment> {
        self.with(|s| {
            s.comments
                .iter()
                .filter(|c| c.repo == repo && c.number == number)
                .cloned()
                .collect()
        })
    }

    /// Commit statuses posted, in order.
    pub fn statuses(&self) -> Vec<Value> {
        self.with(|s| s.statuses.clone())
    }

    /// Every request answered.
    pub fn requests(&self) -> Vec<Request> {
        self.with(|s| s.requests.clone())
    }

    /// Requests of one operation.
    pub fn requests_of(&self, op: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.op == op).collect()
    }

    /// Installation tokens minted.
    pub fn tokens_minted(&self) -> usize {
        self.with(|s| s.minted_for.len())
    }

    /// The installations tokens were minted for, in order.
    pub fn token_installations(&self) -> Vec<u64> {
        self.with(|s| s.minted_for.clone())
    }

    /// Removes the App from `repo` (`GET /repos/{repo}/installation` answers
    /// 404), as GitHub does: its installation's tokens are revoked and no new
    /// ones can be minted for it.
    pub fn uninstall(&self, repo: &str) {
        self.with(|s| {
            if let Some(old) = s.installation_of(repo) {
                s.uninstalled.push(old);
                let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut s.minted)
                    .into_iter()
                    .partition(|(_, id)| *id == old);
                s.minted = kept;
                s.revoked.extend(gone.into_iter().map(|(t, _)| t));
            }
            s.installations.insert(repo.to_string(), None);
        });
    }

    /// Reinstalls the App on `repo` under a new installation id (after
    /// [`FakeGithub::uninstall`]).
    pub fn reinstall(&self, repo: &str, new_id: u64) {
        self.uninstall(repo);
        self.with(|s| s.installations.insert(repo.to_string(), Some(new_id)));
    }

    /// Panics with every contract violation, unknown route or auth failure seen.
    pub fn assert_clean(&self) {
        let v = self.with(|s| s.violations.clone());
        assert!(
            v.is_empty(),
            "the fake GitHub saw violations:\n{}",
            v.join("\n")
        );
        let left = self.with(|s| s.failures.len());
        assert_eq!(left, 0, "injected failures were not all consumed");
    }
}

impl State_ {
    /// The App installation reaching `repo`, if the App is installed there.
    fn installation_of(&self, repo: &str) -> Option<u64> {
        self.installations
            .get(repo)
            .copied()
            .unwrap_or(Some(DEFAULT_INSTALLATION))
    }
}

/// Whether an `Authorization` header carries a JWT (three base64url parts),
/// as the App's own requests must.
fn is_app_jwt(auth: &str) -> bool {
    auth.strip_prefix("Bearer ")
        .is_some_and(|jwt| jwt.split('.').count() == 3)
}

fn rand_suffix() -> u32 {
    rand::random::<u32>()
}

fn respond(status: u16, body: Value) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn not_found() -> (u16, Value) {
    (
        404,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}),
    )
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The operation a request addresses (contract op id), with its path parts.
fn route(method: &Method, segs: &[&str]) -> &'static str {
    match (method.as_str(), segs) {
        ("POST", ["app", "installations", _, "access_tokens"]) => {
            "apps/create-installation-access-token"
        }
        ("GET", ["repos", _, _, "installation"]) => "apps/get-repo-installation",
        ("GET", ["repos", _, _, "pulls", _]) => "pulls/get",
        ("GET", ["repos", _, _, "pulls", _, "files"]) => "pulls/list-files",
        ("GET", ["repos", _, _, "pulls", _, "reviews"]) => "pulls/list-reviews",
        ("GET", ["repos", _, _, "contents", ..]) => "repos/get-content",
        ("GET", ["repos", _, _, "git", "trees", _]) => "git/get-tree",
        ("POST", ["repos", _, _, "check-runs"]) => "checks/create",
        ("PATCH", ["repos", _, _, "check-runs", _]) => "checks/update",
        ("GET", ["repos", _, _, "commits", _, "check-runs"]) => "checks/list-for-ref",
        ("POST", ["repos", _, _, "statuses", _]) => "repos/create-commit-status",
        ("POST", ["repos", _, _, "deployments"]) => "repos/create-deployment",
        ("POST", ["repos", _, _, "deployments", _, "statuses"]) => "repos/create-deployment-status",
        ("GET", ["repos", _, _, "issues", _, "comments"]) => "issues/list-comments",
        ("POST", ["repos", _, _, "issues", _, "comments"]) => "issues/create-comment",
        ("PATCH", ["repos", _, _, "issues", "comments", _]) => "issues/update-comment",
        ("GET", ["orgs", _, "teams", _, "memberships", _]) => {
            "teams/get-membership-for-user-in-org"
        }
        ("GET", ["repos", _, _, "collaborators", _, "permission"]) => {
            "repos/get-collaborator-permission-level"
        }
        _ => "unknown",
    }
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A stalled route waits here, before the state is locked, so other
    // requests are answered meanwhile.
    let stall = {
        let mut s = state.lock().unwrap();
        let rel = uri.path().strip_prefix(&s.prefix).unwrap_or("").to_string();
        let segs: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
        let op = route(&method, &segs);
        s.stalls
            .iter()
            .position(|st| st.op == op)
            .map(|i| s.stalls.remove(i))
    };
    if let Some(stall) = stall {
        let _ = stall.entered.send(());
        let _ = stall.release.await;
    }
    let mut s = state.lock().unwrap();
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let prefix = s.prefix.clone();
    let Some(rel) = path.strip_prefix(&prefix).map(str::to_string) else {
        s.violations
            .push(format!("{method} {path}: outside the API prefix {prefix}"));
        return respond(404, json!({"message": "Not Found"}));
    };
    let segs: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
    let op = route(&method, &segs);
    let (status, reply, extra_headers) =
        match answer(&mut s, &method, op, &segs, &query, &headers, &body) {
            Answer::Reply(status, reply) => (status, reply, Vec::new()),
            Answer::Failure(f) => (
                f.status,
                Reply::Json(json!({"message": f.message})),
                f.headers,
            ),
        };
    s.requests.push(Request {
        method: method.to_string(),
        path: if query.is_empty() {
            rel.clone()
        } else {
            format!("{rel}?{query}")
        },
        op: op.to_string(),
        status,
    });
    let mut response = match reply {
        Reply::Json(v) => respond(status, v),
        Reply::Raw(bytes) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [("content-type", "application/vnd.github.raw+json")],
            bytes,
        )
            .into_response(),
    };
    for (k, v) in extra_headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::try_from(k),
            axum::http::HeaderValue::try_from(v),
        ) {
            response.headers_mut().insert(k, v);
        }
    }
    response
}

enum Answer {
    Reply(u16, Reply),
    Failure(Failure),
}

enum Reply {
    Json(Value),
    Raw(Vec<u8>),
}

fn answer(
    s: &mut State_,
    method: &Method,
    op: &'static str,
    segs: &[&str],
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let json_reply = |(status, v): (u16, Value)| Answer::Reply(status, Reply::Json(v));
    if op == "unknown" {
        s.violations
            .push(format!("unknown route: {method} /{}", segs.join("/")));
        return json_reply(not_found());
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // The App's own operations take its JWT, never an installation token.
    if op.starts_with("apps/") && !is_app_jwt(&auth) {
        s.violations
            .push(format!("{op} without an app JWT: `{auth}`"));
        return json_reply((
            401,
            json!({"message": "A JSON web token could not be decoded"}),
        ));
    }
    if op == "apps/get-repo-installation" {
        let repo = format!("{}/{}", segs[1], segs[2]);
        let Some(id) = s.installation_of(&repo) else {
            return json_reply(not_found());
        };
        return json_reply((200, contract::repo_installation_example(id, &repo)));
    }
    if op == "apps/create-installation-access-token" {
        let id: u64 = segs[2].parse().unwrap_or(0);
        let known = id == DEFAULT_INSTALLATION || s.installations.values().any(|i| *i == Some(id));
        if !known || s.uninstalled.contains(&id) {
            return json_reply(not_found());
        }
        let token = format!("ghs_fake_{}", s.minted_for.len() + 1);
        s.minted.push((token.clone(), id));
        s.minted_for.push(id);
        let lifetime = s
            .token_lifetime
            .unwrap_or_else(|| chrono::Duration::hours(1));
        let expires =
            (chrono::Utc::now() + lifetime).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        return json_reply((
            201,
            json!({"token": token, "expires_at": expires, "permissions": {}}),
        ));
    }
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    if s.revoked.iter().any(|t| t == token) {
        return json_reply((401, json!({"message": "Bad credentials"})));
    }
    let installation = s.minted.iter().find(|(t, _)| t == token).map(|(_, id)| *id);
    let authorized = installation.is_some() || s.personal_token.as_deref() == Some(token);
    if !authorized {
        s.violations.push(format!("{op}: bad credentials `{auth}`"));
        return json_reply((401, json!({"message": "Bad credentials"})));
    }
    // An installation token reaches only its installation's repositories.
    if let (Some(id), ["repos", owner, name, ..]) = (installation, segs) {
        let repo = format!("{owner}/{name}");
        let reaches = s.installation_of(&repo);
        if reaches != Some(id) {
            s.violations.push(format!(
                "{op}: a token of installation {id} used on {repo} (installation {reaches:?})"
            ));
            return json_reply(not_found());
        }
    }
    // Request-body contract.
    let parsed: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => Some(v),
            Err(e) => {
                s.violations.push(format!("{op}: body is not JSON: {e}"));
                return json_reply((400, json!({"message": "Problems parsing JSON"})));
            }
        }
    };
    let schema = if op == "repos/create-commit-status" {
        Some(contract::status_schema())
    } else {
        deployment_schema(op).or_else(|| contract::request_schema(op).cloned())
    };
    match (&schema, &parsed) {
        (Some(schema), Some(v)) => {
            let errs = contract::validate(v, schema);
            if !errs.is_empty() {
                s.violations.push(format!("{op}: {}", errs.join("; ")));
                return json_reply((422, json!({"message": "Validation Failed", "errors": errs})));
            }
        }
        (Some(_), None) => {
            s.violations.push(format!("{op}: missing request body"));
            return json_reply((422, json!({"message": "Validation Failed"})));
        }
        (None, Some(_)) => s.violations.push(format!("{op}: unexpected request body")),
        (None, None) => {}
    }
    if let Some(pp) = query_param(query, "per_page")
        && pp.parse::<u32>().map_or(true, |n| n == 0 || n > 100)
    {
        s.violations
            .push(format!("{op}: per_page={pp} (GitHub allows 1..=100)"));
    }
    // Injected failures come after validation: a rejected body is a bug, not weather.
    if let Some(i) = s.failures.iter().position(|f| f.op == op) {
        let failure = s.failures.remove(i).unwrap_or_default();
        if failure.apply {
            // GitHub did the work, then the answer was lost.
            let _ = perform(s, op, segs, query, headers, parsed);
        }
        return Answer::Failure(failure);
    }
    perform(s, op, segs, query, headers, parsed)
}

/// Does what the operation does (the request has passed every check).
fn perform(
    s: &mut State_,
    op: &'static str,
    segs: &[&str],
    query: &str,
    headers: &HeaderMap,
    parsed: Option<Value>,
) -> Answer {
    let json_reply = |(status, v): (u16, Value)| Answer::Reply(status, Reply::Json(v));
    let repo = format!("{}/{}", segs[1], segs[2]);
    let body = parsed.unwrap_or(Value::Null);
    match op {
        "pulls/get" => {
            let number: u64 = segs[4].parse().unwrap_or(0);
            let Some(p) = s.pulls.get(&(repo.clone(), number)).cloned() else {
                return json_reply(not_found());
            };
            let mut v = contract::response_example("pulls/get", "200", None);
            v["number"] = json!(number);
            v["state"] = json!("open");
            v["head"]["sha"] = json!(p.head_sha);
            v["head"]["repo"]["full_name"] = json!(p.head_repo);
            v["base"]["sha"] = json!(p.base_sha);
            v["base"]["repo"]["full_name"] = json!(repo);
            json_reply((200, v))
        }
        "pulls/list-files" => {
            let number: u64 = segs[4].parse().unwrap_or(0);
            let all = s.files.get(&(repo, number)).cloned().unwrap_or_default();
            json_reply((200, Value::Array(page(&all, query))))
        }
        "pulls/list-reviews" => {
            let number: u64 = segs[4].parse().unwrap_or(0);
            let all = s.reviews.get(&(repo, number)).cloned().unwrap_or_default();
            json_reply((200, Value::Array(page(&all, query))))
        }
        "repos/get-content" => {
            let path = segs[4..]
                .iter()
                .map(|p| percent_decode(p))
                .collect::<Vec<_>>()
                .join("/");
            let git_ref = query_param(query, "ref").unwrap_or_else(|| "main".to_string());
            let accept = headers
                .get("accept")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if let Some(bytes) = s
                .contents
                .get(&(repo.clone(), git_ref.clone(), path.clone()))
            {
                if accept.contains("raw") {
                    return Answer::Reply(200, Reply::Raw(bytes.clone()));
                }
                let mut v = contract::response_example(
                    "repos/get-content",
                    "200",
                    Some("response-if-content-is-a-file"),
                );
                v["path"] = json!(path);
                v["size"] = json!(bytes.len());
                return json_reply((200, v));
            }
            let prefix = format!("{path}/");
            let entries: Vec<Value> = s
                .contents
                .keys()
                .filter(|(r, g, p)| r == &repo && g == &git_ref && p.starts_with(&prefix))
                .filter(|(_, _, p)| !p[prefix.len()..].contains('/'))
                .map(|(_, _, p)| {
                    json!({"type": "file", "path": p, "name": p.rsplit('/').next().unwrap_or(p), "size": 1, "sha": "x"})
                })
                .collect();
            // GitHub lists at most 1,000 entries of a directory.
            let entries: Vec<Value> = entries.into_iter().take(1000).collect();
            if entries.is_empty() {
                json_reply(not_found())
            } else {
                json_reply((200, Value::Array(entries)))
            }
        }
        "git/get-tree" => {
            let git_ref = percent_decode(segs[5]);
            if query_param(query, "recursive").is_none() {
                s.violations
                    .push("git/get-tree without recursive=1".to_string());
            }
            let tree: Vec<Value> = s
                .contents
                .keys()
                .filter(|(r, g, _)| r == &repo && g == &git_ref)
                .map(|(_, _, p)| json!({"path": p, "mode": "100644", "type": "blob", "sha": "x", "size": 1}))
                .collect();
            if tree.is_empty() {
                return json_reply(not_found());
            }
            json_reply((
                200,
                json!({"sha": git_ref, "url": "", "tree": tree, "truncated": false}),
            ))
        }
        "checks/create" => {
            s.next_id += 1;
            let id = s.next_id;
            let annotations: Vec<Value> = body["output"]["annotations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let status = body["status"]
                .as_str()
                .unwrap_or(if body.get("conclusion").is_some() {
                    "completed"
                } else {
                    "queued"
                });
            let run = CheckRun {
                id,
                repo,
                head_sha: body["head_sha"].as_str().unwrap_or("").to_string(),
                name: body["name"].as_str().unwrap_or("").to_string(),
                status: if body.get("conclusion").is_some() {
                    "completed".into()
                } else {
                    status.to_string()
                },
                conclusion: body["conclusion"].as_str().map(str::to_string),
                title: body["output"]["title"].as_str().map(str::to_string),
                summary: body["output"]["summary"].as_str().map(str::to_string),
                annotation_batches: if annotations.is_empty() {
                    vec![]
                } else {
                    vec![annotations.len()]
                },
                annotations,
            };
            let reply = check_run_json(&run);
            s.check_runs.push(run);
            json_reply((201, reply))
        }
        "checks/list-for-ref" => {
            let sha = segs[4];
            let name = query_param(query, "check_name");
            let all = query_param(query, "filter").as_deref() == Some("all");
            let mut runs: Vec<&CheckRun> = s
                .check_runs
                .iter()
                .filter(|c| c.repo == repo && c.head_sha == sha)
                .filter(|c| name.as_deref().is_none_or(|n| c.name == n))
                .collect();
            // GitHub's default (filter=latest) keeps the newest run per name.
            runs.reverse();
            if !all {
                let mut seen = std::collections::HashSet::new();
                runs.retain(|c| seen.insert(c.name.clone()));
            }
            let list: Vec<Value> = runs.into_iter().map(check_run_json).collect();
            json_reply((200, json!({"total_count": list.len(), "check_runs": list})))
        }
        "checks/update" => {
            let id: u64 = segs[4].parse().unwrap_or(0);
            let Some(run) = s
                .check_runs
                .iter_mut()
                .find(|c| c.id == id && c.repo == repo)
            else {
                return json_reply(not_found());
            };
            if let Some(st) = body["status"].as_str() {
                run.status = st.to_string();
            }
            if let Some(c) = body["conclusion"].as_str() {
                run.conclusion = Some(c.to_string());
                run.status = "completed".into();
            }
            if let Some(t) = body["output"]["title"].as_str() {
                run.title = Some(t.to_string());
            }
            if let Some(t) = body["output"]["summary"].as_str() {
                run.summary = Some(t.to_string());
            }
            if let Some(a) = body["output"]["annotations"].as_array()
                && !a.is_empty()
            {
                run.annotation_batches.push(a.len());
                run.annotations.extend(a.iter().cloned());
            }
            let reply = check_run_json(run);
            json_reply((200, reply))
        }
        "repos/create-commit-status" => {
            let mut st = body.clone();
            st["sha"] = json!(segs[4]);
            s.statuses.push(st);
            json_reply((
                201,
                json!({"id": s.statuses.len(), "state": body["state"], "context": body["context"]}),
            ))
        }
        "repos/create-deployment" => {
            s.next_id += 1;
            let d = Deployment {
                id: s.next_id,
                repo,
                sha: body["ref"].as_str().unwrap_or("").to_string(),
                environment: body["environment"]
                    .as_str()
                    .unwrap_or("production")
                    .to_string(),
                production: body["production_environment"].as_bool().unwrap_or(false),
                statuses: Vec::new(),
                descriptions: Vec::new(),
            };
            let reply =
                json!({"id": d.id, "ref": d.sha, "sha": d.sha, "environment": d.environment});
            s.deployments.push(d);
            json_reply((201, reply))
        }
        "repos/create-deployment-status" => {
            let id: u64 = segs[4].parse().unwrap_or(0);
            let Some(d) = s
                .deployments
                .iter_mut()
                .find(|d| d.id == id && d.repo == repo)
            else {
                return json_reply(not_found());
            };
            d.statuses
                .push(body["state"].as_str().unwrap_or("").to_string());
            d.descriptions
                .push(body["description"].as_str().unwrap_or("").to_string());
            json_reply((201, json!({"id": d.statuses.len(), "state": body["state"]})))
        }
        "issues/list-comments" => {
            let number: u64 = segs[4].parse().unwrap_or(0);
            let all: Vec<Value> = s
                .comments
                .iter()
                .filter(|c| c.repo == repo && c.number == number)
                .map(comment_json)
                .collect();
            json_reply((200, Value::Array(page(&all, query))))
        }
        "issues/create-comment" => {
            let number: u64 = segs[4].parse().unwrap_or(0);
            s.next_id += 1;
            let c = Comment {
                id: s.next_id,
                repo,
                number,
                body: body["body"].as_str().unwrap_or("").to_string(),
                author: BOT_LOGIN.to_string(),
                edits: 0,
            };
            let reply = comment_json(&c);
            s.comments.push(c);
            json_reply((201, reply))
        }
        "issues/update-comment" => {
            let id: u64 = segs[5].parse().unwrap_or(0);
            let app_edits_others = s.app_edits_others;
            let Some(c) = s.comments.iter_mut().find(|c| c.id == id && c.repo == repo) else {
                return json_reply(not_found());
            };
            if c.author != BOT_LOGIN && !app_edits_others {
                // GitHub: an App without write access to issues cannot edit other users' comments.
                return json_reply((
                    403,
                    json!({"message": "Resource not accessible by integration"}),
                ));
            }
            c.body = body["body"].as_str().unwrap_or("").to_string();
            c.edits += 1;
            let reply = comment_json(c);
            json_reply((200, reply))
        }
        "teams/get-membership-for-user-in-org" => {
            // No contract example for this one: GitHub's documented shape.
            let team = format!("{}/{}", percent_decode(segs[1]), percent_decode(segs[3]));
            let user = percent_decode(segs[5]);
            let key = (team.to_ascii_lowercase(), user.to_ascii_lowercase());
            if !s.team_members.contains(&key) {
                return json_reply(not_found());
            }
            json_reply((
                200,
                json!({"url": format!("https://api.github.com/teams/1/memberships/{user}"),
                       "role": "member", "state": "active"}),
            ))
        }
        "repos/get-collaborator-permission-level" => {
            let user = percent_decode(segs[4]);
            let Some(p) = s.permissions.get(&(repo, user.clone())).cloned() else {
                return json_reply(not_found());
            };
            let mut v =
                contract::response_example("repos/get-collaborator-permission-level", "200", None);
            v["permission"] = json!(p);
            v["user"]["login"] = json!(user);
            json_reply((200, v))
        }
        _ => json_reply(not_found()),
    }
}

/// Request schemas of the deployment endpoints (not in the contract file;
/// fields and enums as GitHub documents them).
fn deployment_schema(op: &str) -> Option<Value> {
    match op {
        "repos/create-deployment" => Some(json!({
            "type": "object",
            "required": ["ref"],
            "properties": {
                "ref": {"type": "string"},
                "task": {"type": "string"},
                "auto_merge": {"type": "boolean"},
                "required_contexts": {"type": "array", "items": {"type": "string"}},
                "payload": {},
                "environment": {"type": "string"},
                "description": {"type": "string"},
                "transient_environment": {"type": "boolean"},
                "production_environment": {"type": "boolean"}
            }
        })),
        "repos/create-deployment-status" => Some(json!({
            "type": "object",
            "required": ["state"],
            "properties": {
                "state": {"type": "string", "enum": ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]},
                "target_url": {"type": "string"},
                "log_url": {"type": "string"},
                "description": {"type": "string", "maxLength": 140},
                "environment": {"type": "string"},
                "environment_url": {"type": "string"},
                "auto_inactive": {"type": "boolean"}
            }
        })),
        _ => None,
    }
}

fn page(all: &[Value], query: &str) -> Vec<Value> {
    let per_page: usize = query_param(query, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    let page: usize = query_param(query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    all.iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect()
}

fn check_run_json(run: &CheckRun) -> Value {
    let mut v = contract::response_example(
        "checks/create",
        "201",
        Some("example-of-in-progress-conclusion"),
    );
    v["id"] = json!(run.id);
    v["head_sha"] = json!(run.head_sha);
    v["name"] = json!(run.name);
    v["status"] = json!(run.status);
    v["conclusion"] = json!(run.conclusion);
    v["output"]["title"] = json!(run.title);
    v["output"]["summary"] = json!(run.summary);
    v["output"]["annotations_count"] = json!(run.annotations.len());
    v
}

fn comment_json(c: &Comment) -> Value {
    let mut v = contract::response_example("issues/create-comment", "201", None);
    v["id"] = json!(c.id);
    v["body"] = json!(c.body);
    v["user"]["login"] = json!(c.author);
    v
}
