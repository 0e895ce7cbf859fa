//! The backup ticker: takes each environment's scheduled backups and removes
//! expired ones. Every replica with workers runs it; the per-period slot in
//! `backups` makes each scheduled backup happen once.

use super::{BackupError, BackupRequest, BackupSettings, backed_up, clean_expired, slot, take};
use crate::clock::Clock;
use crate::config::{Config, Engine};
use crate::store::backups::BackupKind;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Backups taken.
    pub taken: usize,
    /// Backups that failed (logged and recorded as failed).
    pub failed: usize,
    /// Expired backups removed.
    pub removed: usize,
}

/// One pass: the backups due now, then the expired ones removed.
pub async fn tick(
    pool: &PgPool,
    config: &Config,
    settings: &BackupSettings,
    clock: &dyn Clock,
) -> Result<TickReport, BackupError> {
    let mut report = TickReport::default();
    for (env, db) in backed_up(config, None) {
        let Some(period) = env.backup.schedule.0 else {
            continue;
        };
        if db.engine != Engine::Postgres {
            continue;
        }
        let req = BackupRequest {
            environment: env,
            database: db,
            kind: BackupKind::Scheduled,
            slot: Some(slot(clock.now(), period)),
            by: crate::store::audit::BOT_ACTOR,
        };
        match take(pool, clock, settings, req).await {
            Ok(Some(_)) => report.taken += 1,
            Ok(None) => {}
            Err(BackupError::Store(e)) => return Err(BackupError::Store(e)),
            // Recorded as failed on its row; the other databases still get theirs.
            Err(_) => report.failed += 1,
        }
    }
    report.removed = clean_expired(pool, clock).await?;
    Ok(report)
}

/// Runs [`tick`] every `every` (the first one after `every`, so a starting
/// replica does not dump every target at once) until `stopped` turns true.
pub async fn run(
    pool: PgPool,
    config: Arc<Config>,
    settings: BackupSettings,
    clock: Arc<dyn Clock>,
    every: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        match tick(&pool, &config, &settings, clock.as_ref()).await {
            Ok(r) if r == TickReport::default() => {}
            Ok(r) => {
                tracing::info!(
                    taken = r.taken,
                    failed = r.failed,
                    removed = r.removed,
                    "backup tick"
                )
            }
            Err(e) => tracing::warn!(error = %e, "backup tick failed"),
        }
    }
}
