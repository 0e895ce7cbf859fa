//! A change for the dashboard tests, made by the real flow (no rows written
//! by hand): PR #2 titled `<script>alert(1)</script>` adds a migration that
//! the custom rule flags (high risk), a DBA approves it, it is merged;
//! development and staging deploy to real databases, production waits for
//! an owner. Plus an admin and a read API token.

use super::{Harness, REPO, app_auth, config_yaml, database_yaml, pr_payload, pull_request_event};
use bytegate::event::{Event, ReviewEvent, ReviewState};
use bytegate::store::api_tokens::{self, TokenScope};
use bytegate::store::testdb::TestDb;

/// The PR's title: must show as text, never run.
pub const TITLE: &str = "<script>alert(1)</script>";
/// The PR number.
pub const PR: u64 = 2;
/// Head and merge commits.
pub const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
/// The merge commit.
pub const MERGE: &str = "3333333333333333333333333333333333333333";
/// The migration.
pub const MIGRATION: &str = "schema/migrations/001_users.sql";
/// Its SQL: a table whose CHECK holds markup (it comes back in the schema
/// diff), and a drop the custom rule `no-drop-table` flags.
pub const SQL: &str = "CREATE TABLE users (id bigint PRIMARY KEY, \
name text NOT NULL CHECK (name <> '</pre><script>alert(2)</script>'));\n\
DROP TABLE IF EXISTS legacy_users;\n";
/// The approving DBA.
pub const DBA: &str = "dana";

/// The seeded meta database and targets.
pub struct Seeded {
    /// Meta database, fake GitHub, flow context.
    pub h: Harness,
    /// The config the harness runs (for a spawned `bytegate serve`).
    pub yaml: String,
    /// Target databases (kept alive for the test).
    pub targets: Vec<TestDb>,
    /// `change_requests.id` of the PR.
    pub change_id: i64,
    /// Secret of an admin-scope token.
    pub admin: String,
    /// Secret of a read-scope token.
    pub reader: String,
    /// The fake GitHub's id of the DBA's approving review.
    pub review_id: u64,
}

fn at(minute: u32) -> String {
    format!("2026-01-01T10:{minute:02}:00Z")
}

/// Runs the PR's life through the flow; see the module doc.
pub async fn seed() -> Seeded {
    let targets = vec![
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    ];
    let envs = format!(
        "roles:\n  dba:\n    users: [{DBA}]\n  owner:\n    users: [olga]\nenvironments:\n  - name: development\n{}  - name: staging\n    approvals: 1\n    roles: [dba]\n{}  - name: production\n    approvals: 2\n    roles: [dba, owner]\n{}",
        database_yaml("dev-main", &targets[0]),
        database_yaml("stg-main", &targets[1]),
        database_yaml("prod-main", &targets[2]),
    );
    let h = Harness::app_with(&envs).await;
    let yaml = config_yaml(&h.github.url, &app_auth(), &envs);

    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, HEAD, MIGRATION, SQL);
    let mut opened = pr_payload("pull_request.opened", HEAD, &at(0));
    opened["pull_request"]["title"] = TITLE.into();
    let event = pull_request_event(&opened);
    let Event::PullRequest(e) = &event else {
        unreachable!()
    };
    let pr = e.pr.clone();
    h.handle(&event).await.unwrap();

    let review_id = h
        .github
        .add_review_at(REPO, PR, DBA, "APPROVED", HEAD, &at(1));
    h.handle(&Event::Review(ReviewEvent {
        pr,
        reviewer: DBA.to_string(),
        state: ReviewState::Approved,
        review_id,
        commit_sha: Some(HEAD.to_string()),
        at: at(1).parse().unwrap(),
    }))
    .await
    .unwrap();

    h.github.put_file(REPO, MERGE, MIGRATION, SQL);
    let mut merged = pr_payload("pull_request.opened", HEAD, &at(2));
    merged["action"] = "closed".into();
    merged["pull_request"]["title"] = TITLE.into();
    merged["pull_request"]["state"] = "closed".into();
    merged["pull_request"]["merged"] = true.into();
    merged["pull_request"]["merge_commit_sha"] = MERGE.into();
    h.handle(&pull_request_event(&merged)).await.unwrap();

    let (change_id,): (i64,) = sqlx::query_as("SELECT id FROM change_requests WHERE number = $1")
        .bind(PR as i64)
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let admin = api_tokens::create(&h.db.pool, "ops-admin", TokenScope::Admin, "test", now)
        .await
        .unwrap()
        .secret;
    let reader = api_tokens::create(&h.db.pool, "viewer", TokenScope::Read, "test", now)
        .await
        .unwrap()
        .secret;
    Seeded {
        h,
        yaml,
        targets,
        change_id,
        admin,
        reader,
        review_id,
    }
}
