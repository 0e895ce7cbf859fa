//! `drop-schema`: dropping a schema drops everything in it.

use super::prelude::*;
use crate::review::data_loss::DataLoss;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: DataLoss::Schema.rule_id(),
    default_severity: Severity::Error,
    description: "DROP SCHEMA",
    why: "A schema holds tables, views and functions: dropping it (especially with CASCADE) loses all of them at once.",
    instead: "Drop the objects one by one in reviewed migrations after the application stopped using them; drop the empty schema last.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Drop(d) = &cx.stmt.kind
        && DataLoss::of_drop(&d.object) == Some(DataLoss::Schema)
    {
        for n in &d.names {
            out.push(cx.hit(n.span(), format!("Schema `{n}` is dropped.")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-schema";

    #[test]
    fn flags_drop_schema() {
        assert_eq!(lines("SELECT 1;\nDROP SCHEMA reporting;", ID), [2]);
    }

    #[test]
    fn other_drops_are_not_this_rule() {
        assert!(lines("DROP TABLE reporting;", ID).is_empty());
    }
}
