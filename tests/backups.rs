//! The safety net's backups (issue 14 items 2 and 3): `bytegate backup
//! create | list | restore` as an operator runs them (the binary, real
//! PostgreSQL, real pg_dump/pg_restore), the schedule and the cleaner driven
//! by a manual clock, and restore points before a deploy.

use bytegate::backup::{self, BackupSettings};
use bytegate::clock::{Clock, ManualClock};
use bytegate::config::Config;
use bytegate::deploy::postgres::PostgresTarget;
use bytegate::deploy::{self, DeployOptions, Target};
use bytegate::review::model::Dialect;
use bytegate::store::backups::{self, BackupKind, BackupState};
use bytegate::store::testdb::TestDb;
use std::path::Path;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

fn config_for(target_url: &str, dir: &Path) -> String {
    format!(
        r#"
project: {{ key: SHOP, name: Shop }}
backups: {{ dir: "{}" }}
environments:
  - name: staging
    backup: {{ enabled: true, retention_days: 30, schedule: daily }}
    databases:
      - {{ name: app, engine: postgres, url: "{target_url}" }}
  - name: production
    backup: {{ enabled: true, retention_days: 90, schedule: weekly }}
    databases:
      - {{ name: app, engine: postgres, url: "{target_url}" }}
  - name: scratch
    backup: {{ enabled: false }}
    databases:
      - {{ name: app, engine: postgres, url: "{target_url}" }}
"#,
        dir.display()
    )
}

fn bytegate(args: &[&str], meta: &TestDb, data_dir: &Path) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(args)
        .env("PG_URL", meta.url())
        .env("BYTEBASE_DATA_DIR", data_dir)
        .env_remove("BB_DEBUG")
        .env_remove("BB_CONFIG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn exec(pool: &sqlx::PgPool, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(pool)
        .await
        .unwrap();
}

/// Tables, columns and row counts of the public schema, for comparing databases.
async fn shape(pool: &sqlx::PgPool) -> Vec<(String, String, i64)> {
    let cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position)
         FROM information_schema.columns WHERE table_schema = 'public'
         GROUP BY table_name ORDER BY table_name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Vec::new();
    for (table, columns) in cols {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM public.\"{table}\""
        )))
        .fetch_one(pool)
        .await
        .unwrap();
        out.push((table, columns, n));
    }
    out
}

#[tokio::test]
async fn a_manual_backup_restores_into_a_scratch_database_with_the_same_schema_and_rows() {
    let meta = TestDb::migrated().await.unwrap();
    let target = TestDb::empty().await.unwrap();
    exec(
        &target.pool,
        "CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
         CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers, total numeric(10,2));
         CREATE INDEX orders_customer ON orders (customer_id);
         INSERT INTO customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 250) g;
         INSERT INTO orders SELECT g, 1 + g % 250, g * 1.5 FROM generate_series(1, 1000) g;",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dumps");
    let cfg = tmp.path().join("bytegate.yaml");
    std::fs::write(&cfg, config_for(&target.url(), &dir)).unwrap();

    let (code, out) = bytegate(
        &[
            "backup",
            "create",
            "--config",
            cfg.to_str().unwrap(),
            "production",
            "--actor",
            "alice",
        ],
        &meta,
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    let rows = backups::list(&meta.pool, None).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let b = &rows[0];
    assert_eq!(
        (b.kind, b.state),
        (BackupKind::Manual, BackupState::Succeeded)
    );
    assert_eq!(
        (b.environment.as_str(), b.created_by.as_str()),
        ("production", "alice")
    );
    let path = b.path.clone().unwrap();
    assert!(path.starts_with(dir.to_str().unwrap()), "{path}");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(b.size_bytes, Some(bytes.len() as i64));
    assert!(bytes.starts_with(b"PGDMP"), "not a custom-format dump");
    // 90 days of retention for production.
    assert_eq!(b.expires_at - b.created_at, chrono::Duration::days(90));

    let (code, out) = bytegate(&["backup", "list"], &meta, tmp.path());
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("{}\tproduction\tapp\tmanual\tsucceeded", b.id)),
        "{out}"
    );

    let scratch = TestDb::empty().await.unwrap();
    let (code, out) = bytegate(
        &[
            "backup",
            "restore",
            &b.id.to_string(),
            "--to",
            &scratch.url(),
        ],
        &meta,
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    let before = shape(&target.pool).await;
    assert_eq!(before.len(), 2);
    assert_eq!(shape(&scratch.pool).await, before);
    let (indexes,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_customer'")
            .fetch_one(&scratch.pool)
            .await
            .unwrap();
    assert_eq!(indexes, 1);

    let actions: Vec<(String, String)> =
        sqlx::query_as("SELECT action, actor FROM audit_log ORDER BY id")
            .fetch_all(&meta.pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        [
            ("backup.created".to_string(), "alice".to_string()),
            (
                "backup.restored".to_string(),
                std::env::var("USER").unwrap_or("operator".into())
            ),
        ]
    );
}

#[tokio::test]
async fn a_tampered_dump_is_not_restored_and_unknown_environments_are_refused() {
    let meta = TestDb::migrated().await.unwrap();
    let target = TestDb::empty().await.unwrap();
    exec(&target.pool, "CREATE TABLE t (id int)").await;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bytegate.yaml");
    std::fs::write(&cfg, config_for(&target.url(), &tmp.path().join("d"))).unwrap();

    let (code, out) = bytegate(
        &["backup", "create", "--config", cfg.to_str().unwrap(), "qa"],
        &meta,
        tmp.path(),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no environment `qa`"), "{out}");

    let (code, out) = bytegate(
        &[
            "backup",
            "create",
            "--config",
            cfg.to_str().unwrap(),
            "staging",
            "app",
        ],
        &meta,
        tmp.path(),
    );
    assert_eq!(code, 0, "{out}");
    let b = backups::list(&meta.pool, None).await.unwrap().remove(0);
    std::fs::write(b.path.as_ref().unwrap(), b"PGDMP tampered").unwrap();
    let scratch = TestDb::empty().await.unwrap();
    let (code, out) = bytegate(
        &[
            "backup",
            "restore",
            &b.id.to_string(),
            "--to",
            &scratch.url(),
        ],
        &meta,
        tmp.path(),
    );
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("does not match its recorded sha256"), "{out}");
    assert!(shape(&scratch.pool).await.is_empty());
}

#[tokio::test]
async fn scheduled_backups_run_once_per_period_and_expired_ones_are_removed() {
    let meta = TestDb::migrated().await.unwrap();
    let target = TestDb::empty().await.unwrap();
    exec(
        &target.pool,
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1)",
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let config =
        Config::from_yaml(&config_for(&target.url(), tmp.path()), "test", &|_| None).unwrap();
    let settings = BackupSettings::resolve(&config.backups, tmp.path());
    let clock = ManualClock::at("2026-11-30T10:00:00Z".parse().unwrap());
    let tick = || backup::schedule::tick(&meta.pool, &config, &settings, &clock);

    // staging (daily) and production (weekly) are due; scratch has backups off.
    let r = tick().await.unwrap();
    assert_eq!((r.taken, r.failed, r.removed), (2, 0, 0));
    // A second replica's tick in the same period takes nothing.
    assert_eq!(tick().await.unwrap().taken, 0);

    clock.advance(DAY);
    let r = tick().await.unwrap();
    assert_eq!(r.taken, 1, "only the daily one is due again");

    let files = |env: &'static str| {
        let pool = meta.pool.clone();
        async move {
            backups::list(&pool, Some(env))
                .await
                .unwrap()
                .into_iter()
                .map(|b| b.path.unwrap())
                .collect::<Vec<_>>()
        }
    };
    let staging_before = files("staging").await;
    assert_eq!(staging_before.len(), 2);
    assert!(staging_before.iter().all(|p| Path::new(p).is_file()));

    // 30 days of retention: the first staging backup expires, its file goes too.
    clock.advance(29 * DAY);
    let r = tick().await.unwrap();
    assert_eq!(r.removed, 1);
    let staging_after = files("staging").await;
    assert!(
        !staging_after.contains(&staging_before[1]),
        "the oldest is gone"
    );
    assert!(
        !Path::new(&staging_before[1]).exists(),
        "its file is removed"
    );
    assert!(Path::new(&staging_before[0]).is_file());
    // A dump whose process died left a `running` row: once expired, it goes too.
    sqlx::query(
        "INSERT INTO backups (environment, database_name, kind, state, created_by, created_at, expires_at)
         VALUES ('staging', 'app', 'manual', 'running', 'alice', $1, $1)",
    )
    .bind(clock.now() - chrono::Duration::days(2))
    .execute(&meta.pool)
    .await
    .unwrap();
    assert_eq!(tick().await.unwrap().removed, 1);
    let running: Vec<_> = backups::list(&meta.pool, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.state == BackupState::Running)
        .collect();
    assert!(running.is_empty(), "{running:#?}");
    // Weekly: one per week a tick ran in (days 0 and 1 share a week; day 30 not).
    assert_eq!(files("production").await.len(), 2);
}

#[tokio::test]
async fn a_deploy_creates_a_restore_point_where_the_role_may_and_records_why_not_elsewhere() {
    let target = TestDb::empty().await.unwrap();
    let plan = deploy::plan(
        &[(
            "schema/migrations/001_t.sql".to_string(),
            b"CREATE TABLE t (id int);".to_vec(),
        )],
        Dialect::Postgres,
    )
    .unwrap();
    let opts = DeployOptions {
        restore_point: Some(deploy::restore_point_name("pr7", "production")),
        ..DeployOptions::default()
    };
    let report = PostgresTarget::new("app", &target.url())
        .deploy(&plan, &opts)
        .await
        .unwrap();
    let rp = report.restore_point.expect("a restore point is reported");
    assert_eq!(rp.name, "bytegate-pr7-production");
    assert!(rp.lsn.as_deref().is_some_and(|l| l.contains('/')), "{rp:?}");

    // Nothing pending: no restore point.
    let again = PostgresTarget::new("app", &target.url())
        .deploy(&plan, &opts)
        .await
        .unwrap();
    assert_eq!(again.restore_point, None);

    // A role without the right (on a database it owns nothing in yet): the
    // deploy goes on and says why.
    let target = TestDb::empty().await.unwrap();
    let role = format!("bytegate_rp_{}", rand::random::<u32>());
    exec(
        &target.pool,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'rp-secret';
             DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO {role}', current_database()); END $$;
             GRANT ALL ON SCHEMA public TO {role};"
        ),
    )
    .await;
    let url = as_role(&target.url(), &role, "rp-secret");
    let second = deploy::plan(
        &[(
            "schema/migrations/002_u.sql".to_string(),
            b"CREATE TABLE u (id int);".to_vec(),
        )],
        Dialect::Postgres,
    )
    .unwrap();
    let report = PostgresTarget::new("app", &url)
        .deploy(&second, &opts)
        .await;
    exec(
        &target.pool,
        &format!("DROP OWNED BY {role}; DROP ROLE IF EXISTS {role}"),
    )
    .await;
    let report = report.unwrap();
    let rp = report.restore_point.unwrap();
    assert_eq!(rp.lsn, None);
    assert!(
        rp.skipped
            .as_deref()
            .is_some_and(|s| s.contains("permission denied")),
        "{rp:?}"
    );
    assert_eq!(report.applied.len(), 1);
}

/// `url` with its user and password replaced.
fn as_role(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}:{password}@{host}")
}

#[test]
fn restore_point_names_are_safe_and_short() {
    assert_eq!(
        deploy::restore_point_name("pr7", "prod eu/1"),
        "bytegate-pr7-prod_eu_1"
    );
    assert_eq!(
        deploy::restore_point_name("pr7", &"x".repeat(100)).len(),
        63
    );
}
