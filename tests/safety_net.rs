//! The safety net end to end (issue 14, items 1 and 5): prior backups of
//! `UPDATE`/`DELETE` on real PostgreSQL targets, and `/bytebase rollback ENV`
//! on the merged PR through the fake GitHub, asserting the targets' rows,
//! tables and history, the meta database and what the PR shows.

mod support;

use bytegate::clock::Clock;
use bytegate::event::{CommentAction, CommentEvent, Event, PrRef};
use bytegate::store::testdb::TestDb;
use sqlx::PgPool;
use support::{Harness, REPO, pr_payload, pull_request_event};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "3333333333333333333333333333333333333333";
const AT: &str = "2019-05-15T15:20:33Z";
const PR: u64 = 2;
const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text, email text);
INSERT INTO users SELECT i, 'user ' || i, 'u' || i || '@x.io' FROM generate_series(1, 5) i;";

/// development (no approvals), staging (1, dba), production (2, dba + owner),
/// each with its own real database holding `users` (ids 1..5).
struct Setup {
    h: Harness,
    dev: TestDb,
    stg: TestDb,
    prod: TestDb,
}

async fn setup() -> Setup {
    let (dev, stg, prod) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    for t in [&dev, &stg, &prod] {
        sqlx::raw_sql(USERS).execute(&t.pool).await.unwrap();
    }
    let db = support::database_yaml;
    let envs = format!(
        "roles:\n  dba:\n    users: [dana]\n  owner:\n    users: [olga]\nenvironments:\n  - name: development\n{}  - name: staging\n    approvals: 1\n    roles: [dba]\n{}  - name: production\n    approvals: 2\n    roles: [dba, owner]\n    backup:\n      retention_days: 90\n{}",
        db("dev-main", &dev),
        db("stg-main", &stg),
        db("prod-main", &prod)
    );
    let h = Harness::app_with(&envs).await;
    Setup { h, dev, stg, prod }
}

/// The PR adds `files`; they are at its head and in the merge commit. The PR
/// is opened (reviewed), then merged (development deploys).
async fn open_and_merge(h: &Harness, files: &[(&str, &str)]) {
    let changed: Vec<(&str, &str, Option<&str>)> =
        files.iter().map(|(p, _)| (*p, "added", None)).collect();
    h.github.set_pr_files(REPO, PR, &changed);
    for (path, sql) in files {
        h.github.put_file(REPO, HEAD, path, sql);
        h.github.put_file(REPO, MERGE, path, sql);
    }
    h.handle(&pull_request_event(&pr_payload(
        "pull_request.opened",
        HEAD,
        AT,
    )))
    .await
    .unwrap();
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = MERGE.into();
    h.handle(&pull_request_event(&p)).await.unwrap();
}

fn pr_ref() -> PrRef {
    let Event::PullRequest(e) = pull_request_event(&pr_payload("pull_request.opened", HEAD, AT))
    else {
        unreachable!()
    };
    e.pr
}

/// `user` comments `body` on the PR; returns bytegate's reply.
async fn say(h: &Harness, user: &str, body: &str) -> String {
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
    let comments = h.github.comments(REPO, PR);
    let last = comments.last().expect("a reply");
    assert!(last.body.starts_with(&format!("@{user}")), "{}", last.body);
    last.body.clone()
}

fn review_comment(h: &Harness) -> String {
    h.github
        .comments(REPO, PR)
        .into_iter()
        .find(|c| c.body.starts_with(bytegate::flow::render::COMMENT_MARKER))
        .expect("the review comment")
        .body
}

fn deploy_comment(h: &Harness) -> String {
    h.github
        .comments(REPO, PR)
        .into_iter()
        .find(|c| {
            c.body
                .starts_with(bytegate::flow::rollout::DEPLOY_COMMENT_MARKER)
        })
        .expect("the deploy comment")
        .body
}

async fn ids(pool: &PgPool, table: &str) -> Vec<i64> {
    sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM {table} ORDER BY id"
    )))
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.0)
    .collect()
}

async fn exists(pool: &PgPool, name: &str) -> bool {
    let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap();
    e
}

async fn has_column(pool: &PgPool, table: &str, column: &str) -> bool {
    let (e,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2)",
    )
    .bind(table)
    .bind(column)
    .fetch_one(pool)
    .await
    .unwrap();
    e
}

/// (version, rolled back) of each successful history row.
async fn history(pool: &PgPool) -> Vec<(String, bool)> {
    sqlx::query_as(
        "SELECT version, rolled_back_at IS NOT NULL FROM bytegate.migration_history WHERE success ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn stage_state(h: &Harness, env: &str) -> String {
    let (s,): (String,) = sqlx::query_as("SELECT state FROM rollout_stages WHERE environment = $1")
        .bind(env)
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    s
}

#[tokio::test]
async fn a_delete_on_production_is_backed_up_and_rollback_restores_it_later_environments_first() {
    let s = setup().await;
    let h = &s.h;
    open_and_merge(
        h,
        &[(
            "schema/migrations/002_prune.sql",
            "DELETE FROM users WHERE id > 3;\n",
        )],
    )
    .await;
    assert!(
        review_comment(h)
            .contains("↩️ Rollback: reversible: 1 data change(s) restored from the prior backup"),
        "{}",
        review_comment(h)
    );
    say(h, "dana", "/bytebase approve staging production").await;
    say(h, "olga", "/bytebase approve production").await;
    for t in [&s.dev, &s.stg, &s.prod] {
        assert_eq!(ids(&t.pool, "users").await, [1, 2, 3]);
        // The deleted rows, copied in the same transaction with the same WHERE.
        assert_eq!(ids(&t.pool, "bytegate_backup.\"2_1_users\"").await, [4, 5]);
    }
    let recorded: Vec<(String, String, i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT environment, backup_table, row_count, expires_at FROM dml_backups ORDER BY id",
    )
    .fetch_all(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[2].0, "production");
    assert_eq!((recorded[2].1.as_str(), recorded[2].2), ("2_1_users", 2));
    assert_eq!(
        recorded[2].3,
        h.clock.now() + chrono::Duration::days(90),
        "production keeps backups for its retention"
    );
    assert!(
        deploy_comment(h).contains("prior backups"),
        "{}",
        deploy_comment(h)
    );

    // No standing, no rollback.
    let reply = say(h, "mallory", "/bytebase rollback production").await;
    assert!(reply.contains("needs the standing"), "{reply}");
    assert_eq!(ids(&s.prod.pool, "users").await, [1, 2, 3]);

    // Later environments first.
    let reply = say(h, "dana", "/bytebase rollback staging").await;
    assert!(reply.contains("roll back `production` first"), "{reply}");
    assert_eq!(ids(&s.stg.pool, "users").await, [1, 2, 3]);

    let reply = say(h, "olga", "/bytebase rollback production").await;
    assert!(reply.contains("Rolled back `production`"), "{reply}");
    assert_eq!(ids(&s.prod.pool, "users").await, [1, 2, 3, 4, 5]);
    let (name,): (String,) = sqlx::query_as("SELECT name FROM users WHERE id = 5")
        .fetch_one(&s.prod.pool)
        .await
        .unwrap();
    assert_eq!(name, "user 5", "the rows come back whole");
    assert_eq!(history(&s.prod.pool).await, [("2".to_string(), true)]);
    assert_eq!(stage_state(h, "production").await, "rolled_back");
    assert!(
        deploy_comment(h).contains("↩️ rolled back"),
        "{}",
        deploy_comment(h)
    );

    let reply = say(h, "dana", "/bytebase rollback staging").await;
    assert!(reply.contains("Rolled back `staging`"), "{reply}");
    assert_eq!(ids(&s.stg.pool, "users").await, [1, 2, 3, 4, 5]);
    assert_eq!(ids(&s.dev.pool, "users").await, [1, 2, 3], "untouched");
    let reply = say(h, "olga", "/bytebase rollback production").await;
    assert!(reply.contains("rolled back already"), "{reply}");

    let actions = h.audit_actions().await;
    for a in [
        "rollback.requested",
        "rollback.refused",
        "rollback.applied",
        "stage.rolled_back",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    let (restored,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM dml_backups WHERE restored_at IS NOT NULL")
            .fetch_one(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(restored, 2);
}

#[tokio::test]
async fn rollback_drops_a_created_table_and_its_index() {
    let s = setup().await;
    let h = &s.h;
    open_and_merge(
        h,
        &[(
            "schema/migrations/003_orders.sql",
            "CREATE TABLE orders (id bigint PRIMARY KEY, n int);\nCREATE INDEX orders_n ON orders (n);\n",
        )],
    )
    .await;
    assert!(
        review_comment(h).contains("↩️ Rollback: reversible: 2 generated statement(s)"),
        "{}",
        review_comment(h)
    );
    assert!(exists(&s.dev.pool, "orders").await && exists(&s.dev.pool, "orders_n").await);
    let reply = say(h, "dana", "/bytebase rollback development").await;
    assert!(reply.contains("Rolled back `development`"), "{reply}");
    assert!(
        !exists(&s.dev.pool, "orders_n").await,
        "the index is dropped"
    );
    assert!(!exists(&s.dev.pool, "orders").await, "the table is dropped");
    assert_eq!(history(&s.dev.pool).await, [("3".to_string(), true)]);
}

#[tokio::test]
async fn a_dropped_column_is_irreversible_without_a_down_script() {
    let s = setup().await;
    let h = &s.h;
    open_and_merge(
        h,
        &[(
            "schema/migrations/004_drop_email.sql",
            "ALTER TABLE users DROP COLUMN email;\n",
        )],
    )
    .await;
    let review = review_comment(h);
    assert!(
        review.contains(
            "↩️ Rollback: not reversible: statement 1 (DROP COLUMN email: its data is gone)"
        ),
        "{review}"
    );
    assert!(!has_column(&s.dev.pool, "users", "email").await);
    let reply = say(h, "dana", "/bytebase rollback development").await;
    assert!(
        reply.contains("Nothing was rolled back on `development`")
            && reply.contains("cannot be reversed automatically")
            && reply.contains("DROP COLUMN email"),
        "{reply}"
    );
    assert!(!has_column(&s.dev.pool, "users", "email").await);
    assert_eq!(history(&s.dev.pool).await, [("4".to_string(), false)]);
    assert_eq!(stage_state(h, "development").await, "succeeded");
}

#[tokio::test]
async fn a_down_script_is_what_rollback_runs() {
    let s = setup().await;
    let h = &s.h;
    open_and_merge(
        h,
        &[
            (
                "schema/migrations/004_drop_email.sql",
                "ALTER TABLE users DROP COLUMN email;\n",
            ),
            (
                "schema/migrations/004_drop_email.down.sql",
                "ALTER TABLE users ADD COLUMN email text;\n",
            ),
        ],
    )
    .await;
    let review = review_comment(h);
    assert!(
        review.contains(
            "↩️ Rollback: reversible: down script `schema/migrations/004_drop_email.down.sql`"
        ),
        "{review}"
    );
    assert!(!has_column(&s.dev.pool, "users", "email").await);
    let reply = say(h, "dana", "/bytebase rollback development").await;
    assert!(reply.contains("Rolled back `development`"), "{reply}");
    assert!(reply.contains("004_drop_email.down.sql"), "{reply}");
    assert!(has_column(&s.dev.pool, "users", "email").await);
    assert_eq!(history(&s.dev.pool).await, [("4".to_string(), true)]);
}

#[tokio::test]
async fn expired_backups_are_dropped_once_by_racing_cleaners() {
    let s = setup().await;
    let h = &s.h;
    open_and_merge(
        h,
        &[(
            "schema/migrations/005_fix.sql",
            "UPDATE users SET name = 'renamed' WHERE id = 2;\n",
        )],
    )
    .await;
    let backup = "bytegate_backup.\"5_1_users\"";
    assert_eq!(ids(&s.dev.pool, backup).await, [2]);
    use bytegate::flow::cleaner::clean_expired_backups;
    // Development keeps backups 7 days (the default).
    h.clock.advance(std::time::Duration::from_secs(6 * 86_400));
    assert_eq!(clean_expired_backups(&h.ctx).await.unwrap(), 0);
    assert!(exists(&s.dev.pool, backup).await);
    h.clock.advance(std::time::Duration::from_secs(2 * 86_400));
    let (a, b) = tokio::join!(clean_expired_backups(&h.ctx), clean_expired_backups(&h.ctx));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "dropped once");
    assert!(!exists(&s.dev.pool, backup).await);
    let (dropped,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM dml_backups WHERE dropped_at IS NOT NULL")
            .fetch_one(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(dropped, 1);
    assert_eq!(
        h.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "backup.dropped")
            .count(),
        1
    );
    // A dropped backup restores nothing: rollback says so plainly.
    let reply = say(h, "dana", "/bytebase rollback development").await;
    assert!(reply.contains("no prior backup on record"), "{reply}");
    let (name,): (String,) = sqlx::query_as("SELECT name FROM users WHERE id = 2")
        .fetch_one(&s.dev.pool)
        .await
        .unwrap();
    assert_eq!(name, "renamed");
}

#[tokio::test]
async fn an_update_is_put_back_by_primary_key() {
    let s = setup().await;
    let h = &s.h;
    open_and_merge(
        h,
        &[(
            "schema/migrations/006_mask.sql",
            "UPDATE users SET email = NULL, name = upper(name) WHERE id <= 2;\n",
        )],
    )
    .await;
    let rows = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, String, Option<String>)>(
            "SELECT id, name, email FROM users ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let after = rows(s.dev.pool.clone()).await;
    assert_eq!(after[0], (1, "USER 1".to_string(), None));
    // Someone else's later change to another row survives the rollback.
    sqlx::query("UPDATE users SET name = 'kept' WHERE id = 4")
        .execute(&s.dev.pool)
        .await
        .unwrap();
    let reply = say(h, "dana", "/bytebase rollback development").await;
    assert!(reply.contains("Rolled back `development`"), "{reply}");
    let restored = rows(s.dev.pool.clone()).await;
    assert_eq!(
        restored[0],
        (1, "user 1".to_string(), Some("u1@x.io".to_string()))
    );
    assert_eq!(
        restored[1],
        (2, "user 2".to_string(), Some("u2@x.io".to_string()))
    );
    assert_eq!(restored[3].1, "kept");
}
