//! `non-transactional-in-transaction`: statements PostgreSQL refuses to run
//! inside a transaction block.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "non-transactional-in-transaction",
    default_severity: Severity::Error,
    description: "CONCURRENTLY index operations, VACUUM, CREATE/DROP DATABASE inside BEGIN…COMMIT or mixed with other statements in one file",
    why: "PostgreSQL refuses these inside a transaction block. bytegate runs a file that contains one statement by statement, without its usual transaction: every other statement in the file then loses its all-or-nothing guarantee.",
    instead: "Put each such statement in its own migration file (SET statements may stay), outside BEGIN…COMMIT.",
    dialects: PG,
    check: Check::File(check),
};

/// What makes `stmt` non-transactional, if anything.
pub(super) fn non_transactional(stmt: &Statement) -> Option<&'static str> {
    match &stmt.kind {
        StatementKind::CreateIndex(ci) if ci.concurrently => Some("CREATE INDEX CONCURRENTLY"),
        StatementKind::Drop(d) if d.object == ObjectKind::Index && d.concurrently => {
            Some("DROP INDEX CONCURRENTLY")
        }
        StatementKind::Drop(d) if d.object == ObjectKind::Database => Some("DROP DATABASE"),
        StatementKind::Reindex(r) if r.concurrently => Some("REINDEX CONCURRENTLY"),
        StatementKind::Vacuum(_) => Some("VACUUM"),
        StatementKind::CreateOther(co) if co.object == ObjectKind::Database => {
            Some("CREATE DATABASE")
        }
        StatementKind::AlterTable(at)
            if at.actions.iter().any(|a| {
                matches!(
                    a,
                    AlterAction::DetachPartition {
                        concurrently: true,
                        ..
                    }
                )
            }) =>
        {
            Some("DETACH PARTITION CONCURRENTLY")
        }
        _ => None,
    }
}

/// Statements that may share a file with non-transactional ones.
fn harmless(stmt: &Statement) -> bool {
    matches!(
        stmt.kind,
        StatementKind::Set(_) | StatementKind::Reset { .. }
    )
}

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    let mixed = stmts.iter().any(|s| {
        non_transactional(s).is_none()
            && !harmless(s)
            && !matches!(
                s.kind,
                StatementKind::Begin | StatementKind::Commit | StatementKind::Rollback
            )
    });
    let mut depth = 0usize;
    for (i, s) in stmts.iter().enumerate() {
        match s.kind {
            StatementKind::Begin => depth += 1,
            StatementKind::Commit | StatementKind::Rollback => depth = depth.saturating_sub(1),
            _ => {}
        }
        let Some(what) = non_transactional(s) else {
            continue;
        };
        let message = if depth > 0 {
            format!("{what} cannot run inside BEGIN…COMMIT.")
        } else if mixed {
            format!(
                "{what} cannot run in a transaction, so bytegate runs this file without one: the file's other statements are no longer applied all-or-nothing."
            )
        } else {
            continue;
        };
        out.push(cx.stmt_hit(i, None, message));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "non-transactional-in-transaction";

    #[test]
    fn flags_inside_begin_and_mixed_files() {
        let sql = "BEGIN;\nCREATE INDEX CONCURRENTLY i ON users (a);\nCOMMIT;";
        assert_eq!(lines(sql, ID), [2]);
        let sql = "ALTER TABLE users ADD COLUMN a text;\nCREATE INDEX CONCURRENTLY i ON users (a);\nVACUUM users;";
        assert_eq!(lines(sql, ID), [2, 3]);
    }

    #[test]
    fn alone_with_set_is_fine() {
        let sql = "SET lock_timeout = '3s';\nCREATE INDEX CONCURRENTLY i ON users (a);";
        assert!(lines(sql, ID).is_empty());
        assert!(
            lines(
                "DROP INDEX CONCURRENTLY i;\nREINDEX INDEX CONCURRENTLY j;",
                ID
            )
            .is_empty()
        );
    }
}
