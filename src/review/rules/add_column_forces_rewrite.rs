//! `add-column-forces-rewrite`: serial, identity, AUTO_INCREMENT and stored
//! generated columns rewrite an existing table.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "add-column-forces-rewrite",
    default_severity: Severity::Error,
    description: "adding a SERIAL / identity / AUTO_INCREMENT or GENERATED ... STORED column to an existing table",
    why: "Every existing row needs its own value, so the table is rewritten (PostgreSQL: under ACCESS EXCLUSIVE; MySQL: a table copy) for as long as that takes.",
    instead: "Add a plain nullable column, backfill it in batches (and attach a sequence default), or compute the value in a view or the application.",
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
        if let AlterAction::AddColumn { column, .. } = a {
            let what = if column.generated_stored {
                "a stored generated column"
            } else if column.data_type.is_serial() {
                "a serial column"
            } else if column.identity {
                "an identity column"
            } else if column.auto_increment {
                "an AUTO_INCREMENT column"
            } else {
                continue;
            };
            out.push(cx.hit(
                column.span.or(column.name.span),
                format!(
                    "`{}` is {what} added to existing table `{}`: every row is rewritten.",
                    column.name, at.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "add-column-forces-rewrite";

    #[test]
    fn flags_rewriting_columns() {
        let sql = "SELECT 1;\nALTER TABLE t ADD COLUMN n bigserial;\nALTER TABLE t ADD COLUMN i bigint GENERATED ALWAYS AS IDENTITY;\nALTER TABLE t ADD COLUMN g bigint GENERATED ALWAYS AS (a + 1) STORED;";
        assert_eq!(lines(sql, ID), [2, 3, 4]);
        assert_eq!(
            lines_mysql(
                "ALTER TABLE t ADD COLUMN n bigint AUTO_INCREMENT, ALGORITHM=INPLACE, LOCK=NONE;",
                ID
            ),
            [1]
        );
    }

    #[test]
    fn plain_columns_and_new_tables_are_fine() {
        assert!(lines("ALTER TABLE t ADD COLUMN n bigint;", ID).is_empty());
        let sql = "CREATE TABLE t (a bigint PRIMARY KEY);\nALTER TABLE t ADD COLUMN n bigserial;";
        assert!(lines(sql, ID).is_empty());
    }
}
