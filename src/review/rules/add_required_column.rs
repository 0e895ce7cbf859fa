//! `add-required-column`: NOT NULL without DEFAULT fails on a table with rows.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "add-required-column",
    default_severity: Severity::Error,
    description: "ADD COLUMN … NOT NULL without DEFAULT on an existing table",
    why: "Existing rows have no value for the column: PostgreSQL fails the migration on any non-empty table, MySQL silently fills an implicit default (0, '') — and inserts from application versions that do not know the column yet fail.",
    instead: "Add the column with a (constant) DEFAULT, or add it nullable, backfill, then enforce NOT NULL via a validated CHECK.",
    dialects: ALL,
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
        if let AlterAction::AddColumn { column: c, .. } = a
            && (c.nullable == Some(false) || c.primary_key)
            && c.default.is_none()
            && !c.is_auto_generated()
            && !c.generated_stored
            && !c.generated_virtual
        {
            out.push(cx.hit(
                c.span.or(c.name.span),
                format!(
                    "Column `{}` is added to existing table `{}` as NOT NULL without a default.",
                    c.name, at.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "add-required-column";

    #[test]
    fn flags_required_column() {
        assert_eq!(
            lines(
                "SELECT 1;\nALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;",
                ID
            ),
            [2]
        );
        assert_eq!(
            lines_mysql(
                "ALTER TABLE users ADD COLUMN t int NOT NULL, ALGORITHM=INSTANT;",
                ID
            ),
            [1]
        );
    }

    #[test]
    fn default_nullable_or_new_table_is_fine() {
        let sql = "ALTER TABLE users ADD COLUMN a bigint NOT NULL DEFAULT 0;\nALTER TABLE users ADD COLUMN b bigint;";
        assert!(lines(sql, ID).is_empty());
        let sql =
            "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t ADD COLUMN a bigint NOT NULL;";
        assert!(lines(sql, ID).is_empty());
    }
}
