//! `insert-order-by-random`: INSERT … SELECT … ORDER BY random() (Bytebase's
//! `statement.insert.disallow-order-by-rand`).

use super::clauses::Clauses;
use super::prelude::*;
use sqlparser::tokenizer::Token;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "insert-order-by-random",
    default_severity: Severity::Warning,
    description: "INSERT … SELECT … ORDER BY random() / rand()",
    why: "Sorting by a random value reads and sorts every source row before inserting any, and makes the inserted rows differ on every run (and between a primary and a statement-based replica).",
    instead: "Pick rows deterministically (ORDER BY a key), or sample with TABLESAMPLE / a keyed WHERE.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::Insert(ins) = &cx.stmt.kind else {
        return;
    };
    // Tokenize only the few INSERT … SELECT statements that mention it.
    let mentions = |w: &[u8]| w.eq_ignore_ascii_case(b"rand");
    if ins.values || !cx.stmt.text.as_bytes().windows(4).any(mentions) {
        return;
    }
    let c = Clauses::of(cx);
    for i in 0..c.len() {
        if c.is_kw(i, "ORDER")
            && c.is_kw(i + 1, "BY")
            && (c.is_kw(i + 2, "RANDOM") || c.is_kw(i + 2, "RAND"))
            && matches!(c.tok(i + 3), Some(Token::LParen))
        {
            out.push(cx.hit(
                c.span(i + 2),
                format!("Rows inserted into `{}` are ordered randomly.", ins.table),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "insert-order-by-random";

    #[test]
    fn flags_random_order() {
        let sql = "INSERT INTO s (id) SELECT id FROM users ORDER BY random() LIMIT 10;\nINSERT INTO s (id) SELECT id FROM users ORDER BY id LIMIT 10;";
        assert_eq!(lines(sql, ID), [1]);
        assert_eq!(
            lines_mysql(
                "INSERT INTO s (id) SELECT id FROM users ORDER BY RAND() LIMIT 10;",
                ID
            ),
            [1]
        );
    }
}
