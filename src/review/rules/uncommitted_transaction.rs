//! `uncommitted-transaction`: every BEGIN needs its COMMIT.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "uncommitted-transaction",
    default_severity: Severity::Error,
    description: "BEGIN with no COMMIT",
    why: "A transaction left open at the end of the file keeps its locks until the session ends and its changes are rolled back (or committed) by accident.",
    instead: "End every BEGIN with COMMIT — or, for PostgreSQL, drop both: bytegate runs each migration in a transaction.",
    dialects: ALL,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let mut open: Vec<usize> = Vec::new();
    for (i, s) in cx.file.statements.iter().enumerate() {
        match s.kind {
            StatementKind::Begin => open.push(i),
            StatementKind::Commit | StatementKind::Rollback => {
                open.pop();
            }
            _ => {}
        }
    }
    for i in open {
        out.push(cx.stmt_hit(i, None, "This transaction is never committed."));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "uncommitted-transaction";

    #[test]
    fn flags_open_begin() {
        assert_eq!(
            lines(
                "SELECT 1;\nBEGIN;\nALTER TABLE users ADD COLUMN a text;",
                ID
            ),
            [2]
        );
        assert_eq!(
            lines_mysql("BEGIN;\nINSERT INTO t (a) VALUES (1);", ID),
            [1]
        );
    }

    #[test]
    fn committed_is_fine() {
        assert!(lines("BEGIN;\nALTER TABLE users ADD COLUMN a text;\nCOMMIT;", ID).is_empty());
    }
}
