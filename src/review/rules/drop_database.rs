//! `drop-database`: never in a migration.

use super::prelude::*;
use crate::review::data_loss::DataLoss;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: DataLoss::Database.rule_id(),
    default_severity: Severity::Error,
    description: "DROP DATABASE",
    why: "Every table and row of the database is lost at once; migrations run against production.",
    instead: "Drop databases by hand, with a backup and a second pair of eyes, not in a migration.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Drop(d) = &cx.stmt.kind
        && DataLoss::of_drop(&d.object) == Some(DataLoss::Database)
    {
        for n in &d.names {
            out.push(cx.hit(n.span(), format!("Database `{n}` is dropped.")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-database";

    #[test]
    fn flags_drop_database() {
        assert_eq!(lines("SELECT 1;\nDROP DATABASE app;", ID), [2]);
        assert_eq!(lines_mysql("DROP DATABASE app;", ID), [1]);
    }

    #[test]
    fn other_drops_are_not_this_rule() {
        assert!(lines("DROP TABLE app;", ID).is_empty());
    }
}
