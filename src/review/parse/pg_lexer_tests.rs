//! `pg_lexer` must give exactly sqlparser's tokens (spans and errors
//! included) for PostgreSQL: on every `.sql` of the corpora and fixtures, on
//! the edge cases of each hand-over, and on generated input.

use super::{Blanks, Lexed, keyword, lex_each};
use crate::review::model::Dialect;
use crate::review::parse::split::{STOCK_TOKENIZER, split_with_window, tokenize_at};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::{ALL_KEYWORDS, Keyword};
use sqlparser::tokenizer::{Location, Token, Tokenizer};
use std::path::{Path, PathBuf};

/// sqlparser's tokens (or its error) for `text`, rendered.
fn stock(text: &str) -> String {
    let mut buf = Vec::new();
    let res = Tokenizer::new(&PostgreSqlDialect {}, text).tokenize_with_location_into_buf(&mut buf);
    render(&buf, res.err().map(|e| (e.message, e.location)))
}

/// bytegate's tokens (fast path, then sqlparser) for `text`, rendered.
fn ours(text: &str) -> String {
    let (buf, err) = tokenize_at(text, Location::new(1, 1), Dialect::Postgres);
    render(
        &buf,
        err.map(|e| {
            let p = e.position.unwrap_or_default();
            (
                e.message,
                Location::new(u64::from(p.line), u64::from(p.column)),
            )
        }),
    )
}

fn render(
    tokens: &[sqlparser::tokenizer::TokenWithSpan],
    err: Option<(String, Location)>,
) -> String {
    let mut out = String::new();
    for t in tokens {
        out.push_str(&format!("{:?} {:?}\n", t.token, t.span));
    }
    if let Some((message, at)) = err {
        out.push_str(&format!("error {message} at {at:?}\n"));
    }
    out
}

/// Whether the fast path alone tokenized all of `text`.
fn fully_fast(text: &str) -> bool {
    lex_each(text, Blanks::Keep, &mut |_| {}) == Lexed::Done
}

/// The splitter's whole output (statements, their tokens and spans,
/// comments, errors) for `text`, with the fast path or without it.
fn split_output(text: &str, window: usize, stock: bool) -> String {
    STOCK_TOKENIZER.set(stock);
    let out = format!("{:?}", split_with_window(text, Dialect::Postgres, window));
    STOCK_TOKENIZER.set(false);
    out
}

#[track_caller]
fn same(text: &str) {
    assert_eq!(ours(text), stock(text), "on {text:?}");
    for window in [super::super::split::WINDOW, 64] {
        assert_eq!(
            split_output(text, window, false),
            split_output(text, window, true),
            "split of {text:?} (window {window})"
        );
    }
}

/// Compares every file; returns (files, files the fast path did alone).
fn compare_files(files: &[PathBuf]) -> (usize, usize) {
    let mut fast = 0;
    for file in files {
        let bytes = std::fs::read(file).expect("readable .sql file");
        let text = String::from_utf8_lossy(&bytes);
        assert_eq!(ours(&text), stock(&text), "{}", file.display());
        let window = super::super::split::WINDOW;
        assert_eq!(
            split_output(&text, window, false),
            split_output(&text, window, true),
            "split of {}",
            file.display()
        );
        fast += usize::from(fully_fast(&text));
    }
    (files.len(), fast)
}

#[test]
fn same_tokens_on_the_upstream_corpora() {
    let Some(root) = crate::material::shared("upstream") else {
        return;
    };
    let files = crate::material::sql_files_under(&root);
    let (count, fast) = compare_files(&files);
    println!("fast path alone on {fast} of {count} files");
    assert!(count > 600, "only {count} files under {}", root.display());
    // The fast path must be the common case, or it is not worth having.
    assert!(
        fast * 10 > count * 7,
        "fast path alone on {fast} of {count}"
    );
}

#[test]
fn same_tokens_on_the_fixtures() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = crate::material::sql_files_under(&manifest.join("fixtures"));
    files.extend(crate::material::sql_files_under(&manifest.join("tests")));
    let (count, _) = compare_files(&files);
    assert!(count > 50, "only {count} files");
}

#[test]
fn every_keyword_is_found_as_sqlparser_finds_it() {
    for kw in ALL_KEYWORDS {
        for spelling in [kw.to_string(), kw.to_lowercase()] {
            let Token::Word(w) = Token::make_keyword(&spelling) else {
                panic!("make_keyword gives a word");
            };
            assert_eq!(keyword(spelling.as_bytes()), w.keyword, "{spelling}");
        }
    }
    for word in ["", "x", "selectx", "SELEC", "users", "a_b", "_", "Z9"] {
        assert_eq!(keyword(word.as_bytes()), Keyword::NoKeyword, "{word}");
    }
    assert_eq!(keyword(&[b'A'; 200]), Keyword::NoKeyword);
}

#[test]
fn same_tokens_on_the_edges() {
    let cases = [
        "",
        ";",
        "SELECT 1;\nSELECT 2",
        "CREATE TABLE \"My\"\"Table\" (id int PRIMARY KEY, \"\" text);",
        "SELECT 'it''s', '', '''', 'a''''b', 'multi\nline', 'é''ü';",
        "SELECT 'unterminated",
        "SELECT \"unterminated",
        "SELECT $$a$b$$, $$$$, $$ $ $$, $tag$x$ta$tag$, $1, $, $a, $a b, $é$x$é$;",
        "CREATE FUNCTION f() RETURNS int AS $body$\nBEGIN RETURN 1; END\n$body$ LANGUAGE plpgsql;",
        "SELECT $$unterminated",
        "SELECT $t$unterminated $t",
        "SELECT 1, 1.5, 1., .5, 1..2, 0x1F, 0b1, 0o7, 1_000, 1e5, 1E-3, 1e, 1L, 12abc, 3.x;",
        "SELECT a.b, a._b, ._x, t.1, (1).2;",
        "-- comment\n--\n--x\r\nSELECT 1 -- tail\r-- cr\n",
        "/* a /* nested */ still */ SELECT /**/ 1 /*/ x */ /* * / */;",
        "/* unterminated /* nested */",
        "SELECT a -> 'k', a ->> 'k', a->-1, a - -1, a--1\n, a-+b, a -/* c */ b;",
        "SELECT a < b, a <= b, a <> b, a << b, a <<| b, a <-> b, a <- b, a <+ b, a <=+ b;",
        "SELECT a <^ b, a <@ b, a <=> b, a <| b, a <=- b, a <== b, a <>= b;",
        "SELECT a > b, a >= b, a >> b, a >^ b, a>-1, a >=> b;",
        "SELECT a = b, a == b, a => b, a =< b, a := b, a::int, a:b, a::=b;",
        "SELECT !a, a != b, a !! b, a !~ b, a !~* b, a !~~ b;",
        "SELECT a || b, a ||/ b, |/ a, a | b, a |& b, a |> b, a ||| b, a |-| b;",
        "SELECT a + b, a * b, a / b, a % b, a & b, a ^ b, a # b, a @ b, a ? b, ~a, a ~* b;",
        "SELECT a[1], a{1}, a\\b, `a`;",
        "SELECT E'a\\'b', e'x', B'101', b\"x\", X'ff', x'00', N'n', n'n', U&'d\\0061t', u&\"x\";",
        "SELECT e, b, x, n, u, ex, bx, xylophone, nope, uber, u&v;",
        "SELECT café, naïve_col, \u{feff}x, \u{a0}y, 日本 FROM t\u{2003};",
        "COPY t (a, b) FROM stdin;\n1\t2\n\\.\nSELECT 1;",
        "SELECT 1; COPY t FROM stdin;\nx\n\\.\n",
        "select 1;\tCopy t TO stdout; SELECT 'after';",
        "COPY",
        "SELECT 1; COPY",
        "SELECT\x0b1,\x0c2;",
        "SELECT 1;\rSELECT 2;\r\n\r\nSELECT 3",
        "SELECT 1; SELECT E'tail';",
        "SELECT 1; SELECT 2; SELECT 3 # 4; SELECT 5;",
        "SELECT 'a' -- c\n 'b';",
    ];
    for text in cases {
        same(text);
    }
}

#[test]
fn the_fast_path_covers_ordinary_migrations() {
    for text in [
        "CREATE TABLE t (id bigint PRIMARY KEY, name varchar(255) NOT NULL DEFAULT '');",
        "ALTER TABLE t ADD COLUMN c numeric(10, 2) DEFAULT 1.5;\n-- done\n",
        "CREATE INDEX CONCURRENTLY i ON t (lower(name)) WHERE a <> 'x' AND b::text != '';",
        "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN NEW.a := 1; RETURN NEW; END $$ LANGUAGE plpgsql;",
        "UPDATE t SET a = a || 'x', b = b -> 'k' WHERE id IN (1, 2, 3) /* all */;",
    ] {
        assert!(fully_fast(text), "{text}");
        same(text);
    }
    // What it hands over is sqlparser's: from the statement's start.
    let text = "SELECT 1; SELECT E'x'; SELECT 3;";
    let mut buf = Vec::new();
    assert_eq!(
        lex_each(text, Blanks::Keep, &mut |t| buf.push(t)),
        Lexed::HandOver {
            byte: 9,
            loc: Location::new(1, 10)
        }
    );
    assert_eq!(buf.last().map(|t| &t.token), Some(&Token::SemiColon));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    #[test]
    fn same_tokens_on_generated_input(
        parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..40)
    ) {
        let text = parts.concat();
        proptest::prop_assert_eq!(ours(&text), stock(&text), "on {:?}", text);
        proptest::prop_assert_eq!(
            split_output(&text, 48, false),
            split_output(&text, 48, true),
            "split of {:?}",
            text
        );
    }
}

/// Pieces that meet at every boundary the lexer decides on.
const FRAGMENTS: &[&str] = &[
    " ", "\t", "\n", "\r", "\r\n", ";", ",", "(", ")", "[", "]", ".", "..", "'", "''", "\"",
    "\"\"", "$", "$$", "$a$", "$1", "a", "E", "e", "b", "B", "x", "N", "u", "U", "&", "_", "é",
    "select", "COPY", "from", "stdin", "1", "0", "12", "1.5", "e5", "L", "-", "--", "/", "*", "/*",
    "*/", "+", "=", "<", ">", "!", "|", "||", ":", "::", "~", "#", "@", "?", "^", "%", "`", "\\",
    "\\.", "{", "}", "\x0b", "日本", "\u{a0}",
];
