//! Dry run with a lock report (PostgreSQL): the change's migrations run on a
//! scratch database built from the target's schema (`pg_dump --schema-only`,
//! never the target itself), in one transaction that is rolled back. After
//! each statement: the relation locks this session newly holds (from
//! `pg_locks`), the relations whose `relfilenode` changed (rewritten), and
//! the time it took. A statement that fails stops the run, as it would stop
//! the deploy.

use super::Migration;
use crate::backup::tools;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Lock modes that block other sessions' writes (or reads) on a table.
const BLOCKING: &[&str] = &[
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

/// What the dry run saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRunReport {
    /// The scratch database it ran in (dropped afterwards).
    pub scratch_database: String,
    /// Each statement, in order, up to and including the first failure.
    pub statements: Vec<StatementReport>,
}

impl DryRunReport {
    /// Statements that take a blocking lock on a table that existed before.
    pub fn blocking(&self) -> impl Iterator<Item = &StatementReport> {
        self.statements
            .iter()
            .filter(|s| s.locks.iter().any(|l| l.existing && l.blocking))
    }

    /// Whether every statement ran.
    pub fn succeeded(&self) -> bool {
        self.statements.iter().all(|s| s.error.is_none())
    }
}

/// One statement's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatementReport {
    /// The file.
    pub path: String,
    /// 1-based line of the statement in the file.
    pub line: u32,
    /// The database's error (SQLSTATE and message), when it failed.
    pub error: Option<String>,
    /// It cannot run inside a transaction (`CREATE INDEX CONCURRENTLY`...),
    /// so the dry run skipped it.
    pub skipped: bool,
    /// Relation locks newly held after it.
    pub locks: Vec<LockTaken>,
    /// Relations rewritten by it (new `relfilenode`).
    pub rewrites: Vec<String>,
    /// Wall time on the scratch database (no data: a lower bound).
    pub elapsed_ms: f64,
}

/// A relation lock a statement took.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LockTaken {
    /// The relation (schema-qualified where not `public`).
    pub relation: String,
    /// PostgreSQL's mode name (`AccessExclusiveLock`...).
    pub mode: String,
    /// The relation existed before the change (others are new: harmless).
    pub existing: bool,
    /// The mode blocks writes to the relation (SHARE or stronger).
    pub blocking: bool,
}

/// Why the dry run could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    /// Dumping the target's schema or restoring it into the scratch database failed.
    #[error("copying the schema failed: {0}")]
    Copy(#[from] crate::backup::BackupError),
    /// The scratch server refused.
    #[error("the scratch database failed: {0}")]
    Scratch(#[from] sqlx::Error),
}

/// Runs `plan` on a fresh database on the scratch server (`scratch_url`: a
/// database there whose role may `CREATE DATABASE`), holding the schema of
/// `target_url`; drops it afterwards.
pub async fn dry_run(
    target_url: &str,
    scratch_url: &str,
    plan: &[Migration],
) -> Result<DryRunReport, DryRunError> {
    let name = format!("bytegate_dryrun_{:08x}", rand::random::<u32>());
    let mut admin = PgConnection::connect(scratch_url).await?;
    // The name is ours (hex digits only).
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let scratch = crate::store::with_database(scratch_url, &name);
    let result = async {
        copy_schema(target_url, &scratch).await?;
        let mut conn = PgConnection::connect(&scratch).await?;
        let report = run(&mut conn, plan, &name).await;
        let _ = conn.close().await;
        Ok::<_, DryRunError>(report?)
    }
    .await;
    let _ = sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    let _ = admin.close().await;
    result
}

/// `pg_dump --schema-only --format=custom | pg_restore`, through a file
/// (custom format: no psql meta-commands to interpret).
async fn copy_schema(target_url: &str, scratch_url: &str) -> Result<(), DryRunError> {
    let dir = tempfile_dir()?;
    let file = dir.join("schema.dump");
    let pg_dump = tools::find("pg_dump")?;
    let pg_restore = tools::find("pg_restore")?;
    let done = async {
        tools::run(
            &pg_dump,
            &[
                "--schema-only".as_ref(),
                "--format=custom".as_ref(),
                "--no-password".as_ref(),
                "--file".as_ref(),
                file.as_os_str(),
            ],
            target_url,
        )
        .await?;
        tools::run(
            &pg_restore,
            &[
                "--schema-only".as_ref(),
                "--no-owner".as_ref(),
                "--no-privileges".as_ref(),
                "--exit-on-error".as_ref(),
                "--no-password".as_ref(),
                file.as_os_str(),
            ],
            scratch_url,
        )
        .await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(done?)
}

fn tempfile_dir() -> Result<std::path::PathBuf, crate::backup::BackupError> {
    let dir = std::env::temp_dir().join(format!("bytegate-dryrun-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).map_err(|source| crate::backup::BackupError::Io {
        what: "cannot create",
        path: dir.display().to_string(),
        source,
    })?;
    Ok(dir)
}

/// Relations outside the system schemas: oid → (name, relfilenode).
async fn relations(conn: &mut PgConnection) -> Result<BTreeMap<u32, (String, u32)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.oid::int8 AS oid,
                CASE WHEN n.nspname = 'public' THEN c.relname::text
                     ELSE n.nspname || '.' || c.relname END AS name,
                c.relfilenode::int8 AS node
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let oid: i64 = r.get("oid");
            let node: i64 = r.get("node");
            (oid as u32, (r.get("name"), node as u32))
        })
        .collect())
}

/// Relation locks this session holds: (oid, mode).
async fn locks(conn: &mut PgConnection) -> Result<BTreeSet<(u32, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT relation::int8 AS oid, mode FROM pg_locks
         WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let oid: i64 = r.get("oid");
            (oid as u32, r.get::<String, _>("mode"))
        })
        .collect())
}

async fn run(
    conn: &mut PgConnection,
    plan: &[Migration],
    scratch: &str,
) -> Result<DryRunReport, sqlx::Error> {
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
    let before_all = relations(conn).await?;
    let mut statements = Vec::new();
    'files: for m in plan {
        for step in &m.steps {
            let rels_before = relations(conn).await?;
            let locks_before = locks(conn).await?;
            sqlx::raw_sql("SAVEPOINT bytegate_step")
                .execute(&mut *conn)
                .await?;
            let started = Instant::now();
            let outcome = sqlx::raw_sql(AssertSqlSafe(step.text.clone()))
                .execute(&mut *conn)
                .await;
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            let mut report = StatementReport {
                path: m.path.clone(),
                line: step.line,
                error: None,
                skipped: false,
                locks: Vec::new(),
                rewrites: Vec::new(),
                elapsed_ms,
            };
            match outcome {
                Ok(_) => {
                    let rels_after = relations(conn).await?;
                    let held = locks(conn).await?;
                    report.locks = held
                        .difference(&locks_before)
                        .filter_map(|(oid, mode)| {
                            let name = rels_after.get(oid).or_else(|| rels_before.get(oid))?;
                            Some(LockTaken {
                                relation: name.0.clone(),
                                mode: mode.clone(),
                                existing: before_all.contains_key(oid),
                                blocking: BLOCKING.contains(&mode.as_str()),
                            })
                        })
                        .collect();
                    report.locks.sort();
                    report.rewrites = rels_before
                        .iter()
                        .filter(|(oid, (_, node))| {
                            *node != 0 && rels_after.get(oid).is_some_and(|(_, n)| n != node)
                        })
                        .map(|(_, (name, _))| name.clone())
                        .collect();
                    sqlx::raw_sql("RELEASE SAVEPOINT bytegate_step")
                        .execute(&mut *conn)
                        .await?;
                    statements.push(report);
                }
                Err(e) => {
                    sqlx::raw_sql("ROLLBACK TO SAVEPOINT bytegate_step")
                        .execute(&mut *conn)
                        .await?;
                    let code = e
                        .as_database_error()
                        .and_then(|d| d.code().map(|c| c.into_owned()));
                    // 25001: it cannot run in a transaction block (CONCURRENTLY):
                    // by design it takes no long exclusive lock; not run here.
                    if code.as_deref() == Some("25001") {
                        report.skipped = true;
                        statements.push(report);
                        continue;
                    }
                    let message = e
                        .as_database_error()
                        .map(|d| d.message().to_string())
                        .unwrap_or_else(|| e.to_string());
                    report.error = Some(match code {
                        Some(c) => format!("{c}: {message}"),
                        None => message,
                    });
                    statements.push(report);
                    break 'files;
                }
            }
        }
    }
    sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await?;
    Ok(DryRunReport {
        scratch_database: scratch.to_string(),
        statements,
    })
}
