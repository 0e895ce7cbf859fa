//! `prefer-timestamptz`: timestamp without time zone

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "prefer-timestamptz",
    default_severity: Severity::Warning,
    description: "timestamp without time zone",
    why: "timestamp without time zone stores wall-clock time with no zone: values shift silently when servers or sessions use different time zones, and DST makes some ambiguous.",
    instead: "Use timestamptz (timestamp with time zone); it stores an absolute instant.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for col in typed_columns(cx.stmt) {
        let t = col.data_type;
        if t.is_timestamp_without_tz() {
            out.push(cx.hit(
                col.span,
                format!("Column `{}` is {}: use timestamptz.", col.name, t.raw),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "prefer-timestamptz";

    #[test]
    fn flags_the_type() {
        assert_eq!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY,\n  created_at timestamp);",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn other_types_are_fine() {
        assert!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY, created_at timestamptz, d date);",
                ID
            )
            .is_empty()
        );
    }
}
