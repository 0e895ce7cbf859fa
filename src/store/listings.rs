//! Filtered, paged listings of the meta database for the operator surface
//! (REST API, dashboard): change requests, rollout stages and audit entries,
//! newest first, keyset-paged by id (a page starts below the `before` id of
//! the previous page's last row, so pages stay stable while rows are added).
//! The read model (`crate::api::read_model`) shapes them.

use super::StoreError;
use super::audit::AuditRecord;
use super::change_requests::CrState;
use super::reviews::ReviewResult;
use super::rollouts::StageState;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};

/// Which change requests [`changes`] returns.
#[derive(Debug, Clone, Default)]
pub struct ChangeFilter {
    /// Only this repository (`owner/name`).
    pub repo: Option<String>,
    /// Only those whose rollout has a stage in this environment.
    pub environment: Option<String>,
    /// Only in this state.
    pub state: Option<CrState>,
    /// First seen at or after.
    pub since: Option<DateTime<Utc>>,
    /// First seen before.
    pub until: Option<DateTime<Utc>>,
}

/// A change request as listed.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ChangeRow {
    /// Primary key.
    pub id: i64,
    /// `github` or `gitlab`.
    pub forge: String,
    /// Repository.
    pub repo: String,
    /// PR / MR number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Author login.
    pub author: String,
    /// Newest head commit.
    pub head_sha: String,
    /// Base branch.
    pub base_ref: String,
    /// Head in a fork.
    pub is_fork: bool,
    /// Open, closed or merged.
    pub state: CrState,
    /// Merge commit.
    pub merge_sha: Option<String>,
    /// Digest of the migration files at the head (approvals bind to it).
    pub migrations_digest: Option<String>,
    /// The approval engine's last decision: environment name → satisfied.
    pub approval_decision: Value,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

const CHANGE_COLUMNS: &str = "cr.id, cr.forge, cr.repo, cr.number, cr.title, cr.author, \
    cr.head_sha, cr.base_ref, cr.is_fork, cr.state, cr.merge_sha, cr.migrations_digest, \
    cr.approval_decision, \
    cr.created_at, cr.updated_at";

/// Up to `limit` change requests with an id below `before`, newest first.
pub async fn changes(
    pool: &PgPool,
    f: &ChangeFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ChangeRow>, StoreError> {
    Ok(sqlx::query_as::<_, ChangeRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} FROM change_requests cr
         WHERE ($1::bigint IS NULL OR cr.id < $1)
           AND ($2::text IS NULL OR cr.repo = $2)
           AND ($3::text IS NULL OR cr.state = $3)
           AND ($4::timestamptz IS NULL OR cr.created_at >= $4)
           AND ($5::timestamptz IS NULL OR cr.created_at < $5)
           AND ($6::text IS NULL OR EXISTS (
                 SELECT 1 FROM rollouts r JOIN rollout_stages s ON s.rollout_id = r.id
                 WHERE r.change_request_id = cr.id AND s.environment = $6))
         ORDER BY cr.id DESC LIMIT $7"
    )))
    .bind(before)
    .bind(&f.repo)
    .bind(f.state)
    .bind(f.since)
    .bind(f.until)
    .bind(&f.environment)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One change request by id.
pub async fn change(pool: &PgPool, id: i64) -> Result<Option<ChangeRow>, StoreError> {
    Ok(sqlx::query_as::<_, ChangeRow>(sqlx::AssertSqlSafe(format!(
        "SELECT {CHANGE_COLUMNS} FROM change_requests cr WHERE cr.id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// The review results of each change request's current head, oldest first.
pub async fn head_reviews(pool: &PgPool, ids: &[i64]) -> Result<Vec<ReviewResult>, StoreError> {
    Ok(sqlx::query_as::<_, ReviewResult>(
        "SELECT rr.id, rr.change_request_id, rr.head_sha, rr.environment, rr.errors,
                rr.warnings, rr.infos, rr.risk_level, rr.conclusion, rr.report, rr.created_at
         FROM review_results rr JOIN change_requests cr ON cr.id = rr.change_request_id
         WHERE rr.change_request_id = ANY($1) AND rr.head_sha = cr.head_sha
         ORDER BY rr.id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// Approval rows of several change requests: `(change_request_id, user,
/// environment, state)`, oldest first.
pub async fn approval_votes(
    pool: &PgPool,
    ids: &[i64],
) -> Result<Vec<(i64, String, Option<String>, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT change_request_id, user_login, environment, state FROM approvals
         WHERE change_request_id = ANY($1) ORDER BY at, id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// Which rollout stages [`stages`] returns.
#[derive(Debug, Clone, Default)]
pub struct StageFilter {
    /// Only this repository.
    pub repo: Option<String>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only in this state.
    pub state: Option<StageState>,
    /// Started at or after.
    pub since: Option<DateTime<Utc>>,
    /// Started before.
    pub until: Option<DateTime<Utc>>,
    /// Only these change requests' stages.
    pub change_requests: Option<Vec<i64>>,
}

/// A rollout stage with its rollout and change request.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct StageRow {
    /// Stage id.
    pub id: i64,
    /// Rollout id.
    pub rollout_id: i64,
    /// The rollout's state.
    pub rollout_state: String,
    /// The merge commit applied.
    pub merge_sha: String,
    /// Change request id.
    pub change_request_id: i64,
    /// Forge.
    pub forge: String,
    /// Repository.
    pub repo: String,
    /// PR number.
    pub number: i64,
    /// 0-based order in the rollout.
    pub position: i32,
    /// Environment.
    pub environment: String,
    /// State.
    pub state: StageState,
    /// Why it waits.
    pub waiting_for: Option<String>,
    /// Started running.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Error of a failed stage.
    pub error: Option<String>,
    /// What each database applied (JSON array).
    pub result: Value,
}

/// Up to `limit` stages with an id below `before`, newest first (a
/// rollout's stages in reverse order).
pub async fn stages(
    pool: &PgPool,
    f: &StageFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<StageRow>, StoreError> {
    Ok(sqlx::query_as::<_, StageRow>(
        "SELECT s.id, s.rollout_id, r.state AS rollout_state, r.merge_sha,
                cr.id AS change_request_id, cr.forge, cr.repo, cr.number, s.position,
                s.environment, s.state, s.waiting_for, s.started_at, s.finished_at, s.error,
                s.result
         FROM rollout_stages s
         JOIN rollouts r ON r.id = s.rollout_id
         JOIN change_requests cr ON cr.id = r.change_request_id
         WHERE ($1::bigint IS NULL OR s.id < $1)
           AND ($2::text IS NULL OR cr.repo = $2)
           AND ($3::text IS NULL OR s.environment = $3)
           AND ($4::text IS NULL OR s.state = $4)
           AND ($5::timestamptz IS NULL OR s.started_at >= $5)
           AND ($6::timestamptz IS NULL OR s.started_at < $6)
           AND ($7::bigint[] IS NULL OR cr.id = ANY($7))
         ORDER BY s.id DESC LIMIT $8",
    )
    .bind(before)
    .bind(&f.repo)
    .bind(&f.environment)
    .bind(f.state)
    .bind(f.since)
    .bind(f.until)
    .bind(&f.change_requests)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Which audit entries [`audit_entries`] returns.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this repository.
    pub repo: Option<String>,
    /// Only this PR number.
    pub number: Option<i64>,
    /// Only this environment.
    pub environment: Option<String>,
    /// Only this action (`deploy.requested`, ...).
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// Up to `limit` audit entries with an id below `before`, newest first.
pub async fn audit_entries(
    pool: &PgPool,
    f: &AuditFilter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(sqlx::query_as::<_, AuditRecord>(
        "SELECT id, at, actor, action, forge, repo, number, environment, detail
         FROM audit_log
         WHERE ($1::bigint IS NULL OR id < $1)
           AND ($2::text IS NULL OR repo = $2)
           AND ($3::bigint IS NULL OR number = $3)
           AND ($4::text IS NULL OR environment = $4)
           AND ($5::text IS NULL OR action = $5)
           AND ($6::text IS NULL OR actor = $6)
           AND ($7::timestamptz IS NULL OR at >= $7)
           AND ($8::timestamptz IS NULL OR at < $8)
         ORDER BY id DESC LIMIT $9",
    )
    .bind(before)
    .bind(&f.repo)
    .bind(f.number)
    .bind(&f.environment)
    .bind(&f.action)
    .bind(&f.actor)
    .bind(f.since)
    .bind(f.until)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
