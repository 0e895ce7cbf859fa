//! `reindex-concurrently`: REINDEX CONCURRENTLY.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "reindex-concurrently",
    default_severity: Severity::Warning,
    description: "REINDEX without CONCURRENTLY",
    why: "A plain REINDEX locks out writes to the table (and reads that would use the index) until the rebuild finishes.",
    instead: "REINDEX ... CONCURRENTLY (PostgreSQL 12+), in its own migration file.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Reindex(r) = &cx.stmt.kind
        && !r.concurrently
        && super::require_lock_timeout::reindexes_existing(r, cx.schema)
    {
        let what = r
            .name
            .as_ref()
            .map(|n| format!(" `{n}`"))
            .unwrap_or_default();
        out.push(cx.hit(None, format!("REINDEX{what} without CONCURRENTLY.")));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "reindex-concurrently";

    #[test]
    fn flags_plain_reindex() {
        assert_eq!(lines("SELECT 1;\nREINDEX INDEX users_email;", ID), [2]);
        assert_eq!(lines("REINDEX TABLE users;", ID), [1]);
    }

    #[test]
    fn concurrently_is_fine() {
        assert!(lines("REINDEX INDEX CONCURRENTLY users_email;", ID).is_empty());
        assert!(lines("REINDEX (CONCURRENTLY) TABLE users;", ID).is_empty());
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY);\nREINDEX TABLE t;";
        assert!(lines(sql, ID).is_empty());
    }
}
