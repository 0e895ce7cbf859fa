//! The PostgreSQL target on a real server: apply, re-apply, drift, order,
//! failures, non-transactional files under the advisory lock. Concurrency
//! and the busy lock are shared with MySQL: `tests/deploy_targets.rs`.

use bytegate::deploy::postgres::PostgresTarget;
use bytegate::deploy::{self, DeployError, DeployOptions, Migration, Mode, Target};
use bytegate::review::model::Dialect;
use bytegate::store::testdb::TestDb;
use sqlx::PgPool;
use std::time::Duration;

fn plan(files: &[(&str, &str)]) -> Vec<Migration> {
    let files: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(p, t)| (format!("schema/migrations/{p}"), t.as_bytes().to_vec()))
        .collect();
    deploy::plan(&files, Dialect::Postgres).unwrap()
}

fn opts() -> DeployOptions {
    DeployOptions {
        lock_timeout: Some(Duration::from_secs(5)),
        statement_timeout: Some(Duration::from_secs(30)),
        change_ref: Some("https://github.com/o/r/pull/7".into()),
        lock_wait: Duration::from_secs(30),
        ..DeployOptions::default()
    }
}

async fn target() -> (TestDb, PostgresTarget) {
    let db = TestDb::empty().await.unwrap();
    let t = PostgresTarget::new("dev", &db.url());
    (db, t)
}

async fn table_exists(pool: &PgPool, name: &str) -> bool {
    let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap();
    e
}

async fn history(pool: &PgPool) -> Vec<(String, bool, Option<String>, bool)> {
    sqlx::query_as(
        "SELECT version, success, error, transactional FROM bytegate.migration_history ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

const M1: (&str, &str) = (
    "001_users.sql",
    "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n",
);
const M2: (&str, &str) = (
    "002_orders.sql",
    "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\nINSERT INTO users VALUES (1, 'a');\n",
);

#[tokio::test]
async fn applies_records_history_and_reapply_is_a_no_op() {
    let (db, t) = target().await;
    let report = t.deploy(&plan(&[M1, M2]), &opts()).await.unwrap();
    assert_eq!(report.applied.len(), 2);
    assert!(report.applied.iter().all(|a| a.transactional));
    assert!(table_exists(&db.pool, "orders").await);

    let row: (String, String, String, String, Option<String>, bool, i64) = sqlx::query_as(
        "SELECT version, name, checksum, applied_by, change_ref, success, duration_ms
         FROM bytegate.migration_history WHERE version = '2'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(row.1, "schema/migrations/002_orders.sql");
    assert_eq!(row.2, deploy::checksum(M2.1.as_bytes()));
    assert_eq!(row.3, "bytegate");
    assert_eq!(row.4.as_deref(), Some("https://github.com/o/r/pull/7"));
    assert!(row.5 && row.6 >= 0);

    let again = t.deploy(&plan(&[M1, M2]), &opts()).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already_applied, 2);
    assert_eq!(history(&db.pool).await.len(), 2);
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the insert ran once");
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused_as_drift() {
    let (db, t) = target().await;
    t.deploy(&plan(&[M1]), &opts()).await.unwrap();
    let edited = ("001_users.sql", "CREATE TABLE users (id int);\n");
    let e = t.deploy(&plan(&[edited, M2]), &opts()).await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DeployError::Drift { .. }), "{msg}");
    assert!(msg.contains("schema/migrations/001_users.sql"), "{msg}");
    assert!(msg.contains(&deploy::checksum(M1.1.as_bytes())), "{msg}");
    assert!(
        msg.contains(&deploy::checksum(edited.1.as_bytes())),
        "{msg}"
    );
    assert!(msg.contains("pull/7"), "{msg}");
    assert!(!table_exists(&db.pool, "orders").await, "nothing else ran");
}

#[tokio::test]
async fn a_lower_pending_version_is_refused_unless_allowed() {
    let (db, t) = target().await;
    t.deploy(
        &plan(&[M1, ("003_c.sql", "CREATE TABLE c (id int);")]),
        &opts(),
    )
    .await
    .unwrap();
    let late = ("002_b.sql", "CREATE TABLE b (id int);");
    let set = plan(&[M1, late, ("003_c.sql", "CREATE TABLE c (id int);")]);
    let e = t.deploy(&set, &opts()).await.unwrap_err();
    assert!(matches!(e, DeployError::OutOfOrder { .. }), "{e}");
    assert!(e.to_string().contains("002_b.sql"), "{e}");
    assert!(!table_exists(&db.pool, "b").await);

    let allow = DeployOptions {
        allow_out_of_order: true,
        ..opts()
    };
    let r = t.deploy(&set, &allow).await.unwrap();
    assert_eq!(r.applied.len(), 1);
    assert!(table_exists(&db.pool, "b").await);
}

#[tokio::test]
async fn a_failing_migration_rolls_back_is_recorded_and_stops() {
    let (db, t) = target().await;
    let bad = (
        "002_bad.sql",
        "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nALTER TABLE half\n  ADD COLUMN x no_such_type;\n",
    );
    let after = ("003_after.sql", "CREATE TABLE after_bad (id int);");
    let e = t
        .deploy(&plan(&[M1, bad, after]), &opts())
        .await
        .unwrap_err();
    let DeployError::Failed(f) = &e else {
        panic!("expected a failure, got {e}");
    };
    assert_eq!(f.statement_number, 3);
    assert_eq!((f.line, f.column), (4, 16), "points at the type: {e}");
    assert!(
        f.message.contains("no_such_type") && f.message.contains("42704"),
        "{e}"
    );
    assert!(f.transactional);
    assert_eq!(
        f.applied_before.len(),
        1,
        "001 stays applied and is reported"
    );
    assert_eq!(f.applied_before[0].version, "1");
    assert!(e.to_string().contains("rolled back"), "{e}");

    assert!(
        table_exists(&db.pool, "users").await,
        "the earlier file stays"
    );
    assert!(!table_exists(&db.pool, "half").await, "none of its effects");
    assert!(
        !table_exists(&db.pool, "after_bad").await,
        "the deploy stopped"
    );
    let h = history(&db.pool).await;
    assert_eq!(h.len(), 2);
    assert_eq!((h[1].0.as_str(), h[1].1), ("2", false));
    assert!(h[1].2.as_deref().unwrap_or("").contains("no_such_type"));

    // Fixed file: the failed attempt does not block the retry.
    let fixed = ("002_bad.sql", "CREATE TABLE half (id int);");
    let r = t.deploy(&plan(&[M1, fixed, after]), &opts()).await.unwrap();
    assert_eq!(r.applied.len(), 2);
}

#[tokio::test]
async fn lock_timeout_applies_to_migrations() {
    let (db, t) = target().await;
    t.deploy(&plan(&[M1]), &opts()).await.unwrap();
    // Another session holds a lock on users for the whole deploy.
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE users IN ACCESS SHARE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let quick = DeployOptions {
        lock_timeout: Some(Duration::from_millis(200)),
        ..opts()
    };
    let m = ("002_alter.sql", "ALTER TABLE users ADD COLUMN email text;");
    let e = t.deploy(&plan(&[M1, m]), &quick).await.unwrap_err();
    assert!(e.to_string().contains("55P03"), "lock_not_available: {e}");
    blocker.rollback().await.unwrap();
}

#[tokio::test]
async fn create_index_concurrently_under_the_advisory_lock_does_not_deadlock() {
    // flyway#1654: a second deployer waiting for the lock inside an open
    // transaction makes CREATE INDEX CONCURRENTLY wait for it, while it waits
    // for the lock the first deployer holds. Here a second deploy to the same
    // target waits the whole time the index is built.
    let (db, t) = target().await;
    let t2 = PostgresTarget::new("dev", &db.url());
    let idx = (
        "002_idx.sql",
        "SELECT pg_sleep(0.5);\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
    );
    let set = plan(&[M1, idx]);
    assert_eq!(
        set[1].mode,
        Mode::NonTransactional("CREATE INDEX CONCURRENTLY")
    );
    let o = opts();
    let both = async { tokio::join!(t.deploy(&set, &o), t2.deploy(&set, &o)) };
    let (a, b) = tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("CREATE INDEX CONCURRENTLY waited for a lock waiter (flyway#1654)");
    let (a, b) = (a.unwrap(), b.unwrap());
    let applied: Vec<_> = a.applied.iter().chain(&b.applied).collect();
    assert_eq!(applied.len(), 2);
    assert!(!applied[1].transactional);
    assert!(table_exists(&db.pool, "users_name_idx").await);
    let h = history(&db.pool).await;
    assert_eq!(
        (h[1].1, h[1].3),
        (true, false),
        "recorded as non-transactional"
    );
}

#[tokio::test]
async fn a_failed_non_transactional_file_leaves_the_target_dirty() {
    let (db, t) = target().await;
    let idx = (
        "002_idx.sql",
        "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\nCREATE INDEX CONCURRENTLY bad_idx ON nowhere (x);\n",
    );
    let e = t.deploy(&plan(&[M1, idx]), &opts()).await.unwrap_err();
    assert!(e.to_string().contains("dirty"), "{e}");
    assert!(table_exists(&db.pool, "users_name_idx").await);
    let again = t.deploy(&plan(&[M1, idx]), &opts()).await.unwrap_err();
    assert!(matches!(again, DeployError::Dirty { .. }), "{again}");
}

#[tokio::test]
async fn history_is_empty_before_the_first_deploy() {
    let (_db, t) = target().await;
    assert!(t.history().await.unwrap().is_empty());
    t.deploy(&plan(&[M1]), &opts()).await.unwrap();
    let h = t.history().await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].statements_applied, 1);
}

/// Two tables: `users` and `accounts` (the one tests lock to hold a statement).
const TWO_TABLES: (&str, &str) = (
    "001_tables.sql",
    "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\nCREATE TABLE accounts (id bigint PRIMARY KEY, owner text);\n",
);

/// Options without lock or statement timeouts: a statement waits for the
/// test's lock as long as the test holds it.
fn patient() -> DeployOptions {
    DeployOptions {
        lock_timeout: None,
        statement_timeout: None,
        ..opts()
    }
}

/// Polls until a deploy session waits for a lock running `query_prefix`
/// (no fixed sleep: the deploy may take any time to get there).
async fn wait_until_blocked(pool: &PgPool, query_prefix: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'bytegate-deploy'
               AND wait_event_type = 'Lock' AND query LIKE $1 || '%'",
        )
        .bind(query_prefix)
        .fetch_one(pool)
        .await
        .unwrap();
        if n > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deploy never reached `{query_prefix}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until no deploy session is left on the database (a dropped deploy's
/// backend finishes its statement, then notices the closed connection).
async fn wait_until_no_deploy_session(pool: &PgPool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'bytegate-deploy'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if n == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a deploy session stayed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// (finished, success, statements_applied, interrupted, repair) of each row of a version.
async fn attempts(pool: &PgPool, version: &str) -> Vec<(bool, bool, i32, bool, Option<String>)> {
    sqlx::query_as(
        "SELECT finished_at IS NOT NULL, success, statements_applied, interrupted, repair
         FROM bytegate.migration_history WHERE version = $1 ORDER BY id",
    )
    .bind(version)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_deploy_dropped_mid_concurrently_file_leaves_a_started_row_and_refuses_until_repaired() {
    let (db, t) = target().await;
    t.deploy(&plan(&[TWO_TABLES]), &patient()).await.unwrap();
    let idx = (
        "002_idx.sql",
        "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\nCREATE INDEX CONCURRENTLY accounts_owner_idx ON accounts (owner);\n",
    );
    let set = plan(&[TWO_TABLES, idx]);
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let o = patient();
    // The crash: the deploy future is dropped while statement 2 waits for
    // the test's lock (as a killed process or a dropped handler would).
    tokio::select! {
        r = t.deploy(&set, &o) => panic!("the deploy finished while blocked: {r:?}"),
        () = wait_until_blocked(&db.pool, "CREATE INDEX CONCURRENTLY accounts_owner_idx") => {}
    }
    blocker.rollback().await.unwrap();
    wait_until_no_deploy_session(&db.pool).await;

    assert_eq!(
        attempts(&db.pool, "2").await,
        [(false, false, 1, false, None)],
        "a started row, never finished, statement 1 done"
    );
    assert!(table_exists(&db.pool, "users_name_idx").await);

    let more = (
        "003_more.sql",
        "CREATE TABLE more (id bigint PRIMARY KEY);\n",
    );
    let next = plan(&[TWO_TABLES, idx, more]);
    let e = t.deploy(&next, &patient()).await.unwrap_err();
    let msg = e.public_message();
    assert!(matches!(e, DeployError::Dirty { .. }), "{msg}");
    assert!(
        msg.contains("schema/migrations/002_idx.sql") && msg.contains("statement 2"),
        "{msg}"
    );
    assert!(msg.contains("bytegate repair"), "{msg}");
    assert!(!table_exists(&db.pool, "more").await, "nothing ran");

    // The operator checked: both indexes exist, the file is complete.
    let repaired = t
        .repair(
            "2",
            deploy::RepairDecision::Applied,
            "olga",
            Some("accounts_owner_idx finished"),
        )
        .await
        .unwrap();
    assert_eq!(repaired.path, "schema/migrations/002_idx.sql");
    assert_eq!(repaired.checksum, deploy::checksum(idx.1.as_bytes()));
    let r = t.deploy(&next, &patient()).await.unwrap();
    assert_eq!(r.applied.len(), 1);
    assert_eq!(r.already_applied, 2);
    assert!(table_exists(&db.pool, "more").await);
    let rows = attempts(&db.pool, "2").await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1], (true, true, 1, false, Some("applied".into())));
}

#[tokio::test]
async fn a_not_applied_repair_makes_the_version_pending_again() {
    let (db, t) = target().await;
    t.deploy(&plan(&[TWO_TABLES]), &patient()).await.unwrap();
    // A failure after statement 1 took effect: dirty.
    let idx = (
        "002_idx.sql",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\nCREATE INDEX CONCURRENTLY nowhere_idx ON nowhere (x);\n",
    );
    t.deploy(&plan(&[TWO_TABLES, idx]), &patient())
        .await
        .unwrap_err();
    let e = t
        .repair("1", deploy::RepairDecision::NotApplied, "olga", None)
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::NothingToRepair { .. }), "{e}");
    t.repair(
        "2",
        deploy::RepairDecision::NotApplied,
        "olga",
        Some("fixed the file"),
    )
    .await
    .unwrap();
    let fixed = (
        "002_idx.sql",
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name_idx ON users (name);\nCREATE INDEX CONCURRENTLY accounts_owner_idx ON accounts (owner);\n",
    );
    let r = t
        .deploy(&plan(&[TWO_TABLES, fixed]), &patient())
        .await
        .unwrap();
    assert_eq!(r.applied.len(), 1);
    assert!(table_exists(&db.pool, "accounts_owner_idx").await);
}

#[tokio::test]
async fn an_invalid_index_from_a_failed_concurrent_build_makes_the_target_dirty() {
    let (db, t) = target().await;
    t.deploy(&plan(&[TWO_TABLES]), &patient()).await.unwrap();
    sqlx::query("INSERT INTO users VALUES (1, 'same'), (2, 'same')")
        .execute(&db.pool)
        .await
        .unwrap();
    let unique = (
        "002_unique.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY users_name_key ON users (name);\n",
    );
    let e = t
        .deploy(&plan(&[TWO_TABLES, unique]), &patient())
        .await
        .unwrap_err();
    assert!(e.public_message().contains("23505"), "{e}");
    let (valid,): (bool,) = sqlx::query_as(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_name_key'::regclass",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!valid, "the failed build left an INVALID index");

    // Another file, after the author fixed the data: refused while the index is INVALID.
    let other = (
        "003_other.sql",
        "CREATE TABLE other (id bigint PRIMARY KEY);\n",
    );
    let e = t
        .deploy(&plan(&[TWO_TABLES, other]), &patient())
        .await
        .unwrap_err();
    let msg = e.public_message();
    assert!(matches!(e, DeployError::InvalidIndex { .. }), "{msg}");
    assert!(
        msg.contains("public.users_name_key") && msg.contains("dirty"),
        "{msg}"
    );
    assert!(!table_exists(&db.pool, "other").await);

    sqlx::query("DROP INDEX users_name_key")
        .execute(&db.pool)
        .await
        .unwrap();
    t.deploy(&plan(&[TWO_TABLES, other]), &patient())
        .await
        .unwrap();
    assert!(table_exists(&db.pool, "other").await);
}

#[tokio::test]
async fn a_stop_signal_stops_before_the_next_statement_and_records_where() {
    let (db, t) = target().await;
    t.deploy(&plan(&[TWO_TABLES]), &patient()).await.unwrap();
    let idx = (
        "002_idx.sql",
        "CREATE INDEX CONCURRENTLY accounts_owner_idx ON accounts (owner);\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
    );
    let set = plan(&[TWO_TABLES, idx]);
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let stop = deploy::StopSignal::new();
    let o = DeployOptions {
        stop: stop.clone(),
        ..patient()
    };
    let url = db.url();
    let running =
        tokio::spawn(async move { PostgresTarget::new("dev", &url).deploy(&set, &o).await });
    wait_until_blocked(&db.pool, "CREATE INDEX CONCURRENTLY accounts_owner_idx").await;
    // The lease is lost while statement 1 runs.
    stop.stop();
    blocker.rollback().await.unwrap();
    let e = running.await.unwrap().unwrap_err();
    let DeployError::Stopped {
        statements_applied,
        transactional,
        ref path,
        ..
    } = e
    else {
        panic!("expected a stop, got {e}");
    };
    assert_eq!((statements_applied, transactional), (1, false));
    assert_eq!(path, "schema/migrations/002_idx.sql");
    assert!(e.public_message().contains("before statement 2"), "{e}");
    assert!(table_exists(&db.pool, "accounts_owner_idx").await);
    assert!(
        !table_exists(&db.pool, "users_name_idx").await,
        "statement 2 never ran"
    );
    assert_eq!(
        attempts(&db.pool, "2").await,
        [(true, false, 1, true, None)],
        "finished, interrupted after statement 1"
    );
    let e = t
        .deploy(&plan(&[TWO_TABLES, idx]), &patient())
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::Dirty { .. }), "{e}");
    assert!(e.public_message().contains("statement 2"), "{e}");
}

#[tokio::test]
async fn a_history_table_of_an_earlier_version_is_upgraded_in_place() {
    let (db, t) = target().await;
    // The table as earlier bytegate versions created it, with one applied row.
    sqlx::raw_sql(
        "CREATE SCHEMA bytegate;
         CREATE TABLE bytegate.migration_history (
             id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             version TEXT NOT NULL, name TEXT NOT NULL, checksum TEXT NOT NULL,
             applied_by TEXT NOT NULL, change_ref TEXT,
             started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ NOT NULL,
             duration_ms BIGINT NOT NULL, success BOOLEAN NOT NULL, error TEXT,
             transactional BOOLEAN NOT NULL DEFAULT true,
             statements_applied INT NOT NULL DEFAULT 0);
         CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO bytegate.migration_history (version, name, checksum, applied_by,
            started_at, finished_at, duration_ms, success, statements_applied)
         VALUES ('1', 'schema/migrations/001_users.sql', $1, 'bytegate', now(), now(), 1, true, 1)",
    )
    .bind(deploy::checksum(M1.1.as_bytes()))
    .execute(&db.pool)
    .await
    .unwrap();
    let idx = (
        "002_idx.sql",
        "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
    );
    let r = t.deploy(&plan(&[M1, idx]), &opts()).await.unwrap();
    assert_eq!((r.applied.len(), r.already_applied), (1, 1));
    assert_eq!(
        attempts(&db.pool, "2").await,
        [(true, true, 1, false, None)]
    );
}

/// A job handler that deploys `set` to `url` with the job's stop signal.
struct DeployJob {
    url: String,
    set: Vec<Migration>,
    signal: std::sync::Mutex<Option<deploy::StopSignal>>,
    result: std::sync::Mutex<Option<Result<(), String>>>,
}

impl bytegate::jobs::JobHandler for DeployJob {
    fn handle<'a>(
        &'a self,
        _job: &'a bytegate::store::jobs::Job,
    ) -> futures::future::BoxFuture<'a, Result<(), bytegate::jobs::JobError>> {
        Box::pin(async move {
            let stop = bytegate::deploy::current_stop_signal().expect("run_one sets a stop signal");
            *self.signal.lock().unwrap() = Some(stop.clone());
            let o = DeployOptions { stop, ..patient() };
            let r = PostgresTarget::new("dev", &self.url)
                .deploy(&self.set, &o)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            *self.result.lock().unwrap() = Some(r.clone());
            r.map_err(bytegate::jobs::JobError::permanent)
        })
    }
}

#[tokio::test]
async fn a_lost_job_lease_stops_the_deploy_at_a_statement_boundary_instead_of_dropping_it() {
    let (db, t) = target().await;
    t.deploy(&plan(&[TWO_TABLES]), &patient()).await.unwrap();
    let meta = TestDb::migrated().await.unwrap();
    bytegate::store::jobs::enqueue(
        &meta.pool,
        None,
        &bytegate::store::jobs::NewJob {
            kind: "deploy".into(),
            payload: serde_json::json!({}),
            coalesce_key: None,
            max_attempts: 3,
        },
    )
    .await
    .unwrap();
    let idx = (
        "002_idx.sql",
        "CREATE INDEX CONCURRENTLY accounts_owner_idx ON accounts (owner);\nCREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
    );
    let handler = std::sync::Arc::new(DeployJob {
        url: db.url(),
        set: plan(&[TWO_TABLES, idx]),
        signal: std::sync::Mutex::new(None),
        result: std::sync::Mutex::new(None),
    });
    let mut blocker = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let settings = bytegate::jobs::WorkerSettings {
        lease: Duration::from_millis(900),
        ..Default::default()
    };
    let (pool, h) = (meta.pool.clone(), handler.clone());
    let worker =
        tokio::spawn(
            async move { bytegate::jobs::run_one(&pool, h.as_ref(), "w1", &settings).await },
        );
    wait_until_blocked(&db.pool, "CREATE INDEX CONCURRENTLY accounts_owner_idx").await;
    // Another worker takes the job over while statement 1 runs.
    sqlx::query("UPDATE jobs SET locked_by = 'w2'")
        .execute(&meta.pool)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !handler
        .signal
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(deploy::StopSignal::is_stopped)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the lost lease was never noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    blocker.rollback().await.unwrap();
    let outcome = worker.await.unwrap().unwrap();
    assert_eq!(
        outcome,
        bytegate::jobs::RunOutcome::Idle,
        "the other worker owns the job"
    );

    let result = handler.result.lock().unwrap().clone();
    let e = result.expect("the handler ran to its end").unwrap_err();
    assert!(e.contains("before statement 2"), "{e}");
    assert!(table_exists(&db.pool, "accounts_owner_idx").await);
    assert!(!table_exists(&db.pool, "users_name_idx").await);
    assert_eq!(
        attempts(&db.pool, "2").await,
        [(true, false, 1, true, None)],
        "the history says where it stopped"
    );
}
