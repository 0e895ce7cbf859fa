//! Rollouts: one per merged change request, one stage per environment.
//!
//! A stage moves `pending` → (`waiting` ↔) `running` → `succeeded` | `failed`.
//! [`claim_stage`] is the only way into `running`: an atomic update, so two
//! workers racing on one rollout never run a stage twice.

use super::StoreError;
use super::text_enum::{text_enum, text_enum_sqlx};
use crate::forge::DeploymentState;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor, PgPool};
use std::time::Duration;

text_enum! {
    /// A rollout's overall state (`rollouts.state`), derived from its stages.
    pub enum RolloutState {
        /// Nothing started yet.
        Pending = "pending",
        /// A stage is deploying.
        Running = "running",
        /// A stage waits (approvals, a window, an older migration).
        Waiting = "waiting",
        /// Every stage succeeded or was skipped.
        Succeeded = "succeeded",
        /// A stage failed.
        Failed = "failed",
    }
}

text_enum! {
    /// A stage's state (`rollout_stages.state`).
    pub enum StageState {
        /// Not reached yet.
        Pending = "pending",
        /// Reached, held by a gate (see `waiting_for`).
        Waiting = "waiting",
        /// Deploying under a lease.
        Running = "running",
        /// Deployed.
        Succeeded = "succeeded",
        /// Failed (see `error`).
        Failed = "failed",
        /// Not deployed, on purpose.
        Skipped = "skipped",
        /// Deployed, then undone by `/bytebase rollback` (never deployed again by the rollout).
        RolledBack = "rolled_back",
    }
}

// The last deployment status posted for a stage (`rollout_stages.deployment_state`).
text_enum_sqlx!(DeploymentState);

impl StageState {
    /// Done with, as far as later stages are concerned.
    pub fn is_through(self) -> bool {
        matches!(
            self,
            StageState::Succeeded | StageState::Skipped | StageState::RolledBack
        )
    }
}

/// A row of `rollouts`.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Rollout {
    /// Primary key.
    pub id: i64,
    /// The merged change request.
    pub change_request_id: i64,
    /// The merge commit whose files are applied.
    pub merge_sha: String,
    /// Overall state.
    pub state: RolloutState,
    /// Forge id of the sticky deploy comment.
    pub comment_id: Option<String>,
    /// The PR's web URL (the change reference in target histories).
    pub html_url: Option<String>,
    /// The forge's repository id.
    pub repo_id: Option<i64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// The review snapshot whose files (and only those) the rollout applies.
    pub snapshot_id: Option<i64>,
}

/// A row of `rollout_stages`.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Stage {
    /// Primary key.
    pub id: i64,
    /// Its rollout.
    pub rollout_id: i64,
    /// 0-based order (config order of environments).
    pub position: i32,
    /// Environment name.
    pub environment: String,
    /// State.
    pub state: StageState,
    /// Why a waiting stage waits.
    pub waiting_for: Option<String>,
    /// Started running.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Error of a failed stage.
    pub error: Option<String>,
    /// The forge deployment reporting this stage.
    pub deployment_id: Option<i64>,
    /// The last deployment status posted for it.
    pub deployment_state: Option<DeploymentState>,
    /// What each database applied (JSON array).
    pub result: Value,
}

impl Stage {
    /// Wall time of a finished or running stage, in milliseconds.
    pub fn duration_ms(&self, now: DateTime<Utc>) -> Option<i64> {
        let start = self.started_at?;
        Some((self.finished_at.unwrap_or(now) - start).num_milliseconds())
    }
}

const ROLLOUT_COLUMNS: &str = "id, change_request_id, merge_sha, state, comment_id, html_url, \
    repo_id, created_at, snapshot_id";
const STAGE_COLUMNS: &str = "id, rollout_id, position, environment, state, waiting_for, \
    started_at, finished_at, error, deployment_id, deployment_state, result";

/// A rollout to create.
#[derive(Debug, Clone)]
pub struct NewRollout<'a> {
    /// The merged change request.
    pub change_request_id: i64,
    /// The merge commit.
    pub merge_sha: &'a str,
    /// The PR's web URL.
    pub html_url: &'a str,
    /// The forge's repository id.
    pub repo_id: Option<i64>,
    /// The review snapshot to apply.
    pub snapshot_id: Option<i64>,
}

/// Creates the rollout of a change request with one stage per environment,
/// unless it exists. Returns the rollout and whether this call created it.
pub async fn create(
    pool: &PgPool,
    new: &NewRollout<'_>,
    environments: &[&str],
) -> Result<(Rollout, bool), StoreError> {
    let change_request_id = new.change_request_id;
    let mut tx = pool.begin().await?;
    let created: Option<Rollout> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO rollouts (change_request_id, merge_sha, html_url, repo_id, snapshot_id)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (change_request_id) DO NOTHING RETURNING {ROLLOUT_COLUMNS}"
    )))
    .bind(change_request_id)
    .bind(new.merge_sha)
    .bind(new.html_url)
    .bind(new.repo_id)
    .bind(new.snapshot_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(rollout) = created else {
        tx.rollback().await?;
        let existing = for_change_request(pool, change_request_id)
            .await?
            .ok_or(StoreError::Query(sqlx::Error::RowNotFound))?;
        return Ok((existing, false));
    };
    for (i, env) in environments.iter().enumerate() {
        sqlx::query(
            "INSERT INTO rollout_stages (rollout_id, position, environment) VALUES ($1, $2, $3)",
        )
        .bind(rollout.id)
        .bind(i32::try_from(i).unwrap_or(i32::MAX))
        .bind(env)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((rollout, true))
}

/// The rollout of a change request.
pub async fn for_change_request<'e>(
    db: impl PgExecutor<'e>,
    change_request_id: i64,
) -> Result<Option<Rollout>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE change_request_id = $1"
    )))
    .bind(change_request_id)
    .fetch_optional(db)
    .await?)
}

/// A rollout by id.
pub async fn get<'e>(db: impl PgExecutor<'e>, id: i64) -> Result<Rollout, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ROLLOUT_COLUMNS} FROM rollouts WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(db)
    .await?)
}

/// The stages of a rollout, in order.
pub async fn stages<'e>(
    db: impl PgExecutor<'e>,
    rollout_id: i64,
) -> Result<Vec<Stage>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {STAGE_COLUMNS} FROM rollout_stages WHERE rollout_id = $1 ORDER BY position"
    )))
    .bind(rollout_id)
    .fetch_all(db)
    .await?)
}

/// Sets the rollout's overall state.
pub async fn set_state<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    state: RolloutState,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE rollouts SET state = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(state)
        .execute(db)
        .await?;
    Ok(())
}

/// Remembers the sticky deploy comment.
pub async fn set_comment<'e>(
    db: impl PgExecutor<'e>,
    id: i64,
    comment_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE rollouts SET comment_id = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(comment_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Stages waiting for a deploy window or blocked by another migration (both
/// re-checked periodically), with their rollout and PR:
/// `(rollout, forge, repo, number, environment)`.
pub async fn waiting_for_window(
    pool: &PgPool,
) -> Result<Vec<(Rollout, String, String, i64, String)>, StoreError> {
    let rows: Vec<(i64, String, String, i64, String)> = sqlx::query_as(
        "SELECT r.id, cr.forge, cr.repo, cr.number, s.environment
         FROM rollout_stages s
         JOIN rollouts r ON r.id = s.rollout_id
         JOIN change_requests cr ON cr.id = r.change_request_id
         WHERE s.state = 'waiting'
           AND (s.waiting_for LIKE 'the deploy window%' OR s.waiting_for LIKE $1)
         ORDER BY r.id",
    )
    .bind(format!("{BLOCKED_PREFIX}%"))
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, forge, repo, number, env) in rows {
        out.push((get(pool, id).await?, forge, repo, number, env));
    }
    Ok(out)
}

/// How the reason of a stage blocked by another change's (or no change's)
/// migration starts: such stages are re-checked like closed windows.
pub const BLOCKED_PREFIX: &str = "an older migration";

/// The stage of `environment` in every rollout of a repository that waits,
/// blocked by a migration that is not its own (see [`BLOCKED_PREFIX`]).
pub async fn blocked_in_repo(
    pool: &PgPool,
    forge: &str,
    repo: &str,
) -> Result<Vec<(i64, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT r.id, cr.number
         FROM rollout_stages s
         JOIN rollouts r ON r.id = s.rollout_id
         JOIN change_requests cr ON cr.id = r.change_request_id
         WHERE s.state = 'waiting' AND s.waiting_for LIKE $3
           AND cr.forge = $1 AND cr.repo = $2
         ORDER BY r.id",
    )
    .bind(forge)
    .bind(repo)
    .bind(format!("{BLOCKED_PREFIX}%"))
    .fetch_all(pool)
    .await?)
}

/// Marks a not-yet-running stage as waiting, with the reason. Returns false
/// when the stage was not pending or waiting (someone else moved it on).
pub async fn set_waiting(pool: &PgPool, stage_id: i64, reason: &str) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE rollout_stages SET state = 'waiting', waiting_for = $2, updated_at = now()
         WHERE id = $1 AND state IN ('pending', 'waiting')",
    )
    .bind(stage_id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Moves a failed stage back to waiting (an explicit retry), with the reason.
pub async fn set_waiting_after_failure(
    pool: &PgPool,
    stage_id: i64,
    reason: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE rollout_stages SET state = 'waiting', waiting_for = $2, updated_at = now()
         WHERE id = $1 AND state = 'failed'",
    )
    .bind(stage_id)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Moves a pending or waiting stage (or a running one whose lease expired by
/// `now`: its worker died) to `running` at `now`, holding it for `lease`.
/// With `takeover`, a running stage is taken regardless of its lease (the
/// caller knows its worker is gone). `None`: another worker has it, or it is
/// finished.
pub async fn claim_stage(
    pool: &PgPool,
    stage_id: i64,
    lease: Duration,
    takeover: bool,
    now: DateTime<Utc>,
) -> Result<Option<Stage>, StoreError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE rollout_stages
         SET state = 'running', waiting_for = NULL, error = NULL, started_at = $4,
             finished_at = NULL, lease_until = $4 + make_interval(secs => $2),
             updated_at = now()
         WHERE id = $1 AND (state IN ('pending', 'waiting')
                            OR (state = 'running' AND (lease_until < $4 OR $3)))
         RETURNING {STAGE_COLUMNS}"
    )))
    .bind(stage_id)
    .bind(lease.as_secs_f64())
    .bind(takeover)
    .bind(now)
    .fetch_optional(pool)
    .await?)
}

/// Records the forge deployment of a stage and the last status posted to it.
pub async fn set_deployment(
    pool: &PgPool,
    stage_id: i64,
    deployment_id: i64,
    state: DeploymentState,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE rollout_stages SET deployment_id = $2, deployment_state = $3, updated_at = now()
         WHERE id = $1",
    )
    .bind(stage_id)
    .bind(deployment_id)
    .bind(state)
    .execute(pool)
    .await?;
    Ok(())
}

/// Finishes a running stage at `now`: `succeeded` or `failed` with its
/// error, and the per-database result.
pub async fn finish_stage(
    pool: &PgPool,
    stage_id: i64,
    succeeded: bool,
    error: Option<&str>,
    result: &Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE rollout_stages
         SET state = $2, error = $3, result = $4, finished_at = $5, lease_until = NULL,
             updated_at = now()
         WHERE id = $1",
    )
    .bind(stage_id)
    .bind(if succeeded {
        StageState::Succeeded
    } else {
        StageState::Failed
    })
    .bind(error)
    .bind(result)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Puts a running stage back to waiting at `now` after a failure worth
/// retrying (the target was unreachable or busy).
pub async fn release_stage(
    pool: &PgPool,
    stage_id: i64,
    reason: &str,
    result: &Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE rollout_stages
         SET state = 'waiting', waiting_for = $2, result = $3, lease_until = NULL,
             finished_at = $4, updated_at = now()
         WHERE id = $1 AND state = 'running'",
    )
    .bind(stage_id)
    .bind(reason)
    .bind(result)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a succeeded stage rolled back: its change was undone on every
/// database of the environment. False when the stage was not `succeeded`.
pub async fn set_rolled_back(
    pool: &PgPool,
    stage_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE rollout_stages SET state = $2, finished_at = $3, updated_at = now()
         WHERE id = $1 AND state = $4",
    )
    .bind(stage_id)
    .bind(StageState::RolledBack)
    .bind(now)
    .bind(StageState::Succeeded)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::store::testdb::TestDb;

    fn new(change_request_id: i64) -> NewRollout<'static> {
        NewRollout {
            change_request_id,
            merge_sha: "m",
            html_url: "u",
            repo_id: Some(1),
            snapshot_id: None,
        }
    }

    async fn change_request(pool: &PgPool) -> i64 {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO change_requests (forge, repo, number, head_sha, state, merge_sha)
             VALUES ('github', 'o/r', 1, 'h', 'merged', 'm') RETURNING id",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        id
    }

    #[tokio::test]
    async fn create_is_idempotent_and_stages_follow_config_order() {
        let db = TestDb::migrated().await.unwrap();
        let cr = change_request(&db.pool).await;
        let envs = ["development", "staging", "production"];
        let (r, created) = create(&db.pool, &new(cr), &envs).await.unwrap();
        assert!(created);
        let (again, created) = create(&db.pool, &new(cr), &envs).await.unwrap();
        assert!(!created);
        assert_eq!(again.id, r.id);
        let s = stages(&db.pool, r.id).await.unwrap();
        let names: Vec<_> = s.iter().map(|s| s.environment.as_str()).collect();
        assert_eq!(names, envs);
        assert!(s.iter().all(|s| s.state == StageState::Pending));
    }

    #[tokio::test]
    async fn a_stage_is_claimed_once_until_its_lease_expires() {
        let db = TestDb::migrated().await.unwrap();
        let cr = change_request(&db.pool).await;
        let (r, _) = create(&db.pool, &new(cr), &["dev"]).await.unwrap();
        let id = stages(&db.pool, r.id).await.unwrap()[0].id;
        let clock = ManualClock::default();
        let lease = Duration::from_secs(300);
        let claim = |now| claim_stage(&db.pool, id, lease, false, now);
        let first = claim(clock.now())
            .await
            .unwrap()
            .expect("a pending stage is claimed");
        assert_eq!(first.state, StageState::Running);
        assert_eq!(first.started_at, Some(clock.now()));
        clock.advance(lease - Duration::from_secs(1));
        assert!(
            claim(clock.now()).await.unwrap().is_none(),
            "the lease still holds"
        );
        clock.advance(Duration::from_secs(2));
        assert!(
            claim(clock.now()).await.unwrap().is_some(),
            "a dead worker's stage is taken over once its lease ran out"
        );
        finish_stage(&db.pool, id, true, None, &Value::Array(vec![]), clock.now())
            .await
            .unwrap();
        clock.advance(lease * 2);
        assert!(claim(clock.now()).await.unwrap().is_none());
        assert!(!set_waiting(&db.pool, id, "x").await.unwrap());
        let done = &stages(&db.pool, r.id).await.unwrap()[0];
        assert_eq!(done.state, StageState::Succeeded);
    }

    #[tokio::test]
    async fn an_unknown_stage_state_is_an_error_not_a_default() {
        let db = TestDb::migrated().await.unwrap();
        let cr = change_request(&db.pool).await;
        let (r, _) = create(&db.pool, &new(cr), &["dev"]).await.unwrap();
        // Another version of bytegate may know states this one does not.
        sqlx::query("ALTER TABLE rollout_stages DROP CONSTRAINT rollout_stages_state_check")
            .execute(&db.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE rollout_stages SET state = 'paused' WHERE rollout_id = $1")
            .bind(r.id)
            .execute(&db.pool)
            .await
            .unwrap();
        let err = stages(&db.pool, r.id).await.expect_err("must not decode");
        assert!(err.to_string().contains("paused"), "{err}");
    }
}
