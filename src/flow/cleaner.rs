//! The cleaner of prior backups: drops each backup table whose environment's
//! retention has passed (time from [`FlowContext::clock`]) and marks it
//! dropped. Several replicas may run it at once: rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, so each backup is dropped by one of them.

use super::{BOT_ACTOR, FlowContext, FlowError};
use crate::deploy;
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::dml_backups;
use serde_json::json;

/// Backups claimed per transaction.
const BATCH: i64 = 20;

/// Drops the backups expired now; returns how many. A target that cannot be
/// reached keeps its backup for the next run (logged).
pub async fn clean_expired_backups(ctx: &FlowContext) -> Result<usize, FlowError> {
    let now = ctx.clock.now();
    let mut dropped = 0;
    loop {
        let mut tx = ctx.db.begin().await?;
        let batch = dml_backups::claim_expired(&mut tx, now, BATCH).await?;
        let mut progressed = false;
        for b in &batch {
            let db = ctx
                .config
                .environment(&b.environment)
                .and_then(|e| e.databases.iter().find(|d| d.name == b.database));
            let outcome = match db {
                // A target no longer configured: nothing bytegate can drop; forget it.
                None => Ok("the database is no longer configured"),
                Some(db) => match deploy::target_for(db) {
                    Ok(target) => target
                        .drop_backup(&b.backup_table)
                        .await
                        .map(|()| "dropped"),
                    Err(e) => Err(e),
                },
            };
            match outcome {
                Ok(what) => {
                    dml_backups::mark_dropped(&mut *tx, b.id, now).await?;
                    let detail = json!({
                        "database": b.database, "version": b.version,
                        "backup_table": b.backup_table, "rows": b.row_count,
                        "expired_at": b.expires_at, "outcome": what,
                    });
                    audit::append(
                        &mut *tx,
                        &AuditEntry {
                            actor: BOT_ACTOR,
                            action: AuditAction::BackupDropped,
                            forge: None,
                            repo: None,
                            number: None,
                            environment: Some(&b.environment),
                            detail,
                        },
                    )
                    .await?;
                    dropped += 1;
                    progressed = true;
                }
                Err(e) => {
                    tracing::warn!(backup = b.id, database = %b.database, error = %e.public_message(), "dropping an expired backup failed; kept for the next run");
                }
            }
        }
        tx.commit().await?;
        if batch.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) || !progressed {
            return Ok(dropped);
        }
    }
}
