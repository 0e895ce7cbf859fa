//! `rename-column`: renaming breaks running clients.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "rename-column",
    default_severity: Severity::Warning,
    description: "RENAME COLUMN, or MySQL CHANGE COLUMN with a new name",
    why: "Application versions still running during the deploy read and write the old name and fail until they are replaced.",
    instead: "Add the new column, write both, backfill, switch reads, then drop the old column in a later release.",
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
        let (from, to) = match a {
            AlterAction::RenameColumn { from, to } => (from, to),
            AlterAction::ChangeColumn { old_name, column }
                if old_name.normalized() != column.name.normalized() =>
            {
                (old_name, &column.name)
            }
            _ => continue,
        };
        out.push(cx.hit(
            from.span,
            format!("Column `{}.{from}` is renamed to `{to}`.", at.name),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "rename-column";

    #[test]
    fn flags_renames() {
        assert_eq!(
            lines(
                "SELECT 1;\nALTER TABLE users RENAME COLUMN name TO full_name;",
                ID
            ),
            [2]
        );
        assert_eq!(
            lines_mysql(
                "ALTER TABLE users CHANGE name full_name varchar(100), ALGORITHM=INPLACE, LOCK=NONE;",
                ID
            ),
            [1]
        );
    }

    #[test]
    fn change_without_rename_and_new_tables_are_fine() {
        assert!(
            lines_mysql(
                "ALTER TABLE users CHANGE name name varchar(100), ALGORITHM=INPLACE, LOCK=NONE;",
                ID
            )
            .is_empty()
        );
        assert!(lines("CREATE TABLE t (id bigint PRIMARY KEY, a text);\nALTER TABLE t RENAME COLUMN a TO b;", ID).is_empty());
    }
}
