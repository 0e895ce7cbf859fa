//! `parse-error`: a statement neither sqlparser nor a recognizer understood.

use super::prelude::*;
use crate::review::finding::Span;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "parse-error",
    default_severity: Severity::Warning,
    description: "a statement that neither the parser nor a recognizer understands",
    why: "bytegate cannot check what it cannot read: no rule saw this statement (risk still classifies it from its keywords).",
    instead: "Check the syntax for the configured dialect; if it is valid, review it by hand and report it so bytegate learns the form.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementSource::Unparsed { error } = &cx.stmt.source
        && error.cause != ParseCause::MissingSemicolon
    {
        let span = error.position.map(|p| Span { start: p, end: p });
        out.push(cx.hit(
            span,
            format!("bytegate could not parse this statement: {}", error.message),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::ReviewSettings;

    const ID: &str = "parse-error";

    #[test]
    fn flags_garbage_and_continues() {
        let sql = "SELECT 1;\nCREATE TABLBLE x (;\nDROP TABLE users;";
        assert_eq!(lines(sql, ID), [2]);
        assert!(lint_errors(sql).contains(&("drop-table".to_string(), 3)));
    }

    #[test]
    fn sqlite_and_mysql_syntax_is_not_postgres() {
        for (sql, word) in [
            (
                "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT);",
                "AUTOINCREMENT",
            ),
            ("INSERT OR IGNORE INTO t (id) VALUES (1);", "INSERT OR"),
            ("CREATE VIRTUAL TABLE docs USING fts4(body);", "VIRTUAL"),
            (
                "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY);",
                "UNSIGNED",
            ),
            (
                "CREATE TABLE t (id INT(11) UNSIGNED PRIMARY KEY);",
                "UNSIGNED",
            ),
            (
                "CREATE TABLE t (id bigint AUTO_INCREMENT PRIMARY KEY);",
                "AUTO_INCREMENT",
            ),
            (
                "CREATE TABLE t (id bigint PRIMARY KEY) WITHOUT ROWID;",
                "ROWID",
            ),
        ] {
            let f = lint_with(sql, Dialect::Postgres, None, &ReviewSettings::default());
            let hit = f.findings.iter().find(|f| f.rule == ID);
            assert!(
                hit.is_some_and(
                    |h| h.message.contains("not PostgreSQL") && h.message.contains(word)
                ),
                "{sql}: {:?}",
                f.findings
            );
        }
        // The same words mean nothing wrong in MySQL.
        assert!(
            lines_mysql(
                "CREATE TABLE t (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY);",
                ID
            )
            .is_empty()
        );
    }

    #[test]
    fn a_trigger_body_is_one_statement_and_not_postgres() {
        let sql = "CREATE TRIGGER t_upd AFTER UPDATE ON t\nBEGIN\n  UPDATE t SET n = n + 1 WHERE id = new.id;\n  DELETE FROM u WHERE id = old.id;\nEND;\nSELECT 1;";
        let f = lint_with(sql, Dialect::Postgres, None, &ReviewSettings::default());
        let rules: Vec<(&str, u32)> = f
            .findings
            .iter()
            .map(|f| (f.rule.as_str(), f.span.start.line))
            .collect();
        // Not split at the inner `;`s: no END read as a COMMIT, no UPDATE
        // and DELETE of their own.
        assert_eq!(rules, [(ID, 2)], "{:?}", f.findings);
        // A PostgreSQL trigger and a BEGIN ATOMIC function body are fine.
        assert!(
            lines(
                "CREATE TRIGGER t_upd AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION f();",
                ID
            )
            .is_empty()
        );
    }

    #[test]
    fn valid_sql_is_fine() {
        assert!(lines("SELECT 1;\nDROP TABLE users;", ID).is_empty());
    }

    #[test]
    fn can_be_suppressed_on_the_statement() {
        let sql = "-- bytegate-ignore parse-error -- vendor syntax, reviewed by hand\nCREATE TABLBLE x (;";
        assert!(lint_errors(sql).is_empty(), "{:?}", lint_errors(sql));
    }
}
