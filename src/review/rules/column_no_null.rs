//! `column-no-null`: every new column is NOT NULL (Bytebase's `column.no-null`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "column-no-null",
    default_severity: Severity::Off,
    description: "a new column (CREATE TABLE, ADD COLUMN) that may hold NULL",
    why: "Team policy: NULL has three-valued logic (`x <> 1` skips NULL rows), surprises aggregates and unique constraints, and is usually an accident rather than a decision.",
    instead: "Declare the column NOT NULL (with a DEFAULT where rows exist), or keep NULL deliberately and suppress this finding with a reason.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let Some((table, columns)) = super::columns::added_columns(cx.stmt) else {
        return;
    };
    for c in columns {
        if c.nullable != Some(false) && !c.primary_key && !c.is_auto_generated() {
            out.push(cx.hit(
                c.name.span.or(c.span),
                format!("Column `{}` of `{table}` may hold NULL.", c.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "column-no-null";

    #[test]
    fn flags_nullable_columns() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY,\n  name text NOT NULL,\n  note text);\nALTER TABLE a ADD COLUMN x int NULL;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [3, 4]);
    }
}
