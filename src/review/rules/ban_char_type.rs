//! `ban-char-type`: CHAR(n) / character columns

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "ban-char-type",
    default_severity: Severity::Warning,
    description: "CHAR(n) / character columns",
    why: "char(n) pads values with spaces to n characters, wastes space, and compares surprisingly; it is never faster than varchar or text.",
    instead: "Use text (PostgreSQL) or varchar(n).",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for col in typed_columns(cx.stmt) {
        let t = col.data_type;
        if t.is_char() {
            out.push(cx.hit(
                col.span,
                format!("Column `{}` is {}: use varchar or text.", col.name, t.raw),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "ban-char-type";

    #[test]
    fn flags_the_type() {
        assert_eq!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY,\n  code char(3));",
                ID
            ),
            [2]
        );
        assert_eq!(
            lines_mysql("ALTER TABLE a ADD COLUMN c char(2), ALGORITHM=INSTANT;", ID),
            [1]
        );
    }

    #[test]
    fn other_types_are_fine() {
        assert!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY, code varchar(3), c text);",
                ID
            )
            .is_empty()
        );
    }
}
