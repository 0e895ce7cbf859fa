//! `add-column-with-default`: ADD COLUMN … DEFAULT on an existing table
//! (Bytebase's `statement.disallow-add-column-with-default`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "add-column-with-default",
    default_severity: Severity::Off,
    description: "ALTER TABLE … ADD COLUMN … DEFAULT on an existing table, whatever the default",
    why: "Team policy: before PostgreSQL 11 (and for volatile defaults, still) this rewrites the table under ACCESS EXCLUSIVE; teams on old versions ban it outright. `add-column-volatile-default` already flags the rewriting cases.",
    instead: "Add the column without a default, set the default in a second statement, and backfill existing rows in batches.",
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
        if let AlterAction::AddColumn { column, .. } = a
            && column.default.is_some()
        {
            out.push(cx.hit(
                column.name.span.or(column.span),
                format!(
                    "Column `{}` is added to `{}` with a default.",
                    column.name, at.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "add-column-with-default";

    #[test]
    fn flags_defaults_on_existing_tables_only() {
        let sql = "ALTER TABLE users ADD COLUMN active boolean DEFAULT true;\nALTER TABLE users ADD COLUMN note text;\nCREATE TABLE n (id bigint PRIMARY KEY);\nALTER TABLE n ADD COLUMN x int DEFAULT 0;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
