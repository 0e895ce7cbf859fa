//! `insert-select-star`: INSERT … SELECT * without a column list.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "insert-select-star",
    default_severity: Severity::Warning,
    description: "INSERT … SELECT * without a column list",
    why: "Both sides are matched by position: when either table gains, loses or reorders a column, the insert fails or silently writes values into the wrong columns.",
    instead: "Name the columns on both sides: INSERT INTO t (a, b) SELECT a, b FROM s.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Insert(i) = &cx.stmt.kind
        && i.select_star
        && !i.has_column_list
    {
        out.push(cx.hit(
            None,
            format!(
                "INSERT into `{}` copies `SELECT *` by position, without a column list.",
                i.table
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "insert-select-star";

    #[test]
    fn flags_select_star_without_columns() {
        let sql = "SELECT 1;\nINSERT INTO archive SELECT * FROM orders WHERE id < 10;";
        assert_eq!(lines(sql, ID), [2]);
        assert_eq!(
            lines_mysql("INSERT INTO archive SELECT o.* FROM orders o;", ID),
            [1]
        );
    }

    #[test]
    fn named_columns_are_fine() {
        assert!(
            lines(
                "INSERT INTO archive (id, total) SELECT id, total FROM orders;",
                ID
            )
            .is_empty()
        );
        assert!(lines("INSERT INTO archive SELECT id, total FROM orders;", ID).is_empty());
    }
}
