//! The deploy flow on every engine (PostgreSQL and MariaDB), one scenario
//! each: apply and re-apply, drift and order refusals, two concurrent
//! deploys serializing on the target's lock, and MySQL's non-transactional
//! DDL leaving the target dirty until an operator's repair.

mod support;

use bytegate::config::Engine;
use bytegate::deploy::{DeployError, DeployOptions};
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
