//! `foreign-key-not-valid`: add foreign keys to existing tables NOT VALID.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "foreign-key-not-valid",
    default_severity: Severity::Warning,
    description: "ADD FOREIGN KEY / ADD COLUMN ... REFERENCES on an existing table without NOT VALID",
    why: "Adding a foreign key locks both tables (SHARE ROW EXCLUSIVE) and scans the referencing table to validate every row: writes to both tables wait.",
    instead: "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later migration; for a new column, add the column first and the constraint separately.",
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
        match a {
            AlterAction::AddConstraint { constraint }
                if matches!(constraint.kind, ConstraintKind::ForeignKey { .. })
                    && !constraint.not_valid =>
            {
                out.push(cx.hit(
                    constraint.span,
                    format!(
                        "Foreign key on existing table `{}` is added without NOT VALID.",
                        at.name
                    ),
                ));
            }
            AlterAction::AddColumn { column, .. } if column.references.is_some() => {
                out.push(cx.hit(
                    column.span.or(column.name.span),
                    format!(
                        "Column `{}` is added to existing table `{}` with a validated REFERENCES constraint.",
                        column.name, at.name
                    ),
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "foreign-key-not-valid";

    #[test]
    fn flags_validated_fk_on_existing_table() {
        let sql = "SELECT 1;\nALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);\nALTER TABLE orders ADD COLUMN shop_id bigint REFERENCES shops (id);";
        assert_eq!(lines(sql, ID), [2, 3]);
    }

    #[test]
    fn not_valid_or_new_table_is_fine() {
        assert!(lines("ALTER TABLE orders ADD CONSTRAINT f FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;", ID).is_empty());
        let sql = "CREATE TABLE o (id bigint PRIMARY KEY, u bigint);\nALTER TABLE o ADD CONSTRAINT f FOREIGN KEY (u) REFERENCES users (id);";
        assert!(lines(sql, ID).is_empty());
    }
}
