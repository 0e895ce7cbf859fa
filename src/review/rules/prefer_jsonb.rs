//! `prefer-jsonb`: new `json` column

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "prefer-jsonb",
    default_severity: Severity::Warning,
    description: "new `json` column",
    why: "json stores the text as written: it is reparsed on every access, cannot be indexed with GIN and has no equality operator (so DISTINCT, GROUP BY and UNION fail).",
    instead: "Use jsonb.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for col in typed_columns(cx.stmt) {
        let t = col.data_type;
        if t.is_json() {
            out.push(cx.hit(
                col.span,
                format!("Column `{}` is {}: use jsonb.", col.name, t.raw),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "prefer-jsonb";

    #[test]
    fn flags_the_type() {
        assert_eq!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY,\n  doc json);\nALTER TABLE a ADD COLUMN d2 json;",
                ID
            ),
            [2, 3]
        );
    }

    #[test]
    fn other_types_are_fine() {
        assert!(lines("CREATE TABLE a (id bigint PRIMARY KEY, doc jsonb);", ID).is_empty());
    }
}
