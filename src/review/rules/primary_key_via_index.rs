//! `primary-key-via-index`: add primary keys to existing tables USING INDEX.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "primary-key-via-index",
    default_severity: Severity::Warning,
    description: "ADD PRIMARY KEY on an existing table without USING INDEX",
    why: "ADD PRIMARY KEY builds its unique index (and may set columns NOT NULL) while holding an ACCESS EXCLUSIVE lock for the whole build.",
    instead: "CREATE UNIQUE INDEX CONCURRENTLY on NOT NULL columns, then ALTER TABLE ... ADD CONSTRAINT name PRIMARY KEY USING INDEX idx.",
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
                if let ConstraintKind::PrimaryKey {
                    using_index: None, ..
                } = constraint.kind
                {
                    out.push(cx.hit(
                        constraint.span,
                        format!("Primary key on existing table `{}` is built under an ACCESS EXCLUSIVE lock.", at.name),
                    ));
                }
            }
            AlterAction::AddColumn { column, .. } if column.primary_key => {
                out.push(cx.hit(
                    column.span.or(column.name.span),
                    format!("Primary key column `{}` on existing table `{}` is built under an ACCESS EXCLUSIVE lock.", column.name, at.name),
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "primary-key-via-index";

    #[test]
    fn flags_add_primary_key() {
        assert_eq!(
            lines("SELECT 1;\nALTER TABLE items ADD PRIMARY KEY (id);", ID),
            [2]
        );
    }

    #[test]
    fn using_index_or_new_table_is_fine() {
        assert!(
            lines(
                "ALTER TABLE items ADD CONSTRAINT items_pkey PRIMARY KEY USING INDEX items_id_idx;",
                ID
            )
            .is_empty()
        );
        let sql = "CREATE TABLE i (id bigint NOT NULL);\nALTER TABLE i ADD PRIMARY KEY (id);";
        assert!(lines(sql, ID).is_empty());
    }
}
