//! `identifier-max-length`: PostgreSQL truncates names over 63 bytes.

use super::naming_snake_case::introduced_names;
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "identifier-max-length",
    default_severity: Severity::Error,
    description: "identifiers over 63 bytes (PostgreSQL) / 64 characters (MySQL)",
    why: "PostgreSQL silently truncates longer names to 63 bytes (two long names can collide, and later migrations that use the full name miss the object); MySQL rejects them.",
    instead: "Shorten the name (abbreviate, drop redundant prefixes).",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let mut names = introduced_names(cx.stmt);
    if let StatementKind::CreateOther(co) = &cx.stmt.kind
        && let Some(n) = co.name.as_ref().and_then(ObjectName::ident)
    {
        names.push(("object", n));
    }
    for (what, name) in names {
        let (len, max, unit) = match cx.dialect {
            Dialect::Postgres => (name.value.len(), 63, "bytes"),
            Dialect::Mysql => (name.value.chars().count(), 64, "characters"),
        };
        if len > max {
            out.push(cx.hit(
                name.span,
                format!(
                    "The {what} name `{}` is {len} {unit} long (limit {max}).",
                    name.value
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "identifier-max-length";

    #[test]
    fn flags_long_names() {
        let long = "a".repeat(64);
        let sql = format!(
            "SELECT 1;\nCREATE TABLE t (id bigint PRIMARY KEY, {long} text);\nCREATE INDEX {long} ON t (id);"
        );
        assert_eq!(lines(&sql, ID), [2, 3]);
        assert!(lines_mysql(&sql, ID).is_empty());
        let longer = "b".repeat(65);
        assert_eq!(
            lines_mysql(
                &format!("CREATE TABLE {longer} (id bigint PRIMARY KEY) ENGINE=InnoDB;"),
                ID
            ),
            [1]
        );
    }

    #[test]
    fn names_at_the_limit_are_fine() {
        let ok = "a".repeat(63);
        assert!(lines(&format!("CREATE TABLE {ok} (id bigint PRIMARY KEY);"), ID).is_empty());
    }
}
