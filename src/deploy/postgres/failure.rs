//! What a PostgreSQL error says about a failed statement: the position it
//! pointed at, the public message, and the private detail.

use super::super::Step;
use super::super::failure::Described;
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};

/// What PostgreSQL's error says, pointing at the character it named when it
/// named one. DETAIL, HINT and WHERE go to `detail`, which never reaches a
/// pull request.
pub(super) fn describe(step: Option<&Step>, e: &sqlx::Error) -> Described {
    let sqlx::Error::Database(db) = e else {
        return Described::connection(e);
    };
    let pg = db.try_downcast_ref::<PgDatabaseError>();
    let position = match (pg, step) {
        (Some(pg), Some(step)) => match pg.position() {
            Some(PgErrorPosition::Original(pos)) => Some(position_in_file(step, pos)),
            _ => None,
        },
        _ => None,
    };
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
    Described {
        message,
        sqlstate: code,
        detail,
        position,
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
