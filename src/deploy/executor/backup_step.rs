//! Prior backups in the shared flow: whether a data change can be backed up,
//! what happens when it cannot (`backup.when_impossible`), and what a deploy
//! reports about each statement. The copying is the engine's
//! ([`Session::copy_rows`]).

use super::{Session, failure_of};
use crate::config::WhenImpossible;
use crate::deploy::backup::{BackupPolicy, BackupSkipped, BackupTaken, Dml, NoBackup, consequence};
use crate::deploy::{DeployOptions, Failure, Migration, Mode, excerpt};

/// What the backups of one migration came to.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub(crate) backups: Vec<BackupTaken>,
    pub(crate) skipped: Vec<BackupSkipped>,
}

/// Backs up the rows statement `index` of `m` will touch, or records why
/// not. `Err`: the migration must fail (the copy failed, or the environment
/// refuses statements it cannot back up).
pub(super) async fn back_up<S: Session>(
    s: &mut S,
    m: &Migration,
    index: usize,
    dml: &Dml,
    policy: &BackupPolicy,
    taken: &mut Taken,
) -> Result<(), Box<Failure>> {
    let number = index + 1;
    let obstacle = match (dml.static_obstacle(), &dml.filter) {
        (Some(o), _) => Some(o),
        (None, Some(filter)) => match s.copy_rows(m, number, dml, filter, policy).await {
            Ok(Ok(b)) => {
                taken.backups.push(b);
                None
            }
            Ok(Err(reason)) => Some(reason),
            Err(e) => {
                let mut f = failure_of(s, m, index, &e, 0);
                f.message = format!("the prior backup of this statement failed: {}", f.message);
                return Err(Box::new(f));
            }
        },
        (None, None) => Some(NoBackup::NotSimple),
    };
    let Some(reason) = obstacle else {
        return Ok(());
    };
    if policy.when_impossible == WhenImpossible::Refuse {
        return Err(Box::new(refusal(m, index, dml, &reason, policy)));
    }
    taken.skipped.push(BackupSkipped {
        statement_number: number,
        kind: dml.kind,
        table: dml.table.clone(),
        reason,
    });
    Ok(())
}

fn refusal(
    m: &Migration,
    index: usize,
    dml: &Dml,
    reason: &NoBackup,
    policy: &BackupPolicy,
) -> Failure {
    let step = &m.steps[index.min(m.steps.len().saturating_sub(1))];
    Failure {
        path: m.path.clone(),
        version: m.version.clone(),
        statement_number: index + 1,
        statements_total: m.steps.len(),
        line: step.line,
        column: step.column,
        statement: excerpt(&step.text),
        message: format!(
            "the {} on {} cannot be backed up before it runs: {reason}; {}",
            dml.kind,
            dml.table,
            consequence(policy.when_impossible)
        ),
        sqlstate: None,
        detail: None,
        transactional: m.mode == Mode::Transactional,
        statements_applied: 0,
        applied_before: Vec::new(),
        restore_point: None,
    }
}

/// The data changes of a non-transactional file: never backed up.
pub(crate) fn outside_transaction(m: &Migration, opts: &DeployOptions) -> Vec<BackupSkipped> {
    if opts.backup.is_none() {
        return Vec::new();
    }
    m.steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.dml.as_ref().map(|d| BackupSkipped {
                statement_number: i + 1,
                kind: d.kind,
                table: d.table.clone(),
                reason: NoBackup::NonTransactional,
            })
        })
        .collect()
}

/// A non-transactional file with data changes, where the environment refuses
/// what it cannot back up: refused before its first statement.
pub(super) fn refuse_outside_transaction(m: &Migration, opts: &DeployOptions) -> Option<Failure> {
    let policy = opts.backup.as_ref()?;
    if policy.when_impossible != WhenImpossible::Refuse {
        return None;
    }
    let (i, dml) = m
        .steps
        .iter()
        .enumerate()
        .find_map(|(i, s)| s.dml.as_ref().map(|d| (i, d)))?;
    Some(refusal(m, i, dml, &NoBackup::NonTransactional, policy))
}
