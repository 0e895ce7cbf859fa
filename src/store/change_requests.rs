//! Change requests (pull/merge requests) bytegate has seen, with the newest
//! head it knows of, so late work for an older commit can tell it is stale.

use super::StoreError;
use super::text_enum::text_enum;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, Postgres, Transaction};

text_enum! {
    /// A change request's state (`change_requests.state`).
    pub enum CrState {
        /// Open.
        Open = "open",
        /// Closed without merging.
        Closed = "closed",
        /// Merged.
        Merged = "merged",
    }
}

/// A row of `change_requests`.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ChangeRequest {
    /// Primary key.
    pub id: i64,
    /// `github` or `gitlab`.
    pub forge: String,
    /// Repository full name.
    pub repo: String,
    /// PR number (GitLab: MR iid).
    pub number: i64,
    /// Title.
    pub title: String,
    /// Author login.
    pub author: String,
    /// Newest known head commit.
    pub head_sha: String,
    /// When that head was pushed (the event's time).
    pub head_at: Option<DateTime<Utc>>,
    /// Base branch.
    pub base_ref: String,
    /// Head in another repository.
    pub is_fork: bool,
    /// Open, closed or merged.
    pub state: CrState,
    /// Merge commit, once merged.
    pub merge_sha: Option<String>,
    /// Last time the migration files changed (approvals before it are stale).
    pub migrations_changed_at: Option<DateTime<Utc>>,
    /// Digest of the migration files' blob ids at `head_sha`.
    pub migrations_digest: Option<String>,
    /// Forge id of the sticky comment.
    pub comment_id: Option<String>,
    /// The head commit whose review the sticky comment shows.
    pub comment_sha: Option<String>,
    /// The commit the stored check belongs to.
    pub check_sha: Option<String>,
    /// The running check on `check_sha` (`CheckHandle::to_stored`).
    pub check_handle: Option<String>,
}

const COLUMNS: &str = "id, forge, repo, number, title, author, head_sha, head_at, base_ref, \
    is_fork, state, merge_sha, migrations_changed_at, migrations_digest, comment_id, \
    comment_sha, check_sha, check_handle";

/// What a pull-request event says about its change request.
#[derive(Debug, Clone)]
pub struct PrSeen<'a> {
    /// Forge name.
    pub forge: &'a str,
    /// Repository full name.
    pub repo: &'a str,
    /// PR number.
    pub number: i64,
    /// Title.
    pub title: &'a str,
    /// Author.
    pub author: &'a str,
    /// Head commit of this event.
    pub head_sha: &'a str,
    /// Base branch.
    pub base_ref: &'a str,
    /// Fork PR.
    pub is_fork: bool,
    /// When the event happened.
    pub at: DateTime<Utc>,
}

/// Records an event's view of a PR. The head (and the fields that go with it)
/// only moves forward: an event older than the stored head changes nothing.
/// Returns the row as it is after the write.
pub async fn record_seen(pool: &PgPool, pr: &PrSeen<'_>) -> Result<ChangeRequest, StoreError> {
    let sql = format!(
        "INSERT INTO change_requests
             (forge, repo, number, title, author, head_sha, base_ref, is_fork, head_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (forge, repo, number) DO UPDATE SET
             head_sha = CASE WHEN newer THEN EXCLUDED.head_sha ELSE change_requests.head_sha END,
             title    = CASE WHEN newer THEN EXCLUDED.title    ELSE change_requests.title END,
             base_ref = CASE WHEN newer THEN EXCLUDED.base_ref ELSE change_requests.base_ref END,
             is_fork  = CASE WHEN newer THEN EXCLUDED.is_fork  ELSE change_requests.is_fork END,
             head_at  = GREATEST(change_requests.head_at, EXCLUDED.head_at),
             author   = EXCLUDED.author,
             updated_at = now()
         RETURNING {COLUMNS}"
    )
    // `newer`: the event is not older than the stored head (ties: last writer wins).
    .replace(
        "WHEN newer",
        "WHEN change_requests.head_at IS NULL OR EXCLUDED.head_at >= change_requests.head_at",
    );
    let row = sqlx::query_as::<_, ChangeRequest>(sqlx::AssertSqlSafe(sql))
        .bind(pr.forge)
        .bind(pr.repo)
        .bind(pr.number)
        .bind(pr.title)
        .bind(pr.author)
        .bind(pr.head_sha)
        .bind(pr.base_ref)
        .bind(pr.is_fork)
        .bind(pr.at)
        .fetch_one(pool)
        .await?;
    Ok(row)
}

/// The change request for a PR, if bytegate has seen it.
pub async fn find(
    pool: &PgPool,
    forge: &str,
    repo: &str,
    number: i64,
) -> Result<Option<ChangeRequest>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM change_requests WHERE forge = $1 AND repo = $2 AND number = $3"
    );
    Ok(sqlx::query_as::<_, ChangeRequest>(sqlx::AssertSqlSafe(sql))
        .bind(forge)
        .bind(repo)
        .bind(number)
        .fetch_optional(pool)
        .await?)
}

/// Open change requests whose newest head is `head_sha` (GitHub's check
/// events for fork PRs carry no PR number).
pub async fn open_with_head(
    pool: &PgPool,
    forge: &str,
    repo: &str,
    head_sha: &str,
) -> Result<Vec<ChangeRequest>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM change_requests
         WHERE forge = $1 AND repo = $2 AND head_sha = $3 AND state = 'open' ORDER BY number"
    );
    Ok(sqlx::query_as::<_, ChangeRequest>(sqlx::AssertSqlSafe(sql))
        .bind(forge)
        .bind(repo)
        .bind(head_sha)
        .fetch_all(pool)
        .await?)
}

/// Locks the row for the rest of `tx` (publishing the sticky comment happens
/// under this lock, so two jobs of one PR never interleave their edits).
pub async fn lock(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
) -> Result<ChangeRequest, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM change_requests WHERE id = $1 FOR UPDATE");
    Ok(sqlx::query_as::<_, ChangeRequest>(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?)
}

/// When bytegate first saw the change request (its opening, for the
/// approval cycle time).
pub async fn opened_at(
    db: impl sqlx::PgExecutor<'_>,
    id: i64,
) -> Result<DateTime<Utc>, StoreError> {
    let (at,): (DateTime<Utc>,) =
        sqlx::query_as("SELECT created_at FROM change_requests WHERE id = $1")
            .bind(id)
            .fetch_one(db)
            .await?;
    Ok(at)
}

/// Remembers the sticky comment and the commit whose review it shows.
pub async fn set_comment(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    comment_id: &str,
    sha: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE change_requests SET comment_id = $2, comment_sha = $3, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(comment_id)
    .bind(sha)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records the migration files' digest at `sha`; when it differs from the
/// stored one, `migrations_changed_at` becomes `at`. Only the current head updates.
pub async fn note_migrations(
    pool: &PgPool,
    id: i64,
    sha: &str,
    digest: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE change_requests SET
             migrations_changed_at = CASE WHEN migrations_digest IS DISTINCT FROM $3
                                          THEN $4 ELSE migrations_changed_at END,
             migrations_digest = $3,
             updated_at = now()
         WHERE id = $1 AND head_sha = $2",
    )
    .bind(id)
    .bind(sha)
    .bind(digest)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Remembers the check started on `sha`, so a retried job completes it
/// instead of starting another. Only for the newest head: a late job for an
/// older commit must not make the newest head's retry lose its check.
pub async fn set_check(pool: &PgPool, id: i64, sha: &str, handle: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE change_requests SET check_sha = $2, check_handle = $3, updated_at = now()
         WHERE id = $1 AND head_sha = $2",
    )
    .bind(id)
    .bind(sha)
    .bind(handle)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the PR closed or merged.
pub async fn set_state(
    pool: &PgPool,
    id: i64,
    state: CrState,
    merge_sha: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE change_requests SET state = $2, merge_sha = COALESCE($3, merge_sha),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(state)
    .bind(merge_sha)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the PR open again (reopened).
pub async fn reopen(pool: &PgPool, id: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE change_requests SET state = 'open', updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testdb::TestDb;

    fn seen<'a>(sha: &'a str, at: &str) -> PrSeen<'a> {
        PrSeen {
            forge: "github",
            repo: "o/r",
            number: 7,
            title: "t",
            author: "alice",
            head_sha: sha,
            base_ref: "main",
            is_fork: false,
            at: at.parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn the_head_only_moves_forward() {
        let db = TestDb::migrated().await.unwrap();
        let a = record_seen(&db.pool, &seen("aaa", "2026-01-01T10:00:00Z"))
            .await
            .unwrap();
        let b = record_seen(&db.pool, &seen("bbb", "2026-01-01T11:00:00Z"))
            .await
            .unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(b.head_sha, "bbb");
        // A late event for the older commit changes nothing.
        let late = record_seen(&db.pool, &seen("aaa", "2026-01-01T10:00:00Z"))
            .await
            .unwrap();
        assert_eq!(late.head_sha, "bbb");
        assert_eq!(late.head_at, Some("2026-01-01T11:00:00Z".parse().unwrap()));
        let found = find(&db.pool, "github", "o/r", 7).await.unwrap().unwrap();
        assert_eq!(found, late);
        let by_head = open_with_head(&db.pool, "github", "o/r", "bbb")
            .await
            .unwrap();
        assert_eq!(by_head, vec![late.clone()]);
        assert!(
            open_with_head(&db.pool, "github", "o/r", "aaa")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn migrations_changed_at_moves_only_when_the_digest_changes() {
        let db = TestDb::migrated().await.unwrap();
        let cr = record_seen(&db.pool, &seen("aaa", "2026-01-01T10:00:00Z"))
            .await
            .unwrap();
        let t1: DateTime<Utc> = "2026-01-01T10:00:00Z".parse().unwrap();
        let t2: DateTime<Utc> = "2026-01-01T12:00:00Z".parse().unwrap();
        note_migrations(&db.pool, cr.id, "aaa", "d1", t1)
            .await
            .unwrap();
        note_migrations(&db.pool, cr.id, "aaa", "d1", t2)
            .await
            .unwrap();
        let row = find(&db.pool, "github", "o/r", 7).await.unwrap().unwrap();
        assert_eq!(row.migrations_changed_at, Some(t1));
        note_migrations(&db.pool, cr.id, "aaa", "d2", t2)
            .await
            .unwrap();
        // Not the head: ignored.
        note_migrations(&db.pool, cr.id, "zzz", "d3", t1)
            .await
            .unwrap();
        let row = find(&db.pool, "github", "o/r", 7).await.unwrap().unwrap();
        assert_eq!(row.migrations_changed_at, Some(t2));
        assert_eq!(row.migrations_digest.as_deref(), Some("d2"));
    }

    #[tokio::test]
    async fn comment_check_and_state_are_remembered() {
        let db = TestDb::migrated().await.unwrap();
        let cr = record_seen(&db.pool, &seen("aaa", "2026-01-01T10:00:00Z"))
            .await
            .unwrap();
        let mut tx = db.pool.begin().await.unwrap();
        assert_eq!(lock(&mut tx, cr.id).await.unwrap().id, cr.id);
        set_comment(&mut tx, cr.id, "99", "aaa").await.unwrap();
        tx.commit().await.unwrap();
        set_check(&db.pool, cr.id, "aaa", "check_run:5")
            .await
            .unwrap();
        // Not the head: ignored.
        set_check(&db.pool, cr.id, "old", "check_run:4")
            .await
            .unwrap();
        set_state(&db.pool, cr.id, CrState::Merged, Some("mmm"))
            .await
            .unwrap();
        let row = find(&db.pool, "github", "o/r", 7).await.unwrap().unwrap();
        assert_eq!(
            (row.comment_id.as_deref(), row.comment_sha.as_deref()),
            (Some("99"), Some("aaa"))
        );
        assert_eq!(row.check_handle.as_deref(), Some("check_run:5"));
        assert_eq!(
            (row.state, row.merge_sha.as_deref()),
            (CrState::Merged, Some("mmm"))
        );
        reopen(&db.pool, cr.id).await.unwrap();
        let row = find(&db.pool, "github", "o/r", 7).await.unwrap().unwrap();
        assert_eq!(row.state, CrState::Open);
    }
}
