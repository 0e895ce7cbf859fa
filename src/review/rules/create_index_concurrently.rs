//! `create-index-concurrently`: build indexes on existing tables CONCURRENTLY.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "create-index-concurrently",
    default_severity: Severity::Error,
    description: "CREATE [UNIQUE] INDEX on an existing table without CONCURRENTLY",
    why: "A plain CREATE INDEX holds a SHARE lock for the whole build: every INSERT, UPDATE and DELETE on the table waits until the index is done.",
    instead: "CREATE INDEX CONCURRENTLY, in its own migration file (it cannot run inside a transaction).",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::CreateIndex(ci) = &cx.stmt.kind
        && !ci.concurrently
        && cx.existing(&ci.table)
    {
        out.push(cx.hit(
            None,
            format!(
                "Index {}on existing table `{}` is built without CONCURRENTLY.",
                ci.name.as_ref().map(|n| format!("`{n}` ")).unwrap_or_default(),
                ci.table
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "create-index-concurrently";

    #[test]
    fn flags_blocking_index_on_existing_table() {
        assert_eq!(
            lines(
                "SELECT 1;\nCREATE UNIQUE INDEX users_email ON users (email);",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn concurrently_or_new_table_is_fine() {
        assert!(
            lines(
                "CREATE INDEX CONCURRENTLY users_email ON users (email);",
                ID
            )
            .is_empty()
        );
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, x bigint);\nCREATE INDEX t_x ON t (x);";
        assert!(lines(sql, ID).is_empty());
        let sql =
            "CREATE MATERIALIZED VIEW v AS SELECT 1 AS id;\nCREATE UNIQUE INDEX v_id ON v (id);";
        assert!(lines(sql, ID).is_empty());
        assert!(lines_mysql("CREATE INDEX users_email ON users (email);", ID).is_empty());
    }
}
