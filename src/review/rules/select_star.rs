//! `select-star`: `SELECT *` in queries, views and CREATE TABLE AS (Bytebase's
//! `statement.select.no-select-all`; INSERT … SELECT * has its own rule).

use super::clauses::Clauses;
use super::prelude::*;
use sqlparser::tokenizer::Token;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "select-star",
    default_severity: Severity::Off,
    description: "`SELECT *` (or `t.*`) in a query, CREATE VIEW or CREATE TABLE … AS",
    why: "Team policy: `*` reads columns nobody asked for, and a view expands it once, at creation: columns added later never appear, and the view breaks dropping them.",
    instead: "List the columns.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn applies(kind: &StatementKind) -> bool {
    match kind {
        StatementKind::Select => true,
        StatementKind::CreateTable(ct) => ct.derived && ct.partition_of.is_none(),
        StatementKind::CreateOther(c) => {
            matches!(c.object, ObjectKind::View | ObjectKind::MaterializedView)
        }
        _ => false,
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if !applies(&cx.stmt.kind) {
        return;
    }
    let c = Clauses::of(cx);
    for i in 1..c.len() {
        if !matches!(c.tok(i), Some(Token::Mul)) {
            continue;
        }
        // `*` right after SELECT / DISTINCT / a comma / `t.` is a star
        // projection; after anything else it is a multiplication or `count(*)`.
        let star = match c.tok(i - 1) {
            Some(Token::Comma | Token::Period) => true,
            _ => c.is_kw(i - 1, "SELECT") || c.is_kw(i - 1, "DISTINCT") || c.is_kw(i - 1, "ALL"),
        };
        if star {
            out.push(cx.hit(c.span(i), "`*` selects every column."));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "select-star";

    #[test]
    fn flags_star_projections() {
        let sql = "CREATE VIEW v AS SELECT * FROM users;\nSELECT u.* FROM users u;\nSELECT count(*), 2 * 3 FROM users;\nSELECT id FROM users;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1, 2]);
    }
}
