//! `bytegate targets check` ("Test Connection") on real PostgreSQL: a
//! reachable target (over TLS through rustls when the server offers it) and
//! an unreachable one (a closed port) in the same run; JSON and table output,
//! exit codes, a held deploy lock, and the per-target gauges of `/metrics`;
//! and the same check on real MariaDB (skipped without a server unless
//! `BYTEGATE_REQUIRE_MYSQL=1`).

mod support;

use bytegate::config::{Config, Engine};
use bytegate::deploy::check::{self, HistoryState, LockState};
use bytegate::deploy::postgres::LOCK_KEY;
use bytegate::deploy::{DeployOptions, check::CheckStatus};
use bytegate::store::embedded::free_port;
use bytegate::store::testdb::TestDb;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// Whether the test server speaks TLS, and its certificate file.
async fn server_tls(db: &TestDb) -> (bool, String) {
    let (ssl, cert): (String, String) =
        sqlx::query_as("SELECT current_setting('ssl'), current_setting('ssl_cert_file')")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    (ssl == "on", cert)
}

fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// staging: the reachable database (TLS required when the server has it);
/// production: a closed port.
async fn setup() -> (TestDb, bool, String, tempfile::NamedTempFile) {
    let db = TestDb::empty().await.unwrap();
    sqlx::query("CREATE TABLE accounts (id bigint PRIMARY KEY)")
        .execute(&db.pool)
        .await
        .unwrap();
    let (tls, _) = server_tls(&db).await;
    let url = if tls {
        with_params(&db.url(), "sslmode=require")
    } else {
        println!("the test server has ssl off: checking without TLS");
        db.url()
    };
    // Bound and dropped: nothing listens there.
    let closed = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        free_port().unwrap()
    );
    let yaml = format!(
        "project:\n  key: T\n  name: T\n  migrations_dir: m\nenvironments:\n  - name: staging\n    databases:\n      - name: main\n        engine: postgres\n        url: \"{url}\"\n  - name: production\n    databases:\n      - name: main\n        engine: postgres\n        url: \"{closed}\"\n"
    );
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, yaml.as_bytes()).unwrap();
    (db, tls, yaml, file)
}

fn run(args: &[&str], config: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["targets", "check"])
        .args(args)
        .arg("--config")
        .arg(config)
        .args(["--timeout", "5s"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_reachable_and_an_unreachable_target_in_one_run() {
    let (_db, tls, _, file) = setup().await;

    let (code, stdout, stderr) = run(&["--format", "json"], file.path());
    assert_eq!(code, 1, "one target fails: {stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false);
    let targets = report["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2, "{report:#}");

    let staging = &targets[0];
    assert_eq!(staging["environment"], "staging");
    assert_eq!(staging["database"], "main");
    assert_eq!(staging["engine"], "postgres");
    assert_eq!(staging["status"], "ok", "{staging:#}");
    assert_eq!(staging["ok"], true);
    assert_eq!(staging["reachable"], true);
    assert_eq!(staging["tls"], tls);
    let version = staging["server_version"].as_str().unwrap();
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()),
        "{version}"
    );
    assert_eq!(
        staging["history"],
        serde_json::json!({"state": "absent", "creatable": true})
    );
    assert_eq!(staging["lock"], "free");
    assert_eq!(staging["tables"], 1);
    assert!(staging["size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(staging["error"], Value::Null);

    let production = &targets[1];
    assert_eq!(production["environment"], "production");
    assert_eq!(production["status"], "unreachable");
    assert_eq!(production["ok"], false);
    assert_eq!(production["reachable"], false);
    assert!(production.get("server_version").is_none(), "{production:#}");
    let error = production["error"].as_str().unwrap();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(
        !error.contains("postgres@"),
        "no credentials or user in it: {error}"
    );

    // The human table says the same.
    let (code, table, _) = run(&[], file.path());
    assert_eq!(code, 1);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ENVIRONMENT"), "{table}");
    assert!(
        lines[1].starts_with("staging") && lines[1].contains(" ok "),
        "{table}"
    );
    assert!(
        lines[2].starts_with("production") && lines[2].contains("UNREACHABLE"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("production/main: cannot connect"),
        "{table}"
    );

    // Only the reachable environment: exit 0.
    let (code, stdout, stderr) = run(&["staging", "--format", "json"], file.path());
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["targets"].as_array().unwrap().len(), 1);

    // An unknown environment is a usage error.
    let (code, _, stderr) = run(&["qa"], file.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("no environment `qa`"), "{stderr}");
}

#[tokio::test]
async fn a_deploy_holding_the_lock_shows_as_held_and_history_rows_are_counted() {
    let (db, _, yaml, _file) = setup().await;
    sqlx::raw_sql(
        "CREATE SCHEMA bytegate;
         CREATE TABLE bytegate.migration_history (id bigint, version text);
         INSERT INTO bytegate.migration_history VALUES (1, '001'), (2, '002');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    // A running deploy's session holds the advisory lock.
    let mut deploy = db.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *deploy)
        .await
        .unwrap();
    let config = Config::from_yaml(&yaml, "test", &|_| None).unwrap();
    let report = check::check_targets(&config, Some("staging"), Duration::from_secs(5))
        .await
        .unwrap();
    let probe = report.targets[0].probe.clone().unwrap();
    assert_eq!(probe.lock, LockState::Held);
    assert_eq!(
        probe.history,
        HistoryState::Present {
            rows: 2,
            writable: true
        }
    );
    assert_eq!(probe.tables, 1, "bytegate's own tables are not counted");
    assert!(report.ok, "a busy lock is usable");

    // Released: free again, and the check itself left it free.
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *deploy)
        .await
        .unwrap();
    for _ in 0..2 {
        let report = check::check_targets(&config, Some("staging"), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(
            report.targets[0].probe.as_ref().unwrap().lock,
            LockState::Free
        );
    }
}

/// `sslmode=verify-full` goes through rustls with the certificate checked:
/// trusted with the server's own certificate as root, refused without it.
#[tokio::test]
async fn verify_full_checks_the_server_certificate() {
    let db = TestDb::empty().await.unwrap();
    let (tls, cert) = server_tls(&db).await;
    if !tls || cert != SNAKEOIL || std::fs::read(SNAKEOIL).is_err() {
        println!("skipped: the test server has no TLS with {SNAKEOIL} (ssl: {tls}, cert: {cert})");
        return;
    }
    // The snakeoil certificate names `localhost`.
    let url = db.url().replace("@127.0.0.1:", "@localhost:");
    let trusted = with_params(&url, &format!("sslmode=verify-full&sslrootcert={SNAKEOIL}"));
    let untrusted = with_params(&url, "sslmode=verify-full");
    let yaml = format!(
        "project:\n  key: T\n  name: T\n  migrations_dir: m\nenvironments:\n  - name: trusted\n    databases:\n      - name: main\n        engine: postgres\n        url: \"{trusted}\"\n  - name: untrusted\n    databases:\n      - name: main\n        engine: postgres\n        url: \"{untrusted}\"\n"
    );
    let config = Config::from_yaml(&yaml, "test", &|_| None).unwrap();
    let report = check::check_targets(&config, None, Duration::from_secs(5))
        .await
        .unwrap();
    let (trusted, untrusted) = (&report.targets[0], &report.targets[1]);
    assert!(trusted.ok, "{trusted:?}");
    assert!(trusted.probe.as_ref().unwrap().tls);
    assert!(!untrusted.ok && !untrusted.reachable, "{untrusted:?}");
    let error = untrusted
        .error
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        error.contains("certificate") || error.contains("tls"),
        "{error}"
    );
}

#[tokio::test]
async fn collected_gauges_reach_the_exposition() {
    let (_db, _, yaml, _file) = setup().await;
    let config = Config::from_yaml(&yaml, "test", &|_| None).unwrap();
    let metrics = bytegate::telemetry::metrics::Metrics::new();
    check::collect(&config, &metrics, Duration::from_secs(5)).await;
    let m = support::prom_text::parse(&metrics.encode()).unwrap();
    let staging = [("environment", "staging"), ("database", "main")];
    let production = [("environment", "production"), ("database", "main")];
    assert_eq!(m.value("bytegate_target_up", &staging), Some(1.0));
    assert_eq!(m.value("bytegate_target_tables", &staging), Some(1.0));
    assert!(
        m.value("bytegate_target_database_size_bytes", &staging)
            .unwrap()
            > 0.0
    );
    assert_eq!(m.value("bytegate_target_up", &production), Some(0.0));
    assert_eq!(m.value("bytegate_target_tables", &production), None);
}

/// A MariaDB target: ok with its version, its tables and size; after a
/// deploy its own history rows are counted; a held `GET_LOCK` shows as held,
/// and the check leaves the lock free.
#[tokio::test]
async fn a_mariadb_target_reports_version_history_and_lock() {
    let Some(db) = support::targets::TargetDb::create(Engine::Mysql).await else {
        return;
    };
    let yaml = format!(
        "project:\n  key: T\n  name: T\n  migrations_dir: m\nenvironments:\n  - name: staging\n{}",
        db.yaml("main")
    );
    let config = Config::from_yaml(&yaml, "test", &|_| None).unwrap();
    let check = || async {
        check::check_targets(&config, None, Duration::from_secs(5))
            .await
            .unwrap()
    };

    let report = check().await;
    let t = &report.targets[0];
    assert_eq!(t.engine, Engine::Mysql);
    assert_eq!(t.status, CheckStatus::Ok, "{t:?}");
    assert!(report.ok && t.reachable, "{t:?}");
    let probe = t.probe.clone().unwrap();
    assert!(probe.server_version.contains("MariaDB"), "{probe:?}");
    assert!(!probe.tls, "the test server has TLS disabled");
    assert_eq!(probe.tables, 0);
    assert_eq!(probe.lock, LockState::Free);
    // The history table is the server's: other tests may have created it.
    match probe.history {
        HistoryState::Present { rows, writable } => assert_eq!((rows, writable), (0, true)),
        HistoryState::Absent { creatable } => assert!(creatable, "root may create it"),
    }

    // One deploy: a table and a history row of this target.
    let plan = db.plan(&[(
        "001_accounts.sql",
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY);",
    )]);
    db.target("main")
        .deploy(&plan, &DeployOptions::default())
        .await
        .unwrap();
    let holder = db.hold_deploy_lock().await;
    let report = check().await;
    let probe = report.targets[0].probe.clone().unwrap();
    assert_eq!(probe.lock, LockState::Held);
    assert_eq!(
        probe.history,
        HistoryState::Present {
            rows: 1,
            writable: true
        }
    );
    assert_eq!(probe.tables, 1, "bytegate's own database is not counted");
    assert!(probe.size_bytes > 0, "{probe:?}");
    assert!(report.ok, "a busy lock is usable");

    // Released: free again, and the check itself left it free.
    holder.release().await;
    for _ in 0..2 {
        let report = check().await;
        assert_eq!(
            report.targets[0].probe.as_ref().unwrap().lock,
            LockState::Free
        );
    }
}

/// A MariaDB user who may only read the target: the history table (made
/// by a deploy as root) is present but read-only, so the target fails with
/// that reason; the lock and the counts are still read.
#[tokio::test]
async fn a_read_only_mariadb_user_cannot_keep_history() {
    let Some(db) = support::targets::TargetDb::create(Engine::Mysql).await else {
        return;
    };
    let plan = db.plan(&[(
        "001_accounts.sql",
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY);",
    )]);
    db.target("main")
        .deploy(&plan, &DeployOptions::default())
        .await
        .unwrap();
    let name = db.mysql().name();
    // Unique per test database; the name is ours (digits and underscores).
    let user = format!("ro_{}", &name[name.len() - 10..]);
    db.execute(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON {name}.* TO '{user}'@'%'; GRANT SELECT ON bytegate.migration_history TO '{user}'@'%';"
    ))
    .await;
    let url = db.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    let url = format!("{scheme}://{user}:pw@{}", rest.split_once('@').unwrap().1);
    let yaml = format!(
        "project:\n  key: T\n  name: T\n  migrations_dir: m\nenvironments:\n  - name: staging\n    databases:\n      - name: main\n        engine: mysql\n        url: \"{url}\"\n"
    );
    let config = Config::from_yaml(&yaml, "test", &|_| None).unwrap();
    let report = check::check_targets(&config, None, Duration::from_secs(5))
        .await
        .unwrap();
    db.execute(&format!("DROP USER '{user}'@'%'")).await;

    let t = &report.targets[0];
    assert_eq!(t.status, CheckStatus::Failed, "{t:?}");
    assert!(t.reachable && !t.ok && !report.ok, "{t:?}");
    let probe = t.probe.clone().unwrap();
    assert_eq!(
        probe.history,
        HistoryState::Present {
            rows: 0,
            writable: false
        }
    );
    assert_eq!(probe.lock, LockState::Free);
    assert_eq!(probe.tables, 1);
    let error = t.error.as_deref().unwrap_or_default();
    assert!(error.contains("read-only"), "{error}");
}
