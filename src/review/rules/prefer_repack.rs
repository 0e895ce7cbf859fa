//! `prefer-repack`: VACUUM FULL and CLUSTER rewrite the table under ACCESS EXCLUSIVE.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "prefer-repack",
    default_severity: Severity::Warning,
    description: "VACUUM FULL or CLUSTER",
    why: "Both rewrite the whole table while holding an ACCESS EXCLUSIVE lock: no reads or writes until the copy is done.",
    instead: "Use pg_repack (or pg_squeeze) to rebuild online; plain VACUUM reclaims space for reuse without the lock.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    match &cx.stmt.kind {
        StatementKind::Vacuum(v) if v.full => {
            out.push(cx.hit(
                None,
                "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock.",
            ));
        }
        StatementKind::Cluster(c) => {
            let what = c
                .table
                .as_ref()
                .map(|t| format!(" `{t}`"))
                .unwrap_or_default();
            out.push(cx.hit(
                None,
                format!("CLUSTER{what} rewrites the table under an ACCESS EXCLUSIVE lock."),
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "prefer-repack";

    #[test]
    fn flags_vacuum_full_and_cluster() {
        assert_eq!(
            lines("VACUUM FULL users;\nCLUSTER users USING users_pkey;", ID),
            [1, 2]
        );
    }

    #[test]
    fn plain_vacuum_is_fine() {
        assert!(lines("VACUUM ANALYZE users;", ID).is_empty());
    }
}
