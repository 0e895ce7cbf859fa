//! What happened across changes: deployments (rollout stages), audit
//! entries with the hash chain's verification status, and backups.

use super::{PageRequest, ReadError, duration_ms, parse_filter};
use crate::store::audit::{self, AuditRecord};
use crate::store::backups::{self, BackupKind, BackupState};
use crate::store::listings::{self, AuditFilter, StageFilter};
use crate::store::rollouts::{RolloutState, StageState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

/// Filters of the deployment list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeploymentQuery {
    /// Only this repository.
    pub repo: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only stages in this state (`pending`, `waiting`, `running`,
    /// `succeeded`, `failed`, `skipped`, `rolled_back`).
    pub state: Option<String>,
    /// Started at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Started before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// A page of deployments, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeploymentPage {
    /// The deployments.
    pub items: Vec<DeploymentView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One deployment: a rollout stage, with its change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeploymentView {
    /// Stage id.
    pub id: i64,
    /// The change (`/api/v1/changes/{id}`).
    pub change_id: i64,
    /// Forge.
    pub forge: String,
    /// Repository.
    pub repo: String,
    /// PR number.
    pub number: i64,
    /// Rollout id.
    pub rollout_id: i64,
    /// The rollout's overall state.
    pub rollout_state: RolloutState,
    /// The merge commit applied.
    pub merge_sha: String,
    /// Environment.
    pub environment: String,
    /// 0-based order in the rollout.
    pub position: i32,
    /// State.
    pub state: StageState,
    /// Why a waiting stage waits.
    pub waiting_for: Option<String>,
    /// Started running.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Wall time so far, in milliseconds.
    pub duration_ms: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// What each database applied (one object per database).
    #[schema(value_type = Vec<Object>)]
    pub databases: Value,
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this repository.
    pub repo: Option<String>,
    /// Only this PR number.
    pub number: Option<i64>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this action (e.g. `deploy.requested`).
    pub action: Option<String>,
    /// Only this actor (a login, a token name, `bytegate`).
    pub actor: Option<String>,
    /// At or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// A page of audit entries, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditPage {
    /// The entries.
    pub items: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Id (append order).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a login, an API token's name, `bytegate`).
    pub actor: String,
    /// What (`deploy.requested`, `stage.succeeded`, ...).
    pub action: String,
    /// Forge.
    pub forge: Option<String>,
    /// Repository.
    pub repo: Option<String>,
    /// PR number.
    pub number: Option<i64>,
    /// Environment.
    pub environment: Option<String>,
    /// Details (shas, counts, reasons).
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<AuditRecord> for AuditEntryView {
    fn from(r: AuditRecord) -> AuditEntryView {
        AuditEntryView {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            forge: r.forge,
            repo: r.repo,
            number: r.number,
            environment: r.environment,
            detail: r.detail,
        }
    }
}

/// The audit hash chain's verification (`bytegate audit verify`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChainStatus {
    /// True when every chained row verifies.
    pub ok: bool,
    /// Rows checked.
    pub verified: u64,
    /// Rows from before the chain existed (no hash).
    pub unchained: u64,
    /// Hash of the last verified row (publish it to detect truncation).
    pub head: Option<String>,
    /// The first row that does not verify.
    pub broken_at: Option<i64>,
    /// Why it does not.
    pub reason: Option<String>,
}

/// Filters of the backup list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackupQuery {
    /// Only this environment.
    pub environment: Option<String>,
}

/// A page of backups, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupPage {
    /// The backups.
    pub items: Vec<BackupView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One logical backup of a target database.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupView {
    /// Id (what `bytegate backup restore ID` names).
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// Database (its name in config).
    pub database: String,
    /// Scheduled or manual.
    pub kind: BackupKind,
    /// Running, succeeded or failed.
    pub state: BackupState,
    /// Size of the dump file.
    pub size_bytes: Option<i64>,
    /// sha256 (hex) of the file.
    pub sha256: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Who asked (`bytegate` for the schedule).
    pub created_by: String,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// When the cleaner removes it.
    pub expires_at: DateTime<Utc>,
}

/// A page of deployments.
pub async fn deployments(
    pool: &PgPool,
    query: &DeploymentQuery,
    page: &PageRequest,
    now: DateTime<Utc>,
) -> Result<DeploymentPage, ReadError> {
    let filter = StageFilter {
        repo: query.repo.clone().filter(|r| !r.is_empty()),
        environment: query.environment.clone().filter(|e| !e.is_empty()),
        state: parse_filter(
            "state",
            query.state.as_deref(),
            StageState::parse,
            StageState::ALL,
            StageState::as_str,
        )?,
        since: query.since,
        until: query.until,
        change_requests: None,
    };
    let mut rows = listings::stages(pool, &filter, page.before()?, page.fetch()).await?;
    let next_cursor = page.finish(&mut rows, |r| r.id);
    let items = rows
        .into_iter()
        .map(|s| DeploymentView {
            duration_ms: duration_ms(s.started_at, s.finished_at, now),
            id: s.id,
            change_id: s.change_request_id,
            forge: s.forge,
            repo: s.repo,
            number: s.number,
            rollout_id: s.rollout_id,
            rollout_state: RolloutState::parse(&s.rollout_state).unwrap_or(RolloutState::Pending),
            merge_sha: s.merge_sha,
            environment: s.environment,
            position: s.position,
            state: s.state,
            waiting_for: s.waiting_for,
            started_at: s.started_at,
            finished_at: s.finished_at,
            error: s.error,
            databases: s.result,
        })
        .collect();
    Ok(DeploymentPage { items, next_cursor })
}

/// A page of audit entries.
pub async fn audit_entries(
    pool: &PgPool,
    query: &AuditQuery,
    page: &PageRequest,
) -> Result<AuditPage, ReadError> {
    let action = match query.action.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => Some(
            a.parse::<audit::AuditAction>()
                .map_err(ReadError::BadFilter)?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let filter = AuditFilter {
        repo: query.repo.clone().filter(|r| !r.is_empty()),
        number: query.number,
        environment: query.environment.clone().filter(|e| !e.is_empty()),
        action,
        actor: query.actor.clone().filter(|a| !a.is_empty()),
        since: query.since,
        until: query.until,
    };
    let mut rows = listings::audit_entries(pool, &filter, page.before()?, page.fetch()).await?;
    let next_cursor = page.finish(&mut rows, |r| r.id);
    Ok(AuditPage {
        items: rows.into_iter().map(AuditEntryView::from).collect(),
        next_cursor,
    })
}

/// Walks the whole chain (as `bytegate audit verify` does).
pub async fn chain_status(pool: &PgPool) -> Result<ChainStatus, ReadError> {
    let report = audit::verify_chain(pool, None).await?;
    Ok(ChainStatus {
        ok: report.broken.is_none(),
        verified: report.verified,
        unchained: report.unchained,
        head: report.head,
        broken_at: report.broken.as_ref().map(|b| b.id),
        reason: report.broken.map(|b| b.reason),
    })
}

/// A page of backups (the store's list, newest first, cut at the cursor).
pub async fn backups(
    pool: &PgPool,
    query: &BackupQuery,
    page: &PageRequest,
) -> Result<BackupPage, ReadError> {
    let before = page.before()?;
    let environment = query.environment.as_deref().filter(|e| !e.is_empty());
    let mut rows: Vec<_> = backups::list(pool, environment)
        .await?
        .into_iter()
        .filter(|b| before.is_none_or(|id| b.id < id))
        .collect();
    // Keyset by id: the store orders by creation time, ids follow it.
    rows.sort_by_key(|b| std::cmp::Reverse(b.id));
    rows.truncate(usize::try_from(page.fetch()).unwrap_or(usize::MAX));
    let next_cursor = page.finish(&mut rows, |b| b.id);
    let items = rows
        .into_iter()
        .map(|b| BackupView {
            id: b.id,
            environment: b.environment,
            database: b.database_name,
            kind: b.kind,
            state: b.state,
            size_bytes: b.size_bytes,
            sha256: b.sha256,
            error: b.error,
            created_by: b.created_by,
            created_at: b.created_at,
            finished_at: b.finished_at,
            expires_at: b.expires_at,
        })
        .collect();
    Ok(BackupPage { items, next_cursor })
}
