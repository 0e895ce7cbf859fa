//! `truncate` and `truncate-cascade`: TRUNCATE empties tables at once.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "truncate",
    default_severity: Severity::Error,
    description: "TRUNCATE",
    why: "TRUNCATE removes every row at once under an ACCESS EXCLUSIVE lock; it cannot be limited with WHERE and is not undone by anything but a restore.",
    instead: "Delete in batches with a WHERE clause (or archive first); if the table really must be emptied, do it by hand with a backup.",
    dialects: ALL,
    check: Check::Statement(check),
};

pub(super) const CASCADE_RULE: RuleInfo = RuleInfo {
    id: "truncate-cascade",
    default_severity: Severity::Error,
    description: "TRUNCATE … CASCADE",
    why: "CASCADE also empties every table with a foreign key to the truncated ones — tables the migration never names.",
    instead: "Name every table to empty explicitly, without CASCADE.",
    dialects: PG,
    check: Check::Statement(check_cascade),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Truncate(t) = &cx.stmt.kind
        && t.tables.iter().any(|n| cx.existing(n))
    {
        let names: Vec<String> = t.tables.iter().map(|n| format!("`{n}`")).collect();
        out.push(cx.hit(None, format!("TRUNCATE empties {}.", names.join(", "))));
    }
}

fn check_cascade(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Truncate(t) = &cx.stmt.kind
        && t.cascade
    {
        out.push(cx.hit(
            None,
            "TRUNCATE … CASCADE also empties every table that references these.",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    #[test]
    fn flags_truncate() {
        assert_eq!(
            lines("SELECT 1;\nTRUNCATE TABLE sessions;", "truncate"),
            [2]
        );
        assert_eq!(lines_mysql("TRUNCATE TABLE sessions;", "truncate"), [1]);
        assert!(lines("TRUNCATE TABLE sessions;", "truncate-cascade").is_empty());
    }

    #[test]
    fn flags_cascade_separately() {
        let sql = "TRUNCATE users CASCADE;";
        assert_eq!(lines(sql, "truncate-cascade"), [1]);
        assert_eq!(lines(sql, "truncate"), [1]);
    }

    #[test]
    fn delete_with_where_is_not_truncate() {
        assert!(lines("DELETE FROM sessions WHERE id < 10;", "truncate").is_empty());
    }
}
