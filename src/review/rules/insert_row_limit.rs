//! `insert-row-limit`: INSERT … VALUES with many rows (Bytebase's
//! `statement.insert.row-limit`, for the rows the statement itself lists).

use super::clauses::Clauses;
use super::prelude::*;
use sqlparser::tokenizer::Token;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "insert-row-limit",
    default_severity: Severity::Off,
    description: "an INSERT … VALUES listing more than `max` rows (default 1000)",
    why: "Team policy: a bulk load in a migration runs inside the migration's transaction, holding its locks and growing WAL; it belongs in a data job.",
    instead: "Load data with COPY or a batched job outside the schema migration, or raise `review.rules.insert-row-limit.max`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT_MAX: u64 = 1000;

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::Insert(ins) = &cx.stmt.kind else {
        return;
    };
    let max = cx.opts.max(RULE.id, DEFAULT_MAX);
    // Cheap bound first: each row needs at least `(` and `)`.
    if !ins.values || (cx.stmt.text.len() as u64) < max.saturating_mul(2) {
        return;
    }
    let c = Clauses::of(cx);
    let Some(&values) = c.find_kw("VALUES", 0).first() else {
        return;
    };
    let end = c.clause_end(values + 1, 0, &["ON", "RETURNING"]);
    let rows = (values + 1..end)
        .filter(|&i| c.depth(i) == 0 && matches!(c.tok(i), Some(Token::LParen)))
        .count() as u64;
    if rows > max {
        out.push(cx.hit(
            None,
            format!(
                "The INSERT into `{}` lists {rows} rows (at most {max}).",
                ins.table
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::RuleSetting;

    const ID: &str = "insert-row-limit";

    #[test]
    fn flags_large_inserts() {
        let s = |max| RuleSetting {
            max: Some(max),
            ..RuleSetting::default()
        };
        let sql = "INSERT INTO t (a, b) VALUES (1, (2)), (3, 4), (5, 6);";
        assert_eq!(lines_on_with(sql, ID, Dialect::Postgres, s(2)), [1]);
        assert!(lines_on_with(sql, ID, Dialect::Postgres, s(3)).is_empty());
        assert!(lines(sql, ID).is_empty());
    }
}
