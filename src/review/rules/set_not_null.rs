//! `set-not-null`: SET NOT NULL on an existing column scans the table.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "set-not-null",
    default_severity: Severity::Warning,
    description: "SET NOT NULL on a column of an existing table (unless a validated CHECK (col IS NOT NULL) exists)",
    why: "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock to prove there are no NULLs, and fails the migration if there are.",
    instead: "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c (later migration); then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the CHECK.",
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
    let table = cx.schema.table(&at.name);
    for a in &at.actions {
        match a {
            AlterAction::SetNotNull { column } => {
                // A validated CHECK lets PostgreSQL 12+ skip the scan; an already
                // NOT NULL column makes the statement a no-op.
                if table.is_some_and(|t| {
                    t.has_valid_not_null_check(column)
                        || t.column(column).is_some_and(|c| !c.nullable)
                }) {
                    continue;
                }
                out.push(cx.hit(
                    column.span,
                    format!("SET NOT NULL on `{}.{column}` scans the table under an ACCESS EXCLUSIVE lock.", at.name),
                ));
            }
            // MySQL: MODIFY/CHANGE to NOT NULL of a column the model knows is nullable.
            AlterAction::ModifyColumn { column } | AlterAction::ChangeColumn { column, .. }
                if column.nullable == Some(false) =>
            {
                let old = match a {
                    AlterAction::ChangeColumn { old_name, .. } => old_name,
                    _ => &column.name,
                };
                if table
                    .and_then(|t| t.column(old))
                    .is_some_and(|c| c.nullable)
                {
                    out.push(cx.hit(
                        column.name.span.or(column.span),
                        format!("Making `{}.{old}` NOT NULL rebuilds the table and fails on existing NULLs.", at.name),
                    ));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::FileChange;
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::ReviewSettings;

    const ID: &str = "set-not-null";

    #[test]
    fn flags_set_not_null() {
        assert_eq!(
            lines(
                "SELECT 1;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn validated_check_or_new_table_is_fine() {
        let sql = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users VALIDATE CONSTRAINT email_nn;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;";
        assert!(lines(sql, ID).is_empty());
        let sql = "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;";
        assert_eq!(lines(sql, ID), [2]);
        let sql = "CREATE TABLE u (id bigint PRIMARY KEY, email text);\nALTER TABLE u ALTER COLUMN email SET NOT NULL;";
        assert!(lines(sql, ID).is_empty());
        let out = lint_files_with(
            &[
                (
                    "001_a.sql",
                    "CREATE TABLE u (id bigint PRIMARY KEY, email text NOT NULL);",
                    FileChange::Unchanged,
                ),
                (
                    "002_b.sql",
                    "ALTER TABLE u ALTER COLUMN email SET NOT NULL;",
                    FileChange::Added,
                ),
            ],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &[],
        );
        assert!(
            out[0].findings.iter().all(|f| f.rule != ID),
            "already NOT NULL: a no-op"
        );
    }

    #[test]
    fn mysql_modify_to_not_null_of_known_nullable_column() {
        let out = lint_files_with(
            &[
                (
                    "001_a.sql",
                    "CREATE TABLE u (id bigint PRIMARY KEY, email varchar(100));",
                    FileChange::Unchanged,
                ),
                (
                    "002_b.sql",
                    "ALTER TABLE u MODIFY email varchar(100) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;",
                    FileChange::Added,
                ),
            ],
            Dialect::Mysql,
            None,
            &ReviewSettings::default(),
            false,
            &[],
        );
        assert_eq!(out[0].findings.iter().filter(|f| f.rule == ID).count(), 1);
    }
}
