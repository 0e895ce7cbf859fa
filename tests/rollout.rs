//! Rollouts end to end below the job queue: a merged pull request → the flow
//! → real PostgreSQL targets per environment, reported to the fake GitHub
//! (deployments with statuses, one sticky deploy comment). The core story
//! (merge, approvals, drift, duplicate merges) runs on MariaDB too, from the
//! same scenario code (`on_engines!`), and MySQL's dirty-then-repaired path.

mod support;

use bytegate::config::Engine;
use bytegate::event::{CommentAction, CommentEvent, Event, PrRef};
use bytegate::flow::rollout::{self, DEPLOY_COMMENT_MARKER, RolloutCommand};
use bytegate::store::testdb::TestDb;
use sqlx::PgPool;
use support::fake_github::Deployment;
use support::targets::TargetDb;
use support::{Harness, REPO, pr_payload, pull_request_event};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "3333333333333333333333333333333333333333";
const MERGE2: &str = "4444444444444444444444444444444444444444";
const AT: &str = "2019-05-15T15:20:33Z";
const PR: u64 = 2;
const M1: &str = "schema/migrations/001_users.sql";
const M1_SQL: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";

/// development (no approvals), staging (1, dba), production (2, dba + owner),
/// each with its own real database on one engine.
struct Setup {
    h: Harness,
    dev: TargetDb,
    stg: TargetDb,
    prod: TargetDb,
    /// The config's text (for the CLI).
    yaml: String,
}

/// `None` when the engine's server is missing and not required (skipped).
async fn setup_on(engine: Engine, staging_extra: &str) -> Option<Setup> {
    let (dev, stg, prod) = (
        TargetDb::create(engine).await?,
        TargetDb::create(engine).await?,
        TargetDb::create(engine).await?,
    );
    let envs = format!(
        "roles:\n  dba:\n    users: [dana]\n  owner:\n    users: [olga]\nenvironments:\n  - name: development\n    lock_timeout: 5s\n{}  - name: staging\n    approvals: 1\n    roles: [dba]\n{staging_extra}{}  - name: production\n    approvals: 2\n    roles: [dba, owner]\n{}",
        dev.yaml("dev-main"),
        stg.yaml("stg-main"),
        prod.yaml("prod-main")
    );
    let h = Harness::app_with(&envs).await;
    let yaml = support::config_yaml(&h.github.url, &support::app_auth(), &envs);
    Some(Setup {
        h,
        dev,
        stg,
        prod,
        yaml,
    })
}

async fn setup_with(staging_extra: &str) -> Setup {
    setup_on(Engine::Postgres, staging_extra)
        .await
        .expect("PostgreSQL is always there")
}

async fn setup() -> Setup {
    setup_with("").await
}

fn merged(merge_sha: &str) -> Event {
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = merge_sha.into();
    pull_request_event(&p)
}

fn pr_ref() -> PrRef {
    let Event::PullRequest(e) = merged(MERGE) else {
        unreachable!()
    };
    e.pr
}

/// The PR adds `files` (path, sql); the merge commit holds them plus `existing`.
fn merge_commit(h: &Harness, sha: &str, files: &[(&str, &str)], existing: &[(&str, &str)]) {
    let changed: Vec<(&str, &str, Option<&str>)> =
        files.iter().map(|(p, _)| (*p, "added", None)).collect();
    h.github.set_pr_files(REPO, PR, &changed);
    for (path, sql) in files.iter().chain(existing) {
        h.github.put_file(REPO, sha, path, sql);
    }
}

async fn table_exists(pool: &PgPool, name: &str) -> bool {
    let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap();
    e
}

async fn stage_states(h: &Harness) -> Vec<(String, String)> {
    sqlx::query_as("SELECT environment, state FROM rollout_stages ORDER BY position")
        .fetch_all(&h.db.pool)
        .await
        .unwrap()
}

fn deploy_comment(h: &Harness) -> String {
    let comments: Vec<_> = h
        .github
        .comments(REPO, PR)
        .into_iter()
        .filter(|c| c.body.starts_with(DEPLOY_COMMENT_MARKER))
        .collect();
    assert_eq!(comments.len(), 1, "one sticky deploy comment");
    comments[0].body.clone()
}

fn deployment(h: &Harness, env: &str) -> Option<Deployment> {
    let all: Vec<_> = h
        .github
        .deployments()
        .into_iter()
        .filter(|d| d.environment == env)
        .collect();
    assert!(all.len() <= 1, "one deployment per environment: {all:?}");
    all.into_iter().next()
}

/// `user` comments `/bytebase approve ENV` on the (merged) PR.
async fn approve(h: &Harness, user: &str, env: &str) {
    let body = format!("/bytebase approve {env}");
    let id = h.github.add_comment(REPO, PR, user, &body);
    let event = Event::Comment(CommentEvent {
        pr: pr_ref(),
        author: user.to_string(),
        sender: user.to_string(),
        body,
        comment_id: id,
        action: CommentAction::Created,
        at: chrono::Utc::now(),
    });
    h.handle(&event).await.unwrap();
}

async fn merge_deploys_development_and_later_stages_wait(engine: Engine) {
    let Some(s) = setup_on(engine, "").await else {
        return;
    };
    let h = &s.h;
    merge_commit(h, MERGE, &[(M1, M1_SQL)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();

    assert!(s.dev.table_exists("users").await);
    let dev_history = s.dev.history().await;
    assert_eq!(dev_history.len(), 1);
    assert!(dev_history[0].1);
    assert_eq!(
        dev_history[0].2.as_deref(),
        Some("https://github.com/Codertocat/Hello-World/pull/2"),
        "the change reference is the PR"
    );
    assert!(!s.stg.table_exists("users").await);
    assert!(!s.prod.table_exists("users").await);
    let states = stage_states(h).await;
    assert_eq!(
        states,
        [
            ("development".into(), "succeeded".into()),
            ("staging".into(), "waiting".into()),
            ("production".into(), "pending".into())
        ]
    );

    let body = deploy_comment(h);
    assert!(body.contains("✅ deployed"), "{body}");
    assert!(
        body.contains("waiting for approvals for `staging`"),
        "{body}"
    );
    let dev = deployment(h, "development").unwrap();
    assert_eq!(dev.sha, MERGE);
    assert_eq!(dev.statuses, ["in_progress", "success"]);
    assert_eq!(deployment(h, "staging").unwrap().statuses, ["queued"]);
    assert!(deployment(h, "production").is_none());

    // Not approved yet: the command says why.
    let reply = rollout::command(&h.ctx, &pr_ref(), "staging", "dana", RolloutCommand::Deploy)
        .await
        .unwrap();
    assert!(reply.text.contains("waiting"), "{}", reply.text);
    assert!(!s.stg.table_exists("users").await);

    // The DBA's approval on the merged PR lets the staging stage run.
    approve(h, "dana", "staging").await;
    assert!(s.stg.table_exists("users").await);
    let reply = rollout::command(&h.ctx, &pr_ref(), "staging", "dana", RolloutCommand::Deploy)
        .await
        .unwrap();
    assert_eq!(reply.text, "`staging` is already deployed.");
    assert!(!s.prod.table_exists("users").await, "production waits");
    assert_eq!(
        deployment(h, "staging").unwrap().statuses,
        ["queued", "in_progress", "success"]
    );
    let reply = rollout::command(
        &h.ctx,
        &pr_ref(),
        "production",
        "olga",
        RolloutCommand::Deploy,
    )
    .await
    .unwrap();
    assert!(reply.text.contains("waiting"), "{}", reply.text);

    approve(h, "dana", "production").await;
    assert!(
        !s.prod.table_exists("users").await,
        "production needs an owner too"
    );
    approve(h, "olga", "production").await;
    assert!(s.prod.table_exists("users").await);
    let (state,): (String,) = sqlx::query_as("SELECT state FROM rollouts")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "succeeded");
    assert!(deploy_comment(h).contains("rollout **succeeded**"));
    for (e, db) in [("dev", &s.dev), ("stg", &s.stg), ("prod", &s.prod)] {
        assert_eq!(db.history().await.len(), 1, "{e}: applied exactly once");
    }
    let actions = h.audit_actions().await;
    for a in [
        "rollout.created",
        "stage.started",
        "deploy.applied",
        "stage.succeeded",
        "stage.waiting",
        "deploy.requested",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let (sha,): (String,) = sqlx::query_as(
        "SELECT detail->>'sha256' FROM audit_log WHERE action = 'deploy.applied' LIMIT 1",
    )
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(sha, bytegate::deploy::checksum(M1_SQL.as_bytes()));
    let chain = bytegate::store::audit::verify_chain(&h.db.pool, None)
        .await
        .unwrap();
    assert_eq!(chain.broken, None, "the audit chain of a real run verifies");
    assert!(chain.verified >= 10, "{chain:?}");
    h.github.assert_clean();
}

on_engines!(merge_deploys_development_and_later_stages_wait: merge_deploys_development_and_later_stages_wait_for_their_policy, merge_deploys_development_and_later_stages_wait_for_their_policy_on_mysql);

async fn duplicate_merges_apply_once(engine: Engine) {
    let Some(s) = setup_on(engine, "").await else {
        return;
    };
    let h = &s.h;
    merge_commit(
        h,
        MERGE,
        &[(
            M1,
            &format!("{};\nCREATE TABLE users (id int);\n", s.dev.sleep_sql(0.3)),
        )],
        &[],
    );
    let event = merged(MERGE);
    let pr = pr_ref();
    let (a, b, c) = tokio::join!(
        h.handle(&event),
        h.handle(&event),
        rollout::advance(&h.ctx, &pr)
    );
    a.unwrap();
    b.unwrap();
    c.unwrap();
    h.handle(&event).await.unwrap();

    assert_eq!(h.count("rollouts").await, 1);
    assert_eq!(h.count("rollout_stages").await, 3);
    assert_eq!(s.dev.history().await.len(), 1);
    let started: Vec<_> = h
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "stage.started")
        .collect();
    assert_eq!(started.len(), 1, "the development stage ran once");
    assert_eq!(
        deployment(h, "development").unwrap().statuses,
        ["in_progress", "success"]
    );
    deploy_comment(h);
    h.github.assert_clean();
}

on_engines!(duplicate_merges_apply_once: duplicate_merge_deliveries_and_racing_workers_apply_once, duplicate_merge_deliveries_and_racing_workers_apply_once_on_mysql);

#[tokio::test]
async fn a_migration_failing_half_way_stops_the_rollout_and_is_reported() {
    let s = setup().await;
    let h = &s.h;
    let bad = "CREATE TABLE users (id int);\nINSERT INTO users VALUES (1);\nINSERT INTO users VALUES ('not a number');\n";
    merge_commit(h, MERGE, &[(M1, bad)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();

    assert!(!s.dev.table_exists("users").await, "none of its effects");
    let hist = s.dev.history().await;
    assert_eq!(hist.len(), 1);
    assert!(!hist[0].1, "a failed history row");
    assert_eq!(
        stage_states(h).await,
        [
            ("development".into(), "failed".into()),
            ("staging".into(), "pending".into()),
            ("production".into(), "pending".into())
        ]
    );
    assert!(!s.stg.table_exists("users").await, "the rollout stopped");
    let body = deploy_comment(h);
    assert!(body.contains("rollout **failed**"), "{body}");
    assert!(body.contains("### `development` failed"), "{body}");
    assert!(body.contains("001_users.sql:3:"), "file and line: {body}");
    assert!(body.contains("statement 3"), "{body}");
    assert!(body.contains("not a number"), "{body}");
    assert_eq!(
        deployment(h, "development").unwrap().statuses,
        ["in_progress", "failure"]
    );
    assert!(deployment(h, "staging").is_none());
    h.github.assert_clean();
}

async fn edited_migrations_are_drift(engine: Engine) {
    let Some(s) = setup_on(engine, "").await else {
        return;
    };
    let h = &s.h;
    merge_commit(h, MERGE, &[(M1, M1_SQL)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();
    assert_eq!(s.dev.history().await.len(), 1);

    // A second PR (same harness, new number) edits 001 and adds 002.
    let edited = "CREATE TABLE users (id bigint PRIMARY KEY);\n";
    let m2 = "schema/migrations/002_orders.sql";
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["number"] = 3.into();
    p["pull_request"]["number"] = 3.into();
    p["pull_request"]["html_url"] = "https://github.com/Codertocat/Hello-World/pull/3".into();
    p["action"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = MERGE2.into();
    h.github
        .set_pr_files(REPO, 3, &[(M1, "modified", None), (m2, "added", None)]);
    h.github.put_file(REPO, MERGE2, M1, edited);
    h.github
        .put_file(REPO, MERGE2, m2, "CREATE TABLE orders (id int);");
    h.handle(&pull_request_event(&p)).await.unwrap();

    let (error,): (String,) = sqlx::query_as(
        "SELECT s.error FROM rollout_stages s JOIN rollouts r ON r.id = s.rollout_id
         WHERE r.merge_sha = $1 AND s.position = 0",
    )
    .bind(MERGE2)
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    assert!(error.contains("checksum drift"), "{error}");
    assert!(error.contains(M1), "{error}");
    assert!(
        error.contains(&bytegate::deploy::checksum(M1_SQL.as_bytes())),
        "{error}"
    );
    assert!(
        error.contains(&bytegate::deploy::checksum(edited.as_bytes())),
        "{error}"
    );
    assert!(
        error.contains("pull/2"),
        "names the change that applied it: {error}"
    );
    assert!(!s.dev.table_exists("orders").await);
    h.github.assert_clean();
}

on_engines!(edited_migrations_are_drift: an_applied_migration_edited_later_is_refused_as_drift, an_applied_migration_edited_later_is_refused_as_drift_on_mysql);

#[tokio::test]
async fn a_closed_deploy_window_makes_the_stage_wait_and_say_so() {
    // Staging deploys on every day from 09:00 to 17:00 UTC; it is 08:00.
    let window = "    deploy_window:\n      days: [mon, tue, wed, thu, fri, sat, sun]\n      start: \"09:00\"\n      end: \"17:00\"\n";
    let s = setup_with(window).await;
    let h = &s.h;
    let today = chrono::Utc::now().date_naive();
    let at = |hh: u32| today.and_hms_opt(hh, 0, 0).unwrap().and_utc();
    h.clock.set(at(8));
    merge_commit(h, MERGE, &[(M1, M1_SQL)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();
    approve(h, "dana", "staging").await;
    rollout::advance(&h.ctx, &pr_ref()).await.unwrap();
    assert!(s.dev.table_exists("users").await);
    assert!(!s.stg.table_exists("users").await);
    let body = deploy_comment(h);
    assert!(body.contains("deploy window"), "{body}");
    assert_eq!(rollout::advance_open_windows(&h.ctx).await.unwrap(), 0);
    assert!(!s.stg.table_exists("users").await);

    // Still closed a minute before it opens.
    h.clock.set(at(9) - chrono::Duration::minutes(1));
    assert_eq!(rollout::advance_open_windows(&h.ctx).await.unwrap(), 0);
    assert!(!s.stg.table_exists("users").await);

    // 10:00: the window is open, and the re-check deploys staging (only).
    h.clock.set(at(10));
    assert_eq!(rollout::advance_open_windows(&h.ctx).await.unwrap(), 1);
    assert!(s.stg.table_exists("users").await);
    assert!(!s.prod.table_exists("users").await);
    assert_eq!(
        s.stg.history().await.len(),
        1,
        "one migration applied to staging"
    );
    let states = stage_states(h).await;
    assert_eq!(states[1], ("staging".to_string(), "succeeded".to_string()));
    h.github.assert_clean();
}

#[tokio::test]
async fn a_rollout_driven_after_a_restart_looks_its_installation_up() {
    // Staging waits for its window; bytegate restarts before it opens, so the
    // re-check runs with no webhook (and no memory) naming the installation.
    let window = "    deploy_window:\n      days: [mon, tue, wed, thu, fri, sat, sun]\n      start: \"09:00\"\n      end: \"17:00\"\n";
    let mut s = setup_with(window).await;
    let today = chrono::Utc::now().date_naive();
    let at = |hh: u32| today.and_hms_opt(hh, 0, 0).unwrap().and_utc();
    s.h.clock.set(at(8));
    merge_commit(&s.h, MERGE, &[(M1, M1_SQL)], &[]);
    s.h.handle(&merged(MERGE)).await.unwrap();
    approve(&s.h, "dana", "staging").await;
    assert!(!s.stg.table_exists("users").await);

    s.h.restart_forge();
    let before = s.h.github.requests().len();
    s.h.clock.set(at(10));
    assert_eq!(rollout::advance_open_windows(&s.h.ctx).await.unwrap(), 1);
    assert!(s.stg.table_exists("users").await);

    let after: Vec<_> = s.h.github.requests().split_off(before);
    let first: Vec<(&str, &str, u16)> = after
        .iter()
        .take(2)
        .map(|r| (r.method.as_str(), r.path.as_str(), r.status))
        .collect();
    assert_eq!(
        first,
        [
            ("GET", "/repos/Codertocat/Hello-World/installation", 200),
            ("POST", "/app/installations/1/access_tokens", 201),
        ],
        "the installation is asked for (as the App), then its token: {after:#?}"
    );
    assert_eq!(
        s.h.github.requests_of("apps/get-repo-installation").len(),
        2,
        "once per process: before and after the restart"
    );
    assert!(after[2..].iter().all(|r| r.path.starts_with("/repos/")));
    s.h.github.assert_clean();
}

#[tokio::test]
async fn a_merge_without_migration_changes_creates_no_rollout() {
    let s = setup().await;
    let h = &s.h;
    h.github
        .set_pr_files(REPO, PR, &[("README.md", "modified", None)]);
    h.handle(&merged(MERGE)).await.unwrap();
    assert_eq!(h.count("rollouts").await, 0);
    assert!(h.github.deployments().is_empty());
    h.github.assert_clean();
}

#[tokio::test]
async fn a_merged_fork_pr_deploys_the_merge_commit() {
    // Before merge a fork PR never reaches a database (tests/github_flow.rs);
    // once merged, the merge commit is the base repository's code.
    let s = setup().await;
    let h = &s.h;
    merge_commit(h, MERGE, &[(M1, M1_SQL)], &[]);
    // The fork's head holds different SQL: it must not be what runs.
    h.github
        .put_file(REPO, HEAD, M1, "CREATE TABLE from_the_fork (id int);");
    let Event::PullRequest(mut e) = merged(MERGE) else {
        unreachable!()
    };
    e.is_fork = true;
    h.handle(&Event::PullRequest(e)).await.unwrap();
    assert!(s.dev.table_exists("users").await);
    assert!(!s.dev.table_exists("from_the_fork").await);
    h.github.assert_clean();
}

#[tokio::test]
async fn a_failed_stage_is_retried_with_a_deploy_comment() {
    let s = setup().await;
    let h = &s.h;
    sqlx::query("CREATE TABLE users (id int)")
        .execute(s.dev.pg())
        .await
        .unwrap();
    // Someone holds a lock on users: the ALTER hits development's lock_timeout (5s).
    let mut blocker = s.dev.pg().begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS SHARE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let m = "schema/migrations/002_email.sql";
    merge_commit(
        h,
        MERGE,
        &[(m, "ALTER TABLE users ADD COLUMN email text;")],
        &[],
    );
    h.handle(&merged(MERGE)).await.unwrap();
    assert_eq!(stage_states(h).await[0].1, "failed");
    assert!(deploy_comment(h).contains("55P03"), "lock timeout reported");
    blocker.rollback().await.unwrap();

    let body = "/bytebase deploy development";
    let id = h.github.add_comment(REPO, PR, "dana", body);
    let event = Event::Comment(CommentEvent {
        pr: pr_ref(),
        author: "dana".to_string(),
        sender: "dana".to_string(),
        body: body.to_string(),
        comment_id: id,
        action: CommentAction::Created,
        at: chrono::Utc::now(),
    });
    h.handle(&event).await.unwrap();
    assert_eq!(stage_states(h).await[0].1, "succeeded");
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email'",
    )
    .fetch_one(s.dev.pg())
    .await
    .unwrap();
    assert_eq!(n, 1);
    let replies: Vec<_> = h
        .github
        .comments(REPO, PR)
        .into_iter()
        .filter(|c| c.body.contains("Deployed to `development`"))
        .collect();
    assert_eq!(replies.len(), 1, "the command is answered in the thread");
    let dev = deployment(h, "development").unwrap();
    assert_eq!(
        dev.statuses,
        ["in_progress", "failure", "in_progress", "success"]
    );
    h.github.assert_clean();
}

/// `user` comments `body` on the (merged) PR.
async fn command(h: &Harness, user: &str, body: &str) {
    let id = h.github.add_comment(REPO, PR, user, body);
    let event = Event::Comment(CommentEvent {
        pr: pr_ref(),
        author: user.to_string(),
        sender: user.to_string(),
        body: body.to_string(),
        comment_id: id,
        action: CommentAction::Created,
        at: chrono::Utc::now(),
    });
    h.handle(&event).await.unwrap();
}

/// Replies of the bot that mention `text`.
fn replies_with(h: &Harness, text: &str) -> Vec<String> {
    h.github
        .comments(REPO, PR)
        .into_iter()
        .filter(|c| c.author == "bytegate[bot]" && c.body.contains(text))
        .map(|c| c.body)
        .collect()
}

async fn email_column_exists(pool: &PgPool) -> bool {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    n == 1
}

#[tokio::test]
async fn deploy_by_a_user_without_standing_is_refused_and_deploys_nothing() {
    // Staging's policy is satisfied (dana approves) but its stage failed on a
    // lock: `deploy staging` would run it again. Only someone with the
    // standing approving staging needs may ask for that.
    let s = setup_with("    lock_timeout: 1s\n").await;
    let h = &s.h;
    for db in [s.dev.pg(), s.stg.pg()] {
        sqlx::query("CREATE TABLE users (id int)")
            .execute(db)
            .await
            .unwrap();
    }
    let m = "schema/migrations/002_email.sql";
    merge_commit(
        h,
        MERGE,
        &[(m, "ALTER TABLE users ADD COLUMN email text;")],
        &[],
    );
    h.handle(&merged(MERGE)).await.unwrap();
    assert!(email_column_exists(s.dev.pg()).await);
    let mut blocker = s.stg.pg().begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS SHARE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    approve(h, "dana", "staging").await;
    assert_eq!(
        stage_states(h).await[1],
        ("staging".into(), "failed".into())
    );
    blocker.rollback().await.unwrap();

    // No role, no write permission: refused, audited, nothing deployed.
    h.github.set_permission(REPO, "rando", "read");
    command(h, "rando", "/bytebase deploy staging").await;
    assert_eq!(
        replies_with(h, "@rando"),
        [
            "@rando\n\n- ❌ `/bytebase deploy staging`: `deploy` needs the standing that approving needs: you hold no role that counts for `staging`. Approvals count from holding the role `dba`.\n"
        ]
    );
    assert!(
        !email_column_exists(s.stg.pg()).await,
        "staging not deployed"
    );
    assert_eq!(stage_states(h).await[1].1, "failed");
    let refused: Vec<(String, Option<String>, String)> = sqlx::query_as(
        "SELECT actor, environment, detail->>'command' FROM audit_log WHERE action = 'approval.refused'",
    )
    .fetch_all(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(
        refused,
        [(
            "rando".to_string(),
            Some("staging".to_string()),
            "deploy".to_string()
        )]
    );
    let requested: Vec<(String,)> =
        sqlx::query_as("SELECT actor FROM audit_log WHERE action = 'deploy.requested'")
            .fetch_all(&h.db.pool)
            .await
            .unwrap();
    assert!(requested.is_empty(), "{requested:?}");

    // The PR's author without a role is refused too, and told that standing is what counts.
    command(h, "Codertocat", "/bytebase deploy staging").await;
    let author = replies_with(h, "@Codertocat");
    assert_eq!(author.len(), 1);
    assert!(
        author[0].ends_with("The author may deploy with that standing too, never without it.\n"),
        "{}",
        author[0]
    );
    assert!(!email_column_exists(s.stg.pg()).await);

    // The DBA's deploy still works.
    command(h, "dana", "/bytebase deploy staging").await;
    assert!(email_column_exists(s.stg.pg()).await);
    assert_eq!(stage_states(h).await[1].1, "succeeded");
    assert_eq!(replies_with(h, "Deployed to `staging`").len(), 1);
    h.github.assert_clean();
}

#[tokio::test]
async fn a_failed_statement_shows_sqlstate_and_position_on_the_pr_but_keeps_row_values_in_the_meta_db()
 {
    let s = setup().await;
    let h = &s.h;
    // Data already in the target: two rows share a customer's email.
    sqlx::raw_sql(
        "CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL);
         INSERT INTO customers VALUES (1, 'secret@x.io'), (2, 'secret@x.io');",
    )
    .execute(s.dev.pg())
    .await
    .unwrap();
    let path = "schema/migrations/001_unique_email.sql";
    let sql = "CREATE TABLE notes (id bigint PRIMARY KEY);\nALTER TABLE customers\n  ADD CONSTRAINT customers_email_key UNIQUE (email);\n";
    merge_commit(h, MERGE, &[(path, sql)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();

    assert!(!s.dev.table_exists("notes").await, "rolled back");
    assert_eq!(stage_states(h).await[0].1, "failed");

    let body = deploy_comment(h);
    assert!(body.contains("23505"), "{body}");
    assert!(
        body.contains(&format!("{path}:2:1: statement 2 of ")),
        "file, line and statement number: {body}"
    );
    assert!(
        !body.contains("secret@x.io"),
        "a row value on the PR: {body}"
    );
    assert!(!body.contains("Key (email)"), "{body}");
    let dev = deployment(h, "development").unwrap();
    assert_eq!(dev.statuses.last().map(String::as_str), Some("failure"));
    let description = dev.descriptions.last().cloned().unwrap_or_default();
    assert!(!description.is_empty());
    assert!(!description.contains("secret@x.io"), "{description}");
    let re = regex::Regex::new(r"\(ref ([0-9a-f]{8})\)").unwrap();
    let reference = re
        .captures(&body)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no ref on the PR: {body}"));

    // The meta database keeps the DETAIL under the ref the PR shows.
    let (detail,): (Option<String>,) = sqlx::query_as(
        "SELECT detail->>'private_detail' FROM audit_log
         WHERE action = 'deploy.refused' AND detail->>'ref' = $1",
    )
    .bind(&reference)
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    let detail = detail.unwrap_or_default();
    assert!(
        detail.contains("Key (email)=(secret@x.io)"),
        "the DETAIL under ref {reference}: {detail}"
    );
}

/// Runs the real event handler, keeping the job's stop signal for the test.
struct Watched {
    inner: bytegate::jobs::EventJobHandler,
    signal: std::sync::Mutex<Option<bytegate::deploy::StopSignal>>,
}

impl bytegate::jobs::JobHandler for Watched {
    fn handle<'a>(
        &'a self,
        job: &'a bytegate::store::jobs::Job,
    ) -> futures::future::BoxFuture<'a, Result<(), bytegate::jobs::JobError>> {
        Box::pin(async move {
            // Inside the future: run_one scopes the signal around its polls.
            *self.signal.lock().unwrap() = bytegate::deploy::current_stop_signal();
            self.inner.handle(job).await
        })
    }
}

#[tokio::test]
async fn a_lost_job_lease_stops_the_rollout_between_statements_and_the_pr_says_where() {
    let dev = TestDb::empty().await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text);
         CREATE TABLE accounts (id bigint PRIMARY KEY, owner text);",
    )
    .execute(&dev.pool)
    .await
    .unwrap();
    // No lock_timeout: statement 1 waits for the test's lock as long as it is held.
    let h = Harness::app_with(&format!(
        "environments:\n  - name: development\n    databases:\n      - name: dev-main\n        engine: postgres\n        url: \"{}\"\n  - name: production\n    approvals: 1\n",
        dev.url()
    ))
    .await;
    let path = "schema/migrations/001_indexes.sql";
    let sql = "CREATE INDEX CONCURRENTLY accounts_owner_idx ON accounts (owner);\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n";
    merge_commit(&h, MERGE, &[(path, sql)], &[]);
    bytegate::store::jobs::enqueue(
        &h.db.pool,
        None,
        &bytegate::store::jobs::NewJob {
            kind: bytegate::webhook::EVENT_JOB.into(),
            payload: serde_json::to_value(merged(MERGE)).unwrap(),
            coalesce_key: None,
            max_attempts: 3,
        },
    )
    .await
    .unwrap();
    let mut blocker = dev.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let handler = std::sync::Arc::new(Watched {
        inner: bytegate::jobs::EventJobHandler { ctx: h.ctx.clone() },
        signal: std::sync::Mutex::new(None),
    });
    let settings = bytegate::jobs::WorkerSettings {
        lease: std::time::Duration::from_millis(900),
        ..Default::default()
    };
    let (pool, worker_handler) = (h.db.pool.clone(), handler.clone());
    let worker = tokio::spawn(async move {
        bytegate::jobs::run_one(&pool, worker_handler.as_ref(), "w1", &settings).await
    });

    let until = |what: &'static str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        move || assert!(std::time::Instant::now() < deadline, "timed out: {what}")
    };
    let check = until("statement 1 waiting for the test's lock");
    loop {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
               AND application_name = 'bytegate-deploy' AND wait_event_type = 'Lock'
               AND query LIKE 'CREATE INDEX CONCURRENTLY accounts_owner_idx%'",
        )
        .fetch_one(&dev.pool)
        .await
        .unwrap();
        if n > 0 {
            break;
        }
        check();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Another worker takes the job over while statement 1 runs.
    sqlx::query("UPDATE jobs SET locked_by = 'w2'")
        .execute(&h.db.pool)
        .await
        .unwrap();
    let check = until("the lost lease to be noticed");
    while !handler
        .signal
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(bytegate::deploy::StopSignal::is_stopped)
    {
        check();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    blocker.rollback().await.unwrap();
    worker.await.unwrap().unwrap();

    assert!(table_exists(&dev.pool, "accounts_owner_idx").await);
    assert!(
        !table_exists(&dev.pool, "users_name_idx").await,
        "statement 2 never ran"
    );
    let rows: Vec<(bool, bool, i32, bool)> = sqlx::query_as(
        "SELECT finished_at IS NOT NULL, success, statements_applied, interrupted
         FROM bytegate.migration_history WHERE version = '1'",
    )
    .fetch_all(&dev.pool)
    .await
    .unwrap();
    assert_eq!(rows, [(true, false, 1, true)], "stopped after statement 1");
    assert_eq!(stage_states(&h).await[0].1, "failed");
    let body = deploy_comment(&h);
    assert!(
        body.contains("stopped") && body.contains("before statement 2") && body.contains(path),
        "{body}"
    );
    assert!(body.contains("bytegate repair"), "{body}");
}

#[tokio::test]
async fn someone_elses_comment_with_the_deploy_marker_is_never_edited_or_adopted() {
    let s = setup().await;
    let h = &s.h;
    // Even where the App could edit it, a pasted marker makes nothing bytegate's.
    h.github.let_app_edit_others_comments();
    let pasted = format!("{DEPLOY_COMMENT_MARKER}\n## bytegate deploy\n\nEverything is deployed.");
    let mallory = h.github.add_comment(REPO, PR, "mallory", &pasted);
    merge_commit(h, MERGE, &[(M1, M1_SQL)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();
    approve(h, "dana", "staging").await;
    assert!(s.stg.table_exists("users").await);

    let comments = h.github.comments(REPO, PR);
    let theirs = comments.iter().find(|c| c.id == mallory).unwrap();
    assert_eq!(
        theirs.body, pasted,
        "someone else's comment is left as it was"
    );
    assert_eq!(theirs.edits, 0);
    let ours: Vec<_> = comments
        .iter()
        .filter(|c| c.body.starts_with(DEPLOY_COMMENT_MARKER) && c.id != mallory)
        .collect();
    assert_eq!(ours.len(), 1, "one deploy comment of bytegate's own");
    assert_eq!(ours[0].author, support::fake_github::BOT_LOGIN);
    assert!(
        ours[0].edits >= 1,
        "bytegate's own comment is the one kept up to date"
    );
    assert!(
        ours[0].body.contains("`staging` | ✅ deployed"),
        "{}",
        ours[0].body
    );
    let (stored,): (Option<String>,) = sqlx::query_as("SELECT comment_id FROM rollouts")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, Some(ours[0].id.to_string()));
}

/// MySQL commits each DDL statement: statement 2 of 3 failing on merge leaves
/// development dirty, the PR says which statements ran, the retried deploy
/// is refused, and `bytegate repair` records the operator's decision
/// (audited) and unblocks it.
#[tokio::test]
async fn a_mysql_ddl_failing_half_way_is_dirty_until_bytegate_repair() {
    let Some(s) = setup_on(Engine::Mysql, "").await else {
        return;
    };
    let h = &s.h;
    let pr_url = Some("https://github.com/Codertocat/Hello-World/pull/2".to_string());
    let sql = "CREATE TABLE a (id int);\nCREATE TABLE a (id int);\nCREATE TABLE c (id int);\n";
    merge_commit(h, MERGE, &[(M1, sql)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();
    assert_eq!(stage_states(h).await[0].1, "failed");
    let body = deploy_comment(h);
    assert!(
        body.contains("001_users.sql:2:1: statement 2 of 3 failed"),
        "{body}"
    );
    assert!(
        body.contains("statement 1 took effect, statement 2 failed, statement 3 did not run"),
        "exactly which statements ran: {body}"
    );
    assert!(body.contains("bytegate repair"), "{body}");
    assert!(s.dev.table_exists("a").await && !s.dev.table_exists("c").await);
    assert_eq!(
        s.dev.history_rows().await,
        [("1".to_string(), false, pr_url.clone(), 1, None)]
    );

    // Retried: refused, the target is dirty.
    command(h, "dana", "/bytebase deploy development").await;
    assert_eq!(stage_states(h).await[0].1, "failed");
    let body = deploy_comment(h);
    assert!(body.contains("the database is dirty"), "{body}");
    assert!(body.contains("statement 2 of it was reached"), "{body}");
    assert_eq!(s.dev.history_rows().await.len(), 1, "the retry ran nothing");

    // The operator creates `c` by hand and records the file as applied.
    s.dev.execute("CREATE TABLE c (id int)").await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("bytegate.yaml");
    std::fs::write(&config, &s.yaml).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["repair", "--config"])
        .arg(&config)
        .args([
            "development",
            "dev-main",
            "--version",
            "1",
            "--decision",
            "applied",
        ])
        .args(["--reason", "created c by hand", "--actor", "olga"])
        .env("PG_URL", h.db.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "repair failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.dev.history_rows().await[1],
        (
            "1".to_string(),
            true,
            pr_url,
            1,
            Some("applied".to_string())
        )
    );
    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_log WHERE action = 'target.repaired' AND actor = 'olga'
           AND detail->>'decision' = 'applied' AND detail->>'database' = 'dev-main'",
    )
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1, "the decision is in the audit trail");

    // Unblocked: the retried stage finds the file applied and succeeds.
    command(h, "dana", "/bytebase deploy development").await;
    assert_eq!(stage_states(h).await[0].1, "succeeded");
    assert_eq!(s.dev.history_rows().await.len(), 2, "nothing ran twice");
    h.github.assert_clean();
}

/// The comment form: `/bytebase repair ENV not-applied` by someone with
/// deploy standing records the decision on the dirty MySQL database (audited
/// as the commenter), and the retried deploy runs the file again.
#[tokio::test]
async fn a_dirty_mysql_target_is_repaired_by_a_comment_command() {
    let Some(s) = setup_on(Engine::Mysql, "").await else {
        return;
    };
    let h = &s.h;
    // Statement 2 fails on a table someone made by hand.
    s.dev.execute("CREATE TABLE b (id int)").await;
    let sql = "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCREATE TABLE c (id int);\n";
    merge_commit(h, MERGE, &[(M1, sql)], &[]);
    h.handle(&merged(MERGE)).await.unwrap();
    assert!(
        deploy_comment(h)
            .contains("statement 1 took effect, statement 2 failed, statement 3 did not run")
    );

    // Without standing: refused, nothing recorded.
    command(h, "mallory", "/bytebase repair development not-applied").await;
    assert_eq!(replies_with(h, "needs the standing").len(), 1);
    assert_eq!(s.dev.history_rows().await.len(), 1);

    // The DBA undoes statement 1 and the stray table, then says so.
    s.dev.execute("DROP TABLE a; DROP TABLE b").await;
    command(h, "dana", "/bytebase repair development not-applied").await;
    let replies = replies_with(h, "is pending again");
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains("`development` / `dev-main`"),
        "{}",
        replies[0]
    );
    let rows = s.dev.history_rows().await;
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[1].1, rows[1].3), (false, 0));
    assert_eq!(rows[1].4.as_deref(), Some("not-applied"));
    let (audited,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_log WHERE action = 'target.repaired' AND actor = 'dana'
           AND environment = 'development' AND detail->>'decision' = 'not-applied'",
    )
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    command(h, "dana", "/bytebase repair development applied").await;
    assert_eq!(
        replies_with(h, "No database of `development` is dirty").len(),
        1
    );

    command(h, "dana", "/bytebase deploy development").await;
    assert_eq!(stage_states(h).await[0].1, "succeeded");
    for t in ["a", "b", "c"] {
        assert!(s.dev.table_exists(t).await, "{t}");
    }
    h.github.assert_clean();
}
