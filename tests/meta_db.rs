//! The meta database: migrations on a fresh database, idempotence, concurrent
//! `bytegate migrate`, and `/health` against live and dead databases.

use bytegate::config::Config;
use bytegate::server::{AppState, Health, Readiness};
use bytegate::store::testdb::TestDb;
use std::sync::Arc;

#[tokio::test]
async fn migrations_apply_to_a_fresh_database_and_rerun_is_a_noop() {
    let db = TestDb::empty().await.unwrap();
    bytegate::store::migrate(&db.pool).await.unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "api_tokens",
            "approvals",
            "audit_chain_start",
            "audit_log",
            "backups",
            "change_requests",
            "dashboard_sessions",
            "dml_backups",
            "jobs",
            "migration_decisions",
            "notification_attempts",
            "review_results",
            "review_snapshots",
            "reviewed_files",
            "rollout_stages",
            "rollouts",
            "stage_schema_snapshots",
            "webhook_deliveries"
        ]
    );
    let (applied_before,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    bytegate::store::migrate(&db.pool).await.unwrap();
    let (applied_after,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(applied_before, applied_after);
    assert_eq!(
        applied_after as usize,
        bytegate::store::MIGRATOR.iter().count()
    );
}

#[tokio::test]
async fn two_concurrent_migrate_processes_both_succeed() {
    let db = TestDb::empty().await.unwrap();
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_bytegate"))
            .arg("migrate")
            .env("PG_URL", db.url())
            .output()
    };
    let (a, b) = tokio::join!(spawn(), spawn());
    for out in [a.unwrap(), b.unwrap()] {
        assert!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n as usize, bytegate::store::MIGRATOR.iter().count());
}

fn example_config() -> Arc<Config> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/config/bytegate.yaml");
    Arc::new(Config::load(std::path::Path::new(path)).unwrap())
}

/// `GET path` on a server over `state`: the status and the JSON body.
async fn get<T: serde::de::DeserializeOwned>(state: AppState, path: &str) -> (u16, T) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bytegate::server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let resp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let code = resp.status().as_u16();
    let body: T = resp.json().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    (code, body)
}

async fn get_health(state: AppState) -> (u16, Health) {
    get(state, "/health").await
}

/// A pool on a port nothing listens on: it can never connect.
fn dead_pool() -> sqlx::PgPool {
    let port = bytegate::store::embedded::free_port().unwrap();
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy(&format!("postgres://nobody@127.0.0.1:{port}/none"))
        .unwrap()
}

#[tokio::test]
async fn health_reports_a_reachable_database_and_queue_depth() {
    let db = TestDb::migrated().await.unwrap();
    sqlx::query("INSERT INTO jobs (kind) VALUES ('review'), ('review')")
        .execute(&db.pool)
        .await
        .unwrap();
    let (code, health) = get_health(AppState::new(db.pool.clone(), example_config())).await;
    assert_eq!(code, 200);
    assert_eq!(health.status, "ok");
    assert!(health.database);
    assert_eq!(health.queue_depth, Some(2));
}

#[tokio::test]
async fn health_reports_a_dead_database_as_503() {
    let (code, health) = get_health(AppState::new(dead_pool(), example_config())).await;
    assert_eq!(code, 503);
    assert_eq!(health.status, "unhealthy");
    assert!(!health.database);
    assert_eq!(health.queue_depth, None);
}

#[tokio::test]
async fn readyz_waits_for_bytegates_own_migrations() {
    let db = TestDb::empty().await.unwrap();
    let all = bytegate::store::MIGRATOR.iter().count();
    let state = AppState::new(db.pool.clone(), example_config());
    let (code, before) = get::<Readiness>(state.clone(), "/readyz").await;
    assert_eq!(code, 503);
    assert_eq!(
        before,
        Readiness {
            ready: false,
            database: true,
            pending_migrations: Some(all),
        }
    );
    // The newest migration recorded as failed (as sqlx leaves one that broke
    // off): still not ready.
    bytegate::store::migrate(&db.pool).await.unwrap();
    let mark = |success: bool| {
        sqlx::query(
            "UPDATE _sqlx_migrations SET success = $1
             WHERE version = (SELECT max(version) FROM _sqlx_migrations)",
        )
        .bind(success)
        .execute(&db.pool)
    };
    mark(false).await.unwrap();
    let (code, one_left) = get::<Readiness>(state.clone(), "/readyz").await;
    assert_eq!((code, one_left.pending_migrations), (503, Some(1)));
    mark(true).await.unwrap();
    let (code, after) = get::<Readiness>(state, "/readyz").await;
    assert_eq!(code, 200);
    assert_eq!(
        after,
        Readiness {
            ready: true,
            database: true,
            pending_migrations: Some(0),
        }
    );
}

#[tokio::test]
async fn readyz_reports_a_dead_database_as_503() {
    let (code, body) =
        get::<Readiness>(AppState::new(dead_pool(), example_config()), "/readyz").await;
    assert_eq!(code, 503);
    assert_eq!(
        body,
        Readiness {
            ready: false,
            database: false,
            pending_migrations: None,
        }
    );
}
