//! The audit trail: every state change appends one row to `audit_log`.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use std::fmt;
use std::str::FromStr;

/// What happened. Stored as its kebab-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A review of a head commit started.
    ReviewStarted,
    /// A review finished and was published.
    ReviewCompleted,
    /// A review failed (the job may be retried).
    ReviewFailed,
    /// A late review of an older commit published its check but left the comment alone.
    ReviewSuperseded,
    /// The sticky comment was posted.
    CommentCreated,
    /// The sticky comment was edited.
    CommentUpdated,
    /// The PR was closed without merge.
    ChangeRequestClosed,
    /// The PR was merged.
    ChangeRequestMerged,
    /// The PR was reopened.
    ChangeRequestReopened,
    /// A user approved (a review or a comment command), for one or all environments.
    ApprovalGranted,
    /// An approval was withdrawn (revoke, changes requested, dismissal, deleted comment).
    ApprovalRevoked,
    /// A command was refused (author self-approval, missing role, unknown environment...).
    ApprovalRefused,
    /// An environment's approval decision changed (satisfied or not).
    ApprovalDecided,
    /// A merged PR's rollout was created.
    RolloutCreated,
    /// A rollout stage waits (approvals, deploy window); the reason is in the detail.
    StageWaiting,
    /// A rollout stage started deploying.
    StageStarted,
    /// A rollout stage deployed every database of its environment.
    StageSucceeded,
    /// A rollout stage failed or was refused; the rollout stops.
    StageFailed,
    /// One migration was applied to one database (with the sha256 of its SQL).
    DeployApplied,
    /// A deploy to one database was refused (drift, out of order, dirty) or failed.
    DeployRefused,
    /// Someone asked for a stage to deploy (`/bytebase deploy ENV`).
    DeployRequested,
}

impl AuditAction {
    /// Every action, for parsing and listings.
    pub const ALL: [AuditAction; 21] = [
        AuditAction::ReviewStarted,
        AuditAction::ReviewCompleted,
        AuditAction::ReviewFailed,
        AuditAction::ReviewSuperseded,
        AuditAction::CommentCreated,
        AuditAction::CommentUpdated,
        AuditAction::ChangeRequestClosed,
        AuditAction::ChangeRequestMerged,
        AuditAction::ChangeRequestReopened,
        AuditAction::ApprovalGranted,
        AuditAction::ApprovalRevoked,
        AuditAction::ApprovalRefused,
        AuditAction::ApprovalDecided,
        AuditAction::RolloutCreated,
        AuditAction::StageWaiting,
        AuditAction::StageStarted,
        AuditAction::StageSucceeded,
        AuditAction::StageFailed,
        AuditAction::DeployApplied,
        AuditAction::DeployRefused,
        AuditAction::DeployRequested,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ReviewStarted => "review.started",
            AuditAction::ReviewCompleted => "review.completed",
            AuditAction::ReviewFailed => "review.failed",
            AuditAction::ReviewSuperseded => "review.superseded",
            AuditAction::CommentCreated => "comment.created",
            AuditAction::CommentUpdated => "comment.updated",
            AuditAction::ChangeRequestClosed => "change_request.closed",
            AuditAction::ChangeRequestMerged => "change_request.merged",
            AuditAction::ChangeRequestReopened => "change_request.reopened",
            AuditAction::RolloutCreated => "rollout.created",
            AuditAction::StageWaiting => "stage.waiting",
            AuditAction::StageStarted => "stage.started",
            AuditAction::StageSucceeded => "stage.succeeded",
            AuditAction::StageFailed => "stage.failed",
            AuditAction::DeployApplied => "deploy.applied",
            AuditAction::DeployRefused => "deploy.refused",
            AuditAction::DeployRequested => "deploy.requested",
            AuditAction::ApprovalGranted => "approval.granted",
            AuditAction::ApprovalRevoked => "approval.revoked",
            AuditAction::ApprovalRefused => "approval.refused",
            AuditAction::ApprovalDecided => "approval.decided",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown audit action `{s}`"))
    }
}

/// One entry to append.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Who did it (a user login, or `bytegate` for the bot).
    pub actor: &'a str,
    /// What.
    pub action: AuditAction,
    /// Forge name.
    pub forge: Option<&'a str>,
    /// Repository.
    pub repo: Option<&'a str>,
    /// PR number.
    pub number: Option<i64>,
    /// Environment concerned.
    pub environment: Option<&'a str>,
    /// Details (sha, counts, ids).
    pub detail: Value,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct AuditRecord {
    /// Primary key (append order).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What (an [`AuditAction`] name).
    pub action: String,
    /// Forge.
    pub forge: Option<String>,
    /// Repository.
    pub repo: Option<String>,
    /// PR number.
    pub number: Option<i64>,
    /// Environment.
    pub environment: Option<String>,
    /// Details.
    pub detail: Value,
}

/// Appends an entry (in a transaction when given one).
pub async fn append<'e>(db: impl PgExecutor<'e>, e: &AuditEntry<'_>) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO audit_log (actor, action, forge, repo, number, environment, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(e.actor)
    .bind(e.action.as_str())
    .bind(e.forge)
    .bind(e.repo)
    .bind(e.number)
    .bind(e.environment)
    .bind(&e.detail)
    .fetch_one(db)
    .await?;
    Ok(id)
}

/// A PR's entries, oldest first.
pub async fn for_pr<'e>(
    db: impl PgExecutor<'e>,
    forge: &str,
    repo: &str,
    number: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(sqlx::query_as::<_, AuditRecord>(
        "SELECT id, at, actor, action, forge, repo, number, environment, detail
         FROM audit_log WHERE forge = $1 AND repo = $2 AND number = $3 ORDER BY id",
    )
    .bind(forge)
    .bind(repo)
    .bind(number)
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
        }
        assert!("nope".parse::<AuditAction>().is_err());
    }

    #[tokio::test]
    async fn entries_are_appended_and_listed_per_pr_in_order() {
        let db = crate::store::testdb::TestDb::migrated().await.unwrap();
        for action in [AuditAction::ReviewStarted, AuditAction::ReviewCompleted] {
            append(
                &db.pool,
                &AuditEntry {
                    actor: "bytegate",
                    action,
                    forge: Some("github"),
                    repo: Some("o/r"),
                    number: Some(3),
                    environment: None,
                    detail: serde_json::json!({"head_sha": "aaa"}),
                },
            )
            .await
            .unwrap();
        }
        let rows = for_pr(&db.pool, "github", "o/r", 3).await.unwrap();
        let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["review.started", "review.completed"]);
        assert_eq!(rows[0].detail["head_sha"], "aaa");
        assert!(
            for_pr(&db.pool, "github", "o/r", 4)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
