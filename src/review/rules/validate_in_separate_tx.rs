//! `validate-in-separate-tx`: VALIDATE a NOT VALID constraint in a later transaction.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "validate-in-separate-tx",
    default_severity: Severity::Warning,
    description: "VALIDATE CONSTRAINT in the same transaction as its ADD … NOT VALID",
    why: "The ADD took an ACCESS EXCLUSIVE (or SHARE ROW EXCLUSIVE) lock that is held until the transaction ends, so validating in the same transaction scans the table under that lock: NOT VALID bought nothing.",
    instead: "Commit the ADD … NOT VALID first; VALIDATE CONSTRAINT in a later migration file (bytegate runs each file in its own transaction).",
    dialects: PG,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    // bytegate wraps the whole file in one transaction, unless the file holds
    // a statement that cannot run in one: then each statement commits on its
    // own and only an explicit BEGIN groups them.
    let wrapped = !stmts
        .iter()
        .any(|s| super::non_transactional_in_transaction::non_transactional(s).is_some());
    let mut depth = 0usize;
    // (table, constraint) pairs added NOT VALID in the current transaction.
    let mut pending: Vec<(String, String)> = Vec::new();
    for (i, s) in stmts.iter().enumerate() {
        match &s.kind {
            StatementKind::Begin => depth += 1,
            StatementKind::Commit | StatementKind::Rollback => {
                depth = depth.saturating_sub(1);
                pending.clear();
            }
            StatementKind::AlterTable(at) => {
                let table = at.name.normalized();
                for a in &at.actions {
                    match a {
                        AlterAction::AddConstraint { constraint } if constraint.not_valid => {
                            if let Some(n) = &constraint.name
                                && (wrapped || depth > 0)
                            {
                                pending.push((table.clone(), n.normalized()));
                            }
                        }
                        AlterAction::ValidateConstraint { name } => {
                            let key = (table.clone(), name.normalized());
                            if pending.contains(&key) {
                                out.push(cx.stmt_hit(
                                    i,
                                    name.span,
                                    format!("Constraint `{name}` is validated in the same transaction that added it NOT VALID."),
                                ));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "validate-in-separate-tx";

    #[test]
    fn flags_validate_in_same_file() {
        let sql = "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT f;";
        assert_eq!(lines(sql, ID), [2]);
    }

    #[test]
    fn unwrapped_files_commit_each_statement() {
        let sql = "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT f;\nCREATE INDEX CONCURRENTLY i ON orders (u);";
        assert!(lines(sql, ID).is_empty());
        let sql = "BEGIN;\nALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT f;\nCOMMIT;\nVACUUM orders;";
        assert_eq!(lines(sql, ID), [3]);
    }

    #[test]
    fn validate_alone_is_fine() {
        assert!(lines("ALTER TABLE orders VALIDATE CONSTRAINT f;", ID).is_empty());
        let sql = "ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT g;";
        assert!(lines(sql, ID).is_empty());
    }
}
