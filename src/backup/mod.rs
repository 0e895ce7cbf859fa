//! Logical backups of target databases: `pg_dump --format=custom` files in
//! a folder, listed in the meta database with size, checksum and expiry,
//! taken by each environment's schedule or by an operator, restored with
//! `pg_restore`, and removed by a cleaner once expired.
//!
//! Files by job: `tools` runs the PostgreSQL client tools, `schedule` the
//! ticker that takes scheduled backups and cleans expired ones.

pub mod schedule;
pub mod tools;

use crate::clock::Clock;
use crate::config::{BackupStorage, Config, Database, Engine, Environment};
use crate::store::StoreError;
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::backups::{self, BackupKind, BackupRow, NewBackup};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What can go wrong with a backup.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The meta database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A PostgreSQL client tool is not installed.
    #[error(
        "`{0}` was not found on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL's client tools"
    )]
    ToolMissing(String),
    /// A tool could not be started.
    #[error("cannot run {tool}: {source}")]
    Spawn {
        /// The tool.
        tool: String,
        /// Why.
        source: std::io::Error,
    },
    /// A tool exited with an error.
    #[error("{tool} failed ({status}): {message}")]
    ToolFailed {
        /// The tool.
        tool: String,
        /// Its exit status.
        status: String,
        /// The end of its stderr.
        message: String,
    },
    /// Reading or writing a backup file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The engine has no backup support yet.
    #[error("backups of {0:?} databases are not supported yet")]
    Unsupported(Engine),
    /// No such backup, or it has no file.
    #[error("backup {0} does not exist or did not complete")]
    NotFound(i64),
    /// The file no longer matches the recorded checksum.
    #[error("backup {id}'s file {path} does not match its recorded sha256: refusing to restore it")]
    Corrupt {
        /// The backup.
        id: i64,
        /// Its file.
        path: String,
    },
}

/// Where backup files go and what runs after each one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSettings {
    /// The folder (created when missing).
    pub dir: PathBuf,
    /// Run with the file's path after each backup.
    pub hook: Option<String>,
}

impl BackupSettings {
    /// `backups.dir` from config, else `backups/` under the data directory.
    pub fn resolve(storage: &BackupStorage, data_dir: &Path) -> BackupSettings {
        BackupSettings {
            dir: storage
                .dir
                .as_ref()
                .filter(|d| !d.trim().is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("backups")),
            hook: storage.hook.clone().filter(|h| !h.trim().is_empty()),
        }
    }
}

/// The schedule period `now` falls in: scheduled backups are unique per period.
pub fn slot(now: chrono::DateTime<chrono::Utc>, period: Duration) -> i64 {
    let secs = i64::try_from(period.as_secs().max(1)).unwrap_or(i64::MAX);
    now.timestamp().div_euclid(secs)
}

/// One backup to take.
#[derive(Debug, Clone, Copy)]
pub struct BackupRequest<'a> {
    /// The environment (its retention sets the expiry).
    pub environment: &'a Environment,
    /// The database.
    pub database: &'a Database,
    /// Scheduled (with its period) or manual.
    pub kind: BackupKind,
    /// Schedule period (scheduled only).
    pub slot: Option<i64>,
    /// Who asked.
    pub by: &'a str,
}

/// Takes one backup: records it as running, dumps the database to a file
/// (written under a temporary name, then renamed, so a listed file is always
/// complete), records size and checksum, runs the hook, audits. `Ok(None)`:
/// the slot was already taken (another replica). A failed dump is recorded
/// as failed and its partial file removed; the error is returned.
pub async fn take(
    pool: &PgPool,
    clock: &dyn Clock,
    settings: &BackupSettings,
    req: BackupRequest<'_>,
) -> Result<Option<BackupRow>, BackupError> {
    if req.database.engine != Engine::Postgres {
        return Err(BackupError::Unsupported(req.database.engine));
    }
    let now = clock.now();
    let retention = chrono::Duration::days(i64::from(req.environment.backup.retention_days));
    let Some(row) = backups::start(
        pool,
        &NewBackup {
            environment: &req.environment.name,
            database_name: &req.database.name,
            kind: req.kind,
            slot: req.slot,
            created_by: req.by,
            created_at: now,
            expires_at: now + retention,
        },
    )
    .await?
    else {
        return Ok(None);
    };
    let folder = settings
        .dir
        .join(safe_name(&req.environment.name))
        .join(safe_name(&req.database.name));
    let file = folder.join(format!("{}-{}.dump", row.id, now.format("%Y%m%dT%H%M%SZ")));
    match dump(&folder, &file, req.database).await {
        Ok((size, sha256)) => {
            let done = backups::succeed(
                pool,
                row.id,
                &file.to_string_lossy(),
                i64::try_from(size).unwrap_or(i64::MAX),
                &sha256,
                clock.now(),
            )
            .await?;
            audit::append(
                pool,
                &AuditEntry::new(req.by, AuditAction::BackupCreated)
                    .in_environment(Some(&req.environment.name))
                    .with_detail(json!({
                        "backup": done.id, "database": req.database.name, "kind": req.kind.as_str(),
                        "size_bytes": size, "sha256": sha256, "expires_at": done.expires_at,
                    })),
            )
            .await?;
            run_hook(settings, &file).await;
            Ok(Some(done))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&file).await;
            backups::fail(pool, row.id, &e.to_string(), clock.now()).await?;
            tracing::error!(backup = row.id, environment = %req.environment.name, database = %req.database.name, error = %e, "backup failed");
            Err(e)
        }
    }
}

/// Dumps `db` into `file`; returns its size and sha256.
async fn dump(folder: &Path, file: &Path, db: &Database) -> Result<(u64, String), BackupError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| BackupError::Io { what, path, source }
    };
    tokio::fs::create_dir_all(folder)
        .await
        .map_err(io("cannot create", folder))?;
    let partial = file.with_extension("dump.partial");
    let pg_dump = tools::find("pg_dump")?;
    tools::run(
        &pg_dump,
        &[
            "--format=custom".as_ref(),
            "--no-password".as_ref(),
            "--file".as_ref(),
            partial.as_os_str(),
        ],
        db.url.expose(),
    )
    .await?;
    tokio::fs::rename(&partial, file)
        .await
        .map_err(io("cannot rename", &partial))?;
    checksum(file).await
}

/// Size and sha256 of a file, read in blocks (dumps can be large).
async fn checksum(file: &Path) -> Result<(u64, String), BackupError> {
    use tokio::io::AsyncReadExt;
    let err = |source| BackupError::Io {
        what: "cannot read",
        path: file.display().to_string(),
        source,
    };
    let mut f = tokio::fs::File::open(file).await.map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).await.map_err(err)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Runs the operator's hook; its failure is logged, the backup stays.
async fn run_hook(settings: &BackupSettings, file: &Path) {
    let Some(hook) = &settings.hook else { return };
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{hook} \"$1\""))
        .arg("bytegate-backup-hook")
        .arg(file)
        .stdin(std::process::Stdio::null())
        .status()
        .await;
    match status {
        Ok(s) if s.success() => tracing::info!(file = %file.display(), "backup hook done"),
        Ok(s) => tracing::warn!(file = %file.display(), status = %s, "backup hook failed"),
        Err(e) => tracing::warn!(file = %file.display(), error = %e, "backup hook could not run"),
    }
}

/// Restores backup `id` into the database at `url` (`pg_restore`, objects
/// owned by the connecting role). The file's checksum is checked first.
pub async fn restore(
    pool: &PgPool,
    id: i64,
    url: &str,
    by: &str,
) -> Result<BackupRow, BackupError> {
    let row = backups::get(pool, id)
        .await?
        .filter(|r| r.state == backups::BackupState::Succeeded)
        .ok_or(BackupError::NotFound(id))?;
    let path = row.path.clone().ok_or(BackupError::NotFound(id))?;
    let (_, sha256) = checksum(Path::new(&path)).await?;
    if Some(&sha256) != row.sha256.as_ref() {
        return Err(BackupError::Corrupt { id, path });
    }
    let pg_restore = tools::find("pg_restore")?;
    tools::run(
        &pg_restore,
        &[
            "--no-owner".as_ref(),
            "--no-privileges".as_ref(),
            "--exit-on-error".as_ref(),
            "--no-password".as_ref(),
            path.as_ref(),
        ],
        url,
    )
    .await?;
    audit::append(
        pool,
        &AuditEntry::new(by, AuditAction::BackupRestored)
            .in_environment(Some(&row.environment))
            .with_detail(json!({
                "backup": row.id, "database": row.database_name,
                "to": crate::store::redact_url(url),
            })),
    )
    .await?;
    Ok(row)
}

/// Removes expired backups (files, then rows) and returns how many. Safe with
/// several replicas: each locks the rows it removes and skips locked ones.
pub async fn clean_expired(pool: &PgPool, clock: &dyn Clock) -> Result<usize, BackupError> {
    let mut removed = 0;
    loop {
        let mut tx = pool.begin().await.map_err(StoreError::from)?;
        let rows = backups::lock_expired(&mut *tx, clock.now(), 50).await?;
        if rows.is_empty() {
            return Ok(removed);
        }
        for r in &rows {
            if let Some(path) = &r.path {
                match tokio::fs::remove_file(path).await {
                    Ok(()) => {}
                    // Removed by hand or by a cleaner that died before its commit.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(BackupError::Io {
                            what: "cannot remove",
                            path: path.clone(),
                            source: e,
                        });
                    }
                }
            }
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        backups::delete(&mut *tx, &ids).await?;
        tx.commit().await.map_err(StoreError::from)?;
        for r in &rows {
            tracing::info!(backup = r.id, environment = %r.environment, database = %r.database_name, "expired backup removed");
        }
        removed += rows.len();
    }
}

/// The databases of `environment` (or of every environment) with backups on.
pub fn backed_up<'c>(
    config: &'c Config,
    environment: Option<&str>,
) -> Vec<(&'c Environment, &'c Database)> {
    config
        .environments
        .iter()
        .filter(|e| e.backup.enabled && environment.is_none_or(|n| n == e.name))
        .flat_map(|e| e.databases.iter().map(move |d| (e, d)))
        .collect()
}

/// A path segment from a config name (environment and database names are
/// the operator's, but a folder name must not climb out of the backup dir).
fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_the_backup_folder() {
        assert_eq!(safe_name("../etc"), "___etc");
        assert_eq!(safe_name("prod-eu_1"), "prod-eu_1");
        assert_eq!(safe_name(""), "_");
    }

    #[test]
    fn a_slot_is_one_schedule_period() {
        let day = Duration::from_secs(86_400);
        let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        assert_eq!(
            slot(t("2026-11-30T00:00:00Z"), day),
            slot(t("2026-11-30T23:59:59Z"), day)
        );
        assert_eq!(
            slot(t("2026-11-30T23:59:59Z"), day) + 1,
            slot(t("2026-12-01T00:00:00Z"), day)
        );
    }
}
