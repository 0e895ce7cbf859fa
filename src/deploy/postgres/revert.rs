//! Rollback on PostgreSQL: each revert in one transaction, with the
//! configured timeouts, its statements, and the undone version's history row
//! marked rolled back (so the version is pending again), on the deploy's
//! connection under the deploy's lock.

use super::super::{
    DeployError, DeployOptions, Migration, Mode, Revert, Reverted, RollbackReport, checksum,
};
use super::failure::failure_of;
use super::{begin_with_timeouts, millis};
use sqlx::{AssertSqlSafe, PgConnection};
use std::time::Instant;

pub(super) async fn rollback_locked(
    conn: &mut PgConnection,
    reverts: &[Revert],
    opts: &DeployOptions,
) -> Result<RollbackReport, DeployError> {
    let mut report = RollbackReport::default();
    for r in reverts {
        if opts.stop.is_stopped() {
            break;
        }
        // Failures point into the revert's own source.
        let m = Migration {
            version: r.version.clone(),
            path: r.source.clone(),
            checksum: checksum(r.source.as_bytes()),
            steps: r.steps.clone(),
            mode: Mode::Transactional,
        };
        let clock = Instant::now();
        let mut tx = begin_with_timeouts(conn, opts).await?;
        let mut failure = None;
        for (i, step) in m.steps.iter().enumerate() {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(step.text.as_str()))
                .execute(&mut *tx)
                .await
            {
                failure = Some(failure_of(&m, i, &e, 0));
                break;
            }
        }
        if let Some(f) = failure {
            tx.rollback().await?;
            report.failure = Some(f);
            return Ok(report);
        }
        let marked = sqlx::query(
            "UPDATE bytegate.migration_history SET rolled_back_at = now(), rolled_back_by = $2
             WHERE version = $1 AND success AND rolled_back_at IS NULL",
        )
        .bind(&r.version)
        .bind(&opts.applied_by)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            // Someone rolled it back (or it never applied) since the plan was made.
            tx.rollback().await?;
            return Err(DeployError::NotApplied {
                version: r.version.clone(),
            });
        }
        tx.commit().await?;
        report.reverted.push(Reverted {
            version: r.version.clone(),
            source: r.source.clone(),
            statements: r.steps.len(),
            duration_ms: millis(clock.elapsed()),
        });
    }
    Ok(report)
}
