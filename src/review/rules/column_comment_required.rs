//! `column-comment-required`: every new column gets a COMMENT ON COLUMN in
//! the same file (Bytebase's `column.comment`).

use super::prelude::*;
use super::table_comment_required::commented;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "column-comment-required",
    default_severity: Severity::Off,
    description: "a new column (CREATE TABLE, ADD COLUMN) with no COMMENT ON COLUMN for it in the same file",
    why: "Team policy: column comments are where units, meanings and allowed values are written down for everyone who reads the catalog.",
    instead: "Add `COMMENT ON COLUMN t.c IS '…';` for each new column.",
    dialects: PG,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    let done = commented(stmts, &ObjectKind::Column);
    let has = |table: &ObjectName, column: &Ident| {
        done.iter().any(|n| {
            n.len() >= 2
                && n[n.len() - 1] == column.normalized()
                && n[n.len() - 2] == table.normalized()
        })
    };
    for (i, s) in stmts.iter().enumerate() {
        let (table, columns): (&ObjectName, Vec<&ColumnDef>) = match &s.kind {
            StatementKind::CreateTable(ct) if !ct.temporary => {
                (&ct.name, ct.columns.iter().collect())
            }
            StatementKind::AlterTable(at) => (
                &at.name,
                at.actions
                    .iter()
                    .filter_map(|a| match a {
                        AlterAction::AddColumn { column, .. } => Some(&**column),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => continue,
        };
        for c in columns.into_iter().filter(|c| !has(table, &c.name)) {
            out.push(cx.stmt_hit(
                i,
                c.name.span.or(c.span),
                format!("Column `{table}.{}` has no COMMENT ON COLUMN.", c.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "column-comment-required";

    #[test]
    fn flags_columns_without_comment() {
        let sql =
            "CREATE TABLE a (id bigint PRIMARY KEY,\n  n text);\nCOMMENT ON COLUMN a.id IS 'Key.';";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }
}
