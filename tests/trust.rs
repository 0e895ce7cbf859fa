//! Trust scenarios (issue 10, holes 2–4), as an attacker with write access or
//! any PR author would try them: the fake GitHub, real PostgreSQL targets, the
//! flow as the workers run it. Each test asserts which tables exist on which
//! target and what the pull request shows.

mod support;

use bytegate::event::{CommentAction, CommentEvent, Event, PrRef, ReviewEvent, ReviewState};
use bytegate::flow::rollout;
use bytegate::store::testdb::TestDb;
use serde_json::Value;
use sqlx::PgPool;
use support::{Harness, REPO, pr_payload, pull_request_event};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const HEAD_B: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const MERGE: &str = "3333333333333333333333333333333333333333";
const MERGE11: &str = "4444444444444444444444444444444444444444";
const M1: &str = "schema/migrations/001_users.sql";
const M1_SQL: &str = "CREATE TABLE users (id bigint PRIMARY KEY);\n";
const M2: &str = "schema/migrations/002_orders.sql";
const M2_SQL: &str = "CREATE TABLE orders (id bigint PRIMARY KEY);\n";
const REVIEW_MARKER: &str = "<!-- bytegate:sql-review -->";
const DEPLOY_MARKER: &str = rollout::DEPLOY_COMMENT_MARKER;

struct Setup {
    h: Harness,
    dev: TestDb,
    stg: TestDb,
}

/// development (no approvals) and staging (one DBA), each with a real database
/// that already holds a table `important`.
async fn setup() -> Setup {
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
    let db = support::database_yaml;
    let envs = format!(
        "roles:\n  dba:\n    users: [dana]\nenvironments:\n  - name: development\n{}  - name: staging\n    approvals: 1\n    roles: [dba]\n{}  - name: production\n    approvals: 2\n    roles: [dba]\n",
        db("dev-main", &dev),
        db("stg-main", &stg),
    );
    Setup {
        h: Harness::app_with(&envs).await,
        dev,
        stg,
    }
}

/// A pull_request payload for PR `number` at `head`.
fn pr_json(name: &str, number: u64, head: &str, at: &str) -> Value {
    let mut p = pr_payload(name, head, at);
    p["number"] = number.into();
    p["pull_request"]["number"] = number.into();
    p["pull_request"]["html_url"] = format!("https://github.com/{REPO}/pull/{number}").into();
    p
}

fn opened(number: u64, head: &str) -> Event {
    pull_request_event(&pr_json(
        "pull_request.opened",
        number,
        head,
        "2026-01-01T10:00:00Z",
    ))
}

fn pushed(number: u64, head: &str, at: &str) -> Event {
    pull_request_event(&pr_json("pull_request.synchronize", number, head, at))
}

fn merged(number: u64, head: &str, merge_sha: &str) -> Event {
    let mut p = pr_json("pull_request.opened", number, head, "2026-01-01T11:00:00Z");
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = merge_sha.into();
    pull_request_event(&p)
}

fn pr_ref(number: u64) -> PrRef {
    let Event::PullRequest(e) = opened(number, HEAD) else {
        unreachable!()
    };
    e.pr
}

/// `user` comments `body` on PR `number` (a new comment).
async fn comment(h: &Harness, number: u64, user: &str, body: &str) {
    let id = h.github.add_comment(REPO, number, user, body);
    let event = Event::Comment(CommentEvent {
        pr: pr_ref(number),
        author: user.to_string(),
        sender: user.to_string(),
        body: body.to_string(),
        comment_id: id,
        action: CommentAction::Created,
        at: chrono::Utc::now(),
    });
    h.handle(&event).await.unwrap();
}

async fn table_exists(pool: &PgPool, name: &str) -> bool {
    let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap();
    e
}

/// Applied versions of a target, in order.
async fn applied(pool: &PgPool) -> Vec<String> {
    if !table_exists(pool, "bytegate.migration_history").await {
        return Vec::new();
    }
    sqlx::query_as::<_, (String,)>(
        "SELECT version FROM bytegate.migration_history WHERE success ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.0)
    .collect()
}

fn comment_with(h: &Harness, number: u64, marker: &str) -> String {
    h.github
        .comments(REPO, number)
        .into_iter()
        .find(|c| c.body.starts_with(marker))
        .unwrap_or_else(|| panic!("no comment starting with {marker} on #{number}"))
        .body
}

async fn stage_state(h: &Harness, number: i64, env: &str) -> (String, Option<String>) {
    sqlx::query_as(
        "SELECT s.state, s.waiting_for FROM rollout_stages s
         JOIN rollouts r ON r.id = s.rollout_id
         JOIN change_requests cr ON cr.id = r.change_request_id
         WHERE cr.number = $1 AND s.environment = $2",
    )
    .bind(number)
    .bind(env)
    .fetch_one(&h.db.pool)
    .await
    .unwrap()
}

// Hole 2: a PR chooses what gets deployed.

#[tokio::test]
async fn a_pr_that_moves_the_migrations_folder_is_told_and_its_sql_never_runs() {
    let s = setup().await;
    let h = &s.h;
    let evil_config = "migrations_dir: evil\n";
    let evil = "evil/001_cleanup.sql";
    h.github.set_pr_files(
        REPO,
        2,
        &[(".bytegate.yaml", "added", None), (evil, "added", None)],
    );
    for sha in [HEAD, MERGE] {
        h.github.put_file(REPO, sha, ".bytegate.yaml", evil_config);
        h.github
            .put_file(REPO, sha, evil, "DROP TABLE important;\n");
    }
    h.handle(&opened(2, HEAD)).await.unwrap();

    // The PR is told its config edit only takes effect after merge.
    let sticky = comment_with(h, 2, REVIEW_MARKER);
    assert!(sticky.contains("repo-config-changed"), "{sticky}");
    assert!(sticky.contains("takes effect after merge"), "{sticky}");
    let run = h
        .github
        .latest_check_run(HEAD, "bytegate/sql-review")
        .expect("a review check");
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));

    h.handle(&merged(2, HEAD, MERGE)).await.unwrap();
    assert!(
        table_exists(&s.dev.pool, "important").await,
        "the PR's own migrations_dir is not the deploy's"
    );
    assert!(applied(&s.dev.pool).await.is_empty());
    assert_eq!(
        h.count("rollouts").await,
        0,
        "no rollout: no reviewed migration"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn a_deploy_applies_only_the_bytes_the_review_saw() {
    let s = setup().await;
    let h = &s.h;
    h.github.set_pr_files(REPO, 2, &[(M1, "added", None)]);
    h.github.put_file(REPO, HEAD, M1, M1_SQL);
    h.handle(&opened(2, HEAD)).await.unwrap();
    // The merge commit carries other bytes under the reviewed path.
    let sneaky = format!("{M1_SQL}DROP TABLE important;\n");
    h.github.put_file(REPO, MERGE, M1, &sneaky);
    h.github
        .put_file(REPO, MERGE, "schema/migrations/.keep", "");

    h.handle(&merged(2, HEAD, MERGE)).await.unwrap();
    assert!(table_exists(&s.dev.pool, "important").await);
    assert!(!table_exists(&s.dev.pool, "users").await);
    assert!(applied(&s.dev.pool).await.is_empty());
    let (state, _) = stage_state(h, 2, "development").await;
    assert_eq!(state, "failed");
    let deploy = comment_with(h, 2, DEPLOY_MARKER);
    assert!(
        deploy.contains("differs from what was reviewed"),
        "{deploy}"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn repository_config_for_the_deploy_comes_from_the_base_commit() {
    let s = setup().await;
    let h = &s.h;
    // The base branch moves migrations to db/; the merge commit moves them back.
    let base = support::base_sha();
    h.github
        .put_file(REPO, &base, ".bytegate.yaml", "migrations_dir: db\n");
    h.github.set_pr_files(
        REPO,
        2,
        &[
            ("db/001_users.sql", "added", None),
            (".bytegate.yaml", "modified", None),
            (M2, "added", None),
        ],
    );
    for sha in [HEAD, MERGE] {
        h.github.put_file(REPO, sha, "db/001_users.sql", M1_SQL);
        h.github.put_file(
            REPO,
            sha,
            ".bytegate.yaml",
            "migrations_dir: schema/migrations\n",
        );
        h.github.put_file(REPO, sha, M2, "DROP TABLE important;\n");
    }
    h.handle(&opened(2, HEAD)).await.unwrap();
    h.handle(&merged(2, HEAD, MERGE)).await.unwrap();
    assert!(
        table_exists(&s.dev.pool, "users").await,
        "db/ is reviewed and deployed"
    );
    assert!(
        table_exists(&s.dev.pool, "important").await,
        "schema/migrations is not the base's folder"
    );
    assert_eq!(applied(&s.dev.pool).await, ["1"]);
    h.github.assert_clean();
}

// Hole 3: one PR's rollout carries another PR's unapproved migration.

#[tokio::test]
async fn a_stage_applies_only_its_own_change_and_waits_for_an_older_one() {
    let s = setup().await;
    let h = &s.h;
    // PR #10 adds 001 and merges with no approvals: development only.
    h.github.set_pr_files(REPO, 10, &[(M1, "added", None)]);
    h.github.put_file(REPO, MERGE, M1, M1_SQL);
    h.handle(&merged(10, HEAD, MERGE)).await.unwrap();
    assert_eq!(applied(&s.dev.pool).await, ["1"]);
    assert_eq!(stage_state(h, 10, "staging").await.0, "waiting");

    // PR #11 adds 002; its merge commit holds both files.
    h.github.set_pr_files(REPO, 11, &[(M2, "added", None)]);
    h.github.put_file(REPO, MERGE11, M1, M1_SQL);
    h.github.put_file(REPO, MERGE11, M2, M2_SQL);
    h.handle(&merged(11, HEAD_B, MERGE11)).await.unwrap();
    assert_eq!(applied(&s.dev.pool).await, ["1", "2"]);

    // A DBA approves #11 only: its staging stage must not carry #10's file.
    comment(h, 11, "dana", "/bytebase approve staging").await;
    assert!(
        !table_exists(&s.stg.pool, "users").await,
        "#10 is not approved"
    );
    assert!(
        !table_exists(&s.stg.pool, "orders").await,
        "#11 waits for the older #10"
    );
    let (state, why) = stage_state(h, 11, "staging").await;
    assert_eq!(state, "waiting");
    let why = why.unwrap_or_default();
    assert!(why.contains("#10") && why.contains(M1), "{why}");
    let deploy11 = comment_with(h, 11, DEPLOY_MARKER);
    assert!(deploy11.contains("#10"), "{deploy11}");

    // #10 gets its approval: #10 deploys 001, then #11 goes on with 002 alone.
    comment(h, 10, "dana", "/bytebase approve staging").await;
    assert_eq!(applied(&s.stg.pool).await, ["1", "2"]);
    assert_eq!(stage_state(h, 11, "staging").await.0, "succeeded");
    let refs: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT version, change_ref FROM bytegate.migration_history WHERE success ORDER BY id",
    )
    .fetch_all(&s.stg.pool)
    .await
    .unwrap();
    assert!(refs[0].1.as_deref().unwrap_or("").ends_with("/pull/10"));
    assert!(refs[1].1.as_deref().unwrap_or("").ends_with("/pull/11"));
}

#[tokio::test]
async fn a_migration_pushed_without_a_pr_blocks_until_an_operator_decides() {
    let s = setup().await;
    let h = &s.h;
    let direct = "schema/migrations/000_direct.sql";
    h.github.set_pr_files(REPO, 2, &[(M1, "added", None)]);
    h.github.put_file(REPO, MERGE, M1, M1_SQL);
    h.github
        .put_file(REPO, MERGE, direct, "DROP TABLE important;\n");
    h.handle(&merged(2, HEAD, MERGE)).await.unwrap();

    assert!(
        table_exists(&s.dev.pool, "important").await,
        "never applied automatically"
    );
    assert!(
        !table_exists(&s.dev.pool, "users").await,
        "blocked behind it"
    );
    let (state, why) = stage_state(h, 2, "development").await;
    assert_eq!(state, "waiting");
    assert!(why.unwrap_or_default().contains(direct));
    assert!(comment_with(h, 2, DEPLOY_MARKER).contains(direct));

    // The operator decides to skip it (it is never applied by bytegate), with
    // the command the PR names.
    let sha = bytegate::deploy::checksum(b"DROP TABLE important;\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["migrations", "decide", "--repo", REPO, "--path", direct])
        .args(["--sha256", &sha, "--skip", "--by", "ops-oscar"])
        .args(["--reason", "applied by hand in 2025"])
        .env("PG_URL", h.db.url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    rollout::advance(&h.ctx, &pr_ref(2)).await.unwrap();
    assert!(table_exists(&s.dev.pool, "users").await);
    assert!(table_exists(&s.dev.pool, "important").await);
    assert_eq!(applied(&s.dev.pool).await, ["1"]);
    let (actor,): (String,) =
        sqlx::query_as("SELECT actor FROM audit_log WHERE action = 'migration.decided'")
            .fetch_one(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(actor, "ops-oscar");
}

// Hole 4: approvals that outlive what was approved.

#[tokio::test]
async fn a_review_of_the_commit_before_a_push_does_not_count_for_the_new_head() {
    let s = setup().await;
    let h = &s.h;
    h.github.set_pr_files(REPO, 2, &[(M1, "added", None)]);
    h.github.put_file(REPO, HEAD, M1, M1_SQL);
    h.handle(&opened(2, HEAD)).await.unwrap();
    // A push at 10:10 adds a DROP to the migration.
    h.github.put_file(
        REPO,
        HEAD_B,
        M1,
        "CREATE TABLE users (id bigint PRIMARY KEY);\nDROP TABLE important;\n",
    );
    h.handle(&pushed(2, HEAD_B, "2026-01-01T10:10:00Z"))
        .await
        .unwrap();
    // At 10:20 dana submits a review of the commit before the push.
    let id = h
        .github
        .add_review_at(REPO, 2, "dana", "APPROVED", HEAD, "2026-01-01T10:20:00Z");
    h.handle(&Event::Review(ReviewEvent {
        pr: pr_ref(2),
        reviewer: "dana".into(),
        state: ReviewState::Approved,
        review_id: id,
        commit_sha: Some(HEAD.into()),
        at: "2026-01-01T10:20:00Z".parse().unwrap(),
    }))
    .await
    .unwrap();
    let check = h
        .github
        .latest_check_run(HEAD_B, "bytegate/approval")
        .expect("approval check on the new head");
    assert_eq!(check.conclusion.as_deref(), Some("failure"));
    let summary = check.summary.unwrap_or_default();
    assert!(summary.contains("other migration content"), "{summary}");

    // Merged as is: staging does not run the DROP.
    h.github.put_file(
        REPO,
        MERGE,
        M1,
        "CREATE TABLE users (id bigint PRIMARY KEY);\nDROP TABLE important;\n",
    );
    let mut m = merged(2, HEAD_B, MERGE);
    if let Event::PullRequest(e) = &mut m {
        e.at = "2026-01-01T10:30:00Z".parse().unwrap();
    }
    h.handle(&m).await.unwrap();
    assert!(table_exists(&s.stg.pool, "important").await);
    assert_eq!(stage_state(h, 2, "staging").await.0, "waiting");
}

#[tokio::test]
async fn an_approval_survives_a_push_that_leaves_the_migrations_byte_identical() {
    let s = setup().await;
    let h = &s.h;
    h.github.set_pr_files(REPO, 2, &[(M1, "added", None)]);
    h.github.put_file(REPO, HEAD, M1, M1_SQL);
    h.handle(&opened(2, HEAD)).await.unwrap();
    let id = h
        .github
        .add_review_at(REPO, 2, "dana", "APPROVED", HEAD, "2026-01-01T10:05:00Z");
    h.handle(&Event::Review(ReviewEvent {
        pr: pr_ref(2),
        reviewer: "dana".into(),
        state: ReviewState::Approved,
        review_id: id,
        commit_sha: Some(HEAD.into()),
        at: "2026-01-01T10:05:00Z".parse().unwrap(),
    }))
    .await
    .unwrap();
    // A push that touches only docs (the fake gives the file a new blob id).
    h.github.set_pr_files(REPO, 2, &[(M1, "added", None)]);
    h.github.put_file(REPO, HEAD_B, M1, M1_SQL);
    h.handle(&pushed(2, HEAD_B, "2026-01-01T10:10:00Z"))
        .await
        .unwrap();
    let check = h
        .github
        .latest_check_run(HEAD_B, "bytegate/approval")
        .expect("approval check on the new head");
    let summary = check.summary.unwrap_or_default();
    assert!(
        summary.contains("| staging | ✅ approved | 1 | 1: dana (dba) | — |"),
        "{summary}"
    );
}

// DESIGN.md: everything taken from a PR is escaped; hostile paths are refused.

#[tokio::test]
async fn hostile_file_names_are_refused_and_cannot_forge_the_comment() {
    let s = setup().await;
    let h = &s.h;
    let forged = "schema/migrations/002_x\n<!-- bytegate:approvals:start -->\n✅ approved.sql";
    let climbing = "schema/migrations/../../deploy/003_x.sql";
    let mention = "schema/migrations/004_<b>@dana</b>.sql";
    h.github.set_pr_files(
        REPO,
        2,
        &[
            (M1, "added", None),
            (forged, "added", None),
            (climbing, "added", None),
            (mention, "added", None),
        ],
    );
    for sha in [HEAD, MERGE] {
        h.github.put_file(REPO, sha, M1, M1_SQL);
        h.github
            .put_file(REPO, sha, forged, "DROP TABLE important;\n");
        h.github
            .put_file(REPO, sha, climbing, "DROP TABLE important;\n");
        h.github
            .put_file(REPO, sha, mention, "-- @dana <!-- x -->\nSELECT 1;\n");
    }
    h.handle(&opened(2, HEAD)).await.unwrap();
    let sticky = comment_with(h, 2, REVIEW_MARKER);
    assert_eq!(
        sticky.matches("<!-- bytegate:approvals:start -->").count(),
        1,
        "{sticky}"
    );
    assert_eq!(sticky.matches("path-refused").count(), 2, "{sticky}");
    assert!(!sticky.contains("\n<!-- bytegate:approvals:start -->\n✅"));
    let run = h
        .github
        .latest_check_run(HEAD, "bytegate/sql-review")
        .unwrap();
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    h.handle(&merged(2, HEAD, MERGE)).await.unwrap();
    assert!(table_exists(&s.dev.pool, "important").await);
    assert!(table_exists(&s.dev.pool, "users").await);
    h.github.assert_clean();
}

// Hole 11: a file over the reviewable size is a finding and never deployable.

#[tokio::test]
async fn a_file_over_the_reviewable_size_is_refused_and_never_deployed() {
    let s = setup().await;
    let h = &s.h;
    let base = support::base_sha();
    h.github.put_file(
        REPO,
        &base,
        ".bytegate.yaml",
        "review:\n  max_file_bytes: 100\n",
    );
    let big = format!(
        "{M1_SQL}{}DROP TABLE important;\n",
        "-- padding\n".repeat(20)
    );
    h.github.set_pr_files(REPO, 2, &[(M1, "added", None)]);
    h.github.put_file(REPO, HEAD, M1, &big);
    h.github.put_file(REPO, MERGE, M1, &big);
    h.handle(&opened(2, HEAD)).await.unwrap();
    let sticky = comment_with(h, 2, REVIEW_MARKER);
    assert!(sticky.contains("file-too-large"), "{sticky}");

    h.handle(&merged(2, HEAD, MERGE)).await.unwrap();
    assert!(table_exists(&s.dev.pool, "important").await);
    assert!(!table_exists(&s.dev.pool, "users").await);
    assert_eq!(stage_state(h, 2, "development").await.0, "failed");
    let deploy = comment_with(h, 2, DEPLOY_MARKER);
    assert!(deploy.contains("over the reviewable size"), "{deploy}");
}
