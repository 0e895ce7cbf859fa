//! `limit-value-max`: LIMIT above a maximum (Bytebase's
//! `statement.maximum-limit-value`).

use super::clauses::Clauses;
use super::prelude::*;
use sqlparser::tokenizer::Token;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "limit-value-max",
    default_severity: Severity::Off,
    description: "LIMIT n with n above `max` (default 1000)",
    why: "Team policy: a large LIMIT is a full read in disguise; batch work in a migration should take small, bounded steps.",
    instead: "Use a smaller LIMIT and loop in batches, or raise `review.rules.limit-value-max.max`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT_MAX: u64 = 1000;

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if !matches!(cx.stmt.kind, StatementKind::Select) {
        return;
    }
    let max = cx.opts.max(RULE.id, DEFAULT_MAX);
    let c = Clauses::of(cx);
    for i in 0..c.len() {
        if c.is_kw(i, "LIMIT")
            && let Some(Token::Number(n, _)) = c.tok(i + 1)
            && n.parse::<u64>().is_ok_and(|n| n > max)
        {
            out.push(cx.hit(c.span(i + 1), format!("LIMIT {n} is above {max}.")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "limit-value-max";

    #[test]
    fn flags_large_limits() {
        let sql = "SELECT id FROM users LIMIT 100000;\nSELECT id FROM users LIMIT 10;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
