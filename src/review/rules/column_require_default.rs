//! `column-require-default`: every new column has a DEFAULT (Bytebase's
//! `column.require-default`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "column-require-default",
    default_severity: Severity::Off,
    description: "a new column (CREATE TABLE, ADD COLUMN) without DEFAULT, other than key, serial/identity and generated columns",
    why: "Team policy: a default keeps older application versions, which do not know the column, able to insert rows.",
    instead: "Give the column a DEFAULT (a constant or a non-volatile expression).",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let Some((table, columns)) = super::columns::added_columns(cx.stmt) else {
        return;
    };
    for c in columns {
        let exempt =
            c.primary_key || c.is_auto_generated() || c.generated_stored || c.generated_virtual;
        if c.default.is_none() && !exempt {
            out.push(cx.hit(
                c.name.span.or(c.span),
                format!("Column `{}` of `{table}` has no DEFAULT.", c.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "column-require-default";

    #[test]
    fn flags_columns_without_default() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY,\n  state text NOT NULL DEFAULT 'new',\n  note text);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [3]);
    }
}
