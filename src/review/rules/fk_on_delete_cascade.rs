//! `fk-on-delete-cascade`: foreign keys with ON DELETE CASCADE (Bytebase's
//! `statement.disallow-on-del-cascade`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "fk-on-delete-cascade",
    default_severity: Severity::Off,
    description: "FOREIGN KEY … ON DELETE CASCADE",
    why: "Team policy: one DELETE then silently removes rows in other tables, possibly many, under locks the author of the DELETE did not expect.",
    instead: "Use ON DELETE RESTRICT / NO ACTION and delete the dependent rows explicitly (or soft-delete).",
    dialects: ALL,
    check: Check::Statement(check),
};

/// Every foreign key a statement defines, with where to point.
pub(super) fn foreign_keys(stmt: &Statement) -> Vec<(&ForeignKeyRef, Option<Span>)> {
    fn from_column(c: &ColumnDef) -> Option<(&ForeignKeyRef, Option<Span>)> {
        c.references.as_ref().map(|r| (r, c.span))
    }
    fn from_constraint(c: &TableConstraint) -> Option<(&ForeignKeyRef, Option<Span>)> {
        match &c.kind {
            ConstraintKind::ForeignKey { references, .. } => Some((references, c.span)),
            _ => None,
        }
    }
    match &stmt.kind {
        StatementKind::CreateTable(ct) => ct
            .columns
            .iter()
            .filter_map(from_column)
            .chain(ct.constraints.iter().filter_map(from_constraint))
            .collect(),
        StatementKind::AlterTable(at) => at
            .actions
            .iter()
            .filter_map(|a| match a {
                AlterAction::AddColumn { column, .. } => from_column(column),
                AlterAction::AddConstraint { constraint } => from_constraint(constraint),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for (fk, span) in foreign_keys(cx.stmt) {
        if fk.on_delete == Some(ReferentialAction::Cascade) {
            out.push(cx.hit(
                span,
                format!("A foreign key to `{}` deletes in cascade.", fk.table),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "fk-on-delete-cascade";

    #[test]
    fn flags_cascading_foreign_keys() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY,\n  u bigint REFERENCES users (id) ON DELETE CASCADE,\n  v bigint REFERENCES users (id) ON DELETE SET NULL);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }
}
