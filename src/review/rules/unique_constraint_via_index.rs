//! `unique-constraint-via-index`: add UNIQUE to existing tables from a
//! concurrently built index.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "unique-constraint-via-index",
    default_severity: Severity::Warning,
    description: "ADD UNIQUE on an existing table (index built under ACCESS EXCLUSIVE)",
    why: "ADD UNIQUE builds its index while holding an ACCESS EXCLUSIVE lock: the table is unreadable and unwritable for the whole build.",
    instead: "CREATE UNIQUE INDEX CONCURRENTLY, then ALTER TABLE ... ADD CONSTRAINT name UNIQUE USING INDEX idx.",
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
            AlterAction::AddConstraint { constraint } => {
                if let ConstraintKind::Unique {
                    using_index: None, ..
                } = constraint.kind
                {
                    out.push(cx.hit(
                        constraint.span,
                        format!("UNIQUE constraint on existing table `{}` builds its index under an ACCESS EXCLUSIVE lock.", at.name),
                    ));
                }
            }
            AlterAction::AddColumn { column, .. } if column.unique && !column.primary_key => {
                out.push(cx.hit(
                    column.span.or(column.name.span),
                    format!("UNIQUE column `{}` on existing table `{}` builds its index under an ACCESS EXCLUSIVE lock.", column.name, at.name),
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "unique-constraint-via-index";

    #[test]
    fn flags_add_unique() {
        assert_eq!(
            lines(
                "SELECT 1;\nALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn using_index_or_new_table_is_fine() {
        assert!(lines("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;", ID).is_empty());
        let sql = "CREATE TABLE u (id bigint PRIMARY KEY, email text);\nALTER TABLE u ADD CONSTRAINT u_email UNIQUE (email);";
        assert!(lines(sql, ID).is_empty());
    }
}
