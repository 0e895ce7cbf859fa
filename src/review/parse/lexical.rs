//! The lexical fallback: what a statement does, judged from its keywords, for
//! statements nobody could parse. Errs on the side of the riskier reading so a
//! parse failure never makes a destructive statement look harmless.

use super::tokens::{Toks, is_kw};
use crate::review::model::LexicalClass;
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// Classifies a statement from its tokens (which may stop early, e.g. at a
/// tokenizer error).
pub(crate) fn classify(tokens: &[TokenWithSpan]) -> LexicalClass {
    let mut t = Toks::new(tokens);
    // Leading parentheses (`(SELECT ...)`) and EXPLAIN do not change the class.
    while t.eat(&Token::LParen) {}
    let Some(first) = t.next() else {
        return LexicalClass::Other;
    };
    let Token::Word(w) = &first.token else {
        return LexicalClass::Other;
    };
    match w.value.to_uppercase().as_str() {
        "DROP" => {
            t.eat_kw("TEMPORARY");
            if t.eat_kw("TABLE") {
                LexicalClass::DropTable
            } else if t.eat_kw("DATABASE") {
                LexicalClass::DropDatabase
            } else if t.eat_kw("SCHEMA") {
                LexicalClass::DropSchema
            } else if t.eat_kw("INDEX") {
                LexicalClass::DropIndex {
                    concurrently: t.peek_kw("CONCURRENTLY"),
                }
            } else {
                LexicalClass::DropOther
            }
        }
        "TRUNCATE" => LexicalClass::Truncate,
        "DELETE" => LexicalClass::Delete {
            has_where: t.has_top_level_kw("WHERE"),
        },
        "UPDATE" => LexicalClass::Update {
            has_where: t.has_top_level_kw("WHERE"),
        },
        "INSERT" | "REPLACE" | "COPY" | "MERGE" | "UPSERT" => LexicalClass::Insert,
        "WITH" => with_class(tokens),
        "ALTER" => {
            if t.eat_kw("TABLE") {
                alter_table_class(&mut t)
            } else {
                LexicalClass::OtherDdl
            }
        }
        "CREATE" => create_class(&mut t),
        "COMMENT" | "GRANT" | "REVOKE" | "REINDEX" | "VACUUM" | "CLUSTER" | "ANALYZE"
        | "ANALYSE" | "LOCK" | "REFRESH" | "RENAME" | "SECURITY" | "IMPORT" | "OPTIMIZE" => {
            LexicalClass::OtherDdl
        }
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SET" | "RESET"
        | "SAVEPOINT" | "RELEASE" | "USE" => LexicalClass::Session,
        _ => LexicalClass::Other,
    }
}

/// `WITH ... DELETE/UPDATE/INSERT`: a data-modifying CTE or main statement.
fn with_class(tokens: &[TokenWithSpan]) -> LexicalClass {
    let t = Toks::new(tokens);
    let mut seen: Option<LexicalClass> = None;
    let mut i = 0;
    while let Some(tok) = t.peek_at(i) {
        i += 1;
        let class = if is_kw(tok, "DELETE") {
            let mut rest = Toks::new(tokens);
            rest.reset(t.pos() + i);
            LexicalClass::Delete {
                has_where: rest.has_top_level_kw("WHERE"),
            }
        } else if is_kw(tok, "UPDATE") {
            let mut rest = Toks::new(tokens);
            rest.reset(t.pos() + i);
            LexicalClass::Update {
                has_where: rest.has_top_level_kw("WHERE"),
            }
        } else if is_kw(tok, "INSERT") {
            LexicalClass::Insert
        } else {
            continue;
        };
        // Keep the riskiest reading: a WHERE-less DELETE/UPDATE wins.
        seen = Some(match (seen, class) {
            (None, c) => c,
            (Some(prev), c) => {
                if risk_order(&c) > risk_order(&prev) {
                    c
                } else {
                    prev
                }
            }
        });
    }
    seen.unwrap_or(LexicalClass::Other)
}

fn risk_order(c: &LexicalClass) -> u8 {
    match c {
        LexicalClass::Delete { has_where: false } | LexicalClass::Update { has_where: false } => 3,
        LexicalClass::Delete { .. } | LexicalClass::Update { .. } => 2,
        LexicalClass::Insert => 1,
        _ => 0,
    }
}

/// Words after `DROP` in `ALTER TABLE` that do not drop a column.
const DROP_NON_COLUMN: &[&str] = &[
    "CONSTRAINT",
    "INDEX",
    "KEY",
    "PRIMARY",
    "FOREIGN",
    "DEFAULT",
    "NOT",
    "IDENTITY",
    "EXPRESSION",
    "PARTITION",
    "CHECK",
    "TRIGGER",
    "RULE",
    "PROJECTION",
];

fn alter_table_class(t: &mut Toks<'_>) -> LexicalClass {
    let mut column_type = false;
    let mut depth = 0i64;
    let mut prev_alter_column = false;
    while let Some(tok) = t.next() {
        match &tok.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            tok if depth == 0 && is_kw(tok, "DROP") => {
                let next_is_column = t.peek_kw("COLUMN")
                    || (!t
                        .peek()
                        .is_some_and(|n| DROP_NON_COLUMN.iter().any(|kw| is_kw(n, kw)))
                        && t.peek().is_some());
                if next_is_column {
                    return LexicalClass::AlterTableDropColumn;
                }
            }
            tok if depth == 0 && (is_kw(tok, "MODIFY") || is_kw(tok, "CHANGE")) => {
                column_type = true;
            }
            tok if depth == 0 && is_kw(tok, "TYPE") && prev_alter_column => column_type = true,
            tok if depth == 0 && is_kw(tok, "ALTER") => prev_alter_column = true,
            tok if depth == 0 && is_kw(tok, "ADD") => prev_alter_column = false,
            _ => {}
        }
    }
    if column_type {
        LexicalClass::AlterTableColumnType
    } else {
        LexicalClass::AlterTable
    }
}

fn create_class(t: &mut Toks<'_>) -> LexicalClass {
    t.eat_kws(&["OR", "REPLACE"]);
    for kw in ["GLOBAL", "LOCAL", "TEMPORARY", "TEMP", "UNLOGGED"] {
        t.eat_kw(kw);
    }
    if t.eat_kw("TABLE") {
        return LexicalClass::CreateTable;
    }
    t.eat_kw("UNIQUE");
    for kw in ["FULLTEXT", "SPATIAL"] {
        t.eat_kw(kw);
    }
    if t.eat_kw("INDEX") {
        return LexicalClass::CreateIndex {
            concurrently: t.peek_kw("CONCURRENTLY"),
        };
    }
    LexicalClass::OtherDdl
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::model::Dialect;
    use crate::review::parse::split::tokenize_at;
    use sqlparser::tokenizer::Location;

    fn class(sql: &str) -> LexicalClass {
        classify(&tokenize_at(sql, Location::new(1, 1), Dialect::Postgres).0)
    }

    #[test]
    fn drops() {
        assert_eq!(class("DROP TABLE x"), LexicalClass::DropTable);
        assert_eq!(class("drop database d"), LexicalClass::DropDatabase);
        assert_eq!(class("DROP SCHEMA s CASCADE"), LexicalClass::DropSchema);
        assert_eq!(
            class("DROP INDEX CONCURRENTLY i"),
            LexicalClass::DropIndex { concurrently: true }
        );
        assert_eq!(class("DROP VIEW v"), LexicalClass::DropOther);
    }

    #[test]
    fn dml_with_and_without_where() {
        assert_eq!(
            class("DELETE FROM x"),
            LexicalClass::Delete { has_where: false }
        );
        assert_eq!(
            class("DELETE FROM x WHERE id IN (SELECT 1)"),
            LexicalClass::Delete { has_where: true }
        );
        // A WHERE inside a subquery is not the statement's WHERE.
        assert_eq!(
            class("UPDATE x SET a = (SELECT b FROM y WHERE c)"),
            LexicalClass::Update { has_where: false }
        );
        assert_eq!(
            class("WITH d AS (DELETE FROM x RETURNING *) SELECT 1"),
            LexicalClass::Delete { has_where: false }
        );
        assert_eq!(class("TRUNCATE x"), LexicalClass::Truncate);
        assert_eq!(class("INSERT INTO x VALUES (1)"), LexicalClass::Insert);
    }

    #[test]
    fn alter_table_forms() {
        assert_eq!(
            class("ALTER TABLE t DROP COLUMN c"),
            LexicalClass::AlterTableDropColumn
        );
        assert_eq!(
            class("ALTER TABLE t DROP c"),
            LexicalClass::AlterTableDropColumn
        );
        assert_eq!(
            class("ALTER TABLE t ALTER COLUMN c DROP NOT NULL, DROP CONSTRAINT k"),
            LexicalClass::AlterTable
        );
        assert_eq!(
            class("ALTER TABLE t ALTER COLUMN c TYPE bigint"),
            LexicalClass::AlterTableColumnType
        );
        assert_eq!(
            class("ALTER TABLE t MODIFY c int"),
            LexicalClass::AlterTableColumnType
        );
        assert_eq!(
            class("ALTER TABLE t ADD COLUMN c int"),
            LexicalClass::AlterTable
        );
    }

    #[test]
    fn creates_and_session() {
        assert_eq!(
            class("CREATE UNLOGGED TABLE t ()"),
            LexicalClass::CreateTable
        );
        assert_eq!(
            class("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)"),
            LexicalClass::CreateIndex { concurrently: true }
        );
        assert_eq!(class("CREATE FUNCTION f()"), LexicalClass::OtherDdl);
        assert_eq!(class("SET lock_timeout = 1"), LexicalClass::Session);
        assert_eq!(class("select 1"), LexicalClass::Other);
        assert_eq!(class(""), LexicalClass::Other);
    }
}
