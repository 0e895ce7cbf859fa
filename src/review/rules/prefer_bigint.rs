//! `prefer-bigint`: int / serial / smallint columns

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "prefer-bigint",
    default_severity: Severity::Warning,
    description: "int / serial / smallint columns",
    why: "32-bit keys and counters run out (2,147,483,647) on busy tables, and widening a column later rewrites the table and every index on it.",
    instead: "Use bigint (or bigint GENERATED ... AS IDENTITY); the extra 4 bytes per row are cheap.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for col in typed_columns(cx.stmt) {
        let t = col.data_type;
        if t.is_small_integer() {
            out.push(cx.hit(
                col.span,
                format!("Column `{}` is {}: use bigint.", col.name, t.raw),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "prefer-bigint";

    #[test]
    fn flags_the_type() {
        assert_eq!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY,\n  n integer,\n  s smallint);",
                ID
            ),
            [2, 3]
        );
    }

    #[test]
    fn other_types_are_fine() {
        assert!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY, n bigint, b bigserial);",
                ID
            )
            .is_empty()
        );
    }
}
