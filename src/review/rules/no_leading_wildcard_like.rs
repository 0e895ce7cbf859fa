//! `no-leading-wildcard-like`: `LIKE '%…'` (Bytebase's
//! `statement.where.no-leading-wildcard-like`).

use super::clauses::{Clauses, string_value};
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "no-leading-wildcard-like",
    default_severity: Severity::Off,
    description: "LIKE / ILIKE with a pattern starting with `%`",
    why: "Team policy: a leading wildcard cannot use a b-tree index: the statement scans the whole table (in a migration, under its locks).",
    instead: "Anchor the pattern (`'abc%'`), or use a trigram (pg_trgm) or full-text index.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if !matches!(
        cx.stmt.kind,
        StatementKind::Select
            | StatementKind::Update(_)
            | StatementKind::Delete(_)
            | StatementKind::Insert(_)
    ) {
        return;
    }
    let c = Clauses::of(cx);
    for i in 0..c.len() {
        if (c.is_kw(i, "LIKE") || c.is_kw(i, "ILIKE"))
            && c.tok(i + 1)
                .and_then(string_value)
                .is_some_and(|p| p.starts_with('%'))
        {
            out.push(cx.hit(c.span(i + 1), "The LIKE pattern starts with `%`."));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "no-leading-wildcard-like";

    #[test]
    fn flags_leading_wildcards() {
        let sql = "DELETE FROM users WHERE email LIKE '%@old.example';\nSELECT id FROM users WHERE name ILIKE 'ann%';";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
