//! Schema snapshots and drift end to end (issue 14, item 4): two merged pull
//! requests deploy to a real PostgreSQL staging target through the fake
//! GitHub; between them the schema is (or is not) changed by hand. Asserts
//! the stored snapshots, the deploy comments and the audit trail.

mod support;

use bytegate::deploy::schema_snapshot;
use bytegate::flow::rollout::DEPLOY_COMMENT_MARKER;
use bytegate::store::testdb::TestDb;
use support::{Harness, REPO, pr_payload, pull_request_event};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const AT: &str = "2019-05-15T15:20:33Z";
const M1: &str = "schema/migrations/001_users.sql";
const M1_SQL: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";
const M2: &str = "schema/migrations/002_orders.sql";
const M2_SQL: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);\n";

/// `staging` (no approvals: a merge deploys it) then `production` (waits
/// for an approval nobody gives), each on its own real database.
async fn setup() -> (Harness, TestDb, TestDb) {
    let (stg, prod) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    let db = support::database_yaml;
    let envs = format!(
        "roles:\n  dba:\n    users: [dana]\nenvironments:\n  - name: staging\n{}  - name: production\n    approvals: 1\n    roles: [dba]\n{}",
        db("stg-main", &stg),
        db("prod-main", &prod)
    );
    (Harness::app_with(&envs).await, stg, prod)
}

/// PR `number` adds `path` and is merged as `merge_sha` (the merge commit
/// holds every migration so far).
async fn merge(h: &Harness, number: u64, merge_sha: &str, added: &str, all: &[(&str, &str)]) {
    h.github
        .set_pr_files(REPO, number, &[(added, "added", None)]);
    for (path, sql) in all {
        h.github.put_file(REPO, merge_sha, path, sql);
    }
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["number"] = number.into();
    p["pull_request"]["number"] = number.into();
    p["pull_request"]["html_url"] = format!("https://github.com/{REPO}/pull/{number}").into();
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = merge_sha.into();
    h.handle(&pull_request_event(&p)).await.unwrap();
}

fn deploy_comment(h: &Harness, number: u64) -> String {
    let comments: Vec<_> = h
        .github
        .comments(REPO, number)
        .into_iter()
        .filter(|c| c.body.starts_with(DEPLOY_COMMENT_MARKER))
        .collect();
    assert_eq!(comments.len(), 1, "one sticky deploy comment");
    comments[0].body.clone()
}

/// The `detail` of each `drift.detected` audit row.
async fn drift_audits(h: &Harness) -> Vec<serde_json::Value> {
    let rows: Vec<(serde_json::Value,)> =
        sqlx::query_as("SELECT detail FROM audit_log WHERE action = 'drift.detected' ORDER BY id")
            .fetch_all(&h.db.pool)
            .await
            .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

/// Both PRs deploy; the first comment shows the table it added.
async fn first_deploy(h: &Harness) {
    merge(h, 2, &"3".repeat(40), M1, &[(M1, M1_SQL)]).await;
    let body = deploy_comment(h, 2);
    assert!(
        body.contains("**Schema changes on `staging` / `stg-main`**"),
        "{body}"
    );
    assert!(
        body.contains("<details><summary>Schema diff (before → after)</summary>"),
        "{body}"
    );
    assert!(body.contains("+CREATE TABLE public.users ("), "{body}");
    assert!(
        !body.contains("Drift"),
        "a first deploy has nothing to compare: {body}"
    );
}

#[tokio::test]
async fn a_schema_change_by_hand_between_deploys_is_reported_as_drift() {
    let (h, stg, _prod) = setup().await;
    first_deploy(&h).await;

    // Someone changes staging by hand.
    sqlx::raw_sql("ALTER TABLE users ADD COLUMN nickname text; CREATE TABLE hand_made (id int);")
        .execute(&stg.pool)
        .await
        .unwrap();

    merge(&h, 3, &"4".repeat(40), M2, &[(M1, M1_SQL), (M2, M2_SQL)]).await;
    let body = deploy_comment(&h, 3);
    assert!(
        body.contains("⚠️ **Drift on `staging` / `stg-main`**: the schema before this deploy differs from what bytegate's previous deploy left; it was changed outside bytegate. The deploy was not blocked."),
        "{body}"
    );
    assert!(
        body.contains("<details><summary>Drift (previous deploy → now)</summary>"),
        "{body}"
    );
    assert!(
        body.contains("\n+    nickname text\n"),
        "the added column: {body}"
    );
    assert!(
        body.contains("\n+CREATE TABLE public.hand_made (\n"),
        "the added table: {body}"
    );
    // The deploy itself went ahead and its own diff shows only its table.
    assert!(body.contains("+CREATE TABLE public.orders ("), "{body}");
    let (orders,): (bool,) = sqlx::query_as("SELECT to_regclass('orders') IS NOT NULL")
        .fetch_one(&stg.pool)
        .await
        .unwrap();
    assert!(orders);

    let audits = drift_audits(&h).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    let d = &audits[0];
    assert_eq!(d["database"], "stg-main");
    assert_eq!(d["blocked"], false);
    let diff = d["diff"].as_str().unwrap();
    assert!(diff.contains("+    nickname text"), "{diff}");
    assert!(diff.contains("+CREATE TABLE public.hand_made ("), "{diff}");
    assert!(
        !diff.contains("orders"),
        "drift is what was there before the deploy: {diff}"
    );
    let (env,): (Option<String>,) =
        sqlx::query_as("SELECT environment FROM audit_log WHERE action = 'drift.detected'")
            .fetch_one(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(env.as_deref(), Some("staging"));

    // Both deploys stored a snapshot before and after.
    let phases: Vec<(String,)> = sqlx::query_as(
        "SELECT phase FROM stage_schema_snapshots WHERE environment = 'staging' AND database = 'stg-main' ORDER BY id",
    )
    .fetch_all(&h.db.pool)
    .await
    .unwrap();
    let phases: Vec<&str> = phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(phases, ["before", "after", "before", "after"]);
    h.github.assert_clean();
}

#[tokio::test]
async fn deploys_without_a_change_by_hand_report_no_drift() {
    let (h, _stg, _prod) = setup().await;
    first_deploy(&h).await;
    merge(&h, 3, &"4".repeat(40), M2, &[(M1, M1_SQL), (M2, M2_SQL)]).await;
    let body = deploy_comment(&h, 3);
    assert!(!body.contains("Drift"), "{body}");
    assert!(body.contains("+CREATE TABLE public.orders ("), "{body}");
    assert!(
        !body.contains("+CREATE TABLE public.users"),
        "only this deploy's change: {body}"
    );
    assert!(drift_audits(&h).await.is_empty());
    h.github.assert_clean();
}

#[tokio::test]
async fn without_pg_dump_the_catalogs_give_a_stable_snapshot_that_sees_a_new_column() {
    let t = TestDb::empty().await.unwrap();
    sqlx::raw_sql("CREATE TABLE users (id bigint PRIMARY KEY); CREATE SCHEMA bytegate_backup; CREATE TABLE bytegate_backup.b1 (x int);")
        .execute(&t.pool)
        .await
        .unwrap();
    let first = schema_snapshot::take_from_catalog(&t.url()).await.unwrap();
    assert_eq!(
        first,
        schema_snapshot::take_from_catalog(&t.url()).await.unwrap()
    );
    assert!(
        first
            .text
            .contains("table public.users column id bigint NOT NULL"),
        "{}",
        first.text
    );
    assert!(
        !first.text.contains("bytegate_backup"),
        "backup tables come and go: {}",
        first.text
    );
    sqlx::raw_sql("ALTER TABLE users ADD COLUMN nickname text")
        .execute(&t.pool)
        .await
        .unwrap();
    let second = schema_snapshot::take_from_catalog(&t.url()).await.unwrap();
    assert_ne!(first.sha256, second.sha256);
    let diff = bytegate::deploy::line_diff::unified(&first.text, &second.text, 0);
    assert_eq!(diff, "@@\n+table public.users column nickname text\n");
}
