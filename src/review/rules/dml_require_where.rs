//! `dml-require-where`: UPDATE and DELETE need a WHERE clause.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "dml-require-where",
    default_severity: Severity::Error,
    description: "UPDATE / DELETE without WHERE",
    why: "Without WHERE every row of the table is changed or deleted, in one transaction that locks them all — almost always a mistake in a migration.",
    instead: "Add the WHERE clause that selects the intended rows (and batch large changes); write `WHERE true` if all rows are really meant.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    match &cx.stmt.kind {
        StatementKind::Update(u) if !u.has_where => out.push(cx.hit(
            None,
            format!(
                "UPDATE of `{}` has no WHERE clause: every row changes.",
                u.table
            ),
        )),
        StatementKind::Delete(d) if !d.has_where => {
            let names: Vec<String> = d.tables.iter().map(|n| format!("`{n}`")).collect();
            out.push(cx.hit(
                None,
                format!(
                    "DELETE from {} has no WHERE clause: every row is deleted.",
                    names.join(", ")
                ),
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "dml-require-where";

    #[test]
    fn flags_delete_and_update_without_where() {
        let sql = "SELECT 1;\nDELETE FROM x;\nUPDATE users SET active = false;";
        assert_eq!(lines(sql, ID), [2, 3]);
        assert_eq!(lines_mysql("DELETE FROM x;", ID), [1]);
    }

    #[test]
    fn with_where_is_fine() {
        let sql = "DELETE FROM x WHERE id = 1;\nUPDATE users SET active = false WHERE id = 2;";
        assert!(lines(sql, ID).is_empty());
    }
}
