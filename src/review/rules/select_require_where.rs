//! `select-require-where`: queries over a table without WHERE (Bytebase's
//! `statement.where.require.select`).

use super::clauses::Clauses;
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "select-require-where",
    default_severity: Severity::Off,
    description: "a SELECT with FROM but no WHERE",
    why: "Team policy: a query without a filter reads the whole table; in a migration it is usually a leftover or a full scan under the migration's locks.",
    instead: "Add the WHERE clause (or LIMIT for a sample).",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if !matches!(cx.stmt.kind, StatementKind::Select) {
        return;
    }
    let c = Clauses::of(cx);
    if !c.find_kw("FROM", 0).is_empty() && c.find_kw("WHERE", 0).is_empty() {
        out.push(cx.hit(None, "The query has no WHERE clause."));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "select-require-where";

    #[test]
    fn flags_unfiltered_queries() {
        let sql =
            "SELECT id FROM users;\nSELECT id FROM users WHERE id = 1;\nSELECT setval('s', 1);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
