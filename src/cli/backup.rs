//! `bytegate backup create | list | restore | clean`: logical backups of the
//! configured target databases from the command line.

use super::{MetaDbArgs, database_of, with_meta_db};
use crate::backup::{self, BackupRequest, BackupSettings};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::store::backups::{self, BackupKind};
use crate::telemetry;
use clap::Subcommand;
use std::path::PathBuf;

/// `bytegate backup ...`.
#[derive(Subcommand, Debug)]
pub(super) enum BackupCommand {
    /// Take a backup now (`pg_dump --format=custom`) of one database, or of
    /// every database of the environment.
    Create {
        /// Configuration file (environments, databases, `backups.dir`).
        #[arg(long, short, env = "BB_CONFIG", default_value = "bytegate.yaml")]
        config: PathBuf,
        /// The environment.
        environment: String,
        /// The database (all of the environment's when left out).
        database: Option<String>,
        /// Who asks (recorded with the backup and in the audit trail).
        #[arg(long, env = "USER", default_value = "operator")]
        actor: String,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
    /// List backups, newest first: id, environment, database, state, size, expiry.
    List {
        /// Only this environment's.
        #[arg(long = "env")]
        environment: Option<String>,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
    /// Restore a backup into the database at `--to` (after checking the
    /// file's sha256). Point it at a scratch database first.
    Restore {
        /// The backup's id (from `backup list`).
        id: i64,
        /// PostgreSQL URL of the database to restore into.
        #[arg(long, hide_env_values = true)]
        to: String,
        /// Who asks (recorded in the audit trail).
        #[arg(long, env = "USER", default_value = "operator")]
        actor: String,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
    /// Remove expired backups now (`serve` also does this on its schedule).
    Clean {
        #[command(flatten)]
        meta: MetaDbArgs,
    },
}

/// Runs a backup command; the error is printed by the caller (exit 2).
pub(super) async fn run(command: BackupCommand) -> Result<(), String> {
    match command {
        BackupCommand::Create {
            config,
            environment,
            database,
            actor,
            meta,
        } => {
            telemetry::init(meta.log_format, meta.debug);
            let cfg = Config::load(&config).map_err(|e| e.to_string())?;
            if cfg.environment(&environment).is_none() {
                return Err(format!(
                    "there is no environment `{environment}` in {}",
                    config.display()
                ));
            }
            let targets = match database.as_deref() {
                Some(_) => vec![database_of(
                    &cfg,
                    &config,
                    &environment,
                    database.as_deref(),
                )?],
                None => {
                    let all = backup::backed_up(&cfg, Some(&environment));
                    if all.is_empty() {
                        return Err(format!(
                            "environment `{environment}` has no databases with backups enabled in {}",
                            config.display()
                        ));
                    }
                    all
                }
            };
            let settings = BackupSettings::resolve(&cfg.backups, &meta.data_dir);
            with_meta_db(&meta, true, |pool| async move {
                for (env, db) in targets {
                    let req = BackupRequest {
                        environment: env,
                        database: db,
                        kind: BackupKind::Manual,
                        slot: None,
                        by: &actor,
                    };
                    let row = backup::take(&pool, &SystemClock, &settings, req)
                        .await
                        .map_err(|e| format!("{}/{}: {e}", env.name, db.name))?
                        .ok_or_else(|| "a manual backup was not recorded".to_string())?;
                    println!(
                        "backup {} of {}/{}: {} ({} bytes, sha256 {}), kept until {}",
                        row.id,
                        env.name,
                        db.name,
                        row.path.unwrap_or_default(),
                        row.size_bytes.unwrap_or(0),
                        row.sha256.unwrap_or_default(),
                        row.expires_at.to_rfc3339()
                    );
                }
                Ok(())
            })
            .await
        }
        BackupCommand::List { environment, meta } => {
            telemetry::init(meta.log_format, meta.debug);
            with_meta_db(&meta, true, |pool| async move {
                let rows = backups::list(&pool, environment.as_deref())
                    .await
                    .map_err(|e| e.to_string())?;
                println!("id\tenvironment\tdatabase\tkind\tstate\tsize_bytes\tcreated_at\texpires_at\tpath");
                for r in rows {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        r.id,
                        r.environment,
                        r.database_name,
                        r.kind,
                        r.state,
                        r.size_bytes.map(|s| s.to_string()).unwrap_or_default(),
                        r.created_at.to_rfc3339(),
                        r.expires_at.to_rfc3339(),
                        r.path.or(r.error).unwrap_or_default()
                    );
                }
                Ok(())
            })
            .await
        }
        BackupCommand::Restore {
            id,
            to,
            actor,
            meta,
        } => {
            telemetry::init(meta.log_format, meta.debug);
            with_meta_db(&meta, true, |pool| async move {
                let row = backup::restore(&pool, id, &to, &actor)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "backup {} of {}/{} restored into {}",
                    row.id,
                    row.environment,
                    row.database_name,
                    crate::store::redact_url(&to)
                );
                Ok(())
            })
            .await
        }
        BackupCommand::Clean { meta } => {
            telemetry::init(meta.log_format, meta.debug);
            with_meta_db(&meta, true, |pool| async move {
                let n = backup::clean_expired(&pool, &SystemClock)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{n} expired backup(s) removed");
                Ok(())
            })
            .await
        }
    }
}
