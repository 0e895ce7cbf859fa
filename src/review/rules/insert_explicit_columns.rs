//! `insert-explicit-columns`: INSERT … VALUES names its columns.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "insert-explicit-columns",
    default_severity: Severity::Warning,
    description: "INSERT … VALUES without a column list",
    why: "Values are matched to columns by position: the insert breaks, or silently writes into the wrong columns, as soon as the table's columns change.",
    instead: "Name the columns: INSERT INTO t (a, b) VALUES (...).",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Insert(i) = &cx.stmt.kind
        && i.values
        && !i.has_column_list
    {
        out.push(cx.hit(
            None,
            format!("INSERT into `{}` does not name its columns.", i.table),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "insert-explicit-columns";

    #[test]
    fn flags_positional_insert() {
        assert_eq!(
            lines("SELECT 1;\nINSERT INTO roles VALUES (1, 'admin');", ID),
            [2]
        );
        assert_eq!(
            lines_mysql("INSERT INTO roles VALUES (1, 'admin');", ID),
            [1]
        );
    }

    #[test]
    fn column_list_is_fine() {
        assert!(lines("INSERT INTO roles (id, name) VALUES (1, 'admin');", ID).is_empty());
    }
}
