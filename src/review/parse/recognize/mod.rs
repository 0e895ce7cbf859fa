//! Token-level recognizers for statements sqlparser 0.64 rejects but a
//! migration linter must understand. Each returns `None` unless the whole
//! statement matches, so a recognizer never guesses.
//!
//! Two kinds:
//! - whole-statement recognizers over the significant tokens (`DROP INDEX
//!   CONCURRENTLY`, `REINDEX`, `DO`, `VACUUM (...)`, `CLUSTER`, `ALTER SEQUENCE`
//!   and other non-table `ALTER`s, `CREATE STATISTICS`, `CREATE FUNCTION ... COST`
//!   and other non-table `CREATE`s, `DROP STATISTICS`, `CREATE INDEX` forms);
//! - repairs that let sqlparser do most of the work: `ALTER TABLE` is parsed
//!   action by action (so `ALTER CONSTRAINT` or a PG 18 `ADD CONSTRAINT ... NOT
//!   NULL col` does not hide the other actions) and `CREATE TABLE` is parsed
//!   with its PG 18 `[CONSTRAINT n] NOT NULL col` elements taken out and added back.

use super::adapter;
use super::tokens::{Toks, is_kw, significant, word_upper};
use crate::review::model::{
    AlterAction, AlterOther, AlterTable, Cluster, ColumnDef, ConstraintKind, CreateIndex,
    CreateOther, Dialect, Drop, Ident, IndexColumn, ObjectKind, ObjectName, Reindex, StatementKind,
    TableConstraint, Vacuum,
};
use sqlparser::tokenizer::{Token, TokenWithSpan};

mod mysql;
mod tables;
use tables::*;

/// Parses tokens with sqlparser (supplied by the caller to keep one parser setup).
pub(crate) type ParseFn<'a> = &'a dyn Fn(Vec<TokenWithSpan>) -> Option<sqlparser::ast::Statement>;

/// Tries every recognizer on a statement's tokens (for MySQL, first with its
/// spellings sqlparser lacks rewritten: see [`mysql::rewrite`]).
pub(crate) fn recognize(
    tokens: &[TokenWithSpan],
    dialect: Dialect,
    parse: ParseFn<'_>,
) -> Option<StatementKind> {
    if dialect == Dialect::Mysql
        && let Some(fixed) = mysql::rewrite(tokens)
    {
        if let Some(stmt) = parse(fixed.clone()) {
            let keyword = fixed
                .iter()
                .find_map(|t| word_upper(&t.token))
                .unwrap_or_default();
            return Some(adapter::adapt(&stmt, &keyword));
        }
        return recognize_statement(&fixed, dialect, parse);
    }
    recognize_statement(tokens, dialect, parse)
}

fn recognize_statement(
    tokens: &[TokenWithSpan],
    dialect: Dialect,
    parse: ParseFn<'_>,
) -> Option<StatementKind> {
    let mut t = Toks::new(tokens);
    let first = t.peek().and_then(word_upper)?;
    match first.as_str() {
        "DROP" => drop(&mut t),
        "REINDEX" => reindex(&mut t),
        "DO" => do_block(&mut t),
        "VACUUM" => vacuum(&mut t),
        "CLUSTER" => cluster(&mut t),
        "ANALYZE" | "ANALYSE" => analyze(&mut t),
        "ALTER" => {
            if t.peek_at(1).is_some_and(|x| is_kw(x, "TABLE")) {
                alter_table(tokens, dialect, parse)
            } else {
                alter_other(&mut t)
            }
        }
        "CREATE" => {
            if dialect == Dialect::Mysql
                && let Some(kind) = mysql::create(tokens, parse)
            {
                return Some(kind);
            }
            create(tokens, &mut t, parse)
        }
        "COMMENT" => comment(&mut t),
        "CHECKPOINT" | "SECURITY" | "IMPORT" | "PREPARE" | "COMMIT" | "ROLLBACK" | "OPTIMIZE" => {
            keyword_only(&mut t)
        }
        _ => None,
    }
}

/// Statements bytegate keeps no facts about but should not report as
/// unparsable: `CHECKPOINT`, `SECURITY LABEL`, `IMPORT FOREIGN SCHEMA`,
/// `PREPARE TRANSACTION`, `COMMIT PREPARED`, `ROLLBACK PREPARED`, MySQL `OPTIMIZE TABLE`.
fn keyword_only(t: &mut Toks<'_>) -> Option<StatementKind> {
    const FORMS: &[&[&str]] = &[
        &["CHECKPOINT"],
        &["SECURITY", "LABEL"],
        &["IMPORT", "FOREIGN", "SCHEMA"],
        &["PREPARE", "TRANSACTION"],
        &["COMMIT", "PREPARED"],
        &["ROLLBACK", "PREPARED"],
        &["OPTIMIZE", "TABLE"],
    ];
    let form = FORMS.iter().find(|f| t.eat_kws(f))?;
    // CHECKPOINT takes nothing; the others take arguments we do not read.
    if form.len() == 1 && !t.at_end() {
        return None;
    }
    Some(StatementKind::Other {
        keyword: form.join(" "),
    })
}

/// `COMMENT ON kind name [(args)] [ON table] IS ...`.
fn comment(t: &mut Toks<'_>) -> Option<StatementKind> {
    if !t.eat_kws(&["COMMENT", "ON"]) {
        return None;
    }
    let object = if t.eat_kw("COLUMN") {
        ObjectKind::Column
    } else if t.eat_kw("CONSTRAINT") {
        ObjectKind::Constraint
    } else {
        object_kind(t)?
    };
    let name = if t.peek() == Some(&Token::LParen) {
        // `COMMENT ON CAST (a AS b)`
        t.parens();
        None
    } else {
        Some(t.object_name()?)
    };
    if has_args(&object) {
        t.parens();
    }
    if t.eat_kw("ON") {
        t.eat_kw("DOMAIN");
        t.object_name()?;
    }
    t.eat_kw("IS")
        .then_some(StatementKind::Comment { object, name })
}

/// Keywords naming an object kind, and how to build it.
type KindEntry = (&'static [&'static str], fn() -> ObjectKind);

/// Object kinds as they follow `CREATE`/`ALTER`/`DROP`; longest first.
const KINDS: &[KindEntry] = &[
    (&["MATERIALIZED", "VIEW"], || ObjectKind::MaterializedView),
    (&["FOREIGN", "TABLE"], || {
        ObjectKind::Other("FOREIGN TABLE".into())
    }),
    (&["EVENT", "TRIGGER"], || {
        ObjectKind::Other("EVENT TRIGGER".into())
    }),
    (&["CONSTRAINT", "TRIGGER"], || ObjectKind::Trigger),
    (&["TEXT", "SEARCH", "CONFIGURATION"], || {
        ObjectKind::Other("TEXT SEARCH CONFIGURATION".into())
    }),
    (&["TEXT", "SEARCH", "DICTIONARY"], || {
        ObjectKind::Other("TEXT SEARCH DICTIONARY".into())
    }),
    (&["FOREIGN", "DATA", "WRAPPER"], || {
        ObjectKind::Other("FOREIGN DATA WRAPPER".into())
    }),
    (&["TABLE"], || ObjectKind::Table),
    (&["INDEX"], || ObjectKind::Index),
    (&["VIEW"], || ObjectKind::View),
    (&["SEQUENCE"], || ObjectKind::Sequence),
    (&["SCHEMA"], || ObjectKind::Schema),
    (&["DATABASE"], || ObjectKind::Database),
    (&["FUNCTION"], || ObjectKind::Function),
    (&["PROCEDURE"], || ObjectKind::Procedure),
    (&["ROUTINE"], || ObjectKind::Function),
    (&["TRIGGER"], || ObjectKind::Trigger),
    (&["TYPE"], || ObjectKind::Type),
    (&["DOMAIN"], || ObjectKind::Domain),
    (&["EXTENSION"], || ObjectKind::Extension),
    (&["ROLE"], || ObjectKind::Role),
    (&["USER"], || ObjectKind::Role),
    (&["GROUP"], || ObjectKind::Role),
    (&["STATISTICS"], || ObjectKind::Statistics),
    (&["POLICY"], || ObjectKind::Policy),
    (&["AGGREGATE"], || ObjectKind::Other("AGGREGATE".into())),
    (&["COLLATION"], || ObjectKind::Other("COLLATION".into())),
    (&["CONVERSION"], || ObjectKind::Other("CONVERSION".into())),
    (&["OPERATOR"], || ObjectKind::Other("OPERATOR".into())),
    (&["RULE"], || ObjectKind::Other("RULE".into())),
    (&["SERVER"], || ObjectKind::Other("SERVER".into())),
    (&["PUBLICATION"], || ObjectKind::Other("PUBLICATION".into())),
    (&["SUBSCRIPTION"], || {
        ObjectKind::Other("SUBSCRIPTION".into())
    }),
    (&["TABLESPACE"], || ObjectKind::Other("TABLESPACE".into())),
    (&["LANGUAGE"], || ObjectKind::Other("LANGUAGE".into())),
    (&["CAST"], || ObjectKind::Other("CAST".into())),
    (&["EVENT"], || ObjectKind::Other("EVENT".into())),
];

fn object_kind(t: &mut Toks<'_>) -> Option<ObjectKind> {
    KINDS
        .iter()
        .find(|(words, _)| t.eat_kws(words))
        .map(|(_, make)| make())
}

/// Kinds whose names take an argument list (`f(int, text)`).
fn has_args(kind: &ObjectKind) -> bool {
    match kind {
        ObjectKind::Function | ObjectKind::Procedure => true,
        ObjectKind::Other(s) => s == "AGGREGATE" || s == "OPERATOR",
        _ => false,
    }
}

/// `DROP kind [CONCURRENTLY] [IF EXISTS] name [(args)] [, ...] [ON table] [CASCADE | RESTRICT]`.
fn drop(t: &mut Toks<'_>) -> Option<StatementKind> {
    t.eat_kw("DROP");
    if t.eat_kws(&["OWNED", "BY"]) {
        let mut names = Vec::new();
        loop {
            names.push(t.object_name()?);
            if !t.eat(&Token::Comma) {
                break;
            }
        }
        let cascade = t.eat_kw("CASCADE");
        if !cascade {
            t.eat_kw("RESTRICT");
        }
        return t.at_end().then_some(StatementKind::Drop(Drop {
            object: ObjectKind::Other("OWNED BY".into()),
            names,
            if_exists: false,
            cascade,
            concurrently: false,
            table: None,
        }));
    }
    let object = object_kind(t)?;
    let concurrently = object == ObjectKind::Index && t.eat_kw("CONCURRENTLY");
    let if_exists = t.eat_kws(&["IF", "EXISTS"]);
    let mut names = Vec::new();
    loop {
        if t.peek() == Some(&Token::LParen) {
            // `DROP CAST (a AS b)`: no name.
            t.parens();
        } else {
            names.push(t.object_name()?);
        }
        if has_args(&object) {
            t.parens();
        }
        if !t.eat(&Token::Comma) {
            break;
        }
    }
    // `DROP DATABASE d WITH (FORCE)`
    if object == ObjectKind::Database && t.peek_kw("WITH") && t.peek_at(1) == Some(&Token::LParen) {
        t.next();
        t.parens();
    }
    let table = if t.eat_kw("ON") {
        Some(t.object_name()?)
    } else {
        None
    };
    let cascade = t.eat_kw("CASCADE");
    if !cascade {
        t.eat_kw("RESTRICT");
    }
    t.at_end().then_some(StatementKind::Drop(Drop {
        object,
        names,
        if_exists,
        cascade,
        concurrently,
        table,
    }))
}

/// Whether a parenthesized option list (`(FULL, ANALYZE)`, `(CONCURRENTLY true)`)
/// turns `opt` on.
fn option_on(opts: &[&TokenWithSpan], opt: &str) -> bool {
    let mut i = 0;
    while i < opts.len() {
        if is_kw(&opts[i].token, opt) {
            let off = opts.get(i + 1).is_some_and(|n| {
                is_kw(&n.token, "false")
                    || is_kw(&n.token, "off")
                    || matches!(&n.token, Token::Number(s, _) if s == "0")
            });
            return !off;
        }
        i += 1;
    }
    false
}

/// `REINDEX [(opts)] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} [CONCURRENTLY] [name]`.
fn reindex(t: &mut Toks<'_>) -> Option<StatementKind> {
    t.eat_kw("REINDEX");
    let mut concurrently = false;
    if let Some(r) = t.parens() {
        concurrently = option_on(t.slice(r), "CONCURRENTLY");
    }
    let target = if t.eat_kw("INDEX") {
        ObjectKind::Index
    } else if t.eat_kw("TABLE") {
        ObjectKind::Table
    } else if t.eat_kw("SCHEMA") {
        ObjectKind::Schema
    } else if t.eat_kw("DATABASE") {
        ObjectKind::Database
    } else if t.eat_kw("SYSTEM") {
        ObjectKind::Other("SYSTEM".into())
    } else {
        return None;
    };
    concurrently |= t.eat_kw("CONCURRENTLY");
    let name = if t.at_end() {
        None
    } else {
        Some(t.object_name()?)
    };
    t.at_end().then_some(StatementKind::Reindex(Reindex {
        concurrently,
        target,
        name,
    }))
}

fn is_string(t: &Token) -> bool {
    matches!(
        t,
        Token::DollarQuotedString(_)
            | Token::SingleQuotedString(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
    )
}

/// `DO [LANGUAGE lang] code [LANGUAGE lang]`.
fn do_block(t: &mut Toks<'_>) -> Option<StatementKind> {
    t.eat_kw("DO");
    if t.eat_kw("LANGUAGE") {
        t.ident()?;
    }
    if !t.next().is_some_and(|x| is_string(&x.token)) {
        return None;
    }
    if t.eat_kw("LANGUAGE") {
        t.ident()?;
    }
    t.at_end().then_some(StatementKind::DoBlock)
}

/// `name [(cols)] [, ...]` until the end.
fn table_list(t: &mut Toks<'_>) -> Option<Vec<ObjectName>> {
    let mut tables = Vec::new();
    while !t.at_end() {
        tables.push(t.object_name()?);
        t.parens();
        if !t.eat(&Token::Comma) {
            break;
        }
    }
    t.at_end().then_some(tables)
}

/// `VACUUM [(opts)] [FULL] [FREEZE] [VERBOSE] [ANALYZE] [table [(cols)], ...]`.
fn vacuum(t: &mut Toks<'_>) -> Option<StatementKind> {
    t.eat_kw("VACUUM");
    let (mut full, mut analyze) = (false, false);
    if let Some(r) = t.parens() {
        let opts = t.slice(r);
        full = option_on(opts, "FULL");
        analyze = option_on(opts, "ANALYZE") || option_on(opts, "ANALYSE");
    }
    loop {
        if t.eat_kw("FULL") {
            full = true;
        } else if t.eat_kw("ANALYZE") || t.eat_kw("ANALYSE") {
            analyze = true;
        } else if !(t.eat_kw("FREEZE") || t.eat_kw("VERBOSE")) {
            break;
        }
    }
    let tables = table_list(t)?;
    Some(StatementKind::Vacuum(Vacuum {
        full,
        analyze,
        tables,
    }))
}

/// `ANALYZE [(opts)] [VERBOSE] [table [(cols)], ...]`.
fn analyze(t: &mut Toks<'_>) -> Option<StatementKind> {
    t.next();
    t.parens();
    t.eat_kw("VERBOSE");
    let tables = table_list(t)?;
    Some(StatementKind::Analyze { tables })
}

/// `CLUSTER [VERBOSE] [(opts)] [table [USING index]]` or the old `CLUSTER index ON table`.
fn cluster(t: &mut Toks<'_>) -> Option<StatementKind> {
    t.eat_kw("CLUSTER");
    t.parens();
    t.eat_kw("VERBOSE");
    if t.at_end() {
        return Some(StatementKind::Cluster(Cluster {
            table: None,
            index: None,
        }));
    }
    let first = t.object_name()?;
    let (table, index) = if t.eat_kw("USING") {
        (Some(first), Some(t.ident()?))
    } else if t.eat_kw("ON") {
        (Some(t.object_name()?), first.parts.last().cloned())
    } else {
        (Some(first), None)
    };
    t.at_end()
        .then_some(StatementKind::Cluster(Cluster { table, index }))
}

/// `ALTER kind [IF EXISTS] name [(args)] action...` for kinds other than TABLE.
fn alter_other(t: &mut Toks<'_>) -> Option<StatementKind> {
    t.eat_kw("ALTER");
    if t.eat_kws(&["DEFAULT", "PRIVILEGES"]) {
        return Some(StatementKind::Grant { revoke: false });
    }
    let object = object_kind(t)?;
    if object == ObjectKind::Table {
        return None;
    }
    t.eat_kws(&["IF", "EXISTS"]);
    // `ALTER INDEX ALL IN TABLESPACE ...` and friends have no single name.
    let name = if t.peek_kw("ALL") {
        None
    } else {
        Some(t.object_name()?)
    };
    if has_args(&object) {
        t.parens();
    }
    // Triggers and policies are named `name ON table`.
    if t.eat_kw("ON") {
        t.object_name()?;
    }
    let action = t.head_words(2);
    if action.is_empty() {
        return None;
    }
    let new_name = if t.eat_kws(&["RENAME", "TO"]) {
        t.object_name()
    } else {
        None
    };
    Some(StatementKind::AlterOther(AlterOther {
        object,
        name,
        action,
        new_name,
    }))
}

/// The name after a top-level `RENAME TO` in a statement, if any.
pub(crate) fn rename_target(tokens: &[TokenWithSpan]) -> Option<ObjectName> {
    let mut t = Toks::new(tokens);
    let mut depth = 0i64;
    while let Some(tok) = t.next() {
        match &tok.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            x if depth == 0 && is_kw(x, "RENAME") && t.eat_kw("TO") => return t.object_name(),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests;
