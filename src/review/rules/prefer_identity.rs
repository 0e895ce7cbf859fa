//! `prefer-identity`: serial types instead of GENERATED … AS IDENTITY

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "prefer-identity",
    default_severity: Severity::Info,
    description: "serial types instead of GENERATED … AS IDENTITY",
    why: "serial creates a separately owned sequence with loose permissions and odd dump/restore behaviour; identity columns are the SQL-standard, better-behaved replacement.",
    instead: "Use bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT).",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for col in typed_columns(cx.stmt) {
        let t = col.data_type;
        if t.is_serial() {
            out.push(cx.hit(
                col.span,
                format!(
                    "Column `{}` is {}: use an identity column.",
                    col.name, t.raw
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "prefer-identity";

    #[test]
    fn flags_the_type() {
        assert_eq!(
            lines("CREATE TABLE a (\n  id bigserial PRIMARY KEY);", ID),
            [2]
        );
    }

    #[test]
    fn other_types_are_fine() {
        assert!(
            lines(
                "CREATE TABLE a (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
                ID
            )
            .is_empty()
        );
    }
}
