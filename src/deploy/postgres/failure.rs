//! What a failed statement becomes: the file, line and column the database
//! pointed at, the public message, and the private detail.

use super::super::{Failure, Migration, Mode, Step, excerpt};
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};

pub(super) fn unreachable_failure(m: &Migration) -> Failure {
    failure_at(
        m,
        None,
        "the migration failed for an unknown reason".to_string(),
    )
}

/// A failure of `m` at statement `index` (its position and excerpt), or of
/// the file as a whole (`None`: line 1, no statement), before any statement
/// was applied; the caller sets what else it knows.
pub(super) fn failure_at(m: &Migration, index: Option<usize>, message: String) -> Failure {
    let step = index.and_then(|i| m.steps.get(i));
    Failure {
        path: m.path.clone(),
        version: m.version.clone(),
        statement_number: index.map_or(0, |i| i + 1),
        line: step.map_or(1, |s| s.line),
        column: step.map_or(1, |s| s.column),
        statement: step.map(|s| excerpt(&s.text)).unwrap_or_default(),
        message,
        sqlstate: None,
        detail: None,
        transactional: m.mode == Mode::Transactional,
        statements_applied: 0,
        applied_before: Vec::new(),
        restore_point: None,
    }
}

/// Describes statement `index` failing with `e`, pointing at the character
/// the database named when it named one. DETAIL, HINT and driver texts go to
/// `detail`, which never reaches a pull request.
pub(super) fn failure_of(
    m: &Migration,
    index: usize,
    e: &sqlx::Error,
    statements_applied: usize,
) -> Failure {
    let step = m.steps.get(index);
    let (mut line, mut column) = step.map_or((1, 1), |s| (s.line, s.column));
    let (message, sqlstate, detail) = match e {
        sqlx::Error::Database(db) => {
            let pg = db.try_downcast_ref::<PgDatabaseError>();
            if let (Some(pg), Some(step)) = (pg, step)
                && let Some(PgErrorPosition::Original(pos)) = pg.position()
            {
                (line, column) = position_in_file(step, pos);
            }
            let extra: Vec<String> = pg
                .map(|p| {
                    [
                        p.detail().map(|d| format!("DETAIL: {d}")),
                        p.hint().map(|h| format!("HINT: {h}")),
                        p.r#where().map(|w| format!("WHERE: {w}")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect()
                })
                .unwrap_or_default();
            let detail = (!extra.is_empty()).then(|| extra.join("\n"));
            let code = db.code().map(|c| c.to_string());
            let message = match &code {
                Some(code) => format!("{} (SQLSTATE {code})", db.message()),
                None => db.message().to_string(),
            };
            (message, code, detail)
        }
        other => (
            "the statement did not complete: the connection to the database failed".to_string(),
            None,
            Some(other.to_string()),
        ),
    };
    Failure {
        line,
        column,
        sqlstate,
        detail,
        statements_applied,
        ..failure_at(m, Some(index), message)
    }
}

/// The file position of the `pos`-th character (1-based) of a statement.
fn position_in_file(step: &Step, pos: usize) -> (u32, u32) {
    let (mut line, mut column) = (step.line, step.column);
    for c in step.text.chars().take(pos.saturating_sub(1)) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_positions_map_into_the_file() {
        let step = Step {
            text: "CREATE TABLE t (\n  id intt\n)".into(),
            line: 3,
            column: 5,
            dml: None,
        };
        // Character 23 is the `i` of `intt` on the statement's second line.
        assert_eq!(position_in_file(&step, 23), (4, 6));
        assert_eq!(position_in_file(&step, 1), (3, 5));
    }
}
