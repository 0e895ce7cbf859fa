//! `transaction-nesting`: no BEGIN/COMMIT inside bytegate's own transaction.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "transaction-nesting",
    default_severity: Severity::Error,
    description: "BEGIN/COMMIT/ROLLBACK in a file the executor already wraps in a transaction, or nested BEGIN",
    why: "bytegate runs each PostgreSQL migration in one transaction: a COMMIT inside ends it early (later statements run outside it, and a failure leaves a half-applied migration), and BEGIN inside it is ignored with a warning.",
    instead: "Remove BEGIN/COMMIT from PostgreSQL migrations; bytegate adds the transaction. In MySQL files, do not nest BEGIN.",
    dialects: ALL,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let wrapped = cx.input.dialect == Dialect::Postgres;
    let mut depth = 0usize;
    for (i, s) in cx.file.statements.iter().enumerate() {
        let message = match s.kind {
            StatementKind::Begin => {
                depth += 1;
                if depth > 1 {
                    "BEGIN inside an open transaction."
                } else if wrapped {
                    "BEGIN inside the transaction bytegate already runs this migration in."
                } else {
                    continue;
                }
            }
            StatementKind::Commit | StatementKind::Rollback => {
                let had = depth > 0;
                depth = depth.saturating_sub(1);
                if wrapped {
                    "COMMIT/ROLLBACK ends the transaction bytegate runs this migration in."
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
    fn postgres_flags_any_transaction_control() {
        let sql = "BEGIN;\nALTER TABLE users ADD COLUMN a text;\nCOMMIT;";
        assert_eq!(lines(sql, ID), [1, 3]);
    }

    #[test]
    fn mysql_flags_only_nesting() {
        assert!(lines_mysql("BEGIN;\nINSERT INTO t (a) VALUES (1);\nCOMMIT;", ID).is_empty());
        assert_eq!(
            lines_mysql("BEGIN;\nBEGIN;\nCOMMIT;\nCOMMIT;\nCOMMIT;", ID),
            [2, 5]
        );
    }

    #[test]
    fn no_transaction_control_is_fine() {
        assert!(lines("ALTER TABLE users ADD COLUMN a text;", ID).is_empty());
    }
}
