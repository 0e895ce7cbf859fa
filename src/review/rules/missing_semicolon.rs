//! `missing-semicolon`: two statements with no `;` between them.

use super::prelude::*;
use crate::review::finding::Span;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "missing-semicolon",
    default_severity: Severity::Error,
    description: "a statement keyword at the start of a line inside what reads as one statement: a missing `;`",
    why: "Without the `;` the database reads two statements as one and rejects it (or, worse, accepts a different statement); bytegate cannot check the second one.",
    instead: "End each statement with `;`. bytegate does not guess where the first statement ends.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementSource::Unparsed { error } = &cx.stmt.source
        && error.cause == ParseCause::MissingSemicolon
    {
        let span = error.position.map(|p| Span { start: p, end: p });
        out.push(cx.hit(span, error.message.clone()));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "missing-semicolon";

    #[test]
    fn flags_the_join_not_a_parse_error() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY)\nDROP TABLE b;\nSELECT 1;";
        let all = lint_errors(sql);
        assert!(all.contains(&(ID.to_string(), 2)), "{all:?}");
        assert!(!all.iter().any(|(r, _)| r == "parse-error"), "{all:?}");
        let sql = "ALTER TABLE a ADD COLUMN b text\n\nINSERT INTO a (b) VALUES ('x');";
        assert_eq!(lines(sql, ID), [3]);
        assert_eq!(
            lines_mysql(
                "UPDATE a SET b = 1 WHERE id = 2\nDELETE FROM a WHERE id = 3;",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn statement_keywords_that_continue_a_statement_are_fine() {
        for sql in [
            "ALTER TABLE a\n  DROP COLUMN b,\n  ALTER COLUMN c SET NOT NULL;",
            "CREATE TRIGGER t BEFORE INSERT OR\nUPDATE ON a FOR EACH ROW EXECUTE FUNCTION f();",
            "WITH x AS (SELECT 1)\nINSERT INTO a (id) SELECT * FROM x;",
            "CREATE POLICY p ON a FOR\nDELETE USING (true);",
            "INSERT INTO a (id) VALUES (1) ON CONFLICT (id) DO\nUPDATE SET id = 2;",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA s\nGRANT SELECT ON TABLES TO r;",
            "CREATE RULE r AS ON INSERT TO a DO INSTEAD\nINSERT INTO b (id) VALUES (new.id);",
        ] {
            assert!(lines(sql, ID).is_empty(), "{sql}");
        }
        for sql in [
            "CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW\nUPDATE b SET n = n + 1;",
            "CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW\nBEGIN\n  UPDATE b SET n = n + 1;\n  DELETE FROM c WHERE id = 1;\nEND;",
        ] {
            assert!(lines_mysql(sql, ID).is_empty(), "{sql}");
        }
    }
}
