//! The flow's one door to notifications: an audit append that also queues
//! the notification its entry makes ([`NoticeKind::of`]) for every receiver
//! that wants it, in one transaction. Event sites call [`audit`] where they
//! would call `audit::append`; nothing else about them changes, and
//! delivery never happens on their path (see [`crate::notify`]).

use super::FlowContext;
use crate::notify::{self, Notice, NoticeKind};
use crate::store::StoreError;
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::notifications;
use sqlx::{Acquire, Postgres};

/// Appends `entry` to the audit trail (in the caller's transaction when given
/// one) and queues its notification. `change.created` is sent once per
/// change: with the first completed review of its PR.
pub async fn audit<'a, A>(
    ctx: &FlowContext,
    db: A,
    entry: &AuditEntry<'_>,
) -> Result<i64, StoreError>
where
    A: Acquire<'a, Database = Postgres>,
{
    let Some(kind) = NoticeKind::of(entry.action, &entry.detail) else {
        return audit::append(db, entry).await;
    };
    let settings = &ctx.config.notifications;
    let receivers = settings.receivers_for(kind);
    if receivers.is_empty() {
        return audit::append(db, entry).await;
    }
    let mut tx = db.begin().await?;
    let id = audit::append(&mut *tx, entry).await?;
    let pr = match (entry.forge, entry.repo, entry.number) {
        (Some(f), Some(r), Some(n)) => Some((f, r, n)),
        _ => None,
    };
    if kind == NoticeKind::ChangeCreated {
        let first = match pr {
            Some((f, r, n)) => {
                let action = AuditAction::ReviewCompleted.as_str();
                notifications::is_first_entry(&mut *tx, action, f, r, n).await?
            }
            None => false,
        };
        if !first {
            tx.commit().await?;
            return Ok(id);
        }
    }
    let change = match pr {
        Some((f, r, n)) => notifications::change_summary(&mut *tx, f, r, n).await?,
        None => None,
    };
    let notice = Notice::from_audit(&ctx.config, kind, entry, change, ctx.clock.now());
    notify::enqueue(&mut tx, &receivers, &notice, settings.max_attempts).await?;
    tx.commit().await?;
    Ok(id)
}
