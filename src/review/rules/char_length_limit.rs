//! `char-length-limit`: CHAR(n) above its own maximum (VARCHAR has
//! `text-type-limit`), as Bytebase's `column.maximum-character-length`.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "char-length-limit",
    default_severity: Severity::Warning,
    description: "CHAR(n) longer than the configured maximum (default 20)",
    why: "char(n) pads every value with spaces to n characters: a long CHAR stores and compares padding, and a value that needs more is refused.",
    instead: "Use varchar(n) or text for anything but short fixed codes, or raise `review.rules.char-length-limit.max_length` deliberately.",
    dialects: ALL,
    check: Check::Statement(check),
};

/// Bytebase's default.
const DEFAULT_MAX: u64 = 20;

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let max = cx.opts.max_length(RULE.id, DEFAULT_MAX);
    for col in typed_columns(cx.stmt) {
        let t = col.data_type;
        if t.is_char()
            && let Some(n) = t.length
            && n > max
        {
            out.push(cx.hit(
                col.span,
                format!(
                    "Column `{}` is {} ({n} characters; at most {max} allowed for CHAR).",
                    col.name, t.raw
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::RuleSetting;

    const ID: &str = "char-length-limit";

    #[test]
    fn flags_long_char_not_varchar() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY,\n  code char(64),\n  name varchar(64), c char(2));";
        assert_eq!(lines(sql, ID), [2]);
        assert_eq!(
            lines_mysql(
                "ALTER TABLE a MODIFY c char(100), ALGORITHM=INPLACE, LOCK=NONE;",
                ID
            ),
            [1]
        );
    }

    #[test]
    fn max_is_configurable() {
        let s = RuleSetting {
            max_length: Some(2),
            ..RuleSetting::default()
        };
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY, c char(3));";
        assert_eq!(lines_on_with(sql, ID, Dialect::Postgres, s), [1]);
    }
}
