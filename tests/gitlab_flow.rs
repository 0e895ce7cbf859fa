//! GitLab merge requests through the same engine as GitHub: upstream GitLab
//! webhook payloads (tests/fixtures/gitlab/upstream, copied verbatim from
//! ../shared/upstream/gitlab) are parsed by `webhook::gitlab::parse` after
//! rewriting project, iid, commits and times in memory; the flow then talks to
//! a stateful fake GitLab through the real reqwest client.

mod support;

#[path = "support/fake_gitlab.rs"]
mod fake_gitlab;

use bytegate::config::Config;
use bytegate::event::Event;
use bytegate::flow::rollout::DEPLOY_COMMENT_MARKER;
use bytegate::flow::{self, FlowContext};
use bytegate::forge::gitlab::GitlabForge;
use bytegate::forge::{ForgeSet, RetryPolicy};
use bytegate::store::testdb::TestDb;
use fake_gitlab::{ApprovalsApi, BOT_USERNAME, FakeGitlab, MergeRequest};
use serde_json::Value;
use std::sync::Arc;

const PROJECT: u64 = 77;
const PATH: &str = "acme/payments";
const IID: u64 = 4;
const BASE: &str = "1111111111111111111111111111111111111111";
const HEAD1: &str = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
const HEAD2: &str = "5ff66a1f7404deee915b50998c340e96d995f048";
const MERGE: &str = "78a76ee6b4992a6baf64c59fc4c44c7323d60438";
const TOKEN: &str = "glpat-test-token";
const M1: &str = "schema/migrations/001_users.sql";
const M1_OK: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";
const REVIEW: &str = "bytegate/sql-review";
const APPROVAL: &str = "bytegate/approval";

/// An upstream payload, with project, MR iid, head commit and time rewritten.
fn payload(name: &str, head: &str, at: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/gitlab/upstream/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut p: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    p["project"]["id"] = PROJECT.into();
    p["project"]["path_with_namespace"] = PATH.into();
    if name.starts_with("note") {
        p["merge_request"]["iid"] = IID.into();
    }
    let a = &mut p["object_attributes"];
    if name.starts_with("note") {
        a["created_at"] = at.into();
        a["updated_at"] = at.into();
    } else {
        a["iid"] = IID.into();
        a["last_commit"]["id"] = head.into();
        a["updated_at"] = at.into();
        a["source_project_id"] = PROJECT.into();
        a["target_project_id"] = PROJECT.into();
    }
    p
}

fn parse(event: &str, p: &Value) -> Event {
    bytegate::webhook::gitlab::parse(event, p)
        .unwrap()
        .event
        .expect("an event the flow acts on")
}

fn opened(head: &str) -> Event {
    parse(
        "Merge Request Hook",
        &payload("merge_request.open", head, "2026-01-01T10:00:00Z"),
    )
}

/// The atlantis capture: `action: update` with `oldrev` (new commits).
fn pushed(old: &str, head: &str) -> Event {
    let mut p = payload(
        "merge_request.update-new-commit.capture",
        head,
        "2026-01-01 10:10:00 UTC",
    );
    p["object_attributes"]["oldrev"] = old.into();
    parse("Merge Request Hook", &p)
}

fn note(author: &str, text: &str, id: u64, at: &str) -> Event {
    let mut p = payload("note.merge_request", "", at);
    p["user"]["username"] = author.into();
    p["object_attributes"]["note"] = text.into();
    p["object_attributes"]["id"] = id.into();
    parse("Note Hook", &p)
}

/// The open payload turned into an `action` hook by `user` (no upstream
/// example of approved/unapproved exists).
fn hook_by(action: &str, user: &str, head: &str) -> Event {
    let mut p = payload("merge_request.open", head, "2026-01-01T10:20:00Z");
    p["object_attributes"]["action"] = action.into();
    p["user"]["username"] = user.into();
    parse("Merge Request Hook", &p)
}

fn approved(user: &str, head: &str) -> Event {
    hook_by("approved", user, head)
}

fn merged() -> Event {
    let mut p = payload(
        "merge_request.merge.capture",
        HEAD1,
        "2026-01-01 10:30:00 UTC",
    );
    p["object_attributes"]["merge_commit_sha"] = MERGE.into();
    parse("Merge Request Hook", &p)
}

struct Gl {
    fake: FakeGitlab,
    db: TestDb,
    ctx: FlowContext,
}

impl Gl {
    /// `extra`: roles and environments. The MR is opened by `root` (the payload's user).
    async fn start(extra: &str) -> Gl {
        Gl::start_with(extra, "").await
    }

    /// `gitlab_extra`: more `forges.gitlab` keys (indented four spaces).
    async fn start_with(extra: &str, gitlab_extra: &str) -> Gl {
        let fake = FakeGitlab::start(TOKEN).await;
        let yaml = format!(
            r#"project:
  key: TEST
  name: Test
  migrations_dir: schema/migrations
forges:
  gitlab:
    url: {}
    webhook_token: hook-secret
    token: {TOKEN}
{gitlab_extra}review:
  custom:
    - name: no-drop-table
      severity: error
      patterns: ["DROP TABLE"]
      message: Dropping a table loses its data.
roles:
  dba:
    users: [dana]
  owner:
    users: [olga]
{extra}"#,
            fake.url
        );
        let config = Config::from_yaml(&yaml, "test config", &|_| None).unwrap();
        let forge =
            GitlabForge::from_config(config.forges.gitlab.as_ref().unwrap(), RetryPolicy::fast())
                .unwrap();
        let db = TestDb::migrated().await.unwrap();
        let ctx = FlowContext {
            db: db.pool.clone(),
            config: Arc::new(config),
            forges: ForgeSet::new().with(Arc::new(forge)),
            external_url: Some("https://bytegate.example.com".to_string()),
            guard: Default::default(),
            clock: Arc::new(bytegate::clock::SystemClock),
            metrics: Default::default(),
        };
        fake.add_member(PROJECT, "root", 40);
        Gl { fake, db, ctx }
    }

    /// The MR at `head` adds `sql` as M1.
    fn mr_at(&self, head: &str, sql: &str) {
        self.fake.set_mr(
            PROJECT,
            IID,
            MergeRequest {
                sha: head.into(),
                base_sha: BASE.into(),
                target_branch: "master".into(),
                author: "root".into(),
                state: "opened".into(),
            },
        );
        self.fake.set_diffs(PROJECT, IID, &[(M1, true)]);
        self.fake.put_file(PROJECT, head, M1, sql);
    }

    async fn handle(&self, e: &Event) {
        flow::handle_event(&self.ctx, e).await.unwrap();
    }

    fn status(&self, sha: &str, name: &str) -> String {
        let s = self.fake.latest_status(sha, name).unwrap_or_default();
        s["status"].as_str().unwrap_or("none").to_string()
    }

    fn bot_notes(&self) -> Vec<fake_gitlab::Note> {
        self.fake
            .notes(PROJECT, IID)
            .into_iter()
            .filter(|n| n.author == BOT_USERNAME)
            .collect()
    }
}

const ONE_STAGE: &str = "environments:\n  - name: staging\n    approvals: 1\n    roles: [dba]\n";

#[tokio::test]
async fn violation_fails_the_status_and_the_note_is_edited_on_the_next_push() {
    let gl = Gl::start(ONE_STAGE).await;
    gl.mr_at(HEAD1, "DROP TABLE users;\n");
    // GitLab answers 502 once to a status (posted again) and to the note
    // (looked for, then posted again: still one note).
    gl.fake.fail_next("statuses/create", 502, 1);
    gl.fake.fail_next("notes/create", 502, 1);
    // A rate limit with Retry-After (0 s here) is waited out in-line.
    gl.fake.rate_limit_next("merge_requests/diffs", 0);
    gl.handle(&opened(HEAD1)).await;

    assert_eq!(gl.status(HEAD1, REVIEW), "failed");
    let st = gl.fake.latest_status(HEAD1, REVIEW).unwrap();
    assert_eq!(st["target_url"], "https://bytegate.example.com");
    assert!(!st["description"].as_str().unwrap().is_empty());
    let notes = gl.bot_notes();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    for op in ["statuses/create", "notes/create"] {
        assert!(
            gl.fake.requests_of(op).iter().any(|r| r.status == 502),
            "{op}"
        );
    }
    let diffs: Vec<u16> = gl
        .fake
        .requests_of("merge_requests/diffs")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(diffs[..2], [429, 200]);
    assert!(notes[0].body.contains("no-drop-table"), "{}", notes[0].body);
    // Without annotations, the finding is in the note with its file and line.
    let link = format!(
        "({}/{PATH}/-/blob/{HEAD1}/schema/migrations/001_users.sql#L1)",
        gl.fake.url
    );
    assert!(notes[0].body.contains(&link), "{}", notes[0].body);
    // The diff comes from /diffs, the file raw at the head commit.
    assert!(!gl.fake.requests_of("merge_requests/diffs").is_empty());
    let raw = gl.fake.requests_of("files/raw");
    assert!(
        raw.iter().any(
            |r| r.path.contains("schema%2Fmigrations%2F001_users.sql/raw")
                && r.path.contains(HEAD1)
        ),
        "{raw:#?}"
    );

    gl.mr_at(HEAD2, "DROP TABLE users;\nDROP TABLE orders;\n");
    gl.handle(&pushed(HEAD1, HEAD2)).await;
    assert_eq!(gl.status(HEAD2, REVIEW), "failed");
    let notes = gl.bot_notes();
    assert_eq!(notes.len(), 1, "still one note: {notes:#?}");
    assert!(notes[0].edits >= 1);
    assert!(notes[0].body.contains(&HEAD2[..7]), "{}", notes[0].body);
    gl.fake.assert_clean();
}

#[tokio::test]
async fn approve_notes_alone_count_when_the_approvals_api_is_forbidden() {
    let gl = Gl::start(ONE_STAGE).await;
    gl.fake.set_approvals_api(ApprovalsApi::Forbidden);
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    assert_eq!(gl.status(HEAD1, REVIEW), "success");
    assert_ne!(gl.status(HEAD1, APPROVAL), "success");
    // An approval hook on GitLab Free: the approvals API answers 403 and the
    // job does not fail; nothing is counted from it.
    gl.handle(&approved("dana", HEAD1)).await;
    assert_ne!(gl.status(HEAD1, APPROVAL), "success");

    // The author's own approval never counts; dana (dba) does.
    gl.handle(&note(
        "root",
        "/bytebase approve",
        9001,
        "2026-01-01 10:15:00 UTC",
    ))
    .await;
    assert_ne!(gl.status(HEAD1, APPROVAL), "success");
    gl.handle(&note(
        "dana",
        "/bytebase approve",
        9002,
        "2026-01-01 10:20:00 UTC",
    ))
    .await;
    assert_eq!(gl.status(HEAD1, APPROVAL), "success");
    // The approvals API was asked and refused (403), and the job still succeeded.
    let asked = gl.fake.requests_of("merge_requests/approvals");
    assert!(!asked.is_empty() && asked.iter().all(|r| r.status == 403));
    // Commands are answered with notes; the sticky note shows the approval.
    let notes = gl.bot_notes();
    assert!(notes.len() >= 2, "{notes:#?}");
    assert!(notes[0].body.contains("dana"), "{}", notes[0].body);
    // GitLab sends Note Hooks for bytegate's own notes too (its user is no
    // `[bot]`): they are never obeyed nor answered.
    for (i, n) in notes.iter().enumerate() {
        gl.handle(&note(
            BOT_USERNAME,
            &n.body,
            n.id,
            "2026-01-01 10:25:00 UTC",
        ))
        .await;
        assert_eq!(gl.bot_notes().len(), notes.len(), "note {i} answered");
    }
    gl.fake.assert_clean();
}

/// Approvals recorded from comments: (user, state).
async fn comment_approvals(gl: &Gl) -> Vec<(String, String)> {
    sqlx::query_as("SELECT user_login, state FROM approvals WHERE source = 'comment'")
        .fetch_all(&gl.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn gitlab_bot_users_and_the_tokens_own_user_issue_no_commands() {
    let gl = Gl::start(ONE_STAGE).await;
    gl.fake.set_approvals_api(ApprovalsApi::Forbidden);
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    // Both are maintainers: were they obeyed, their approvals would be stored.
    gl.fake.add_member(PROJECT, BOT_USERNAME, 40);
    gl.fake.set_current_user("ci-bytegate");
    gl.fake.add_member(PROJECT, "ci-bytegate", 40);
    let before = gl.bot_notes().len();
    // A project access token's bot user (GitLab names it `project_<id>_bot_…`)…
    gl.handle(&note(
        BOT_USERNAME,
        "/bytebase approve",
        9101,
        "2026-01-01 10:15:00 UTC",
    ))
    .await;
    // … and the user of a personal token bytegate runs with (no such name).
    gl.handle(&note(
        "ci-bytegate",
        "/bytebase approve",
        9102,
        "2026-01-01 10:16:00 UTC",
    ))
    .await;
    assert_eq!(comment_approvals(&gl).await, []);
    assert_eq!(gl.bot_notes().len(), before, "a bot's note was answered");
    // A person's identical note is a command.
    gl.handle(&note(
        "dana",
        "/bytebase approve",
        9103,
        "2026-01-01 10:17:00 UTC",
    ))
    .await;
    assert_eq!(
        comment_approvals(&gl).await,
        [("dana".to_string(), "approved".to_string())]
    );
    gl.fake.assert_clean();
}

#[tokio::test]
async fn approvals_api_approvals_count_through_the_same_policy() {
    let gl = Gl::start(ONE_STAGE).await;
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    assert_ne!(gl.status(HEAD1, APPROVAL), "success");

    // An approval by a user without a role does not satisfy the policy.
    gl.fake.set_approvals(PROJECT, IID, &["mallory"]);
    gl.handle(&approved("mallory", HEAD1)).await;
    assert_ne!(gl.status(HEAD1, APPROVAL), "success");

    gl.fake.set_approvals(PROJECT, IID, &["mallory", "dana"]);
    gl.handle(&approved("dana", HEAD1)).await;
    assert_eq!(gl.status(HEAD1, APPROVAL), "success");
    assert_eq!(gl.bot_notes().len(), 1, "approvals edit the sticky note");

    // dana withdraws: GitLab drops her from approved_by and writes system notes.
    gl.fake
        .add_system_note(PROJECT, IID, "dana", "approved this merge request");
    gl.fake.set_approvals(PROJECT, IID, &["mallory"]);
    gl.fake
        .add_system_note(PROJECT, IID, "dana", "unapproved this merge request");
    gl.handle(&hook_by("unapproved", "dana", HEAD1)).await;
    assert_ne!(gl.status(HEAD1, APPROVAL), "success");
    gl.fake.assert_clean();
}

#[tokio::test]
async fn approve_button_counts_on_gitlab_free_through_its_system_note() {
    let gl = Gl::start(ONE_STAGE).await;
    gl.fake.set_approvals_api(ApprovalsApi::Forbidden);
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    gl.fake
        .add_system_note(PROJECT, IID, "dana", "approved this merge request");
    gl.handle(&approved("dana", HEAD1)).await;
    assert_eq!(gl.status(HEAD1, APPROVAL), "success");
    gl.fake
        .add_system_note(PROJECT, IID, "dana", "unapproved this merge request");
    gl.handle(&hook_by("unapproved", "dana", HEAD1)).await;
    assert_ne!(gl.status(HEAD1, APPROVAL), "success");
    // System notes are never taken for comments (no commands, no sticky note).
    assert_eq!(gl.bot_notes().len(), 1);
    gl.fake.assert_clean();
}

async fn table_exists(url: &str, name: &str) -> bool {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    e
}

#[tokio::test]
async fn merge_applies_development_on_postgres_and_updates_the_deploy_note() {
    let (dev, stg) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    let envs = format!(
        "environments:\n  - name: development\n    databases:\n      - name: dev-main\n        engine: postgres\n        url: \"{}\"\n  - name: staging\n    approvals: 1\n    roles: [dba]\n    databases:\n      - name: stg-main\n        engine: postgres\n        url: \"{}\"\n",
        dev.url(),
        stg.url()
    );
    let gl = Gl::start(&envs).await;
    gl.fake.set_approvals_api(ApprovalsApi::Forbidden);
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    gl.fake.put_file(PROJECT, MERGE, M1, M1_OK);

    gl.handle(&merged()).await;
    assert!(
        table_exists(&dev.url(), "users").await,
        "development applied"
    );
    assert!(!table_exists(&stg.url(), "users").await, "staging waits");
    let deploy = |gl: &Gl| {
        gl.bot_notes()
            .into_iter()
            .filter(|n| n.body.starts_with(DEPLOY_COMMENT_MARKER))
            .collect::<Vec<_>>()
    };
    let d = deploy(&gl);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].body.contains("development"), "{}", d[0].body);
    let edits_before = d[0].edits;

    // dana approves after the merge: staging deploys, the same note is updated.
    gl.handle(&note(
        "dana",
        "/bytebase approve",
        9100,
        "2026-01-01 10:40:00 UTC",
    ))
    .await;
    assert!(table_exists(&stg.url(), "users").await, "staging applied");
    let d = deploy(&gl);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].edits > edits_before);
    assert!(!d[0].body.contains("waiting"), "{}", d[0].body);
    drop(gl.db);
    gl.fake.assert_clean();
}

#[tokio::test]
async fn line_discussions_open_on_findings_and_resolve_when_they_are_gone() {
    let gl = Gl::start_with(ONE_STAGE, "    line_discussions: true\n").await;
    gl.mr_at(HEAD1, "-- drop it\nDROP TABLE users;\n");
    gl.handle(&opened(HEAD1)).await;
    // One thread per finding (the custom rule and the built-in ones).
    let d = gl.fake.discussions();
    let n = d.len();
    let ours = d
        .iter()
        .find(|d| d.body.contains("no-drop-table"))
        .expect("a thread for no-drop-table");
    assert_eq!(ours.position["new_path"], M1);
    assert_eq!(ours.position["new_line"], 2);
    assert_eq!(ours.position["head_sha"], HEAD1);
    assert_eq!(ours.position["base_sha"], BASE);
    assert!(d.iter().all(|d| !d.resolved));

    // The same findings on the next push (moved a line up) keep their threads.
    gl.mr_at(HEAD2, "DROP TABLE users;\n");
    gl.handle(&pushed(HEAD1, HEAD2)).await;
    assert_eq!(gl.fake.discussions().len(), n);

    // Fixed: every thread is resolved, none is added.
    const HEAD3: &str = "3333333333333333333333333333333333333333";
    gl.mr_at(HEAD3, M1_OK);
    gl.handle(&pushed(HEAD2, HEAD3)).await;
    let d = gl.fake.discussions();
    assert_eq!(d.len(), n, "{d:#?}");
    assert!(d.iter().all(|d| d.resolved), "{d:#?}");
    gl.fake.assert_clean();
}

/// The whole path: a GitLab delivery over HTTP → stored delivery and job → a
/// worker runs the flow → the fake GitLab holds the status and the note.
#[tokio::test]
async fn gitlab_delivery_over_http_becomes_a_status_and_one_note() {
    use bytegate::jobs::{self, EventJobHandler, RunOutcome, WorkerSettings};
    let gl = Gl::start(ONE_STAGE).await;
    gl.mr_at(HEAD1, "DROP TABLE users;\n");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/gitlab", listener.local_addr().unwrap());
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = bytegate::server::AppState::new(gl.db.pool.clone(), gl.ctx.config.clone());
    tokio::spawn(bytegate::server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let body = serde_json::to_vec(&payload(
        "merge_request.open",
        HEAD1,
        "2026-01-01T10:00:00Z",
    ))
    .unwrap();
    let deliver = |uuid: &'static str, token: &'static str| {
        let (url, body) = (url.clone(), body.clone());
        async move {
            reqwest::Client::new()
                .post(url)
                .header("X-Gitlab-Event", "Merge Request Hook")
                .header("X-Gitlab-Event-UUID", uuid)
                .header("X-Gitlab-Token", token)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(deliver("e-0", "wrong").await, 401);
    assert_eq!(deliver("e-1", "hook-secret").await, 202);
    // GitLab sends duplicate MR hooks for one push (another UUID): one job's work.
    let second = deliver("e-2", "hook-secret").await;
    assert!(second == 200 || second == 202, "{second}");

    let handler = EventJobHandler {
        ctx: gl.ctx.clone(),
    };
    let settings = WorkerSettings {
        clock: gl.ctx.clock.clone(),
        lease: std::time::Duration::from_secs(30),
        poll: std::time::Duration::from_millis(20),
        backoff_base: std::time::Duration::ZERO,
        backoff_max: std::time::Duration::ZERO,
    };
    let outcomes = jobs::drain(&gl.db.pool, &handler, &settings).await.unwrap();
    assert!(
        outcomes.iter().all(|o| matches!(o, RunOutcome::Done(_))) && !outcomes.is_empty(),
        "{outcomes:?}"
    );
    assert_eq!(gl.status(HEAD1, REVIEW), "failed");
    assert_eq!(gl.bot_notes().len(), 1);
    gl.fake.assert_clean();
}

/// Issue 10, hole 4: GitLab diffs carry no blob id, so content must be bound
/// by its bytes: a DROP pushed into an approved file makes the approval stale
/// and staging does not run it on merge.
#[tokio::test]
async fn a_drop_pushed_into_an_approved_file_makes_the_approval_stale() {
    let (dev, stg) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    for t in [&dev, &stg] {
        sqlx::query("CREATE TABLE important (id int)")
            .execute(&t.pool)
            .await
            .unwrap();
    }
    let envs = format!(
        "environments:\n  - name: development\n    databases:\n      - name: dev-main\n        engine: postgres\n        url: \"{}\"\n  - name: staging\n    approvals: 1\n    roles: [dba]\n    databases:\n      - name: stg-main\n        engine: postgres\n        url: \"{}\"\n",
        dev.url(),
        stg.url()
    );
    let gl = Gl::start(&envs).await;
    gl.fake.set_approvals_api(ApprovalsApi::Forbidden);
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    gl.handle(&note(
        "dana",
        "/bytebase approve",
        9200,
        "2026-01-01 10:20:00 UTC",
    ))
    .await;
    assert_eq!(gl.status(HEAD1, APPROVAL), "success");

    // The author pushes a DROP into the same (approved) file at 10:30.
    let sneaky = format!("{M1_OK}DROP TABLE important;\n");
    gl.mr_at(HEAD2, &sneaky);
    let mut p = payload(
        "merge_request.update-new-commit.capture",
        HEAD2,
        "2026-01-01 10:30:00 UTC",
    );
    p["object_attributes"]["oldrev"] = HEAD1.into();
    gl.handle(&parse("Merge Request Hook", &p)).await;
    assert_eq!(gl.status(HEAD2, APPROVAL), "failed", "stale on new bytes");

    // Merged as is: development (no approvals needed) gets it, staging waits.
    gl.fake.put_file(PROJECT, MERGE, M1, &sneaky);
    let mut m = payload(
        "merge_request.merge.capture",
        HEAD2,
        "2026-01-01 10:40:00 UTC",
    );
    m["object_attributes"]["merge_commit_sha"] = MERGE.into();
    gl.handle(&parse("Merge Request Hook", &m)).await;
    assert!(!table_exists(&dev.url(), "important").await);
    assert!(
        table_exists(&stg.url(), "important").await,
        "staging never ran the unapproved DROP"
    );
    let deploy: Vec<_> = gl
        .bot_notes()
        .into_iter()
        .filter(|n| n.body.starts_with(DEPLOY_COMMENT_MARKER))
        .collect();
    assert_eq!(deploy.len(), 1);
    assert!(
        deploy[0]
            .body
            .contains("waiting for approvals for `staging`"),
        "{}",
        deploy[0].body
    );
    drop(gl.db);
    gl.fake.assert_clean();
}

/// `editor` (GitLab user id `editor_id`) edits note `id`, whose author has
/// GitLab user id `author_id` (the docs' example user has id 1).
fn note_edited_by(editor: &str, editor_id: u64, author_id: u64, text: &str, id: u64) -> Event {
    let mut p = payload("note.merge_request", "", "2026-01-01 10:25:00 UTC");
    p["user"]["username"] = editor.into();
    p["user"]["id"] = editor_id.into();
    p["object_attributes"]["author_id"] = author_id.into();
    p["object_attributes"]["action"] = "update".into();
    p["object_attributes"]["note"] = text.into();
    p["object_attributes"]["id"] = id.into();
    parse("Note Hook", &p)
}

#[tokio::test]
async fn a_note_edited_by_someone_else_changes_nothing() {
    let gl = Gl::start(ONE_STAGE).await;
    gl.fake.set_approvals_api(ApprovalsApi::Forbidden);
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    // dana (user id 1) approves with a note and writes another one.
    gl.handle(&note(
        "dana",
        "/bytebase approve",
        9002,
        "2026-01-01 10:20:00 UTC",
    ))
    .await;
    assert_eq!(gl.status(HEAD1, APPROVAL), "success");
    gl.handle(&note("dana", "LGTM", 9003, "2026-01-01 10:21:00 UTC"))
        .await;
    let answered = gl.bot_notes().len();

    // mallory (user id 66, a maintainer) edits dana's approval away: it stays.
    gl.handle(&note_edited_by("mallory", 66, 1, "Not yet.", 9002))
        .await;
    assert_eq!(gl.status(HEAD1, APPROVAL), "success");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT user_login, state FROM approvals WHERE source = 'comment'")
            .fetch_all(&gl.db.pool)
            .await
            .unwrap();
    assert_eq!(rows, [("dana".to_string(), "approved".to_string())]);
    // ... and edits dana's other note into an approval: nothing is credited.
    gl.handle(&note_edited_by(
        "mallory",
        66,
        1,
        "/bytebase revoke\n/bytebase approve",
        9003,
    ))
    .await;
    let notes = gl.bot_notes();
    let replies: Vec<&str> = notes[answered..].iter().map(|n| n.body.as_str()).collect();
    assert_eq!(
        replies,
        [
            "@mallory edited @dana's comment; commands count only as the person who wrote them, so nothing changed.\n",
            "@mallory edited a comment written by someone else; commands count only as the person who wrote them, so nothing changed.\n",
        ]
    );
    let (refused,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_log WHERE action = 'command.edit_by_other_refused' AND actor = 'mallory'",
    )
    .fetch_one(&gl.db.pool)
    .await
    .unwrap();
    assert_eq!(refused, 2);
    assert_eq!(gl.status(HEAD1, APPROVAL), "success");
    gl.fake.assert_clean();
}

async fn history_versions(url: &str) -> Vec<(String, bool)> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query_as("SELECT version, success FROM bytegate.migration_history ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap()
}

/// development (no approvals) on a real database.
async fn dev_only() -> (Gl, TestDb) {
    let dev = TestDb::empty().await.unwrap();
    let envs = format!(
        "environments:\n  - name: development\n    databases:\n      - name: dev-main\n        engine: postgres\n        url: \"{}\"\n",
        dev.url()
    );
    (Gl::start(&envs).await, dev)
}

fn deploy_notes(gl: &Gl) -> Vec<fake_gitlab::Note> {
    gl.bot_notes()
        .into_iter()
        .filter(|n| n.body.starts_with(DEPLOY_COMMENT_MARKER))
        .collect()
}

/// Issue 10, hole 10: a fast-forward merge has no merge commit; the target
/// branch now points at the merged head, which is what deploys.
#[tokio::test]
async fn fast_forward_merge_deploys_the_merged_head_to_development() {
    let (gl, dev) = dev_only().await;
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;

    let mut p = payload(
        "merge_request.merge.capture",
        HEAD1,
        "2026-01-01 10:30:00 UTC",
    );
    p["object_attributes"]["merge_commit_sha"] = Value::Null;
    gl.handle(&parse("Merge Request Hook", &p)).await;

    assert!(
        table_exists(&dev.url(), "users").await,
        "development applied"
    );
    let history = history_versions(&dev.url()).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(history[0].1, "{history:?}");
    let d = deploy_notes(&gl);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].body.contains("development"), "{}", d[0].body);
    let (merge_sha,): (Option<String>,) = sqlx::query_as("SELECT merge_sha FROM change_requests")
        .fetch_one(&gl.db.pool)
        .await
        .unwrap();
    assert_eq!(merge_sha.as_deref(), Some(HEAD1));
    gl.fake.assert_clean();
}

/// A merge hook that names no commit at all: the merged commit comes from
/// GitLab's API (a merged MR without merge or squash commit: its head).
#[tokio::test]
async fn merge_hook_without_any_commit_asks_gitlab_for_the_merged_commit() {
    let (gl, dev) = dev_only().await;
    gl.mr_at(HEAD1, M1_OK);
    gl.handle(&opened(HEAD1)).await;
    gl.fake.set_mr(
        PROJECT,
        IID,
        MergeRequest {
            sha: HEAD1.into(),
            base_sha: BASE.into(),
            target_branch: "master".into(),
            author: "root".into(),
            state: "merged".into(),
        },
    );

    let mut p = payload(
        "merge_request.merge.capture",
        HEAD1,
        "2026-01-01 10:30:00 UTC",
    );
    let a = p["object_attributes"].as_object_mut().unwrap();
    a.remove("last_commit");
    a.insert("merge_commit_sha".into(), Value::Null);
    gl.handle(&parse("Merge Request Hook", &p)).await;

    assert!(
        table_exists(&dev.url(), "users").await,
        "development applied"
    );
    assert_eq!(history_versions(&dev.url()).await.len(), 1);
    assert_eq!(deploy_notes(&gl).len(), 1);
    gl.fake.assert_clean();
}
