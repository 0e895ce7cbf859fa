//! Approvals and their cancellations per change request (table `approvals`),
//! and the approval check's handle and last decision (columns of
//! `change_requests`).
//!
//! A review is one row keyed by its id (its state, e.g. `dismissed`, is
//! upserted on every sync). A comment's rows are replaced when it is edited
//! and removed when it is deleted.

use super::StoreError;
use super::text_enum::text_enum;
use crate::policy::{Record, Source, Vote};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor, PgPool};

/// `approvals.source` for PR reviews.
pub const SOURCE_REVIEW: &str = "review";
/// `approvals.source` for comment commands.
pub const SOURCE_COMMENT: &str = "comment";

text_enum! {
    /// What a row says (`approvals.state`).
    pub enum State {
        /// Approved.
        Approved = "approved",
        /// Withdrawn with `revoke` (or a deleted comment's approval: the row is removed instead).
        Revoked = "revoked",
        /// A review requested changes.
        ChangesRequested = "changes_requested",
        /// A review was dismissed.
        Dismissed = "dismissed",
    }
}

impl State {
    /// The policy's view.
    pub fn vote(self) -> Vote {
        match self {
            State::Approved => Vote::Approve,
            State::Revoked => Vote::Revoke,
            State::ChangesRequested => Vote::ChangesRequested,
            State::Dismissed => Vote::Dismissed,
        }
    }
}

/// A row of `approvals`.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ApprovalRow {
    /// Primary key.
    pub id: i64,
    /// The change request.
    pub change_request_id: i64,
    /// Environment; `None`: every environment.
    pub environment: Option<String>,
    /// User login.
    pub user_login: String,
    /// `review` or `comment`.
    pub source: String,
    /// Review id or comment id.
    pub source_id: Option<String>,
    /// What it says.
    pub state: State,
    /// When it was given.
    pub at: DateTime<Utc>,
    /// Digest of the reviewed migration bytes it was given for.
    pub digest: Option<String>,
}

impl ApprovalRow {
    /// The policy record, when the row is well-formed.
    pub fn to_record(&self) -> Option<Record> {
        let id: u64 = self.source_id.as_deref()?.split(':').next()?.parse().ok()?;
        let source = match self.source.as_str() {
            SOURCE_REVIEW => Source::Review(id),
            SOURCE_COMMENT => Source::Comment(id),
            _ => return None,
        };
        Some(Record {
            user: self.user_login.clone(),
            environment: self.environment.clone(),
            vote: self.state.vote(),
            at: self.at,
            source,
            digest: self.digest.clone(),
        })
    }
}

const COLUMNS: &str =
    "id, change_request_id, environment, user_login, source, source_id, state, at, digest";

/// Every row of a change request, oldest first (ties in insertion order).
pub async fn list(pool: &PgPool, cr_id: i64) -> Result<Vec<ApprovalRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM approvals WHERE change_request_id = $1 ORDER BY at, id");
    Ok(sqlx::query_as::<_, ApprovalRow>(sqlx::AssertSqlSafe(sql))
        .bind(cr_id)
        .fetch_all(pool)
        .await?)
}

/// Sets a review's row (keyed by `source_id`) to `state`; returns the state it had before.
/// `digest` is the reviewed content the review was given for: it is bound
/// when the row is created or its state changes, and filled in when it was
/// unknown before (the review of that commit finished later).
#[allow(clippy::too_many_arguments)]
pub async fn upsert_review<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    source_id: &str,
    user: &str,
    state: State,
    at: DateTime<Utc>,
    digest: Option<&str>,
    commit_sha: Option<&str>,
) -> Result<Option<State>, StoreError> {
    let (old,): (Option<State>,) = sqlx::query_as(
        "WITH old AS (
             SELECT state FROM approvals
             WHERE change_request_id = $1 AND source = 'review' AND source_id = $2
         )
         INSERT INTO approvals (change_request_id, environment, user_login, source, source_id, state, at, digest, commit_sha)
         VALUES ($1, NULL, $3, 'review', $2, $4, $5, $6, $7)
         ON CONFLICT (change_request_id, source_id) WHERE source = 'review'
         DO UPDATE SET state = EXCLUDED.state, at = EXCLUDED.at, user_login = EXCLUDED.user_login,
             commit_sha = EXCLUDED.commit_sha,
             digest = CASE WHEN approvals.state IS DISTINCT FROM EXCLUDED.state
                           THEN EXCLUDED.digest
                           ELSE COALESCE(approvals.digest, EXCLUDED.digest) END
         RETURNING (SELECT state FROM old)",
    )
    .bind(cr_id)
    .bind(source_id)
    .bind(user)
    .bind(state)
    .bind(at)
    .bind(digest)
    .bind(commit_sha)
    .fetch_one(db)
    .await?;
    Ok(old)
}

/// Binds reviews given on `head_sha` whose content was unknown (the review of
/// that commit had not finished) to the digest that review stored.
pub async fn bind_reviews_of_commit<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    head_sha: &str,
    digest: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE approvals SET digest = $3
         WHERE change_request_id = $1 AND source = 'review' AND commit_sha = $2 AND digest IS NULL",
    )
    .bind(cr_id)
    .bind(head_sha)
    .bind(digest)
    .execute(db)
    .await?
    .rows_affected())
}

/// The stored state of a review row, if any.
pub async fn review_state<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    source_id: &str,
) -> Result<Option<State>, StoreError> {
    let row: Option<(State,)> = sqlx::query_as(
        "SELECT state FROM approvals
         WHERE change_request_id = $1 AND source = 'review' AND source_id = $2",
    )
    .bind(cr_id)
    .bind(source_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(s,)| s))
}

/// A comment command's record, to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCommentRecord {
    /// Environment; `None`: every environment.
    pub environment: Option<String>,
    /// Approved or revoked.
    pub state: State,
}

/// Inserts a comment's records (in order), all at `at`, bound to the
/// reviewed content `digest` the commenter could see.
pub async fn insert_comment(
    db: &PgPool,
    cr_id: i64,
    comment_id: u64,
    user: &str,
    at: DateTime<Utc>,
    digest: Option<&str>,
    records: &[NewCommentRecord],
) -> Result<(), StoreError> {
    for r in records {
        sqlx::query(
            "INSERT INTO approvals (change_request_id, environment, user_login, source, source_id, state, at, digest)
             VALUES ($1, $2, $3, 'comment', $4, $5, $6, $7)",
        )
        .bind(cr_id)
        .bind(r.environment.as_deref())
        .bind(user)
        .bind(comment_id.to_string())
        .bind(r.state.as_str())
        .bind(at)
        .bind(digest)
        .execute(db)
        .await?;
    }
    Ok(())
}

/// Removes a comment's records (edited or deleted comment); returns them.
pub async fn delete_comment<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    comment_id: u64,
) -> Result<Vec<ApprovalRow>, StoreError> {
    let sql = format!(
        "DELETE FROM approvals WHERE change_request_id = $1 AND source = 'comment' AND source_id = $2
         RETURNING {COLUMNS}"
    );
    let mut rows = sqlx::query_as::<_, ApprovalRow>(sqlx::AssertSqlSafe(sql))
        .bind(cr_id)
        .bind(comment_id.to_string())
        .fetch_all(db)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// The approval check as last published: commit, handle and decision.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct CheckState {
    /// Commit the check was published on.
    pub approval_check_sha: Option<String>,
    /// Its handle (`CheckHandle::to_stored`).
    pub approval_check_handle: Option<String>,
    /// Environment name → satisfied.
    pub approval_decision: Value,
}

/// Reads the approval check's state.
pub async fn check_state<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
) -> Result<CheckState, StoreError> {
    Ok(sqlx::query_as::<_, CheckState>(
        "SELECT approval_check_sha, approval_check_handle, approval_decision
         FROM change_requests WHERE id = $1",
    )
    .bind(cr_id)
    .fetch_one(db)
    .await?)
}

/// Records the published check and decision.
pub async fn set_check_state<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    sha: &str,
    handle: &str,
    decision: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE change_requests SET approval_check_sha = $2, approval_check_handle = $3,
             approval_decision = $4, updated_at = now()
         WHERE id = $1",
    )
    .bind(cr_id)
    .bind(sha)
    .bind(handle)
    .bind(decision)
    .execute(db)
    .await?;
    Ok(())
}

/// Stores a new approval decision (before it is published) and returns its
/// number: decisions of one change request are numbered in commit order.
pub async fn record_decision<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    decision: &Value,
) -> Result<i64, StoreError> {
    let (seq,): (i64,) = sqlx::query_as(
        "UPDATE change_requests SET approval_decision = $2, approval_seq = approval_seq + 1,
             updated_at = now()
         WHERE id = $1 RETURNING approval_seq",
    )
    .bind(cr_id)
    .bind(decision)
    .fetch_one(db)
    .await?;
    Ok(seq)
}

/// The number of the newest recorded decision ([`record_decision`]).
pub async fn decision_seq<'e>(db: impl PgExecutor<'e>, cr_id: i64) -> Result<i64, StoreError> {
    let (seq,): (i64,) = sqlx::query_as("SELECT approval_seq FROM change_requests WHERE id = $1")
        .bind(cr_id)
        .fetch_one(db)
        .await?;
    Ok(seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::change_requests::{self, PrSeen};
    use crate::store::testdb::TestDb;

    async fn cr(db: &TestDb) -> i64 {
        change_requests::record_seen(
            &db.pool,
            &PrSeen {
                forge: "github",
                repo: "o/r",
                number: 1,
                title: "t",
                author: "alice",
                head_sha: "aaa",
                base_ref: "main",
                is_fork: false,
                at: t(0),
            },
        )
        .await
        .unwrap()
        .id
    }

    fn t(minute: u32) -> DateTime<Utc> {
        format!("2026-01-01T10:{minute:02}:00Z").parse().unwrap()
    }

    #[test]
    fn states_round_trip() {
        for s in [
            State::Approved,
            State::Revoked,
            State::ChangesRequested,
            State::Dismissed,
        ] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("maybe"), None);
    }

    #[tokio::test]
    async fn reviews_upsert_by_id_and_report_the_previous_state() {
        let db = TestDb::migrated().await.unwrap();
        let id = cr(&db).await;
        let before = upsert_review(&db.pool, id, "7", "dba1", State::Approved, t(1), None, None)
            .await
            .unwrap();
        assert_eq!(before, None);
        let before = upsert_review(
            &db.pool,
            id,
            "7",
            "dba1",
            State::Dismissed,
            t(1),
            None,
            None,
        )
        .await
        .unwrap();
        assert_eq!(before, Some(State::Approved));
        assert_eq!(
            review_state(&db.pool, id, "7").await.unwrap(),
            Some(State::Dismissed)
        );
        let rows = list(&db.pool, id).await.unwrap();
        assert_eq!(rows.len(), 1);
        let r = rows[0].to_record().unwrap();
        assert_eq!(
            (r.vote, r.source, r.environment),
            (Vote::Dismissed, Source::Review(7), None)
        );
    }

    #[tokio::test]
    async fn comment_records_are_inserted_listed_and_withdrawn() {
        let db = TestDb::migrated().await.unwrap();
        let id = cr(&db).await;
        let recs = [
            NewCommentRecord {
                environment: Some("production".into()),
                state: State::Approved,
            },
            NewCommentRecord {
                environment: None,
                state: State::Revoked,
            },
        ];
        insert_comment(&db.pool, id, 55, "owner1", t(2), None, &recs)
            .await
            .unwrap();
        upsert_review(
            &db.pool,
            id,
            "9:dismissed",
            "dba1",
            State::Dismissed,
            t(3),
            None,
            None,
        )
        .await
        .unwrap();
        let rows = list(&db.pool, id).await.unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[0].to_record().unwrap().source,
            Source::Comment(55),
            "oldest first, insertion order on ties"
        );
        assert_eq!(rows[1].state, State::Revoked);
        assert_eq!(rows[2].to_record().unwrap().source, Source::Review(9));
        let removed = delete_comment(&db.pool, id, 55).await.unwrap();
        assert_eq!(removed.len(), 2);
        assert_eq!(list(&db.pool, id).await.unwrap().len(), 1);
        assert!(delete_comment(&db.pool, id, 55).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn check_state_round_trips() {
        let db = TestDb::migrated().await.unwrap();
        let id = cr(&db).await;
        let s = check_state(&db.pool, id).await.unwrap();
        assert_eq!(s.approval_check_sha, None);
        assert_eq!(s.approval_decision, serde_json::json!({}));
        let decision = serde_json::json!({"production": false});
        set_check_state(&db.pool, id, "aaa", "check_run:5", &decision)
            .await
            .unwrap();
        let s = check_state(&db.pool, id).await.unwrap();
        assert_eq!(s.approval_check_handle.as_deref(), Some("check_run:5"));
        assert_eq!(s.approval_decision, decision);
    }
}
