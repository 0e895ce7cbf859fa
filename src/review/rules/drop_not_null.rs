//! `drop-not-null`: relaxing NOT NULL breaks readers that rely on it.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-not-null",
    default_severity: Severity::Warning,
    description: "ALTER COLUMN … DROP NOT NULL (MySQL: MODIFY/CHANGE that drops NOT NULL)",
    why: "Code written against the column assumes it is never NULL; once NULLs appear, readers crash or compute wrong results, and the constraint is hard to restore.",
    instead: "Make sure every reader handles NULL first; in MySQL, restate NOT NULL in MODIFY/CHANGE unless dropping it is the point.",
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
            AlterAction::DropNotNull { column } => out.push(cx.hit(
                column.span,
                format!("Column `{}.{column}` may now hold NULL.", at.name),
            )),
            // MySQL: MODIFY/CHANGE without NOT NULL makes the column nullable.
            AlterAction::ModifyColumn { column } | AlterAction::ChangeColumn { column, .. }
                if column.nullable != Some(false) && !column.primary_key =>
            {
                let old = match a {
                    AlterAction::ChangeColumn { old_name, .. } => old_name,
                    _ => &column.name,
                };
                if table
                    .and_then(|t| t.column(old))
                    .is_some_and(|c| !c.nullable)
                {
                    out.push(cx.hit(
                        column.name.span.or(column.span),
                        format!(
                            "Column `{}.{old}` was NOT NULL and is redefined without it.",
                            at.name
                        ),
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

    const ID: &str = "drop-not-null";

    #[test]
    fn flags_drop_not_null() {
        assert_eq!(
            lines(
                "SELECT 1;\nALTER TABLE users ALTER COLUMN email DROP NOT NULL;",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn set_not_null_is_fine() {
        assert!(lines("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", ID).is_empty());
    }

    #[test]
    fn mysql_modify_forgetting_not_null() {
        let run = |change: &str| {
            lint_files_with(
                &[
                    (
                        "001_a.sql",
                        "CREATE TABLE u (id bigint PRIMARY KEY, email varchar(100) NOT NULL);",
                        FileChange::Unchanged,
                    ),
                    ("002_b.sql", change, FileChange::Added),
                ],
                Dialect::Mysql,
                None,
                &ReviewSettings::default(),
                false,
                &[],
            )[0]
            .findings
            .iter()
            .filter(|f| f.rule == ID)
            .count()
        };
        assert_eq!(
            run("ALTER TABLE u MODIFY email varchar(200), ALGORITHM=INPLACE, LOCK=NONE;"),
            1
        );
        assert_eq!(
            run("ALTER TABLE u MODIFY email varchar(200) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;"),
            0
        );
    }
}
