//! A fake GitLab REST API (v4) in the test process: an axum server with state
//! (merge requests, diffs, files, notes, commit statuses, approvals, users,
//! members). bytegate's real reqwest client talks to it; only the URL differs.
//!
//! Strict: every call must carry the configured `PRIVATE-TOKEN`, and a route
//! the fake does not know is a violation. [`FakeGitlab::assert_clean`] fails
//! the test on any violation.

#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The username notes created through the API get (a project access token's bot user).
pub const BOT_USERNAME: &str = "project_1_bot_bytegate";

/// A note as the fake stores it.
#[derive(Debug, Clone)]
pub struct Note {
    /// Note id.
    pub id: u64,
    /// Project id.
    pub project: u64,
    /// MR iid.
    pub iid: u64,
    /// Text.
    pub body: String,
    /// Author username.
    pub author: String,
    /// How many times it was edited.
    pub edits: usize,
    /// A system note (GitLab's own, e.g. "approved this merge request").
    pub system: bool,
    /// When it was written (RFC 3339).
    pub created_at: String,
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Path below `/api/v4` with the query.
    pub path: String,
    /// The route name.
    pub op: String,
    /// Status answered.
    pub status: u16,
}

/// A merge request as `GET /merge_requests/:iid` shows it.
#[derive(Debug, Clone)]
pub struct MergeRequest {
    /// Head commit.
    pub sha: String,
    /// Base commit (`diff_refs.base_sha`).
    pub base_sha: String,
    /// Target branch.
    pub target_branch: String,
    /// Author username.
    pub author: String,
    /// `opened`, `closed` or `merged`.
    pub state: String,
}

/// A diff discussion as the fake stores it.
#[derive(Debug, Clone)]
pub struct Discussion {
    /// Discussion id (hex, as GitLab's).
    pub id: String,
    /// MR iid.
    pub iid: u64,
    /// First note's text.
    pub body: String,
    /// The position sent.
    pub position: Value,
    /// Resolved.
    pub resolved: bool,
}

/// How the approvals API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalsApi {
    /// Available (a paid tier, or a GitLab version that has it).
    Available,
    /// Answers 403 (GitLab Free).
    Forbidden,
}

struct St {
    token: String,
    /// The token's own user (`GET /user`).
    current_user: String,
    mrs: HashMap<(u64, u64), MergeRequest>,
    diffs: HashMap<(u64, u64), Vec<Value>>,
    files: BTreeMap<(u64, String, String), Vec<u8>>,
    notes: Vec<Note>,
    statuses: Vec<Value>,
    approvals: HashMap<(u64, u64), Vec<String>>,
    discussions: Vec<Discussion>,
    approvals_api: ApprovalsApi,
    users: BTreeMap<String, u64>,
    members: HashMap<(u64, u64), u32>,
    requests: Vec<Request>,
    violations: Vec<String>,
    failures: VecDeque<(String, u16, Option<String>)>,
    next_id: u64,
}

type Shared = Arc<Mutex<St>>;

/// The running fake.
pub struct FakeGitlab {
    /// Base URL to configure as `forges.gitlab.url` (a self-managed path prefix included).
    pub url: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitlab {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGitlab {
    /// Starts a fake accepting `token`. It lives under `/gitlab`, as a
    /// self-managed instance under a relative URL would.
    pub async fn start(token: &str) -> FakeGitlab {
        let state: Shared = Arc::new(Mutex::new(St {
            token: token.to_string(),
            mrs: HashMap::new(),
            diffs: HashMap::new(),
            files: BTreeMap::new(),
            notes: Vec::new(),
            statuses: Vec::new(),
            approvals: HashMap::new(),
            discussions: Vec::new(),
            approvals_api: ApprovalsApi::Available,
            users: BTreeMap::new(),
            current_user: BOT_USERNAME.to_string(),
            members: HashMap::new(),
            requests: Vec::new(),
            violations: Vec::new(),
            failures: VecDeque::new(),
            next_id: 5000,
        }));
        state
            .lock()
            .unwrap()
            .users
            .insert(BOT_USERNAME.to_string(), 1);
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGitlab {
            url: format!("http://{addr}/gitlab"),
            state,
            task,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut St) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Sets a merge request.
    pub fn set_mr(&self, project: u64, iid: u64, mr: MergeRequest) {
        self.with(|s| s.mrs.insert((project, iid), mr));
    }

    /// Sets an MR's diffs: `(path, new_file)`.
    pub fn set_diffs(&self, project: u64, iid: u64, files: &[(&str, bool)]) {
        let diffs = files
            .iter()
            .map(|(path, new)| {
                json!({"old_path": path, "new_path": path, "new_file": new,
                       "renamed_file": false, "deleted_file": false,
                       "diff": "@@ -0,0 +1 @@\n+x\n", "a_mode": "0", "b_mode": "100644"})
            })
            .collect();
        self.with(|s| s.diffs.insert((project, iid), diffs));
    }

    /// Stores a file at a ref.
    pub fn put_file(&self, project: u64, git_ref: &str, path: &str, content: &str) {
        self.with(|s| {
            s.files.insert(
                (project, git_ref.to_string(), path.to_string()),
                content.as_bytes().to_vec(),
            )
        });
    }

    /// Makes the token belong to `username` (a personal access token's user)
    /// instead of the project access token's bot user.
    pub fn set_current_user(&self, username: &str) {
        let mut s = self.state.lock().unwrap();
        s.current_user = username.to_string();
        let id = s.next_id;
        s.next_id += 1;
        s.users.entry(username.to_string()).or_insert(id);
    }

    /// Adds a user with a project access level (30 developer, 40 maintainer).
    pub fn add_member(&self, project: u64, username: &str, access_level: u32) {
        self.with(|s| {
            let next = s.users.len() as u64 + 100;
            let id = *s.users.entry(username.to_string()).or_insert(next);
            s.members.insert((project, id), access_level);
        });
    }

    /// Sets who approved an MR (the approvals API's `approved_by`).
    pub fn set_approvals(&self, project: u64, iid: u64, users: &[&str]) {
        self.with(|s| {
            for u in users {
                let next = s.users.len() as u64 + 100;
                s.users.entry(u.to_string()).or_insert(next);
            }
            s.approvals.insert(
                (project, iid),
                users.iter().map(|u| u.to_string()).collect(),
            )
        });
    }

    /// Makes the approvals API available or not.
    pub fn set_approvals_api(&self, api: ApprovalsApi) {
        self.with(|s| s.approvals_api = api);
    }

    /// Posts a note as a user (as if written in the web UI); returns its id.
    pub fn add_note(&self, project: u64, iid: u64, author: &str, body: &str) -> u64 {
        self.with(|s| {
            s.next_id += 1;
            let id = s.next_id;
            s.notes.push(Note {
                id,
                project,
                iid,
                body: body.to_string(),
                author: author.to_string(),
                edits: 0,
                system: false,
                created_at: now(),
            });
            id
        })
    }

    /// A system note by `author`, as GitLab writes on approve
    /// (`approved this merge request`) and unapprove; returns its id.
    pub fn add_system_note(&self, project: u64, iid: u64, author: &str, body: &str) -> u64 {
        let id = self.add_note(project, iid, author, body);
        self.with(|s| {
            if let Some(n) = s.notes.iter_mut().find(|n| n.id == id) {
                n.system = true;
            }
        });
        id
    }

    /// The next `times` calls of route `op` answer `status` (without acting).
    pub fn fail_next(&self, op: &str, status: u16, times: usize) {
        self.with(|s| {
            for _ in 0..times {
                s.failures.push_back((op.to_string(), status, None));
            }
        });
    }

    /// The next call of route `op` answers 429 with `Retry-After: seconds`.
    pub fn rate_limit_next(&self, op: &str, seconds: u64) {
        self.with(|s| {
            s.failures
                .push_back((op.to_string(), 429, Some(seconds.to_string())))
        });
    }

    /// Diff discussions, oldest first.
    pub fn discussions(&self) -> Vec<Discussion> {
        self.with(|s| s.discussions.clone())
    }

    /// Notes on an MR, oldest first.
    pub fn notes(&self, project: u64, iid: u64) -> Vec<Note> {
        self.with(|s| {
            s.notes
                .iter()
                .filter(|n| n.project == project && n.iid == iid)
                .cloned()
                .collect()
        })
    }

    /// Commit statuses posted, oldest first.
    pub fn statuses(&self) -> Vec<Value> {
        self.with(|s| s.statuses.clone())
    }

    /// The newest status named `name` on `sha`.
    pub fn latest_status(&self, sha: &str, name: &str) -> Option<Value> {
        self.statuses()
            .into_iter()
            .rev()
            .find(|v| v["sha"] == sha && v["name"] == name)
    }

    /// Every request answered.
    pub fn requests(&self) -> Vec<Request> {
        self.with(|s| s.requests.clone())
    }

    /// Requests of one route.
    pub fn requests_of(&self, op: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.op == op).collect()
    }

    /// Fails the test on unknown routes or missing tokens.
    pub fn assert_clean(&self) {
        let v = self.with(|s| s.violations.clone());
        assert!(v.is_empty(), "fake GitLab violations: {v:#?}");
    }
}

fn respond(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
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
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
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

/// The route name of a request below `/api/v4`.
fn route(method: &Method, segs: &[&str]) -> &'static str {
    let m = method.as_str();
    match (m, segs) {
        ("GET", ["projects", _, "merge_requests", _]) => "merge_requests/get",
        ("GET", ["projects", _, "merge_requests", _, "diffs"]) => "merge_requests/diffs",
        ("GET", ["projects", _, "merge_requests", _, "approvals"]) => "merge_requests/approvals",
        ("GET", ["projects", _, "merge_requests", _, "notes"]) => "notes/list",
        ("POST", ["projects", _, "merge_requests", _, "notes"]) => "notes/create",
        ("PUT", ["projects", _, "merge_requests", _, "notes", _]) => "notes/update",
        ("GET", ["projects", _, "merge_requests", _, "discussions"]) => "discussions/list",
        ("POST", ["projects", _, "merge_requests", _, "discussions"]) => "discussions/create",
        ("PUT", ["projects", _, "merge_requests", _, "discussions", _]) => "discussions/resolve",
        ("GET", ["projects", _, "repository", "files", _, "raw"]) => "files/raw",
        ("GET", ["projects", _, "repository", "tree"]) => "repository/tree",
        ("POST", ["projects", _, "statuses", _]) => "statuses/create",
        ("GET", ["projects", _, "members", "all", _]) => "members/get",
        ("GET", ["groups", _, "members", "all", _]) => "groups/members/get",
        ("GET", ["users"]) => "users/list",
        ("GET", ["user"]) => "users/current",
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
    let mut s = state.lock().unwrap();
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let Some(rel) = path.strip_prefix("/gitlab/api/v4/") else {
        s.violations
            .push(format!("{method} {path}: outside /gitlab/api/v4"));
        return respond(404, json!({"message": "404 Not Found"}));
    };
    let segs: Vec<&str> = rel.split('/').collect();
    let op = route(&method, &segs);
    let token_ok = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t == s.token);
    let mut retry_after = None;
    let (status, reply) = if !token_ok {
        s.violations
            .push(format!("{method} {path}: missing or wrong PRIVATE-TOKEN"));
        (401, json!({"message": "401 Unauthorized"}))
    } else if op == "unknown" {
        s.violations
            .push(format!("{method} {path}?{query}: unknown route"));
        (404, json!({"message": "404 Not Found"}))
    } else if let Some(pos) = s.failures.iter().position(|(o, _, _)| o == op) {
        let (_, status, wait) = s.failures.remove(pos).unwrap_or_default();
        retry_after = wait;
        (status, json!({"message": "injected failure"}))
    } else {
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        answer(&mut s, op, &segs, &query, &body)
    };
    s.requests.push(Request {
        method: method.to_string(),
        path: if query.is_empty() {
            rel.to_string()
        } else {
            format!("{rel}?{query}")
        },
        op: op.to_string(),
        status,
    });
    let mut response = match reply {
        Value::String(raw) if status == 200 && op == "files/raw" => {
            (StatusCode::OK, [("content-type", "text/plain")], raw).into_response()
        }
        v => respond(status, v),
    };
    if let Some(v) = retry_after.and_then(|v| axum::http::HeaderValue::try_from(v).ok()) {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn not_found() -> (u16, Value) {
    (404, json!({"message": "404 Not Found"}))
}

fn page(all: Vec<Value>, query: &str) -> Value {
    let per_page: usize = query_param(query, "per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let page: usize = query_param(query, "page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Value::Array(
        all.into_iter()
            .skip(per_page * page.saturating_sub(1))
            .take(per_page)
            .collect(),
    )
}

fn user_json(s: &St, username: &str) -> Value {
    json!({"id": s.users.get(username).copied().unwrap_or(0), "username": username, "name": username})
}

fn answer(s: &mut St, op: &str, segs: &[&str], query: &str, body: &Value) -> (u16, Value) {
    let num = |i: usize| segs.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let project = num(1);
    match op {
        "merge_requests/get" => match s.mrs.get(&(project, num(3))) {
            Some(mr) => (
                200,
                json!({"iid": num(3), "project_id": project, "sha": mr.sha,
                   "target_branch": mr.target_branch, "state": mr.state,
                   "title": "Add migrations", "author": user_json(s, &mr.author),
                   "source_project_id": project, "target_project_id": project,
                   "draft": false, "work_in_progress": false,
                   "diff_refs": {"base_sha": mr.base_sha, "head_sha": mr.sha, "start_sha": mr.base_sha}}),
            ),
            None => not_found(),
        },
        "merge_requests/diffs" => match s.diffs.get(&(project, num(3))) {
            Some(d) => (200, page(d.clone(), query)),
            None => not_found(),
        },
        "merge_requests/approvals" => {
            if s.approvals_api == ApprovalsApi::Forbidden {
                return (403, json!({"message": "403 Forbidden"}));
            }
            let users = s
                .approvals
                .get(&(project, num(3)))
                .cloned()
                .unwrap_or_default();
            let approved_by: Vec<Value> = users
                .iter()
                .map(|u| json!({"user": user_json(s, u)}))
                .collect();
            (
                200,
                json!({"iid": num(3), "approved": !approved_by.is_empty(), "approved_by": approved_by}),
            )
        }
        "notes/list" => {
            let notes: Vec<Value> = s
                .notes
                .iter()
                .filter(|n| n.project == project && n.iid == num(3))
                .map(|n| {
                    json!({"id": n.id, "body": n.body, "system": n.system,
                           "created_at": n.created_at, "author": user_json(s, &n.author)})
                })
                .collect();
            (200, page(notes, query))
        }
        "notes/create" => {
            let Some(text) = body["body"].as_str() else {
                return (400, json!({"message": "body is missing"}));
            };
            s.next_id += 1;
            let note = Note {
                id: s.next_id,
                project,
                iid: num(3),
                body: text.to_string(),
                author: BOT_USERNAME.to_string(),
                edits: 0,
                system: false,
                created_at: now(),
            };
            let reply = json!({"id": note.id, "body": note.body, "system": false,
                               "author": user_json(s, BOT_USERNAME)});
            s.notes.push(note);
            (201, reply)
        }
        "notes/update" => {
            let Some(text) = body["body"].as_str() else {
                return (400, json!({"message": "body is missing"}));
            };
            let (iid, id) = (num(3), num(5));
            let Some(n) = s
                .notes
                .iter_mut()
                .find(|n| n.project == project && n.iid == iid && n.id == id)
            else {
                return not_found();
            };
            if n.author != BOT_USERNAME {
                return (403, json!({"message": "403 Forbidden"}));
            }
            n.body = text.to_string();
            n.edits += 1;
            let reply = json!({"id": n.id, "body": n.body, "system": false});
            (200, reply)
        }
        "discussions/list" => {
            let list: Vec<Value> = s
                .discussions
                .iter()
                .filter(|d| d.iid == num(3))
                .map(|d| {
                    json!({"id": d.id, "individual_note": false, "notes": [
                        {"id": 1, "body": d.body, "resolvable": true, "resolved": d.resolved,
                         "position": d.position, "system": false}]})
                })
                .collect();
            (200, page(list, query))
        }
        "discussions/create" => {
            let p = &body["position"];
            let complete = ["base_sha", "start_sha", "head_sha", "new_path"]
                .iter()
                .all(|k| p[k].as_str().is_some_and(|v| !v.is_empty()))
                && p["position_type"] == "text"
                && p["new_line"].as_u64().is_some_and(|l| l >= 1);
            let Some(text) = body["body"].as_str().filter(|_| complete) else {
                return (
                    400,
                    json!({"message": "400 Bad request - position is incomplete"}),
                );
            };
            s.next_id += 1;
            let d = Discussion {
                id: format!("{:040x}", s.next_id),
                iid: num(3),
                body: text.to_string(),
                position: p.clone(),
                resolved: false,
            };
            let reply = json!({"id": d.id, "notes": [{"id": s.next_id, "body": text}]});
            s.discussions.push(d);
            (201, reply)
        }
        "discussions/resolve" => {
            let Some(resolved) = query_param(query, "resolved").and_then(|v| v.parse().ok()) else {
                return (400, json!({"message": "resolved is missing"}));
            };
            let (iid, id) = (num(3), segs[5].to_string());
            match s
                .discussions
                .iter_mut()
                .find(|d| d.iid == iid && d.id == id)
            {
                Some(d) => {
                    d.resolved = resolved;
                    (200, json!({"id": d.id}))
                }
                None => not_found(),
            }
        }
        "files/raw" => {
            let path = percent_decode(segs[4]);
            let git_ref = query_param(query, "ref").unwrap_or_default();
            match s.files.get(&(project, git_ref, path)) {
                Some(bytes) => (200, Value::String(String::from_utf8_lossy(bytes).into())),
                None => (404, json!({"message": "404 File Not Found"})),
            }
        }
        "repository/tree" => {
            let dir = query_param(query, "path").unwrap_or_default();
            let git_ref = query_param(query, "ref").unwrap_or_default();
            let prefix = format!("{}/", dir.trim_matches('/'));
            let entries: Vec<Value> = s
                .files
                .keys()
                .filter(|(p, r, path)| {
                    *p == project
                        && *r == git_ref
                        && path.starts_with(&prefix)
                        && !path[prefix.len()..].contains('/')
                })
                .map(|(_, _, path)| {
                    json!({"id": "0", "name": path.rsplit('/').next(), "type": "blob",
                           "path": path, "mode": "100644"})
                })
                .collect();
            if entries.is_empty() {
                return (404, json!({"message": "404 Tree Not Found"}));
            }
            (200, page(entries, query))
        }
        "statuses/create" => {
            let state = body["state"].as_str().unwrap_or_default();
            if !["pending", "running", "success", "failed", "canceled"].contains(&state) {
                return (400, json!({"message": "state does not have a valid value"}));
            }
            let name = body["name"].as_str().unwrap_or("default").to_string();
            let sha = percent_decode(segs[3]);
            let previous = s
                .statuses
                .iter()
                .rev()
                .find(|v| v["sha"] == sha && v["name"] == name)
                .and_then(|v| v["status"].as_str().map(str::to_string));
            if previous.as_deref() == Some(state) {
                // GitLab refuses a transition to the state the status already has.
                return (
                    400,
                    json!({"message": format!("Cannot transition status via :{state} from :{state}")}),
                );
            }
            let status = json!({"id": s.statuses.len() + 1, "sha": sha, "name": name,
                                "status": state, "description": body["description"],
                                "target_url": body["target_url"]});
            s.statuses.push(status.clone());
            (201, status)
        }
        "users/list" => {
            let name = query_param(query, "username").unwrap_or_default();
            let users: Vec<Value> = s
                .users
                .keys()
                .filter(|u| u.eq_ignore_ascii_case(&name))
                .map(|u| user_json(s, u))
                .collect();
            (200, Value::Array(users))
        }
        "users/current" => (200, user_json(s, &s.current_user.clone())),
        "members/get" => match s.members.get(&(project, num(4))) {
            Some(level) => (200, json!({"id": num(4), "access_level": level})),
            None => not_found(),
        },
        "groups/members/get" => not_found(),
        _ => not_found(),
    }
}
