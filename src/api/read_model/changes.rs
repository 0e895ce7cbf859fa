//! Changes: one per pull / merge request, with its review, its approvals per
//! environment against the policy, and its rollout; and one change in detail
//! (findings, the approval records, the stage timeline, schema diffs, audit).

use super::activity::AuditEntryView;
use super::{PageRequest, ReadError, duration_ms, parse_filter};
use crate::config::Config;
use crate::review::finding::{RiskLevel, Severity};
use crate::store::approvals::{self, State as VoteState};
use crate::store::audit;
use crate::store::change_requests::CrState;
use crate::store::listings::{self, ChangeFilter, ChangeRow, StageFilter, StageRow};
use crate::store::reviews::ReviewResult;
use crate::store::rollouts::{RolloutState, StageState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::{IntoParams, ToSchema};

/// Filters of the change list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// Only this repository (`owner/name`).
    pub repo: Option<String>,
    /// Only changes whose rollout has a stage in this environment.
    pub environment: Option<String>,
    /// `open`, `closed` or `merged`.
    pub state: Option<String>,
    /// First seen at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// First seen before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
}

/// A page of changes, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangePage {
    /// The changes.
    pub items: Vec<ChangeSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One pull / merge request as bytegate knows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeSummary {
    /// bytegate's id of the change (the `{id}` of `/api/v1/changes/{id}`).
    pub id: i64,
    /// `github` or `gitlab`.
    pub forge: String,
    /// Repository (`owner/name`, GitLab: the project path).
    pub repo: String,
    /// PR number (GitLab: MR iid).
    pub number: i64,
    /// Title, as the forge sent it (unescaped: escape it when rendering).
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
    /// Merge commit, once merged.
    pub merge_sha: Option<String>,
    /// First seen.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// The review of the head commit (absent before the first review).
    pub review: Option<ReviewSummary>,
    /// Per configured environment, in rollout order: approvals against its policy.
    pub approvals: Vec<EnvironmentApprovals>,
    /// The rollout, once merged (absent when it changed no migrations).
    pub rollout: Option<RolloutView>,
}

/// The review of a head commit, over every environment it was reviewed for.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewSummary {
    /// The reviewed commit.
    pub head_sha: String,
    /// The highest risk over the environments.
    pub risk: RiskLevel,
    /// Error findings (the most of any environment).
    pub errors: i32,
    /// Warning findings (the most of any environment).
    pub warnings: i32,
    /// Info findings (the most of any environment).
    pub infos: i32,
    /// The check's conclusion (`success`, `neutral`, `failure`); the worst one.
    pub conclusion: Option<String>,
    /// When the review was stored.
    pub reviewed_at: DateTime<Utc>,
}

/// One environment's approvals against its policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnvironmentApprovals {
    /// Environment name.
    pub environment: String,
    /// Approvals the policy requires (high-risk extras included).
    pub required: u32,
    /// Roles that must each be among the approvers.
    pub required_roles: Vec<String>,
    /// Users whose latest recorded vote for this environment is an approval
    /// (the author excluded). Whether each counts (roles, staleness) is the
    /// engine's call: see `satisfied`.
    pub approved_by: Vec<String>,
    /// The approval engine's last decision for this environment; absent
    /// before it decided.
    pub satisfied: Option<bool>,
}

/// A rollout and its stages in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RolloutView {
    /// Rollout id.
    pub id: i64,
    /// Overall state.
    pub state: RolloutState,
    /// The merge commit whose reviewed files are applied.
    pub merge_sha: String,
    /// One per environment, in rollout order.
    pub stages: Vec<StageView>,
}

/// One stage of a rollout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageView {
    /// Stage id.
    pub id: i64,
    /// Environment.
    pub environment: String,
    /// 0-based order.
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
}

/// One change in detail.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeDetail {
    /// The summary, as in the list.
    pub change: ChangeSummary,
    /// The head's review per environment, with its findings.
    pub reviews: Vec<EnvironmentReview>,
    /// Every approval record (reviews and comment commands), oldest first.
    pub approval_records: Vec<ApprovalRecordView>,
    /// Schema changes (and drift) per stage and database, where snapshots were taken.
    pub schema_diffs: Vec<SchemaDiffView>,
    /// The change's audit entries, oldest first.
    pub audit: Vec<AuditEntryView>,
}

/// The review of the head for one environment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnvironmentReview {
    /// Environment (absent when none is configured).
    pub environment: Option<String>,
    /// Risk.
    pub risk: RiskLevel,
    /// Error findings.
    pub errors: i32,
    /// Warning findings.
    pub warnings: i32,
    /// Info findings.
    pub infos: i32,
    /// The check's conclusion.
    pub conclusion: Option<String>,
    /// Findings, file by file.
    pub findings: Vec<FindingView>,
}

/// One finding of a review.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingView {
    /// Migration file.
    #[serde(default)]
    pub path: String,
    /// Rule id.
    pub rule: String,
    /// Severity.
    pub severity: Severity,
    /// 1-based line.
    #[serde(default)]
    pub line: Option<u64>,
    /// 1-based column.
    #[serde(default)]
    pub column: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// One approval record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApprovalRecordView {
    /// Who.
    pub user: String,
    /// Environment; absent: every environment.
    pub environment: Option<String>,
    /// `review` or `comment`.
    pub source: String,
    /// What the record says.
    pub state: VoteState,
    /// When it was given.
    pub at: DateTime<Utc>,
    /// Whether it was given for the migration files as they are now (stale
    /// otherwise); absent when either side is unknown.
    pub for_current_content: Option<bool>,
}

/// A stage's schema change on one database.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SchemaDiffView {
    /// Environment.
    pub environment: String,
    /// Database (its name in config).
    pub database: String,
    /// Unified diff of the schema before → after the stage (absent: unchanged or not taken).
    pub diff: Option<String>,
    /// Unified diff of drift found before the stage (a change made outside bytegate).
    pub drift: Option<String>,
}

/// A page of changes.
pub async fn changes(
    pool: &PgPool,
    config: &Config,
    query: &ChangeQuery,
    page: &PageRequest,
    now: DateTime<Utc>,
) -> Result<ChangePage, ReadError> {
    let filter = ChangeFilter {
        repo: query.repo.clone().filter(|r| !r.is_empty()),
        environment: query.environment.clone().filter(|e| !e.is_empty()),
        state: parse_filter(
            "state",
            query.state.as_deref(),
            CrState::parse,
            CrState::ALL,
            CrState::as_str,
        )?,
        since: query.since,
        until: query.until,
    };
    let mut rows = listings::changes(pool, &filter, page.before()?, page.fetch()).await?;
    let next_cursor = page.finish(&mut rows, |r| r.id);
    let items = summaries(pool, config, rows, now).await?;
    Ok(ChangePage { items, next_cursor })
}

/// One change in detail; `None` when there is no change with this id.
pub async fn change(
    pool: &PgPool,
    config: &Config,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<ChangeDetail>, ReadError> {
    let Some(row) = listings::change(pool, id).await? else {
        return Ok(None);
    };
    let reviews = listings::head_reviews(pool, &[id]).await?;
    let records = approvals::list(pool, id).await?;
    let entries = audit::for_pr(pool, &row.forge, &row.repo, row.number).await?;
    let stages = listings::stages(
        pool,
        &StageFilter {
            change_requests: Some(vec![id]),
            ..Default::default()
        },
        None,
        i64::MAX,
    )
    .await?;
    let digest = row.migrations_digest.clone();
    let approval_records = records
        .into_iter()
        .map(|r| ApprovalRecordView {
            for_current_content: match (&r.digest, &digest) {
                (Some(a), Some(b)) => Some(a == b),
                _ => None,
            },
            user: r.user_login,
            environment: r.environment,
            source: r.source,
            state: r.state,
            at: r.at,
        })
        .collect();
    let schema_diffs = schema_diffs(&stages);
    let env_reviews = reviews.iter().map(environment_review).collect();
    let summary = summaries(pool, config, vec![row], now)
        .await?
        .pop()
        .ok_or(ReadError::Store(crate::store::StoreError::Query(
            sqlx::Error::RowNotFound,
        )))?;
    Ok(Some(ChangeDetail {
        change: summary,
        reviews: env_reviews,
        approval_records,
        schema_diffs,
        audit: entries.into_iter().map(AuditEntryView::from).collect(),
    }))
}

/// Summaries of listed rows: their head reviews, votes and stages in three
/// queries for the whole page.
async fn summaries(
    pool: &PgPool,
    config: &Config,
    rows: Vec<ChangeRow>,
    now: DateTime<Utc>,
) -> Result<Vec<ChangeSummary>, ReadError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut reviews: BTreeMap<i64, Vec<ReviewResult>> = BTreeMap::new();
    for r in listings::head_reviews(pool, &ids).await? {
        reviews.entry(r.change_request_id).or_default().push(r);
    }
    let mut votes: BTreeMap<i64, Vec<(String, Option<String>, String)>> = BTreeMap::new();
    for (cr, user, env, state) in listings::approval_votes(pool, &ids).await? {
        votes.entry(cr).or_default().push((user, env, state));
    }
    let filter = StageFilter {
        change_requests: Some(ids),
        ..Default::default()
    };
    let mut stages: BTreeMap<i64, Vec<StageRow>> = BTreeMap::new();
    for s in listings::stages(pool, &filter, None, i64::MAX).await? {
        stages.entry(s.change_request_id).or_default().push(s);
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let reviews = reviews.remove(&row.id).unwrap_or_default();
            let votes = votes.remove(&row.id).unwrap_or_default();
            let stages = stages.remove(&row.id).unwrap_or_default();
            summary(config, row, &reviews, &votes, stages, now)
        })
        .collect())
}

fn summary(
    config: &Config,
    row: ChangeRow,
    reviews: &[ReviewResult],
    votes: &[(String, Option<String>, String)],
    stages: Vec<StageRow>,
    now: DateTime<Utc>,
) -> ChangeSummary {
    let review = review_summary(reviews);
    let decided: BTreeMap<String, bool> =
        serde_json::from_value(row.approval_decision.clone()).unwrap_or_default();
    let approvals = config
        .environments
        .iter()
        .map(|env| {
            let risk = reviews
                .iter()
                .find(|r| r.environment.as_deref() == Some(env.name.as_str()))
                .map(|r| risk_of(&r.risk_level))
                .or(review.as_ref().map(|r| r.risk));
            let extra = if risk == Some(RiskLevel::High) {
                env.high_risk_extra_approvals
            } else {
                0
            };
            EnvironmentApprovals {
                environment: env.name.clone(),
                required: env.approvals + extra,
                required_roles: env.roles.clone(),
                approved_by: approved_by(votes, &env.name, &row.author),
                satisfied: decided.get(&env.name).copied(),
            }
        })
        .collect();
    ChangeSummary {
        rollout: rollout_view(stages, now),
        id: row.id,
        forge: row.forge,
        repo: row.repo,
        number: row.number,
        title: row.title,
        author: row.author,
        head_sha: row.head_sha,
        base_ref: row.base_ref,
        is_fork: row.is_fork,
        state: row.state,
        merge_sha: row.merge_sha,
        created_at: row.created_at,
        updated_at: row.updated_at,
        review,
        approvals,
    }
}

/// Users whose latest vote that applies to `environment` (its own or one for
/// every environment) approves; the author never counts.
fn approved_by(
    votes: &[(String, Option<String>, String)],
    environment: &str,
    author: &str,
) -> Vec<String> {
    let mut latest: BTreeMap<String, &str> = BTreeMap::new();
    for (user, env, state) in votes {
        if env.as_deref().is_none_or(|e| e == environment) {
            latest.insert(user.to_ascii_lowercase(), state);
        }
    }
    let mut out: BTreeSet<String> = BTreeSet::new();
    for (user, state) in latest {
        if state == VoteState::Approved.as_str() && !user.eq_ignore_ascii_case(author) {
            out.insert(user);
        }
    }
    out.into_iter().collect()
}

fn risk_of(stored: &str) -> RiskLevel {
    serde_json::from_value(Value::String(stored.to_string())).unwrap_or(RiskLevel::High)
}

fn review_summary(reviews: &[ReviewResult]) -> Option<ReviewSummary> {
    let first = reviews.first()?;
    let rank = |c: &Option<String>| match c.as_deref() {
        Some("failure") => 3,
        Some("neutral") => 2,
        Some(_) => 1,
        None => 0,
    };
    Some(ReviewSummary {
        head_sha: first.head_sha.clone(),
        risk: reviews
            .iter()
            .map(|r| risk_of(&r.risk_level))
            .max()
            .unwrap_or_default(),
        errors: reviews.iter().map(|r| r.errors).max().unwrap_or(0),
        warnings: reviews.iter().map(|r| r.warnings).max().unwrap_or(0),
        infos: reviews.iter().map(|r| r.infos).max().unwrap_or(0),
        conclusion: reviews
            .iter()
            .map(|r| &r.conclusion)
            .max_by_key(|c| rank(c))
            .cloned()
            .flatten(),
        reviewed_at: reviews
            .iter()
            .map(|r| r.created_at)
            .max()
            .unwrap_or(first.created_at),
    })
}

fn rollout_view(mut stages: Vec<StageRow>, now: DateTime<Utc>) -> Option<RolloutView> {
    stages.sort_by_key(|s| s.position);
    let first = stages.first()?;
    let state = RolloutState::parse(&first.rollout_state).unwrap_or(RolloutState::Pending);
    Some(RolloutView {
        id: first.rollout_id,
        state,
        merge_sha: first.merge_sha.clone(),
        stages: stages.into_iter().map(|s| stage_view(s, now)).collect(),
    })
}

fn stage_view(s: StageRow, now: DateTime<Utc>) -> StageView {
    StageView {
        duration_ms: duration_ms(s.started_at, s.finished_at, now),
        id: s.id,
        environment: s.environment,
        position: s.position,
        state: s.state,
        waiting_for: s.waiting_for,
        started_at: s.started_at,
        finished_at: s.finished_at,
        error: s.error,
    }
}

/// A review's findings from its stored report (the `review --format json`
/// document: `files[].findings[]`).
fn environment_review(r: &ReviewResult) -> EnvironmentReview {
    let mut findings = Vec::new();
    for file in r.report["files"].as_array().into_iter().flatten() {
        let path = file["path"].as_str().unwrap_or_default();
        for f in file["findings"].as_array().into_iter().flatten() {
            if let Ok(mut finding) = serde_json::from_value::<FindingView>(f.clone()) {
                finding.path = path.to_string();
                findings.push(finding);
            }
        }
    }
    EnvironmentReview {
        environment: r.environment.clone(),
        risk: risk_of(&r.risk_level),
        errors: r.errors,
        warnings: r.warnings,
        infos: r.infos,
        conclusion: r.conclusion.clone(),
        findings,
    }
}

/// Schema diffs from the stages' per-database results (`schema.diff`,
/// `schema.drift`, as the deploy comment shows them).
fn schema_diffs(stages: &[StageRow]) -> Vec<SchemaDiffView> {
    let mut out = Vec::new();
    let mut ordered: Vec<&StageRow> = stages.iter().collect();
    ordered.sort_by_key(|s| s.position);
    for s in ordered {
        for db in s.result.as_array().into_iter().flatten() {
            let schema = &db["schema"];
            let diff = schema["diff"].as_str().map(str::to_string);
            let drift = schema["drift"].as_str().map(str::to_string);
            if diff.is_none() && drift.is_none() {
                continue;
            }
            out.push(SchemaDiffView {
                environment: s.environment.clone(),
                database: db["database"].as_str().unwrap_or_default().to_string(),
                diff,
                drift,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_vote_per_user_counts_and_the_author_never() {
        let v = |u: &str, e: Option<&str>, s: &str| {
            (u.to_string(), e.map(str::to_string), s.to_string())
        };
        let votes = vec![
            v("Dana", None, "approved"),
            v("erin", Some("production"), "approved"),
            v("erin", Some("staging"), "approved"),
            v("erin", None, "revoked"),
            v("carol", Some("staging"), "approved"),
            v("frank", Some("staging"), "approved"),
            v("frank", Some("staging"), "changes_requested"),
        ];
        assert_eq!(approved_by(&votes, "staging", "carol"), ["dana"]);
        assert_eq!(approved_by(&votes, "production", "x"), ["dana"]);
    }
}
