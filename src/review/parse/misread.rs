//! Statements that would be misread if bytegate took the parser's word for
//! them: another database's syntax reviewed as PostgreSQL (sqlparser accepts
//! much of it in every dialect), and two statements joined by a missing `;`.
//! Both become unparsed statements with a [`ParseCause`] saying why, so the
//! rules report them and risk does not call them harmless.

use super::span::position;
use super::tokens::{is_kw, significant, word_upper};
use crate::review::model::{ParseCause, ParseError};
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// Integer and numeric type names that MySQL lets `UNSIGNED` follow.
const NUMERIC_TYPES: &[&str] = &[
    "INT",
    "INTEGER",
    "BIGINT",
    "SMALLINT",
    "TINYINT",
    "MEDIUMINT",
    "DECIMAL",
    "NUMERIC",
    "FLOAT",
    "DOUBLE",
    "REAL",
];

/// SQLite's conflict clauses after `INSERT OR`.
const SQLITE_CONFLICT: &[&str] = &["IGNORE", "REPLACE", "ABORT", "FAIL", "ROLLBACK"];

fn at(t: &TokenWithSpan, cause: ParseCause, message: String) -> ParseError {
    ParseError {
        message,
        position: Some(position(t.span.start)),
        cause,
    }
}

/// SQLite- or MySQL-only syntax in a statement reviewed as PostgreSQL: the
/// first such construct, as an error at its token. PostgreSQL rejects every
/// one of them, so the migration would fail (or was meant for another database).
pub(crate) fn other_dialect(tokens: &[TokenWithSpan]) -> Option<ParseError> {
    // Every statement comes here: one allocation, not one per doubling.
    let mut toks: Vec<&TokenWithSpan> = Vec::with_capacity(tokens.len());
    toks.extend(tokens.iter().filter(|t| significant(t)));
    let word = |i: usize| toks.get(i).and_then(|t| word_upper(&t.token));
    let first = word(0).unwrap_or_default();
    let not_pg = |t: &TokenWithSpan, what: &str| {
        at(
            t,
            ParseCause::OtherDialect,
            format!("not PostgreSQL: {what}"),
        )
    };
    if first == "INSERT"
        && toks.get(1).is_some_and(|t| is_kw(&t.token, "OR"))
        && word(2).is_some_and(|w| SQLITE_CONFLICT.contains(&w.as_str()))
    {
        return Some(not_pg(
            toks[1],
            "`INSERT OR …` is SQLite syntax (PostgreSQL: INSERT … ON CONFLICT)",
        ));
    }
    if first == "INSERT" && toks.get(1).is_some_and(|t| is_kw(&t.token, "IGNORE")) {
        return Some(not_pg(
            toks[1],
            "`INSERT IGNORE` is MySQL syntax (PostgreSQL: INSERT … ON CONFLICT DO NOTHING)",
        ));
    }
    if first == "REPLACE" && toks.get(1).is_some_and(|t| is_kw(&t.token, "INTO")) {
        return Some(not_pg(toks[0], "`REPLACE INTO` is MySQL/SQLite syntax"));
    }
    let creates = first == "CREATE";
    if creates && toks.get(1).is_some_and(|t| is_kw(&t.token, "VIRTUAL")) {
        return Some(not_pg(
            toks[1],
            "`CREATE VIRTUAL TABLE` is SQLite syntax (PostgreSQL full-text search: tsvector columns and GIN indexes)",
        ));
    }
    let mut trigger = false;
    for (i, t) in toks.iter().enumerate() {
        let Token::Word(w) = &t.token else { continue };
        if w.quote_style.is_some() {
            continue;
        }
        match upper_among(&w.value, WATCHED) {
            Some("AUTOINCREMENT") => {
                return Some(not_pg(
                    t,
                    "`AUTOINCREMENT` is SQLite syntax (PostgreSQL: GENERATED ALWAYS AS IDENTITY)",
                ));
            }
            Some("AUTO_INCREMENT") => {
                return Some(not_pg(
                    t,
                    "`AUTO_INCREMENT` is MySQL syntax (PostgreSQL: GENERATED ALWAYS AS IDENTITY)",
                ));
            }
            Some("UNSIGNED") if unsigned_follows_type(&toks, i) => {
                return Some(not_pg(
                    t,
                    "`UNSIGNED` numeric types are MySQL syntax (PostgreSQL has none: use a wider type or a CHECK)",
                ));
            }
            Some("ROWID") if i > 0 && is_kw(&toks[i - 1].token, "WITHOUT") => {
                return Some(not_pg(t, "`WITHOUT ROWID` is SQLite syntax"));
            }
            Some("TRIGGER") if creates && i <= 4 => trigger = true,
            // A trigger body `BEGIN … END` (SQLite, MySQL); PostgreSQL
            // triggers EXECUTE FUNCTION (`BEGIN ATOMIC` is a function body).
            Some("BEGIN")
                if trigger && !toks.get(i + 1).is_some_and(|n| is_kw(&n.token, "ATOMIC")) =>
            {
                return Some(not_pg(
                    t,
                    "a trigger body `BEGIN … END` is SQLite/MySQL syntax (PostgreSQL: CREATE TRIGGER … EXECUTE FUNCTION f())",
                ));
            }
            _ => {}
        }
    }
    None
}

/// The words [`other_dialect`] looks at, in any case.
const WATCHED: &[&str] = &[
    "AUTOINCREMENT",
    "AUTO_INCREMENT",
    "UNSIGNED",
    "ROWID",
    "TRIGGER",
    "BEGIN",
];

/// The word of `words` that `value` uppercases to, if any. Every word of
/// every statement comes here: ASCII words are compared without allocating.
fn upper_among(value: &str, words: &[&'static str]) -> Option<&'static str> {
    if value.is_ascii() {
        words
            .iter()
            .copied()
            .find(|k| value.eq_ignore_ascii_case(k))
    } else {
        let upper = value.to_uppercase();
        words.iter().copied().find(|k| *k == upper)
    }
}

/// `UNSIGNED` right after a numeric type name, or after its `(n)` / `(p, s)`.
fn unsigned_follows_type(toks: &[&TokenWithSpan], i: usize) -> bool {
    let mut j = i;
    if j > 0 && toks[j - 1].token == Token::RParen {
        // Skip back over a short parameter list.
        while j > 0 && toks[j - 1].token != Token::LParen && i - j < 6 {
            j -= 1;
        }
        j = j.saturating_sub(1);
    }
    j > 0 && word_upper(&toks[j - 1].token).is_some_and(|w| NUMERIC_TYPES.contains(&w.as_str()))
}

/// Objects that `CREATE`/`ALTER`/`DROP` name when they start a statement (not
/// `ALTER TABLE t\n  DROP COLUMN c`, whose DROP is an action).
const OBJECTS: &[&str] = &[
    "TABLE",
    "INDEX",
    "UNIQUE",
    "VIEW",
    "MATERIALIZED",
    "SEQUENCE",
    "TYPE",
    "FUNCTION",
    "PROCEDURE",
    "TRIGGER",
    "SCHEMA",
    "EXTENSION",
    "DATABASE",
    "DOMAIN",
    "POLICY",
    "OR",
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
    "ROLE",
    "USER",
    "AGGREGATE",
    "PUBLICATION",
    "RULE",
];

/// Whether `w` followed by `next` starts a statement: the keyword and the
/// word a statement needs after it.
fn starts_statement(w: &str, next: Option<&Token>) -> bool {
    let next_word = next.and_then(word_upper);
    let next_is = |k: &str| next_word.as_deref() == Some(k);
    match w {
        "CREATE" | "ALTER" | "DROP" => next_word.as_deref().is_some_and(|n| OBJECTS.contains(&n)),
        "INSERT" => next_is("INTO"),
        "DELETE" => next_is("FROM"),
        "COMMENT" => next_is("ON"),
        "UPDATE" | "TRUNCATE" | "GRANT" | "REVOKE" => next_word.is_some(),
        _ => false,
    }
}

/// Words after which a statement keyword continues the statement (`BEFORE
/// INSERT OR\nUPDATE`, `DO INSTEAD\nDELETE`, `FOR\nDELETE`, `GRANT SELECT,\nINSERT`).
const CONTINUES: &[&str] = &[
    "OR", "ON", "OF", "FOR", "DO", "INSTEAD", "ALSO", "BEFORE", "AFTER", "THEN", "ELSE", "AS",
    "AND", "WHEN", "EXPLAIN", "ANALYZE", "IN", "ROW", "BEGIN",
];

/// For a statement the parser rejected at `error`: the statement keyword at
/// the start of a line (outside parentheses, at or before the parser's error)
/// where a `;` is missing, as an error at that token. The joined statements
/// are not guessed apart.
pub(crate) fn missing_semicolon(
    tokens: &[TokenWithSpan],
    error: Option<crate::review::finding::Position>,
) -> Option<ParseError> {
    let toks: Vec<&TokenWithSpan> = tokens.iter().filter(|t| significant(t)).collect();
    let first = toks.first().and_then(|t| word_upper(&t.token))?;
    // A `;` inside the statement means a compound body (MySQL routines and
    // triggers, BEGIN ATOMIC): statements inside it are the body's own.
    if toks.iter().any(|t| t.token == Token::SemiColon) {
        return None;
    }
    let second = toks.get(1).and_then(|t| word_upper(&t.token));
    // `WITH … INSERT` puts a statement keyword after the CTEs, `CREATE SCHEMA`
    // may hold CREATE statements, `ALTER DEFAULT PRIVILEGES` ends in a GRANT.
    if first == "WITH"
        || (first == "CREATE" && second.as_deref() == Some("SCHEMA"))
        || (first == "ALTER" && second.as_deref() == Some("DEFAULT"))
    {
        return None;
    }
    let mut depth = 0i64;
    for (i, t) in toks.iter().enumerate().skip(1) {
        match &t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
            tok if depth == 0 => {
                let Some(w) = word_upper(tok) else { continue };
                if !starts_statement(&w, toks.get(i + 1).map(|n| &n.token)) {
                    continue;
                }
                let prev = toks[i - 1];
                let line_start = t.span.start.line > prev.span.end.line;
                let continues = match &prev.token {
                    Token::Comma => true,
                    p => word_upper(p).is_some_and(|p| CONTINUES.contains(&p.as_str())),
                };
                let before_error = error.is_none_or(|e| position(t.span.start) <= e);
                if line_start && !continues && before_error {
                    return Some(at(
                        t,
                        ParseCause::MissingSemicolon,
                        format!(
                            "no `;` before `{w}` on line {}: two statements read as one, the second is not checked",
                            t.span.start.line
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    None
}
