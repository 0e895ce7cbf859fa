//! The deploy flow on every engine (PostgreSQL and MariaDB), one scenario
//! each: apply and re-apply, drift and order refusals, two concurrent
//! deploys serializing on the target's lock, and MySQL's non-transactional
//! DDL leaving the target dirty until an operator's repair.

mod support;

use bytegate::config::Engine;
use bytegate::deploy::{DeployError, DeployOptions, Mode, RepairDecision};
use std::time::Duration;
use support::targets::TargetDb;

fn opts() -> DeployOptions {
    DeployOptions {
        lock_timeout: Some(Duration::from_secs(5)),
        statement_timeout: Some(Duration::from_secs(30)),
        change_ref: Some("https://github.com/o/r/pull/7".into()),
        lock_wait: Duration::from_secs(60),
        ..DeployOptions::default()
    }
}

const USERS: (&str, &str) = (
    "001_users.sql",
    "CREATE TABLE users (id bigint PRIMARY KEY, name varchar(100) NOT NULL);\n",
);
const FILL: (&str, &str) = ("003_fill.sql", "INSERT INTO users VALUES (1, 'once');\n");

async fn applies_once_and_refuses_drift_and_disorder(engine: Engine) {
    let Some(db) = TargetDb::create(engine).await else {
        return;
    };
    let t = db.target("dev");
    assert!(t.history().await.unwrap().is_empty());
    let report = t.deploy(&db.plan(&[USERS, FILL]), &opts()).await.unwrap();
    assert_eq!(report.applied.len(), 2, "{report:?}");
    assert!(db.table_exists("users").await);
    assert_eq!(db.rows("users").await, 1);
    let again = t.deploy(&db.plan(&[USERS, FILL]), &opts()).await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already_applied, 2);
    let history = db.history().await;
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|h| h.1));
    assert_eq!(
        history[0].2.as_deref(),
        Some("https://github.com/o/r/pull/7")
    );

    let edited = (USERS.0, "CREATE TABLE users (id bigint PRIMARY KEY);\n");
    let e = t
        .deploy(&db.plan(&[edited, FILL]), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::Drift { .. }), "{e}");
    assert!(e.to_string().contains("pull/7"), "{e}");

    let early = ("002_early.sql", "CREATE TABLE early (id int);\n");
    let e = t
        .deploy(&db.plan(&[USERS, early, FILL]), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::OutOfOrder { .. }), "{e}");
    assert!(!db.table_exists("early").await);
    let allowed = DeployOptions {
        allow_out_of_order: true,
        ..opts()
    };
    let r = t
        .deploy(&db.plan(&[USERS, early, FILL]), &allowed)
        .await
        .unwrap();
    assert_eq!(r.applied.len(), 1);
    assert!(db.table_exists("early").await);
}

on_engines!(applies_once_and_refuses_drift_and_disorder: applies_once_and_refuses_drift_and_disorder_on_postgres, applies_once_and_refuses_drift_and_disorder_on_mysql);

/// Options without lock or statement timeouts: a statement waits for the
/// test's lock as long as the test holds it.
fn patient() -> DeployOptions {
    DeployOptions {
        lock_timeout: None,
        statement_timeout: None,
        ..opts()
    }
}

/// Polls `until` (no fixed sleep: the deploys take any time to get there).
async fn eventually(what: &str, until: impl AsyncFn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !until().await {
        assert!(std::time::Instant::now() < deadline, "{what} within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn two_concurrent_deploys_to_one_target_serialize(engine: Engine) {
    let Some(db) = TargetDb::create(engine).await else {
        return;
    };
    db.target("dev")
        .deploy(&db.plan(&[USERS]), &patient())
        .await
        .unwrap();
    let set = db.plan(&[USERS, FILL]);
    // The first deploy holds the target's lock while its statement waits
    // for the test's table lock: the two deploys are made to overlap.
    let blocker = db.block_writes("users").await;
    let db = std::sync::Arc::new(db);
    let spawn = |db: std::sync::Arc<TargetDb>, set: Vec<bytegate::deploy::Migration>| {
        tokio::spawn(async move { db.target("dev").deploy(&set, &patient()).await })
    };
    let first = spawn(db.clone(), set.clone());
    db.wait_until_blocked("INSERT INTO users").await;
    let second = spawn(db.clone(), set.clone());
    // The second is connected and asking for the lock the first holds.
    eventually("the second deploy connected", async || {
        db.deploy_sessions().await >= 2
    })
    .await;
    assert!(!first.is_finished() && !second.is_finished());
    assert_eq!(
        db.history().await.len(),
        1,
        "nothing finished while both are running"
    );
    blocker.release().await;

    let (a, b) = (
        first.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    );
    assert_eq!(a.applied.len(), 1, "{a:?}");
    assert!(b.applied.is_empty(), "the second found it done: {b:?}");
    assert_eq!(b.already_applied, 2);
    assert_eq!(db.rows("users").await, 1);
    assert_eq!(db.history().await.len(), 2);
}

on_engines!(two_concurrent_deploys_to_one_target_serialize: two_concurrent_deploys_serialize_on_postgres, two_concurrent_deploys_serialize_on_mysql);

async fn a_held_lock_makes_a_deploy_busy(engine: Engine) {
    let Some(db) = TargetDb::create(engine).await else {
        return;
    };
    let holder = db.hold_deploy_lock().await;
    let o = DeployOptions {
        lock_wait: Duration::from_millis(300),
        ..opts()
    };
    let e = db
        .target("dev")
        .deploy(&db.plan(&[USERS]), &o)
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::Busy { .. }), "{e}");
    assert!(e.is_retryable());
    assert!(!db.table_exists("users").await);
    holder.release().await;
    db.target("dev")
        .deploy(&db.plan(&[USERS]), &o)
        .await
        .unwrap();
    assert!(db.table_exists("users").await);
}

on_engines!(a_held_lock_makes_a_deploy_busy: a_held_lock_makes_a_deploy_busy_on_postgres, a_held_lock_makes_a_deploy_busy_on_mysql);

/// MySQL commits each DDL statement: statement 2 of 3 failing leaves
/// statement 1 in effect, the target dirty (named in the next deploy's
/// refusal) until an operator's repair.
#[tokio::test]
async fn mysql_ddl_failing_half_way_leaves_the_target_dirty_until_repaired() {
    let Some(db) = TargetDb::create(Engine::Mysql).await else {
        return;
    };
    let t = db.target("dev");
    let three = (
        "001_three.sql",
        "CREATE TABLE a (id int);\nCREATE TABLE a (id int);\nCREATE TABLE c (id int);\n",
    );
    let plan = db.plan(&[three]);
    assert_eq!(
        plan[0].mode,
        Mode::NonTransactional(bytegate::deploy::MYSQL_IMPLICIT_COMMIT)
    );
    let e = t.deploy(&plan, &opts()).await.unwrap_err();
    let DeployError::Failed(f) = &e else {
        panic!("{e}")
    };
    assert_eq!((f.statement_number, f.statements_applied), (2, 1));
    let msg = e.public_message();
    assert!(
        msg.contains("statement 1 took effect, statement 2 failed, statement 3 did not run"),
        "{msg}"
    );
    assert!(msg.contains("1050"), "MySQL's error number: {msg}");
    assert!(db.table_exists("a").await && !db.table_exists("c").await);
    assert_eq!(
        db.history_rows().await,
        [(
            "1".to_string(),
            false,
            Some("https://github.com/o/r/pull/7".to_string()),
            1,
            None
        )]
    );

    let e = t.deploy(&plan, &opts()).await.unwrap_err();
    assert!(matches!(e, DeployError::Dirty { .. }), "{e}");
    assert!(e.to_string().contains("statement 2"), "{e}");
    // A different file is refused too: the dirty one may be what it needs.
    let other = ("002_other.sql", "CREATE TABLE other (id int);\n");
    let e = t
        .deploy(&db.plan(&[three, other]), &opts())
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::Dirty { .. }), "{e}");
    assert!(!db.table_exists("other").await);

    // The operator finishes the file by hand and records it as applied.
    db.execute("CREATE TABLE c (id int)").await;
    let r = t
        .repair(
            "1",
            RepairDecision::Applied,
            "olga",
            Some("created c by hand"),
        )
        .await
        .unwrap();
    assert_eq!(r.statements_applied, 1);
    let e = t
        .repair("1", RepairDecision::Applied, "olga", None)
        .await
        .unwrap_err();
    assert!(matches!(e, DeployError::NothingToRepair { .. }), "{e}");
    let report = t.deploy(&db.plan(&[three, other]), &opts()).await.unwrap();
    assert_eq!(report.already_applied, 1);
    assert_eq!(report.applied.len(), 1);
    assert!(db.table_exists("other").await);
}

/// Data changes only: one transaction on MySQL too, all or nothing.
#[tokio::test]
async fn mysql_data_changes_run_in_one_transaction() {
    let Some(db) = TargetDb::create(Engine::Mysql).await else {
        return;
    };
    let t = db.target("dev");
    t.deploy(&db.plan(&[USERS]), &opts()).await.unwrap();
    let bad = (
        "002_rows.sql",
        "INSERT INTO users VALUES (1, 'a');\nINSERT INTO users VALUES (1, 'secret@x.io');\n",
    );
    let plan = db.plan(&[USERS, bad]);
    assert_eq!(plan[1].mode, Mode::Transactional);
    let e = t.deploy(&plan, &opts()).await.unwrap_err();
    let msg = e.public_message();
    assert!(
        msg.contains("statement 2 of 2") && msg.contains("rolled back"),
        "{msg}"
    );
    // MySQL's own text quotes the row's key values: kept for operators.
    assert!(!msg.contains("Duplicate entry"), "{msg}");
    assert!(
        e.private_detail()
            .is_some_and(|d| d.contains("Duplicate entry '1'")),
        "{e:?}"
    );
    assert_eq!(db.rows("users").await, 0, "nothing of it took effect");
    let e = t.deploy(&plan, &opts()).await.unwrap_err();
    assert!(
        matches!(e, DeployError::Failed(_)),
        "a failed transaction does not block: {e}"
    );
}
