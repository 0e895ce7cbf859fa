//! `where-no-functions`: function calls and arithmetic in WHERE (Bytebase's
//! `statement.where.disallow-functions-and-calculations`).

use super::clauses::{AFTER_WHERE, Clauses};
use super::prelude::*;
use sqlparser::tokenizer::Token;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "where-no-functions",
    default_severity: Severity::Off,
    description: "a function call or arithmetic in a WHERE clause of SELECT / UPDATE / DELETE",
    why: "Team policy: `WHERE lower(email) = …` or `WHERE id + 1 = …` cannot use a plain index on the column: the statement scans the table.",
    instead: "Compare the bare column (move the computation to the other side), or index the expression.",
    dialects: ALL,
    check: Check::Statement(check),
};

/// Words followed by `(` that are syntax, not functions.
const NOT_FUNCTIONS: &[&str] = &[
    "IN", "EXISTS", "ANY", "ALL", "SOME", "AND", "OR", "NOT", "SELECT", "VALUES", "ARRAY", "ROW",
];

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if !matches!(
        cx.stmt.kind,
        StatementKind::Select | StatementKind::Update(_) | StatementKind::Delete(_)
    ) {
        return;
    }
    let c = Clauses::of(cx);
    for w in c.find_kw("WHERE", 0) {
        let end = c.clause_end(w + 1, 0, AFTER_WHERE);
        for i in w + 1..end {
            let call = matches!(c.tok(i), Some(Token::Word(_)))
                && matches!(c.tok(i + 1), Some(Token::LParen))
                && !NOT_FUNCTIONS.iter().any(|k| c.is_kw(i, k));
            let binary_operand = |t: Option<&Token>| {
                matches!(t, Some(Token::Word(_) | Token::Number(..) | Token::RParen))
            };
            let arithmetic = matches!(
                c.tok(i),
                Some(Token::Plus | Token::Minus | Token::Mul | Token::Div | Token::Mod)
            ) && binary_operand(c.tok(i.wrapping_sub(1)));
            if call || arithmetic {
                out.push(cx.hit(
                    c.span(i),
                    "The WHERE clause computes on a column instead of comparing it.",
                ));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "where-no-functions";

    #[test]
    fn flags_calls_and_arithmetic() {
        let sql = "DELETE FROM users WHERE lower(email) = 'a';\nUPDATE t SET a = 1 WHERE id + 1 = 2;\nSELECT id FROM users WHERE id IN (1, 2) AND x = -1;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1, 2]);
    }
}
