//! `transaction-nesting`: no BEGIN/COMMIT inside bytegate's own transaction.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "transaction-nesting",
    default_severity: Severity::Error,
    description: "BEGIN/COMMIT/ROLLBACK inside a file the executor already wraps in a transaction (other than one BEGIN first and COMMIT last), or nested BEGIN",
    why: "bytegate runs each PostgreSQL migration in one transaction and refuses to deploy a file with transaction control inside it: a COMMIT there would end the transaction early and leave a half-applied migration on failure.",
    instead: "Remove BEGIN/COMMIT from PostgreSQL migrations (one BEGIN first and COMMIT last is tolerated: bytegate replaces it with its own); never nest BEGIN.",
    dialects: ALL,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    // The PostgreSQL executor wraps a file in its own transaction unless the
    // file holds a statement that cannot run in one (then it runs statement
    // by statement, and BEGIN/COMMIT mean what they say).
    let wrapped = cx.input.dialect == Dialect::Postgres
        && !stmts
            .iter()
            .any(|s| super::non_transactional_in_transaction::non_transactional(s).is_some());
    // One BEGIN first and COMMIT last is replaced by the executor's transaction.
    let self_wrapped = wrapped
        && stmts.len() >= 2
        && matches!(stmts.first().map(|s| &s.kind), Some(StatementKind::Begin))
        && matches!(stmts.last().map(|s| &s.kind), Some(StatementKind::Commit));
    let last = stmts.len().saturating_sub(1);
    let mut depth = 0usize;
    for (i, s) in stmts.iter().enumerate() {
        if self_wrapped && (i == 0 || i == last) {
            continue;
        }
        let message = match s.kind {
            StatementKind::Begin => {
                depth += 1;
                if depth > 1 {
                    "BEGIN inside an open transaction."
                } else if wrapped {
                    "BEGIN inside the transaction bytegate runs this migration in."
                } else {
                    continue;
                }
            }
            StatementKind::Commit | StatementKind::Rollback => {
                let had = depth > 0;
                depth = depth.saturating_sub(1);
                if wrapped {
                    "COMMIT/ROLLBACK inside the transaction bytegate runs this migration in."
                } else if !had {
                    "COMMIT/ROLLBACK without a BEGIN."
                } else {
                    continue;
                }
            }
            _ => continue,
        };
        out.push(cx.stmt_hit(i, None, message));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "transaction-nesting";

    #[test]
    fn postgres_flags_transaction_control_inside_the_file() {
        let sql = "ALTER TABLE users ADD COLUMN a text;\nCOMMIT;\nBEGIN;\nALTER TABLE users ADD COLUMN b text;";
        assert_eq!(lines(sql, ID), [2, 3]);
        let sql = "BEGIN;\nALTER TABLE users ADD COLUMN a text;\nCOMMIT;\nSELECT 1;";
        assert_eq!(lines(sql, ID), [1, 3]);
    }

    #[test]
    fn postgres_tolerates_one_wrapping_transaction() {
        let sql = "BEGIN;\nALTER TABLE users ADD COLUMN a text;\nCOMMIT;";
        assert!(lines(sql, ID).is_empty());
        let sql = "BEGIN;\nBEGIN;\nSELECT 1;\nCOMMIT;\nCOMMIT;";
        assert_eq!(lines(sql, ID), [2, 4]);
    }

    #[test]
    fn non_transactional_files_and_mysql_flag_only_nesting() {
        assert!(
            lines_mysql(
                "BEGIN;\nINSERT INTO t (a) VALUES (1);\nCOMMIT;\nSELECT 1;",
                ID
            )
            .is_empty()
        );
        assert_eq!(
            lines_mysql("BEGIN;\nBEGIN;\nCOMMIT;\nCOMMIT;\nCOMMIT;", ID),
            [2, 5]
        );
        let sql = "VACUUM users;\nBEGIN;\nSELECT 1;\nCOMMIT;";
        assert!(lines(sql, ID).is_empty());
    }

    #[test]
    fn no_transaction_control_is_fine() {
        assert!(lines("ALTER TABLE users ADD COLUMN a text;", ID).is_empty());
    }
}
