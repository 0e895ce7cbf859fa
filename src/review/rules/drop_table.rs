//! `drop-table`: dropping a table loses its data and breaks its readers.

use super::prelude::*;
use crate::review::data_loss::DataLoss;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: DataLoss::Table.rule_id(),
    default_severity: Severity::Error,
    description: "DROP TABLE",
    why: "The table's data is gone for good, and application versions still running (during a rolling deploy) fail on every query that touches it.",
    instead: "Stop using the table in the application first; rename it or revoke access and drop it in a later release once nothing reads it (after a backup).",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Drop(d) = &cx.stmt.kind
        && DataLoss::of_drop(&d.object) == Some(DataLoss::Table)
    {
        // A table created earlier in this change holds no production data.
        for n in d.names.iter().filter(|n| cx.existing(n)) {
            out.push(cx.hit(n.span(), format!("Table `{n}` is dropped.")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-table";

    #[test]
    fn flags_drop_table() {
        assert_eq!(
            lines("SELECT 1;\nDROP TABLE IF EXISTS users, orders;", ID),
            [2, 2]
        );
        assert_eq!(lines_mysql("DROP TABLE users;", ID), [1]);
    }

    #[test]
    fn dropping_a_table_created_in_this_change_or_a_view_is_fine() {
        assert!(lines("CREATE TABLE t (id bigint PRIMARY KEY);\nDROP TABLE t;", ID).is_empty());
        assert!(lines("DROP VIEW v;", ID).is_empty());
    }
}
