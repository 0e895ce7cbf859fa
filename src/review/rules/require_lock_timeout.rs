//! `require-lock-timeout`: set a lock timeout before taking blocking locks.

use super::prelude::*;
use crate::review::schema::Schema;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "require-lock-timeout",
    default_severity: Severity::Warning,
    description: "a file that takes blocking locks on existing tables with no `SET [LOCAL] lock_timeout` before them",
    why: "A lock request that waits (behind a long query or transaction) queues every later reader and writer of the table behind it: even an instant ALTER can take the application down.",
    instead: "Start the file with `SET lock_timeout = '3s';` (or rely on the environment's configured lock_timeout, which makes this an info) and retry on timeout.",
    dialects: PG,
    check: Check::File(check),
};

/// True when `stmt` takes a lock that blocks reads or writes of a table that
/// existed before the change (judged on the schema before the statement).
pub(super) fn takes_blocking_lock(stmt: &Statement, schema: &Schema) -> bool {
    let existing = |t: &ObjectName| !schema.is_new_table(t);
    match &stmt.kind {
        StatementKind::AlterTable(at) => {
            existing(&at.name)
                && at.actions.iter().any(|a| {
                    !matches!(
                        a,
                        AlterAction::ValidateConstraint { .. }
                            | AlterAction::DetachPartition {
                                concurrently: true,
                                ..
                            }
                    )
                })
        }
        StatementKind::CreateIndex(ci) => !ci.concurrently && existing(&ci.table),
        StatementKind::Drop(d) => match d.object {
            ObjectKind::Table => d.names.iter().any(existing),
            ObjectKind::Index => !d.concurrently && d.names.iter().any(|n| !schema.is_new_index(n)),
            ObjectKind::View | ObjectKind::MaterializedView => d.names.iter().any(existing),
            ObjectKind::Trigger => d.table.as_ref().is_none_or(existing),
            _ => false,
        },
        StatementKind::Truncate(t) => t.tables.iter().any(existing),
        StatementKind::Vacuum(v) => v.full,
        StatementKind::Cluster(_) | StatementKind::Lock { .. } => true,
        StatementKind::Reindex(r) => !r.concurrently && reindexes_existing(r, schema),
        StatementKind::RefreshMaterializedView { concurrently, .. } => !concurrently,
        StatementKind::CreateOther(co) => {
            co.object == ObjectKind::Trigger && co.table.as_ref().is_some_and(existing)
        }
        _ => false,
    }
}

/// True unless the REINDEX target was created by the change under review.
pub(super) fn reindexes_existing(r: &Reindex, schema: &Schema) -> bool {
    match (&r.target, &r.name) {
        (ObjectKind::Table, Some(n)) => !schema.is_new_table(n),
        (ObjectKind::Index, Some(n)) => !schema.is_new_index(n),
        _ => true,
    }
}

/// True for a `SET lock_timeout` that actually sets a limit.
fn sets_lock_timeout(stmt: &Statement) -> bool {
    match &stmt.kind {
        StatementKind::Set(s) if s.name == "lock_timeout" => {
            let v = s
                .value
                .as_deref()
                .unwrap_or("")
                .trim_matches(|c| c == '\'' || c == '"');
            !(v == "0" || v.eq_ignore_ascii_case("default") || v.is_empty())
        }
        _ => false,
    }
}

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    for (i, stmt) in cx.file.statements.iter().enumerate() {
        if sets_lock_timeout(stmt) {
            return;
        }
        if cx.blocking.get(i).copied().unwrap_or(false) {
            out.push(cx.stmt_hit(
                i,
                None,
                "This statement takes a blocking lock on an existing table, and no lock_timeout is set before it.",
            ));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "require-lock-timeout";

    #[test]
    fn flags_first_blocking_statement_once() {
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE users ADD COLUMN a text;\nALTER TABLE users ADD COLUMN b text;";
        assert_eq!(lines(sql, ID), [2]);
    }

    #[test]
    fn timeout_first_or_only_new_tables_is_fine() {
        let sql = "SET lock_timeout = '3s';\nALTER TABLE users ADD COLUMN a text;";
        assert!(lines(sql, ID).is_empty());
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t ADD COLUMN a text;\nCREATE INDEX CONCURRENTLY i ON users (a);";
        assert!(lines(sql, ID).is_empty());
        let sql = "CREATE MATERIALIZED VIEW v AS SELECT 1 AS id;\nCREATE INDEX v_id ON v (id);\nREINDEX TABLE v;\nDROP MATERIALIZED VIEW v;";
        assert!(lines(sql, ID).is_empty());
        assert_eq!(lines("SELECT 1;\nDROP VIEW v;", ID), [2]);
        let sql = "SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN a text;";
        assert_eq!(lines(sql, ID), [2]);
    }
}
