//! `drop-index-concurrently`: drop indexes of existing tables CONCURRENTLY.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-index-concurrently",
    default_severity: Severity::Warning,
    description: "DROP INDEX without CONCURRENTLY",
    why: "DROP INDEX takes an ACCESS EXCLUSIVE lock on the index's table: while it waits for running queries, every later read and write queues behind it.",
    instead: "DROP INDEX CONCURRENTLY, in its own migration file (it cannot run inside a transaction).",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::Drop(d) = &cx.stmt.kind
        && d.object == ObjectKind::Index
        && !d.concurrently
    {
        for n in d.names.iter().filter(|n| !cx.schema.is_new_index(n)) {
            out.push(cx.hit(
                n.span(),
                format!("Index `{n}` is dropped without CONCURRENTLY."),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-index-concurrently";

    #[test]
    fn flags_plain_drop_index() {
        assert_eq!(lines("SELECT 1;\nDROP INDEX users_email;", ID), [2]);
    }

    #[test]
    fn concurrently_or_new_index_is_fine() {
        assert!(lines("DROP INDEX CONCURRENTLY IF EXISTS users_email;", ID).is_empty());
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, x bigint);\nCREATE INDEX t_x ON t (x);\nDROP INDEX t_x;";
        assert!(lines(sql, ID).is_empty());
    }
}
