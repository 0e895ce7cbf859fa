//! `fk-lock-referenced-table`: a foreign key locks the table it references.

use super::prelude::*;
use crate::review::finding::Span;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "fk-lock-referenced-table",
    default_severity: Severity::Warning,
    description: "a foreign key (in CREATE TABLE or ALTER TABLE … ADD) referencing a table that already exists",
    why: "Creating a foreign key takes a SHARE ROW EXCLUSIVE lock on the referenced table (NOT VALID or not): writes to it wait, and if the lock itself waits behind a long transaction, every later query of that table queues too.",
    instead: "Set a short lock_timeout and retry, add the key when the referenced table is quiet, and add it NOT VALID so the lock is held only briefly (VALIDATE later).",
    dialects: PG,
    check: Check::Statement(check),
};

/// The foreign keys a statement adds to other tables, as (referenced table,
/// where to point): inline `REFERENCES`, table constraints, `ADD COLUMN …
/// REFERENCES`, `ADD FOREIGN KEY`. A self-reference locks only the table the
/// statement locks anyway, so it is left out. Shared with risk, so the rule
/// and the risk level agree.
pub(crate) fn foreign_keys_added(stmt: &Statement) -> Vec<(&ObjectName, Option<Span>)> {
    let own = stmt.kind.table().map(ObjectName::normalized);
    let mut keys = all_foreign_keys(stmt);
    keys.retain(|(t, _)| own.as_deref() != Some(t.normalized().as_str()));
    keys
}

fn all_foreign_keys(stmt: &Statement) -> Vec<(&ObjectName, Option<Span>)> {
    super::fk_on_delete_cascade::foreign_keys(stmt)
        .into_iter()
        .map(|(fk, span)| (&fk.table, span))
        .collect()
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for (table, span) in foreign_keys_added(cx.stmt) {
        if cx.existing(table) {
            out.push(cx.hit(
                span,
                format!(
                    "This foreign key takes a SHARE ROW EXCLUSIVE lock on existing table `{table}`: writes to it wait."
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "fk-lock-referenced-table";

    #[test]
    fn flags_keys_to_existing_tables() {
        let sql = "CREATE TABLE posts (\n  id bigint PRIMARY KEY,\n  author_id bigint REFERENCES users (id)\n);\nALTER TABLE comments ADD CONSTRAINT c_fk FOREIGN KEY (post_id) REFERENCES shops (id) NOT VALID;";
        assert_eq!(lines(sql, ID), [3, 5]);
    }

    #[test]
    fn keys_to_tables_of_the_same_change_are_fine() {
        let sql = "CREATE TABLE users (id bigint PRIMARY KEY);\nCREATE TABLE posts (\n  id bigint PRIMARY KEY,\n  author_id bigint REFERENCES users (id),\n  parent_id bigint,\n  FOREIGN KEY (parent_id) REFERENCES posts (id)\n);";
        assert!(lines(sql, ID).is_empty());
        let sql = "ALTER TABLE comments ADD CONSTRAINT c_parent FOREIGN KEY (parent_id) REFERENCES comments (id) NOT VALID;";
        assert!(lines(sql, ID).is_empty());
    }
}
