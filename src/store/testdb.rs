//! Test support: a fresh database per test on a real PostgreSQL server.
//!
//! The server is the one named by `TEST_DATABASE_URL`, else a throwaway
//! cluster started once per test process from the machine's own binaries (as
//! the embedded default does). The throwaway cluster is watched by a shell
//! that holds our pipe: when the test process exits, for any reason, the pipe
//! closes and the shell stops PostgreSQL and deletes its files.

use super::embedded::{Binaries, RunAs, command, free_port};
use sqlx::{Connection, PgConnection, PgPool};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Test-support failures (tests unwrap them; messages say what to fix).
#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    /// Neither `TEST_DATABASE_URL` nor a local PostgreSQL build is usable.
    #[error("no PostgreSQL for tests: {0}")]
    Server(String),
    /// A query on the server failed.
    #[error("test database: {0}")]
    Sql(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("test database: {0}")]
    Store(#[from] super::StoreError),
}

/// A database that exists for one test and is dropped with it.
pub struct TestDb {
    /// A pool on the test's own database.
    pub pool: PgPool,
    name: String,
    server: String,
}

static SERVER: OnceCell<String> = OnceCell::const_new();
// The write end of the watchdog's stdin: kept open for the life of the process.
static WATCHDOG: std::sync::Mutex<Option<std::process::ChildStdin>> = std::sync::Mutex::new(None);
static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A new, empty database.
    pub async fn empty() -> Result<TestDb, TestDbError> {
        let server = server_url().await?;
        let name = format!(
            "bytegate_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let mut admin = PgConnection::connect(&server).await?;
        // The name is ours (digits and underscores only).
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let url = with_database(&server, &name);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await?;
        Ok(TestDb { pool, name, server })
    }

    /// A new database with the meta schema applied.
    pub async fn migrated() -> Result<TestDb, TestDbError> {
        let db = TestDb::empty().await?;
        super::migrate(&db.pool).await?;
        Ok(db)
    }

    /// The connection URL of this test's database.
    pub fn url(&self) -> String {
        with_database(&self.server, &self.name)
    }

    /// The URL of the server's maintenance database (to create more databases).
    pub fn server_url(&self) -> &str {
        &self.server
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs outside async context and maybe inside a runtime that is
        // shutting down: clean up on a thread with its own small runtime.
        // The pool's connections belong to the test's runtime, which this thread
        // blocks: never await them here. FORCE ends them server-side.
        let (server, name) = (self.server.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&server).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

pub use super::with_database;

async fn server_url() -> Result<String, TestDbError> {
    SERVER
        .get_or_try_init(|| async {
            match std::env::var("TEST_DATABASE_URL") {
                Ok(url) if !url.is_empty() => Ok(url),
                _ => start_throwaway_cluster().await,
            }
        })
        .await
        .cloned()
}

async fn start_throwaway_cluster() -> Result<String, TestDbError> {
    let fail = |m: String| TestDbError::Server(m);
    let bins = Binaries::find().map_err(|e| fail(e.to_string()))?;
    let run_as = RunAs::for_current_process().map_err(|e| fail(e.to_string()))?;
    let port = free_port().map_err(|e| fail(e.to_string()))?;
    // The script initializes a cluster in a fresh temp folder, runs postgres,
    // and waits for its stdin to close (our process exited), then cleans up.
    let script = r#"
set -e
bin="$1"; port="$2"
dir=$(mktemp -d /tmp/bytegate-testpg.XXXXXX)
"$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 1; }
"$bin/postgres" -D "$dir/data" -p "$port" -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c max_connections=200 >"$dir/postgres.log" 2>&1 &
pg=$!
echo "$dir"
read -r _ || true
kill -INT "$pg" 2>/dev/null || true
wait "$pg" 2>/dev/null || true
rm -rf "$dir"
"#;
    let mut cmd = command(run_as.as_ref(), std::path::Path::new("/bin/sh"));
    let mut child = cmd
        .args(["-c", script, "sh"])
        .arg(&bins.dir)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| fail(format!("starting a throwaway PostgreSQL: {e}")))?;
    if let Ok(mut guard) = WATCHDOG.lock() {
        *guard = child.stdin.take();
    }
    // The child is intentionally not waited for: it lives as long as we do.
    std::mem::forget(child);
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    for _ in 0..300 {
        if let Ok(conn) = PgConnection::connect(&url).await {
            let _ = conn.close().await;
            return Ok(url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(fail(format!(
        "the throwaway PostgreSQL on port {port} did not accept connections within 30 s"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_database_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
