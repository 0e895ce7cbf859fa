//! Dry run with a lock report (issue 14 item 6): the migrations run on a
//! scratch copy of the target's schema in a rolled-back transaction; the
//! report names the locks each statement took on existing tables and the
//! rewrites; the target is never touched.

use bytegate::deploy::{self, dryrun};
use bytegate::review::model::Dialect;
use bytegate::store::testdb::TestDb;

async fn target() -> TestDb {
    let db = TestDb::empty().await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE big (id bigint PRIMARY KEY, a int);
         CREATE TABLE audit_events (id bigint PRIMARY KEY, big_id bigint);
         INSERT INTO big SELECT g, g FROM generate_series(1, 100) g;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db
}

fn plan(files: &[(&str, &str)]) -> Vec<deploy::Migration> {
    let files: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
        .collect();
    deploy::plan(&files, Dialect::Postgres).unwrap()
}

#[tokio::test]
async fn locks_and_rewrites_are_reported_per_statement_and_the_target_is_unchanged() {
    let db = target().await;
    let scratch = TestDb::empty().await.unwrap();
    let migrations = plan(&[(
        "schema/migrations/002_big.sql",
        "CREATE INDEX big_a ON big (a);\n\
         ALTER TABLE big ADD COLUMN x int NOT NULL DEFAULT 0;\n\
         ALTER TABLE big ALTER COLUMN a TYPE bigint;\n\
         CREATE TABLE fresh (id int PRIMARY KEY);\n",
    )]);
    let report = dryrun::dry_run(&db.url(), &scratch.url(), &migrations)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let s = &report.statements;
    assert_eq!(s.len(), 4);
    let mode_on = |i: usize, rel: &str| -> Vec<(String, bool, bool)> {
        s[i].locks
            .iter()
            .filter(|l| l.relation == rel)
            .map(|l| (l.mode.clone(), l.existing, l.blocking))
            .collect()
    };
    // One transaction, as the deploy runs it: each statement reports the
    // locks it adds to what the earlier ones hold.
    // CREATE INDEX without CONCURRENTLY: SHARE on the table.
    assert!(
        mode_on(0, "big").contains(&("ShareLock".into(), true, true)),
        "{:#?}",
        s[0]
    );
    assert_eq!(s[0].line, 1);
    // ADD COLUMN … NOT NULL DEFAULT 0: ACCESS EXCLUSIVE on the existing table, no rewrite.
    assert!(
        mode_on(1, "big").contains(&("AccessExclusiveLock".into(), true, true)),
        "{:#?}",
        s[1]
    );
    assert!(s[1].rewrites.is_empty(), "{:#?}", s[1]);
    // ALTER COLUMN … TYPE: rewrites the table.
    assert!(s[2].rewrites.contains(&"big".to_string()), "{:#?}", s[2]);
    // A new table's locks are not on an existing table.
    assert!(
        s[3].locks
            .iter()
            .filter(|l| l.relation == "fresh")
            .all(|l| !l.existing)
    );
    // The rewrite also locks the existing indexes it rebuilds.
    assert_eq!(report.blocking().count(), 3);

    // The target is as it was.
    let (cols,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM information_schema.columns WHERE table_name = 'big'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(cols, 2);
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_tables WHERE tablename = 'fresh'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // And the scratch server has no database left over.
    assert!(report.scratch_database.starts_with("bytegate_dryrun_"));
    let (left,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&report.scratch_database)
        .fetch_one(&scratch.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_failing_statement_stops_the_run_with_the_database_error_and_concurrent_builds_are_skipped()
 {
    let db = target().await;
    let scratch = TestDb::empty().await.unwrap();
    let migrations = plan(&[
        (
            "schema/migrations/002_idx.sql",
            "CREATE INDEX CONCURRENTLY big_a ON big (a);\n",
        ),
        (
            "schema/migrations/003_bad.sql",
            "ALTER TABLE big ADD COLUMN y int;\nALTER TABLE nope ADD COLUMN z int;\nALTER TABLE big ADD COLUMN w int;\n",
        ),
    ]);
    let report = dryrun::dry_run(&db.url(), &scratch.url(), &migrations)
        .await
        .unwrap();
    assert!(!report.succeeded());
    let s = &report.statements;
    assert_eq!(s.len(), 3, "stops at the failure: {s:#?}");
    assert!(s[0].skipped && s[0].error.is_none(), "{:#?}", s[0]);
    assert_eq!(
        (s[2].path.as_str(), s[2].line),
        ("schema/migrations/003_bad.sql", 2)
    );
    let error = s[2].error.as_deref().unwrap();
    assert!(
        error.starts_with("42P01:") && error.contains("nope"),
        "{error}"
    );
}
