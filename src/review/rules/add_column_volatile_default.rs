//! `add-column-volatile-default`: a volatile default rewrites the table.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "add-column-volatile-default",
    default_severity: Severity::Warning,
    description: "ADD COLUMN ... DEFAULT <volatile expression> on an existing table",
    why: "Constant and stable defaults (`0`, `'x'`, `now()`) are stored once; a volatile one (`random()`, `gen_random_uuid()`, `clock_timestamp()`, unknown functions) must be computed per row, so the whole table is rewritten under an ACCESS EXCLUSIVE lock.",
    instead: "Add the column without a default (or with a constant one), set the default afterwards, and backfill existing rows in batches.",
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
        if let AlterAction::AddColumn { column, .. } = a
            // Serial / identity columns are `add-column-forces-rewrite`'s.
            && !column.is_auto_generated()
            && let Some(d) = &column.default
            && d.volatile != Some(false)
        {
            let how = if d.volatile == Some(true) {
                "a volatile default"
            } else {
                "a default bytegate cannot prove non-volatile"
            };
            out.push(cx.hit(
                column.span.or(column.name.span),
                format!(
                    "Column `{}` is added to existing table `{}` with {how} (`{}`): the table is rewritten.",
                    column.name, at.name, d.text
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "add-column-volatile-default";

    #[test]
    fn flags_volatile_default() {
        let sql = "SELECT 1;\nALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\nALTER TABLE users ADD COLUMN r float8 DEFAULT random();";
        assert_eq!(lines(sql, ID), [2, 3]);
    }

    #[test]
    fn constant_and_stable_defaults_are_fine() {
        let sql = "ALTER TABLE users ADD COLUMN n bigint DEFAULT 0;\nALTER TABLE users ADD COLUMN at timestamptz DEFAULT now();\nALTER TABLE users ADD COLUMN s text DEFAULT 'x';";
        assert!(lines(sql, ID).is_empty());
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t ADD COLUMN token uuid DEFAULT gen_random_uuid();";
        assert!(lines(sql, ID).is_empty());
    }
}
