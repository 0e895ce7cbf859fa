//! `dialect::FastPostgres` must parse exactly like sqlparser's
//! `PostgreSqlDialect`: same AST (Debug, spans included), same error, same
//! position afterwards, on every statement of the corpora and fixtures and
//! on the edge cases of its shortcut.

use super::RECURSION_LIMIT;
use super::dialect::parser_dialect;
use super::split;
use crate::review::model::Dialect;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::TokenWithSpan;
use std::path::{Path, PathBuf};

/// Parses `tokens` like `parse_tokens` does and renders the outcome.
fn outcome(dialect: &dyn sqlparser::dialect::Dialect, tokens: Vec<TokenWithSpan>) -> String {
    let mut parser = Parser::new(dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .with_tokens_with_locations(tokens);
    match parser.parse_statement() {
        Ok(stmt) => format!("{stmt:?} then {:?}", parser.peek_token()),
        Err(e) => format!("error: {e}"),
    }
}

/// Compares both dialects on every statement of `text`; returns how many.
fn compare(text: &str, origin: &str) -> usize {
    let stock = PostgreSqlDialect {};
    let fast = parser_dialect(Dialect::Postgres);
    let mut count = 0;
    for stmt in split::split(text, Dialect::Postgres).statements {
        if stmt.error.is_some() {
            continue;
        }
        let want = outcome(&stock, stmt.tokens.clone());
        let got = outcome(fast, stmt.tokens);
        assert_eq!(got, want, "{origin}: {}", &text[stmt.byte_range]);
        count += 1;
    }
    count
}

fn compare_files(files: &[PathBuf]) -> usize {
    files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file).expect("readable .sql file");
            compare(
                &String::from_utf8_lossy(&bytes),
                &file.display().to_string(),
            )
        })
        .sum()
}

#[test]
fn same_ast_on_the_upstream_corpora() {
    let Some(root) = crate::material::shared("upstream") else {
        return;
    };
    let files = crate::material::sql_files_under(&root);
    let count = compare_files(&files);
    assert!(
        count > 1000,
        "only {count} statements under {}",
        root.display()
    );
}

#[test]
fn same_ast_on_the_fixtures() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = crate::material::sql_files_under(&manifest.join("fixtures"));
    files.extend(crate::material::sql_files_under(&manifest.join("tests")));
    assert!(compare_files(&files) > 100);
}

#[test]
fn same_ast_on_the_shortcut_edges() {
    let cases = [
        "SELECT a, b.c, \"q\".\"x\", t.*, a.b.c FROM t WHERE a = 1 AND b.c <> 'x'",
        "SELECT foo 'bar', s.t 'x', xml '<a/>', XML, xml FROM t",
        "SELECT a ARRAY, a ARRAY[1], a[1], a.b[2], f(a), s.f(a), a(+) FROM t",
        "SELECT a::int, a.b::text[], a -> 'k', a ->> 'k', a #> '{k}', a @> b FROM t",
        "SELECT date, interval, \"date\" '2020-01-01', mytype '1', s.mytype '1', s.t $$x$$",
        "SELECT _utf8 'x', _x, a || b, -a, a * b, a / b % c FROM t ORDER BY a, t.b DESC",
        "SELECT CASE WHEN a THEN b.c ELSE d END, a IS NULL, a IN (b, c.d), a BETWEEN b AND c",
        "SELECT a.b.c.d.e.f, a.1, a.'x', a. ;",
        "CREATE VIEW v AS SELECT p.id, p.name AS n, count(c.id) FROM p JOIN c ON c.p = p.id GROUP BY p.id",
        "UPDATE t SET a = b, c = d.e WHERE f = g RETURNING h, i.j",
        "CREATE TABLE t (a int DEFAULT b, c int CHECK (c > d), e int GENERATED ALWAYS AS (f + g) STORED)",
        "SELECT a ZEROFILL, a b, a AS b, a\nFROM t",
        "SELECT * FROM t WHERE a = ANY(b) AND c.d LIKE e AND f ~ g",
        "SELECT f(), f() 'x', f(a) 'x', f(1, 'a', b), f(a)[1], f(a)[1] 2, f(a) ARRAY, f(a).b",
        "SELECT s.f(a, b), s.t(1) 'x', count(*), coalesce(a, b), f(g(a)), f(a + 1), xml(a)",
        "SELECT f(a b c, d), f(a,), f(,), f(a) FROM t WHERE f(a) = g(b) AND (h(c))",
    ];
    for sql in cases {
        compare(sql, "edge case");
    }
    // Type modifiers past the look-ahead limit.
    for args in [30, 31, 32, 33, 100] {
        let list = vec!["a"; args].join(", ");
        compare(
            &format!("SELECT f({list}), f({list}) 'x' FROM t"),
            "long list",
        );
    }
    // The shortcut's recursion probe: identical at and around the limit.
    for depth in RECURSION_LIMIT - 10..RECURSION_LIMIT + 5 {
        for leaf in ["a", "a.b", "a 'x'", "a, b"] {
            let sql = format!("SELECT {}{leaf}{}", "(".repeat(depth), ")".repeat(depth));
            compare(&sql, "nesting");
            let sql = format!("SELECT {}{leaf}", "-".repeat(depth));
            compare(&sql, "unary nesting");
        }
    }
}
