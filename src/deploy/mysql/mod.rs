//! The MySQL / MariaDB target.
//!
//! One dedicated connection per deploy holds a `GET_LOCK` named after the
//! target database for the whole deploy (released by `RELEASE_LOCK`, and by
//! the server when the connection closes, also when bytegate dies). The
//! history is `bytegate.migration_history` in a `bytegate` database on the
//! server: one table for every target database of the server, so each row
//! carries its target's database name (`target_database`).
//!
//! MySQL commits each DDL statement implicitly: a file with DDL runs
//! statement by statement with its progress recorded after each one
//! ([`crate::deploy::MYSQL_IMPLICIT_COMMIT`]); a file of data changes only
//! runs in one transaction with its history row. What this target does not
//! have yet: prior row backups, rollback, restore points and schema
//! snapshots; each says so where it would have been used.

mod check;
mod session;
#[cfg(any(test, feature = "test-support"))]
pub mod testdb;

use super::executor;
use super::{
    DeployError, DeployFuture, DeployOptions, DeployReport, HistoryRow, Migration, RepairDecision,
    Repaired, Revert, RollbackReport, Target,
};
use crate::config::Engine;
use crate::store::redact_url;
use session::MySqlSession;
use sha2::{Digest, Sha256};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Connection, MySqlConnection};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// Time between attempts to take a busy lock.
const LOCK_POLL: Duration = Duration::from_millis(200);
/// MySQL's longest user-lock name.
const MAX_LOCK_NAME: usize = 64;

/// The `GET_LOCK` name that serializes deploys to `database` (user locks are
/// per server: the name carries the database).
pub fn lock_name(database: &str) -> String {
    let name = format!("bytegate.deploy.{database}");
    if name.len() <= MAX_LOCK_NAME {
        name
    } else {
        let digest = hex::encode(Sha256::digest(database.as_bytes()));
        format!("bytegate.deploy.{}", &digest[..40])
    }
}

/// A MySQL or MariaDB database.
pub struct MysqlTarget {
    name: String,
    url: String,
}

impl std::fmt::Debug for MysqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("MysqlTarget")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

impl MysqlTarget {
    /// A target named `name` at `url` (`mysql://user:pass@host:3306/database`).
    pub fn new(name: &str, url: &str) -> Self {
        MysqlTarget {
            name: name.to_string(),
            url: url.to_string(),
        }
    }

    /// A connection to the target database, and its name.
    async fn connect(&self) -> Result<(MySqlConnection, String), DeployError> {
        let fail = |message: String| DeployError::Connect {
            target: redact_url(&self.url),
            message,
        };
        // No PIPES_AS_CONCAT and the server's time zone: migrations run as
        // they would in the mysql client. History times are bound as UTC.
        let opts = MySqlConnectOptions::from_str(&self.url)
            .map_err(|e| fail(e.to_string()))?
            .pipes_as_concat(false)
            .timezone(None);
        let database = opts
            .get_database()
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .ok_or_else(|| fail("the URL names no database (mysql://host/DATABASE)".into()))?;
        let conn = opts.connect().await.map_err(|e| fail(e.to_string()))?;
        Ok((conn, database))
    }

    /// A connection that holds the target's deploy lock.
    async fn locked(&self, wait: Duration) -> Result<MySqlSession, DeployError> {
        let (mut conn, database) = self.connect().await?;
        let name = lock_name(&database);
        if let Err(e) = lock(&mut conn, &name, wait).await {
            let _ = conn.close().await;
            return Err(e);
        }
        match MySqlSession::new(conn, database, name).await {
            Ok(s) => Ok(s),
            Err(e) => Err(e.into()),
        }
    }

    async fn deploy_impl(
        &self,
        plan: &[Migration],
        opts: &DeployOptions,
    ) -> Result<DeployReport, DeployError> {
        let mut session = self.locked(opts.lock_wait).await?;
        let result = executor::deploy_locked(&mut session, plan, opts).await;
        session.release().await;
        result
    }

    async fn repair_impl(
        &self,
        version: &str,
        decision: RepairDecision,
        by: &str,
        reason: Option<&str>,
    ) -> Result<Repaired, DeployError> {
        let mut session = self.locked(super::DEFAULT_LOCK_WAIT).await?;
        let result = executor::repair_locked(&mut session, version, decision, by, reason).await;
        session.release().await;
        result
    }

    async fn history_impl(&self) -> Result<Vec<HistoryRow>, DeployError> {
        let (conn, database) = self.connect().await?;
        let mut session = MySqlSession::unlocked(conn, database);
        let rows = session.history_if_any().await;
        session.close().await;
        rows
    }
}

impl Target for MysqlTarget {
    fn engine(&self) -> Engine {
        Engine::Mysql
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn deploy<'a>(
        &'a self,
        plan: &'a [Migration],
        opts: &'a DeployOptions,
    ) -> DeployFuture<'a, DeployReport> {
        Box::pin(self.deploy_impl(plan, opts))
    }

    fn rollback_unavailable(&self) -> Option<DeployError> {
        Some(unsupported_rollback())
    }

    fn rollback<'a>(
        &'a self,
        _reverts: &'a [Revert],
        _opts: &'a DeployOptions,
    ) -> DeployFuture<'a, RollbackReport> {
        // DDL cannot be undone atomically on MySQL, and there are no prior
        // backups to restore from yet.
        Box::pin(async { Err(unsupported_rollback()) })
    }

    fn drop_backup<'a>(&'a self, _name: &'a str) -> DeployFuture<'a, ()> {
        // No MySQL deploy takes prior backups: there is nothing to drop.
        Box::pin(async { Ok(()) })
    }

    fn history(&self) -> DeployFuture<'_, Vec<HistoryRow>> {
        Box::pin(self.history_impl())
    }

    fn repair<'a>(
        &'a self,
        version: &'a str,
        decision: RepairDecision,
        by: &'a str,
        reason: Option<&'a str>,
    ) -> DeployFuture<'a, Repaired> {
        Box::pin(self.repair_impl(version, decision, by, reason))
    }

    fn check(&self) -> DeployFuture<'_, super::check::Probe> {
        Box::pin(check::probe(self))
    }
}

fn unsupported_rollback() -> DeployError {
    DeployError::Unsupported {
        what: "rollback (`/bytebase rollback`)",
        engine: Engine::Mysql,
    }
}

/// Takes the user lock, polling so a stuck deploy elsewhere turns into
/// [`DeployError::Busy`] instead of a worker blocked forever.
async fn lock(conn: &mut MySqlConnection, name: &str, wait: Duration) -> Result<(), DeployError> {
    let start = Instant::now();
    loop {
        let (got,): (Option<i64>,) = sqlx::query_as("SELECT GET_LOCK(?, 0)")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
        if got == Some(1) {
            return Ok(());
        }
        if start.elapsed() >= wait {
            return Err(DeployError::Busy {
                waited: start.elapsed(),
            });
        }
        tokio::time::sleep(LOCK_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit_mysqls_limit_and_stay_per_database() {
        assert_eq!(lock_name("app"), "bytegate.deploy.app");
        let long = "d".repeat(64);
        let name = lock_name(&long);
        assert!(name.len() <= MAX_LOCK_NAME, "{name}");
        assert_ne!(name, lock_name(&"e".repeat(64)));
    }
}
