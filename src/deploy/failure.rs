//! What a failed statement becomes, whatever the engine: the file, line and
//! column, the public message and the private detail. Each engine only says
//! what its error means ([`Described`]).

use super::{Failure, Migration, Mode, excerpt};

/// An engine's reading of one failed statement's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Described {
    /// Safe to show on a pull request (with the SQLSTATE / error number).
    pub message: String,
    /// The SQLSTATE, when the database gave one.
    pub sqlstate: Option<String>,
    /// What may quote row values or internals: meta database and logs only.
    pub detail: Option<String>,
    /// The (line, column) in the file the database pointed at, if it did.
    pub position: Option<(u32, u32)>,
}

impl Described {
    /// A driver-level error (the connection broke): no database message.
    pub fn connection(e: &sqlx::Error) -> Described {
        Described {
            message: "the statement did not complete: the connection to the database failed"
                .to_string(),
            sqlstate: None,
            detail: Some(e.to_string()),
            position: None,
        }
    }
}

/// Statement `index` of `m` failed as `d` says, after `statements_applied`
/// statements of a non-transactional file took effect.
pub(crate) fn failure_at(
    m: &Migration,
    index: usize,
    d: Described,
    statements_applied: usize,
) -> Failure {
    let step = m.steps.get(index);
    let (line, column) = d
        .position
        .or_else(|| step.map(|s| (s.line, s.column)))
        .unwrap_or((1, 1));
    Failure {
        path: m.path.clone(),
        version: m.version.clone(),
        statement_number: index + 1,
        statements_total: m.steps.len(),
        line,
        column,
        statement: step.map(|s| excerpt(&s.text)).unwrap_or_default(),
        message: d.message,
        sqlstate: d.sqlstate,
        detail: d.detail,
        transactional: m.mode == Mode::Transactional,
        statements_applied,
        applied_before: Vec::new(),
        restore_point: None,
    }
}

/// A failure with no error to describe (should not happen; never a panic).
pub(crate) fn unreachable_failure(m: &Migration) -> Failure {
    Failure {
        path: m.path.clone(),
        version: m.version.clone(),
        statement_number: 0,
        statements_total: m.steps.len(),
        line: 1,
        column: 1,
        statement: String::new(),
        message: "the migration failed for an unknown reason".to_string(),
        sqlstate: None,
        detail: None,
        transactional: m.mode == Mode::Transactional,
        statements_applied: 0,
        applied_before: Vec::new(),
        restore_point: None,
    }
}
