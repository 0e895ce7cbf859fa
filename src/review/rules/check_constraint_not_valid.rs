//! `check-constraint-not-valid`: add CHECK constraints to existing tables NOT VALID.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "check-constraint-not-valid",
    default_severity: Severity::Warning,
    description: "ADD CHECK on an existing table without NOT VALID",
    why: "Adding a CHECK scans the whole table to validate existing rows while holding an ACCESS EXCLUSIVE lock: reads and writes wait.",
    instead: "ADD CONSTRAINT ... CHECK (...) NOT VALID, then ALTER TABLE ... VALIDATE CONSTRAINT in a later migration (it only takes SHARE UPDATE EXCLUSIVE).",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::AlterTable(at) = &cx.stmt.kind else {
        return;
    };
    if !cx.existing(&at.name) {
        return;
    }
    for a in &at.actions {
        if let AlterAction::AddConstraint { constraint } = a
            && matches!(constraint.kind, ConstraintKind::Check { .. })
            && !constraint.not_valid
        {
            let name = constraint
                .name
                .as_ref()
                .map(|n| format!(" `{n}`"))
                .unwrap_or_default();
            out.push(cx.hit(
                constraint.span,
                format!(
                    "CHECK constraint{name} on existing table `{}` is added without NOT VALID.",
                    at.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "check-constraint-not-valid";

    #[test]
    fn flags_validating_check() {
        assert_eq!(
            lines(
                "SELECT 1;\nALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0);",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn not_valid_or_new_table_is_fine() {
        assert!(
            lines(
                "ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;",
                ID
            )
            .is_empty()
        );
        let sql = "CREATE TABLE o (id bigint PRIMARY KEY, amount bigint);\nALTER TABLE o ADD CONSTRAINT positive CHECK (amount > 0);";
        assert!(lines(sql, ID).is_empty());
    }
}
