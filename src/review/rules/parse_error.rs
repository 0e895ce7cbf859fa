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
    if let StatementSource::Unparsed { error } = &cx.stmt.source {
        let span = error.position.map(|p| Span { start: p, end: p });
        out.push(cx.hit(
            span,
            format!("bytegate could not parse this statement: {}", error.message),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "parse-error";

    #[test]
    fn flags_garbage_and_continues() {
        let sql = "SELECT 1;\nCREATE TABLBLE x (;\nDROP TABLE users;";
        assert_eq!(lines(sql, ID), [2]);
        assert!(lint_errors(sql).contains(&("drop-table".to_string(), 3)));
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
