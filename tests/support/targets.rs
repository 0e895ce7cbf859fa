//! Target databases for scenario tests that run on every engine: one
//! [`TargetDb`] per test database, PostgreSQL (`TestDb`) or MariaDB
//! (`TestMysql`), with the few engine-specific queries the scenarios need.
//! A scenario takes an [`Engine`] and builds its targets here; `on_engines!`
//! makes one `#[tokio::test]` per engine from it.

use bytegate::config::Engine;
use bytegate::deploy::mysql::testdb::TestMysql;
use bytegate::deploy::mysql::{MysqlTarget, lock_name};
use bytegate::deploy::postgres::{LOCK_KEY, PostgresTarget};
use bytegate::deploy::{self, Migration, Target};
use bytegate::review::model::Dialect;
use bytegate::store::testdb::TestDb;
use sqlx::PgPool;
use sqlx::pool::PoolConnection;

/// One `#[tokio::test]` per engine from `async fn scenario(engine: Engine)`.
#[macro_export]
macro_rules! on_engines {
    ($scenario:ident: $postgres:ident, $mysql:ident) => {
        #[tokio::test]
        async fn $postgres() {
            $scenario(bytegate::config::Engine::Postgres).await
        }

        #[tokio::test]
        async fn $mysql() {
            $scenario(bytegate::config::Engine::Mysql).await
        }
    };
}

/// A test database on one engine, dropped with the test.
pub enum TargetDb {
    /// On the PostgreSQL test server.
    Postgres(TestDb),
    /// On the MariaDB test server.
    Mysql(TestMysql),
}

/// A connection holding a target's deploy lock, as another deploy would.
pub enum LockHolder {
    /// `pg_advisory_lock` held.
    Postgres(PoolConnection<sqlx::Postgres>),
    /// `GET_LOCK` held.
    Mysql(PoolConnection<sqlx::MySql>, String),
}

impl LockHolder {
    /// Releases the lock.
    pub async fn release(self) {
        match self {
            LockHolder::Postgres(mut c) => {
                sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
            LockHolder::Mysql(mut c, name) => {
                sqlx::query("SELECT RELEASE_LOCK(?)")
                    .bind(name)
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
        }
    }
}

/// A connection of the test's own holding a lock that blocks writes to a table.
pub enum TableBlocker {
    /// `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` in an open transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    /// `LOCK TABLES … WRITE`.
    Mysql(PoolConnection<sqlx::MySql>),
}

impl TableBlocker {
    /// Lets the blocked statements run.
    pub async fn release(self) {
        match self {
            TableBlocker::Postgres(tx) => tx.rollback().await.unwrap(),
            TableBlocker::Mysql(mut c) => {
                sqlx::raw_sql("UNLOCK TABLES")
                    .execute(&mut *c)
                    .await
                    .unwrap();
            }
        }
    }
}

impl TargetDb {
    /// A new empty database; `None` when the engine's server is missing and
    /// not required (MariaDB: the test prints "skipped").
    pub async fn create(engine: Engine) -> Option<TargetDb> {
        match engine {
            Engine::Postgres => Some(TargetDb::Postgres(TestDb::empty().await.unwrap())),
            Engine::Mysql => TestMysql::create().await.map(TargetDb::Mysql),
        }
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        match self {
            TargetDb::Postgres(_) => Engine::Postgres,
            TargetDb::Mysql(_) => Engine::Mysql,
        }
    }

    /// The connection URL.
    pub fn url(&self) -> String {
        match self {
            TargetDb::Postgres(db) => db.url(),
            TargetDb::Mysql(db) => db.url(),
        }
    }

    /// The pool of a PostgreSQL database (PostgreSQL-only tests).
    pub fn pg(&self) -> &PgPool {
        match self {
            TargetDb::Postgres(db) => &db.pool,
            TargetDb::Mysql(_) => panic!("a PostgreSQL-only test asked a MySQL target"),
        }
    }

    /// The MariaDB test database (MySQL-only tests).
    pub fn mysql(&self) -> &TestMysql {
        match self {
            TargetDb::Mysql(db) => db,
            TargetDb::Postgres(_) => panic!("a MySQL-only test asked a PostgreSQL target"),
        }
    }

    /// One environment's `databases:` block naming this database.
    pub fn yaml(&self, name: &str) -> String {
        let engine = match self.engine() {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        };
        format!(
            "    databases:\n      - name: {name}\n        engine: {engine}\n        url: \"{}\"\n",
            self.url()
        )
    }

    /// The target bytegate deploys to.
    pub fn target(&self, name: &str) -> Box<dyn Target> {
        match self {
            TargetDb::Postgres(db) => Box::new(PostgresTarget::new(name, &db.url())),
            TargetDb::Mysql(db) => Box::new(MysqlTarget::new(name, &db.url())),
        }
    }

    /// The plan of `files` (path, sql) in this engine's dialect.
    pub fn plan(&self, files: &[(&str, &str)]) -> Vec<Migration> {
        let files: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(p, t)| (format!("schema/migrations/{p}"), t.as_bytes().to_vec()))
            .collect();
        let dialect = match self.engine() {
            Engine::Postgres => Dialect::Postgres,
            Engine::Mysql => Dialect::Mysql,
        };
        deploy::plan(&files, dialect).unwrap()
    }

    /// A statement that sleeps `seconds`.
    pub fn sleep_sql(&self, seconds: f64) -> String {
        match self.engine() {
            Engine::Postgres => format!("SELECT pg_sleep({seconds})"),
            Engine::Mysql => format!("SELECT SLEEP({seconds})"),
        }
    }

    /// Runs SQL of the test's own on the database.
    pub async fn execute(&self, sql: &str) {
        match self {
            TargetDb::Postgres(db) => {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&db.pool)
                    .await
                    .unwrap();
            }
            TargetDb::Mysql(db) => {
                let mut c = db.pool.acquire().await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("USE {}", db.name())))
                    .execute(&mut *c)
                    .await
                    .unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut *c)
                    .await
                    .unwrap();
                // The pooled connection must not keep the database as its default.
                c.detach();
            }
        }
    }

    /// Whether table `name` exists.
    pub async fn table_exists(&self, name: &str) -> bool {
        match self {
            TargetDb::Postgres(db) => {
                let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
                    .bind(name)
                    .fetch_one(&db.pool)
                    .await
                    .unwrap();
                e
            }
            TargetDb::Mysql(db) => {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM information_schema.TABLES
                     WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                )
                .bind(db.name())
                .bind(name)
                .fetch_one(&db.pool)
                .await
                .unwrap();
                n > 0
            }
        }
    }

    /// Rows of `table`.
    pub async fn rows(&self, table: &str) -> i64 {
        let (n,): (i64,) = match self {
            TargetDb::Postgres(db) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                    .fetch_one(&db.pool)
                    .await
                    .unwrap()
            }
            TargetDb::Mysql(db) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {}.{table}",
                db.name()
            )))
            .fetch_one(&db.pool)
            .await
            .unwrap(),
        };
        n
    }

    /// (version, success, change_ref) of each history row, oldest first.
    pub async fn history(&self) -> Vec<(String, bool, Option<String>)> {
        self.history_rows()
            .await
            .into_iter()
            .map(|(v, ok, c, _, _)| (v, ok, c))
            .collect()
    }

    /// (version, success, change_ref, statements_applied, repair) of each
    /// history row, oldest first (empty before the first deploy).
    pub async fn history_rows(&self) -> Vec<(String, bool, Option<String>, i32, Option<String>)> {
        match self {
            TargetDb::Postgres(db) => {
                let (exists,): (bool,) =
                    sqlx::query_as("SELECT to_regclass('bytegate.migration_history') IS NOT NULL")
                        .fetch_one(&db.pool)
                        .await
                        .unwrap();
                if !exists {
                    return Vec::new();
                }
                sqlx::query_as(
                    "SELECT version, success, change_ref, statements_applied, repair
                     FROM bytegate.migration_history ORDER BY id",
                )
                .fetch_all(&db.pool)
                .await
                .unwrap()
            }
            TargetDb::Mysql(db) => {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM information_schema.TABLES
                     WHERE TABLE_SCHEMA = 'bytegate' AND TABLE_NAME = 'migration_history'",
                )
                .fetch_one(&db.pool)
                .await
                .unwrap();
                if n == 0 {
                    return Vec::new();
                }
                sqlx::query_as(
                    "SELECT version, success, change_ref, statements_applied, repair
                     FROM bytegate.migration_history WHERE target_database = ? ORDER BY id",
                )
                .bind(db.name())
                .fetch_all(&db.pool)
                .await
                .unwrap()
            }
        }
    }

    /// Takes the target's deploy lock on a connection of the test's own.
    pub async fn hold_deploy_lock(&self) -> LockHolder {
        match self {
            TargetDb::Postgres(db) => {
                let mut c = db.pool.acquire().await.unwrap();
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut *c)
                    .await
                    .unwrap();
                LockHolder::Postgres(c)
            }
            TargetDb::Mysql(db) => {
                let mut c = db.pool.acquire().await.unwrap();
                let name = lock_name(db.name());
                let (got,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, 0)")
                    .bind(&name)
                    .fetch_one(&mut *c)
                    .await
                    .unwrap();
                assert_eq!(got, Some(1), "the deploy lock was free");
                LockHolder::Mysql(c, name)
            }
        }
    }

    /// Connections bytegate's deploys have open to this database.
    pub async fn deploy_sessions(&self) -> i64 {
        let (n,): (i64,) = match self {
            TargetDb::Postgres(db) => sqlx::query_as(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'bytegate-deploy'",
            )
            .fetch_one(&db.pool)
            .await
            .unwrap(),
            // The test's own pool has no default database: every session
            // on this one is a deploy's.
            TargetDb::Mysql(db) => {
                sqlx::query_as("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?")
                    .bind(db.name())
                    .fetch_one(&db.pool)
                    .await
                    .unwrap()
            }
        };
        n
    }

    /// Blocks writes to `table` until the blocker is released.
    pub async fn block_writes(&self, table: &str) -> TableBlocker {
        match self {
            TargetDb::Postgres(db) => {
                let mut tx = db.pool.begin().await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
                )))
                .execute(&mut *tx)
                .await
                .unwrap();
                TableBlocker::Postgres(tx)
            }
            TargetDb::Mysql(db) => {
                let mut c = db.pool.acquire().await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "LOCK TABLES {}.{table} WRITE",
                    db.name()
                )))
                .execute(&mut *c)
                .await
                .unwrap();
                TableBlocker::Mysql(c)
            }
        }
    }

    /// Polls until a deploy's statement starting with `prefix` waits for a
    /// lock (no fixed sleep: the deploy may take any time to get there).
    pub async fn wait_until_blocked(&self, prefix: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let (n,): (i64,) = match self {
                TargetDb::Postgres(db) => sqlx::query_as(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND application_name = 'bytegate-deploy'
                       AND wait_event_type = 'Lock' AND query LIKE $1 || '%'",
                )
                .bind(prefix)
                .fetch_one(&db.pool)
                .await
                .unwrap(),
                TargetDb::Mysql(db) => sqlx::query_as(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST
                     WHERE DB = ? AND INFO LIKE CONCAT(?, '%') AND STATE LIKE 'Waiting%'",
                )
                .bind(db.name())
                .bind(prefix)
                .fetch_one(&db.pool)
                .await
                .unwrap(),
            };
            if n > 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no deploy statement `{prefix}…` waited for a lock within 60 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
