//! Applying one file: in one transaction with its history row, or statement
//! by statement with its progress committed after each one.

use super::backup_step::{self, Taken};
use super::{Attempt, Session, count, failure_of, history_error, millis};
use crate::deploy::failure::unreachable_failure;
use crate::deploy::{Applied, DeployError, DeployOptions, Failure, Migration};
use chrono::Utc;
use std::time::Instant;

/// How a transaction's statements ended.
enum InTx {
    Done,
    Failed(Box<Failure>),
    Stopped,
}

/// All statements and the history row in one transaction: all or nothing.
pub(super) async fn in_transaction<S: Session>(
    s: &mut S,
    m: &Migration,
    opts: &DeployOptions,
) -> Result<Applied, DeployError> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let mut taken = Taken::default();
    s.begin(opts).await?;
    let mut ended = InTx::Done;
    for (i, step) in m.steps.iter().enumerate() {
        if opts.stop.is_stopped() {
            ended = InTx::Stopped;
            break;
        }
        // The rows it will touch, copied first in the same transaction.
        if let (Some(policy), Some(dml)) = (&opts.backup, &step.dml)
            && let Err(f) = backup_step::back_up(s, m, i, dml, policy, &mut taken).await
        {
            ended = InTx::Failed(f);
            break;
        }
        if let Err(e) = s.execute(&step.text).await {
            ended = InTx::Failed(Box::new(failure_of(s, m, i, &e, 0)));
            break;
        }
    }
    if let InTx::Done = ended {
        let attempt = Attempt {
            m,
            started_at,
            elapsed: clock.elapsed(),
            success: true,
            error: None,
            statements_applied: m.steps.len(),
            interrupted: false,
        };
        let committed = match s.record(&attempt, opts).await {
            Ok(()) => s.commit().await,
            Err(e) => Err(e),
        };
        match committed {
            Ok(()) => {
                return Ok(Applied {
                    version: m.version.clone(),
                    path: m.path.clone(),
                    checksum: m.checksum.clone(),
                    duration_ms: millis(attempt.elapsed),
                    transactional: true,
                    backups: taken.backups,
                    not_backed_up: taken.skipped,
                });
            }
            // A deferred constraint fails at COMMIT: it belongs to the last statement.
            Err(e) => {
                let _ = s.rollback().await;
                ended = InTx::Failed(Box::new(failure_of(
                    s,
                    m,
                    m.steps.len().saturating_sub(1),
                    &e,
                    0,
                )));
            }
        }
    } else {
        s.rollback().await?;
    }
    if let InTx::Stopped = ended {
        let attempt = Attempt {
            m,
            started_at,
            elapsed: clock.elapsed(),
            success: false,
            error: Some("stopped: the worker lost its job lease (rolled back)".to_string()),
            statements_applied: 0,
            interrupted: true,
        };
        s.record(&attempt, opts).await?;
        return Err(DeployError::Stopped {
            path: m.path.clone(),
            version: m.version.clone(),
            statements_applied: 0,
            transactional: true,
            applied_before: Vec::new(),
        });
    }
    let failure = match ended {
        InTx::Failed(f) => f,
        _ => Box::new(unreachable_failure(m)),
    };
    let attempt = Attempt {
        m,
        started_at,
        elapsed: clock.elapsed(),
        success: false,
        error: Some(history_error(&failure)),
        statements_applied: 0,
        interrupted: false,
    };
    s.record(&attempt, opts).await?;
    Err(DeployError::Failed(failure))
}

/// How a non-transactional file's statements ended.
enum Ended {
    Done,
    Failed(Box<Failure>),
    Stopped,
}

/// Each statement on its own (it commits, or the engine commits it), the
/// count of those that took effect committed after each one.
pub(super) async fn statement_by_statement<S: Session>(
    s: &mut S,
    m: &Migration,
    opts: &DeployOptions,
) -> Result<Applied, DeployError> {
    if let Some(refusal) = backup_step::refuse_outside_transaction(m, opts) {
        return Err(DeployError::Failed(Box::new(refusal)));
    }
    let started_at = Utc::now();
    let clock = Instant::now();
    // Committed before the first statement: when the process dies or this
    // future is dropped mid-file, the row stays unfinished and the target
    // reads as dirty, naming the file and the statement reached.
    let id = s.start_row(m, opts, started_at).await?;
    let mut done = 0usize;
    let ended: Result<Ended, sqlx::Error> = async {
        s.set_timeouts(opts).await?;
        for (i, step) in m.steps.iter().enumerate() {
            if opts.stop.is_stopped() {
                return Ok(Ended::Stopped);
            }
            if let Err(e) = s.execute(&step.text).await {
                return Ok(Ended::Failed(Box::new(failure_of(s, m, i, &e, i))));
            }
            done = i + 1;
            s.progress(id, count(done)).await?;
        }
        Ok(Ended::Done)
    }
    .await;
    let (ended, bookkeeping) = match ended {
        Ok(e) => (e, None),
        // Best effort below: if the connection is gone the row stays
        // unfinished, and the target dirty, which is the truth.
        Err(e) => (Ended::Stopped, Some(e)),
    };
    let attempt = Attempt {
        m,
        started_at,
        elapsed: clock.elapsed(),
        success: matches!(ended, Ended::Done),
        error: match (&ended, &bookkeeping) {
            (_, Some(e)) => Some(format!("deploy bookkeeping failed: {e}")),
            (Ended::Failed(f), None) => Some(history_error(f)),
            (Ended::Stopped, None) => Some("stopped: the worker lost its job lease".to_string()),
            (Ended::Done, None) => None,
        },
        statements_applied: match &ended {
            Ended::Failed(f) => f.statements_applied,
            _ => done,
        },
        interrupted: bookkeeping.is_none() && matches!(ended, Ended::Stopped),
    };
    s.finish_row(id, &attempt).await?;
    if let Some(e) = bookkeeping {
        return Err(DeployError::Query(e));
    }
    // The session outlives this file: later files get their own settings.
    s.reset_timeouts().await?;
    match ended {
        Ended::Failed(f) => Err(DeployError::Failed(f)),
        Ended::Stopped => Err(DeployError::Stopped {
            path: m.path.clone(),
            version: m.version.clone(),
            statements_applied: done,
            transactional: false,
            applied_before: Vec::new(),
        }),
        Ended::Done => Ok(Applied {
            version: m.version.clone(),
            path: m.path.clone(),
            checksum: m.checksum.clone(),
            duration_ms: millis(attempt.elapsed),
            transactional: false,
            backups: Vec::new(),
            not_backed_up: backup_step::outside_transaction(m, opts),
        }),
    }
}
