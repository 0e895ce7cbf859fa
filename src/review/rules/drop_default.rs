//! `drop-default`: removing a column default of an existing table.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-default",
    default_severity: Severity::Warning,
    description: "ALTER COLUMN … DROP DEFAULT on an existing table",
    why: "Inserts that leave the column out (the application version still running, other services, scripts) now store NULL, or fail when the column is NOT NULL.",
    instead: "Deploy code that always sets the column first; drop the default in a later migration.",
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
        if let AlterAction::DropDefault { column } = a {
            out.push(cx.hit(
                column.span,
                format!(
                    "Inserts into `{}` that omit `{column}` no longer get its default.",
                    at.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-default";

    #[test]
    fn flags_drop_default_on_an_existing_table() {
        let sql = "SELECT 1;\nALTER TABLE users ALTER COLUMN role DROP DEFAULT;";
        assert_eq!(lines(sql, ID), [2]);
        assert_eq!(
            lines_mysql("ALTER TABLE users ALTER COLUMN role DROP DEFAULT;", ID),
            [1]
        );
    }

    #[test]
    fn new_tables_and_set_default_are_fine() {
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, n int DEFAULT 0);\nALTER TABLE t ALTER COLUMN n DROP DEFAULT;\nALTER TABLE users ALTER COLUMN role SET DEFAULT 'user';";
        assert!(lines(sql, ID).is_empty());
    }
}
