//! Test support: a fresh database per test on a real MySQL / MariaDB server.
//!
//! The server is `TEST_MYSQL_URL` (default: root on 127.0.0.1:3306). When it
//! is unreachable a test prints "skipped: …" and returns, unless
//! `BYTEGATE_REQUIRE_MYSQL=1` (CI sets it): then it fails, so CI can never
//! pass by not looking. Each database is dropped with its [`TestMysql`],
//! with its rows of the server's shared `bytegate.migration_history`.

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection, MySqlConnection, MySqlPool};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Env var naming the server.
pub const URL_VAR: &str = "TEST_MYSQL_URL";
/// Env var that makes an unreachable server a test failure (`1`).
pub const REQUIRE_VAR: &str = "BYTEGATE_REQUIRE_MYSQL";
/// The server when `TEST_MYSQL_URL` is unset.
pub const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that exists for one test and is dropped with it.
pub struct TestMysql {
    /// A pool on the server with no default database (so the server's
    /// process list tells the test's connections from a deploy's): qualify
    /// table names with [`TestMysql::name`].
    pub pool: MySqlPool,
    name: String,
    server: String,
}

impl TestMysql {
    /// A new, empty database; `None` (after printing "skipped: …") when the
    /// server is unreachable and not required. Panics when it is required.
    pub async fn create() -> Option<TestMysql> {
        let server = std::env::var(URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        match Self::try_create(&server).await {
            Ok(db) => Some(db),
            Err(e) => {
                let what = format!(
                    "MySQL/MariaDB at {} is not usable: {e}",
                    crate::store::redact_url(&server)
                );
                if std::env::var(REQUIRE_VAR).is_ok_and(|v| v.trim() == "1") {
                    panic!(
                        "{what}; {REQUIRE_VAR}=1 makes that an error (start MariaDB or set {URL_VAR})"
                    );
                }
                println!("skipped: {what}; set {URL_VAR} (or start MariaDB) to run this test");
                None
            }
        }
    }

    async fn try_create(server: &str) -> Result<TestMysql, sqlx::Error> {
        let name = format!(
            "bytegate_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let opts = server_options(server)?;
        let mut admin = opts.connect().await?;
        // The name is ours (digits and underscores only).
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        Ok(TestMysql {
            pool,
            name,
            server: server.to_string(),
        })
    }

    /// The connection URL of this test's database.
    pub fn url(&self) -> String {
        crate::store::with_database(&self.server, &self.name)
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The server's options without a default database.
fn server_options(server: &str) -> Result<MySqlConnectOptions, sqlx::Error> {
    let opts = MySqlConnectOptions::from_str(server)?;
    let mut bare = MySqlConnectOptions::new()
        .host(opts.get_host())
        .port(opts.get_port())
        .username(opts.get_username());
    if let Some(password) = password_of(server) {
        bare = bare.password(&password);
    }
    Ok(bare)
}

/// The URL's password, percent-decoded.
fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    let bytes: Vec<u8> = form_urlencoded::parse(format!("p={password}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
}

impl Drop for TestMysql {
    fn drop(&mut self) {
        // As `TestDb`: outside async context, on a thread with its own runtime.
        let (server, name) = (self.server.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(opts) = server_options(&server) else {
                    return;
                };
                let Ok(mut admin): Result<MySqlConnection, _> = opts.connect().await else {
                    return;
                };
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .execute(&mut admin)
                .await;
                let _ =
                    sqlx::query("DELETE FROM bytegate.migration_history WHERE target_database = ?")
                        .bind(&name)
                        .execute(&mut admin)
                        .await;
                let _ = admin.close().await;
            });
        });
        let _ = cleanup.join();
    }
}
