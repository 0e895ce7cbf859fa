//! Review snapshots: the migration files a review of one head commit read,
//! byte for byte (sha256), with the base commit and migrations folder that
//! governed it. Approvals are bound to a snapshot's digest; a rollout applies
//! exactly one snapshot's files. Also the operators' decisions about
//! migrations that reached a branch without a pull request.

use super::StoreError;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};

/// A row of `review_snapshots`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Snapshot {
    /// Primary key.
    pub id: i64,
    /// The change request.
    pub change_request_id: i64,
    /// The head commit reviewed.
    pub head_sha: String,
    /// The base commit whose repository config governed the review.
    pub base_sha: String,
    /// The migrations folder that config named.
    pub migrations_dir: String,
    /// Digest over (path, change, sha256) of every file.
    pub digest: String,
    /// The forge's time of the head.
    pub head_at: DateTime<Utc>,
}

/// A row of `reviewed_files`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ReviewedFile {
    /// Repository path.
    pub path: String,
    /// `added`, `modified`, `removed` or `renamed`.
    pub change: String,
    /// sha256 (hex) of the bytes the review read.
    pub sha256: String,
    /// Their length.
    pub size_bytes: i64,
    /// False when the review refused to read the file (never deployed).
    pub deployable: bool,
}

impl ReviewedFile {
    /// Whether a deploy applies this file (removed files are not applied).
    pub fn is_applied_on_deploy(&self) -> bool {
        self.change != "removed"
    }
}

/// A snapshot to store.
#[derive(Debug, Clone)]
pub struct NewSnapshot<'a> {
    /// The change request.
    pub change_request_id: i64,
    /// Head commit reviewed.
    pub head_sha: &'a str,
    /// Base commit of the review.
    pub base_sha: &'a str,
    /// Migrations folder.
    pub migrations_dir: &'a str,
    /// The forge's time of the head.
    pub head_at: DateTime<Utc>,
    /// The files.
    pub files: &'a [ReviewedFile],
}

/// The digest of a set of reviewed files: order-independent, covers path,
/// change and content hash (so any byte change, on any forge, changes it).
pub fn digest(files: &[ReviewedFile]) -> String {
    use sha2::{Digest, Sha256};
    let mut lines: Vec<String> = files
        .iter()
        .map(|f| format!("{}\t{}\t{}", f.path, f.change, f.sha256))
        .collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.join("\n").as_bytes()))
}

/// Stores a snapshot (replacing an earlier one of the same head, whose files
/// may have been read before a force-push raced the review). Returns it.
pub async fn store(pool: &PgPool, s: &NewSnapshot<'_>) -> Result<Snapshot, StoreError> {
    let mut tx = pool.begin().await?;
    let snap: Snapshot = sqlx::query_as(
        "INSERT INTO review_snapshots
             (change_request_id, head_sha, base_sha, migrations_dir, digest, head_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (change_request_id, head_sha) DO UPDATE
             SET base_sha = EXCLUDED.base_sha, migrations_dir = EXCLUDED.migrations_dir,
                 digest = EXCLUDED.digest, head_at = EXCLUDED.head_at
         RETURNING id, change_request_id, head_sha, base_sha, migrations_dir, digest, head_at",
    )
    .bind(s.change_request_id)
    .bind(s.head_sha)
    .bind(s.base_sha)
    .bind(s.migrations_dir)
    .bind(digest(s.files))
    .bind(s.head_at)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM reviewed_files WHERE snapshot_id = $1")
        .bind(snap.id)
        .execute(&mut *tx)
        .await?;
    for f in s.files {
        sqlx::query(
            "INSERT INTO reviewed_files (snapshot_id, path, change, sha256, size_bytes, deployable)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (snapshot_id, path) DO NOTHING",
        )
        .bind(snap.id)
        .bind(&f.path)
        .bind(&f.change)
        .bind(&f.sha256)
        .bind(f.size_bytes)
        .bind(f.deployable)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(snap)
}

const SNAPSHOT_COLUMNS: &str =
    "id, change_request_id, head_sha, base_sha, migrations_dir, digest, head_at";

/// The snapshot of one head, if that head was reviewed.
pub async fn for_head<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    head_sha: &str,
) -> Result<Option<Snapshot>, StoreError> {
    let sql = format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM review_snapshots WHERE change_request_id = $1 AND head_sha = $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(cr_id)
        .bind(head_sha)
        .fetch_optional(db)
        .await?)
}

/// The newest snapshot whose head is not newer than `at` (what someone
/// acting at `at` can have seen).
pub async fn current_at<'e>(
    db: impl PgExecutor<'e>,
    cr_id: i64,
    at: DateTime<Utc>,
) -> Result<Option<Snapshot>, StoreError> {
    let sql = format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM review_snapshots
         WHERE change_request_id = $1 AND head_at <= $2
         ORDER BY head_at DESC, id DESC LIMIT 1"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(cr_id)
        .bind(at)
        .fetch_optional(db)
        .await?)
}

/// A snapshot by id.
pub async fn get<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<Snapshot, StoreError> {
    let sql = format!("SELECT {SNAPSHOT_COLUMNS} FROM review_snapshots WHERE id = $1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(db)
        .await?)
}

/// The files of a snapshot, by path.
pub async fn files<'e>(
    db: impl PgExecutor<'e>,
    snapshot_id: i64,
) -> Result<Vec<ReviewedFile>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT path, change, sha256, size_bytes, deployable FROM reviewed_files
         WHERE snapshot_id = $1 ORDER BY path",
    )
    .bind(snapshot_id)
    .fetch_all(db)
    .await?)
}

/// Another merged change whose rollout carries a file (path and content).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Carrier {
    /// Its change request.
    pub change_request_id: i64,
    /// Its PR number.
    pub number: i64,
    /// Its rollout.
    pub rollout_id: i64,
}

/// The rollouts (of other change requests of the same repository) that
/// carry `path`, newest first.
pub async fn rollouts_carrying<'e>(
    db: impl PgExecutor<'e>,
    forge: &str,
    repo: &str,
    path: &str,
    except_cr: i64,
) -> Result<Vec<Carrier>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT cr.id AS change_request_id, cr.number, r.id AS rollout_id
         FROM rollouts r
         JOIN review_snapshots s ON s.id = r.snapshot_id
         JOIN reviewed_files f ON f.snapshot_id = s.id
         JOIN change_requests cr ON cr.id = r.change_request_id
         WHERE cr.forge = $1 AND cr.repo = $2 AND f.path = $3 AND cr.id <> $4
         ORDER BY r.id DESC",
    )
    .bind(forge)
    .bind(repo)
    .bind(path)
    .bind(except_cr)
    .fetch_all(db)
    .await?)
}

/// What an operator decided about a migration that reached a branch without
/// a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Apply it (in version order, before the change it blocked).
    Apply,
    /// Never apply it from bytegate; stop blocking on it.
    Skip,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Apply => "apply",
            Decision::Skip => "skip",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "apply" => Some(Decision::Apply),
            "skip" => Some(Decision::Skip),
            _ => None,
        }
    }
}

/// A decision to record.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    /// Forge name.
    pub forge: &'a str,
    /// Repository.
    pub repo: &'a str,
    /// The file.
    pub path: &'a str,
    /// The content it is about (a later edit needs a new decision).
    pub sha256: &'a str,
    /// One environment, or all.
    pub environment: Option<&'a str>,
    /// Apply or skip.
    pub decision: Decision,
    /// The operator.
    pub decided_by: &'a str,
    /// Why.
    pub reason: &'a str,
}

/// Records an operator's decision.
pub async fn decide<'e>(db: impl PgExecutor<'e>, d: &NewDecision<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO migration_decisions
             (forge, repo, path, sha256, environment, decision, decided_by, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(d.forge)
    .bind(d.repo)
    .bind(d.path)
    .bind(d.sha256)
    .bind(d.environment)
    .bind(d.decision.as_str())
    .bind(d.decided_by)
    .bind(d.reason)
    .execute(db)
    .await?;
    Ok(())
}

/// The newest decision about `path` with content `sha256` for `environment`
/// (a decision for every environment counts too).
pub async fn decision_for<'e>(
    db: impl PgExecutor<'e>,
    forge: &str,
    repo: &str,
    path: &str,
    sha256: &str,
    environment: &str,
) -> Result<Option<Decision>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT decision FROM migration_decisions
         WHERE forge = $1 AND repo = $2 AND path = $3 AND sha256 = $4
           AND (environment IS NULL OR environment = $5)
         ORDER BY id DESC LIMIT 1",
    )
    .bind(forge)
    .bind(repo)
    .bind(path)
    .bind(sha256)
    .bind(environment)
    .fetch_optional(db)
    .await?;
    Ok(row.and_then(|(d,)| Decision::parse(&d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, sha: &str) -> ReviewedFile {
        ReviewedFile {
            path: path.into(),
            change: "added".into(),
            sha256: sha.into(),
            size_bytes: 1,
            deployable: true,
        }
    }

    #[test]
    fn the_digest_covers_content_and_not_order() {
        let a = digest(&[f("m/1.sql", "aa"), f("m/2.sql", "bb")]);
        assert_eq!(a, digest(&[f("m/2.sql", "bb"), f("m/1.sql", "aa")]));
        assert_ne!(a, digest(&[f("m/1.sql", "aa"), f("m/2.sql", "bc")]));
        assert_ne!(a, digest(&[f("m/1.sql", "aa")]));
    }
}
