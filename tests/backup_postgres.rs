//! Prior backups at the executor (issue 14, item 1) on real PostgreSQL: the
//! copy is taken in the migration's own transaction with the statement's
//! `WHERE`, and a statement that cannot be backed up is refused or run
//! without one, as the environment says.

use bytegate::config::WhenImpossible;
use bytegate::deploy::backup::{BackupPolicy, NoBackup};
use bytegate::deploy::postgres::PostgresTarget;
use bytegate::deploy::{self, DeployError, DeployOptions, Target};
use bytegate::review::model::Dialect;
use bytegate::store::testdb::TestDb;
use sqlx::PgPool;

fn plan(sql: &str) -> Vec<deploy::Migration> {
    deploy::plan(
        &[("m/7_change.sql".to_string(), sql.as_bytes().to_vec())],
        Dialect::Postgres,
    )
    .unwrap()
}

fn opts(max_rows: u64, when_impossible: WhenImpossible) -> DeployOptions {
    DeployOptions {
        backup: Some(BackupPolicy {
            max_rows,
            when_impossible,
            expires_at: chrono::Utc::now(),
        }),
        ..DeployOptions::default()
    }
}

async fn target() -> (TestDb, PostgresTarget) {
    let db = TestDb::empty().await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 5) i;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let t = PostgresTarget::new("dev", &db.url());
    (db, t)
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap();
    n
}

async fn backup_tables(pool: &PgPool) -> i64 {
    count(
        pool,
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'bytegate_backup'",
    )
    .await
}

#[tokio::test]
async fn the_copy_commits_or_rolls_back_with_its_migration() {
    let (db, t) = target().await;
    let failing = plan("DELETE FROM t WHERE id > 3;\nINSERT INTO t VALUES (1, 'duplicate');\n");
    let e = t
        .deploy(&failing, &opts(100, WhenImpossible::Proceed))
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::Failed(_)), "{e}");
    assert_eq!(count(&db.pool, "SELECT count(*) FROM t").await, 5);
    assert_eq!(
        backup_tables(&db.pool).await,
        0,
        "rolled back with the migration"
    );

    let ok = plan("DELETE FROM t WHERE id > 3;\n");
    let report = t
        .deploy(&ok, &opts(100, WhenImpossible::Proceed))
        .await
        .unwrap();
    let b = &report.applied[0].backups[0];
    assert_eq!((b.statement_number, b.rows), (1, 2));
    assert_eq!(b.primary_key, ["id"]);
    assert_eq!(b.columns, ["id", "v"]);
    assert_eq!(
        count(
            &db.pool,
            "SELECT sum(id)::bigint FROM bytegate_backup.\"7_1_t\""
        )
        .await,
        9
    );
}

#[tokio::test]
async fn a_statement_that_cannot_be_backed_up_is_refused_or_runs_as_configured() {
    let (db, t) = target().await;
    let e = t
        .deploy(
            &plan("DELETE FROM t;\n"),
            &opts(100, WhenImpossible::Refuse),
        )
        .await
        .unwrap_err();
    let msg = e.public_message();
    assert!(
        msg.contains("cannot be backed up") && msg.contains("no WHERE") && msg.contains("refuse"),
        "{msg}"
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM t").await,
        5,
        "nothing ran"
    );

    // Over the cap with `proceed`: it runs, without a backup, and says why.
    let report = t
        .deploy(
            &plan("DELETE FROM t WHERE id > 1;\n"),
            &opts(2, WhenImpossible::Proceed),
        )
        .await
        .unwrap();
    let a = &report.applied[0];
    assert!(a.backups.is_empty());
    assert_eq!(a.not_backed_up[0].reason, NoBackup::OverCap { cap: 2 });
    assert_eq!(count(&db.pool, "SELECT count(*) FROM t").await, 1);
    assert_eq!(
        backup_tables(&db.pool).await,
        0,
        "the oversized copy is not kept"
    );
}
