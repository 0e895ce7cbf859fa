//! `bytegate serve` as a process: the embedded PostgreSQL default (fresh data
//! directory, health, stop on SIGTERM, reuse on restart) and `PG_URL`.

use bytegate::store::embedded::{Binaries, fallback_cluster_root, free_port};
use bytegate::store::testdb::TestDb;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/config/bytegate.yaml");

fn spawn_serve(port: u16, data_dir: &Path, pg_url: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bytegate"));
    cmd.args(["serve", "--config", CONFIG, "--bind", "127.0.0.1"])
        .env("BB_PORT", port.to_string())
        .env("BYTEBASE_DATA_DIR", data_dir)
        .env_remove("PG_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = pg_url {
        cmd.env("PG_URL", url);
    }
    cmd.spawn().unwrap()
}

async fn wait_healthy(port: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/health")).await
            && r.status() == 200
        {
            return r.json().await.unwrap();
        }
        assert!(Instant::now() < deadline, "bytegate did not become healthy");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn stop(mut child: Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

/// A data directory the unprivileged cluster user can reach (tempdirs are 0700).
fn data_root() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("data");
    (tmp, data)
}

async fn embedded_connection(data: &Path) -> sqlx::PgPool {
    let password = std::fs::read_to_string(data.join("meta-db.password")).unwrap();
    let pid = std::fs::read_to_string(data.join("postgres/data/postmaster.pid")).unwrap();
    let port = pid.lines().nth(3).unwrap().trim();
    sqlx::PgPool::connect(&format!(
        "postgres://postgres:{}@127.0.0.1:{port}/bytegate",
        password.trim()
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn embedded_postgres_starts_stops_and_is_reused() {
    if Binaries::find().is_err() {
        eprintln!("skipped: no PostgreSQL binaries on this machine");
        return;
    }
    let (_tmp, data) = data_root();
    let port = free_port().unwrap();

    let first = spawn_serve(port, &data, None);
    let health = wait_healthy(port).await;
    assert_eq!(health["database"], true);
    assert!(data.join("postgres/data/PG_VERSION").is_file());
    let pool = embedded_connection(&data).await;
    sqlx::query("INSERT INTO audit_log (actor, action) VALUES ('test', 'marker')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    stop(first);
    assert!(
        !data.join("postgres/data/postmaster.pid").exists(),
        "PostgreSQL still running after bytegate stopped"
    );

    let second = spawn_serve(port, &data, None);
    wait_healthy(port).await;
    let pool = embedded_connection(&data).await;
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_log WHERE action = 'marker'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the second start did not reuse the data");
    pool.close().await;
    stop(second);
    assert!(!data.join("postgres/data/postmaster.pid").exists());
}

/// Issue 11 item 10: the README's first command from a clone in a 0700 home
/// (as root, /root): the cluster user cannot reach `./bytegate-data`, so the
/// cluster is kept under /var/lib/bytegate and serve (and migrate) still work.
#[tokio::test]
async fn serve_works_as_root_from_a_0700_folder() {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let data = home.path().join("bytegate-data");
    let port = free_port().unwrap();

    let child = spawn_serve(port, &data, None);
    let health = wait_healthy(port).await;
    assert_eq!(health["database"], true, "{health}");
    stop(child);

    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["migrate"])
        .env("BYTEBASE_DATA_DIR", &data)
        .env_remove("PG_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    if nix::unistd::geteuid().is_root() {
        let elsewhere = fallback_cluster_root(&data.canonicalize().unwrap());
        assert!(
            elsewhere.join("data/PG_VERSION").is_file(),
            "the cluster is not under {}",
            elsewhere.display()
        );
        assert!(!elsewhere.join("data/postmaster.pid").exists());
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }
}

#[tokio::test]
async fn pg_url_is_used_and_nothing_is_started() {
    let db = TestDb::empty().await.unwrap();
    let (_tmp, data) = data_root();
    let port = free_port().unwrap();
    let child = spawn_serve(port, &data, Some(&db.url()));
    let health = wait_healthy(port).await;
    assert_eq!(health["queue_depth"], 0);
    stop(child);
    assert!(
        !data.exists(),
        "a data directory was created although PG_URL was set"
    );
    // serve applied the schema to the given database.
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(n >= 1);
}
