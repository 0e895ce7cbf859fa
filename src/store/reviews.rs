//! Review results: one row per reviewed head commit and environment.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};

/// A review result to store.
#[derive(Debug, Clone)]
pub struct NewReviewResult<'a> {
    /// The change request.
    pub change_request_id: i64,
    /// Reviewed commit.
    pub head_sha: &'a str,
    /// Environment the review was for (`None`: no environments configured).
    pub environment: Option<&'a str>,
    /// Error count.
    pub errors: i32,
    /// Warning count.
    pub warnings: i32,
    /// Info count.
    pub infos: i32,
    /// `low`, `medium` or `high`.
    pub risk_level: &'a str,
    /// `success`, `neutral` or `failure`.
    pub conclusion: &'a str,
    /// The report (the `bytegate review --format json` document).
    pub report: &'a Value,
}

/// A row of `review_results`.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ReviewResult {
    /// Primary key.
    pub id: i64,
    /// The change request.
    pub change_request_id: i64,
    /// Reviewed commit.
    pub head_sha: String,
    /// Environment.
    pub environment: Option<String>,
    /// Error count.
    pub errors: i32,
    /// Warning count.
    pub warnings: i32,
    /// Info count.
    pub infos: i32,
    /// Risk level.
    pub risk_level: String,
    /// Check conclusion.
    pub conclusion: Option<String>,
    /// The JSON report.
    pub report: Value,
    /// When stored.
    pub created_at: DateTime<Utc>,
}

/// Stores one result.
pub async fn insert(pool: &PgPool, r: &NewReviewResult<'_>) -> Result<i64, StoreError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO review_results
             (change_request_id, head_sha, environment, errors, warnings, infos,
              risk_level, conclusion, report)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id",
    )
    .bind(r.change_request_id)
    .bind(r.head_sha)
    .bind(r.environment)
    .bind(r.errors)
    .bind(r.warnings)
    .bind(r.infos)
    .bind(r.risk_level)
    .bind(r.conclusion)
    .bind(r.report)
    .fetch_one(pool)
    .await?;
    Ok(id)
}

/// Every result stored for one commit of a change request, oldest first.
pub async fn for_sha(
    pool: &PgPool,
    change_request_id: i64,
    head_sha: &str,
) -> Result<Vec<ReviewResult>, StoreError> {
    Ok(sqlx::query_as::<_, ReviewResult>(
        "SELECT id, change_request_id, head_sha, environment, errors, warnings, infos,
                risk_level, conclusion, report, created_at
         FROM review_results WHERE change_request_id = $1 AND head_sha = $2
         ORDER BY id",
    )
    .bind(change_request_id)
    .bind(head_sha)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::change_requests::{PrSeen, record_seen};
    use crate::store::testdb::TestDb;

    #[tokio::test]
    async fn results_are_stored_per_commit_and_environment() {
        let db = TestDb::migrated().await.unwrap();
        let cr = record_seen(
            &db.pool,
            &PrSeen {
                forge: "github",
                repo: "o/r",
                number: 1,
                title: "",
                author: "",
                head_sha: "aaa",
                base_ref: "main",
                is_fork: false,
                at: chrono::Utc::now(),
            },
        )
        .await
        .unwrap();
        let report = serde_json::json!({"files": []});
        for env in [Some("staging"), Some("production")] {
            insert(
                &db.pool,
                &NewReviewResult {
                    change_request_id: cr.id,
                    head_sha: "aaa",
                    environment: env,
                    errors: 1,
                    warnings: 0,
                    infos: 0,
                    risk_level: "high",
                    conclusion: "failure",
                    report: &report,
                },
            )
            .await
            .unwrap();
        }
        let rows = for_sha(&db.pool, cr.id, "aaa").await.unwrap();
        let envs: Vec<Option<&str>> = rows.iter().map(|r| r.environment.as_deref()).collect();
        assert_eq!(envs, [Some("staging"), Some("production")]);
        assert_eq!(rows[0].report, report);
        assert!(for_sha(&db.pool, cr.id, "bbb").await.unwrap().is_empty());
    }
}
