//! `drop-column`: dropping a column breaks running clients and loses data.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-column",
    default_severity: Severity::Error,
    description: "ALTER TABLE … DROP COLUMN",
    why: "The column's data is lost, and application versions still running (or ORMs that cache `SELECT *` column lists) fail as soon as it disappears.",
    instead: "Stop reading and writing the column in the application first (ignore it in the ORM), deploy, then drop it in a later migration.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::AlterTable(at) = &cx.stmt.kind else {
        return;
    };
    if !cx.existing(&at.name) {
        return;
    }
    for a in &at.actions {
        if let AlterAction::DropColumn { name, .. } = a {
            out.push(cx.hit(
                name.span,
                format!("Column `{}.{name}` is dropped.", at.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-column";

    #[test]
    fn flags_drop_column() {
        assert_eq!(
            lines("SELECT 1;\nALTER TABLE users DROP COLUMN email;", ID),
            [2]
        );
        assert_eq!(
            lines_mysql(
                "ALTER TABLE users DROP COLUMN email, ALGORITHM=INPLACE, LOCK=NONE;",
                ID
            ),
            [1]
        );
    }

    #[test]
    fn new_tables_and_other_actions_are_fine() {
        assert!(
            lines(
                "CREATE TABLE t (id bigint PRIMARY KEY, x text);\nALTER TABLE t DROP COLUMN x;",
                ID
            )
            .is_empty()
        );
        assert!(lines("ALTER TABLE users ADD COLUMN email text;", ID).is_empty());
    }
}
