//! `index-total-number-limit`: tables with many indexes (Bytebase's
//! `index.total-number-limit`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "index-total-number-limit",
    default_severity: Severity::Off,
    description: "a CREATE INDEX / ADD UNIQUE that brings a table above `max` indexes (default 5; counts the indexes the migration set knows of)",
    why: "Team policy: every index slows every insert and update of the table and takes memory; many indexes usually overlap.",
    instead: "Drop or merge overlapping indexes first, or raise `review.rules.index-total-number-limit.max`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT_MAX: u64 = 5;

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let (table, added) = match &cx.stmt.kind {
        StatementKind::CreateIndex(ci) => (&ci.table, 1),
        StatementKind::AlterTable(at) => (
            &at.name,
            at.actions
                .iter()
                .filter(|a| {
                    matches!(
                        a,
                        AlterAction::AddConstraint { constraint }
                            if matches!(constraint.kind, ConstraintKind::Unique { .. } | ConstraintKind::Index { .. } | ConstraintKind::PrimaryKey { .. })
                    )
                })
                .count(),
        ),
        _ => return,
    };
    if added == 0 {
        return;
    }
    let before = cx.schema.table(table).map_or(0, |t| t.indexes().count());
    let total = (before + added) as u64;
    let max = cx.opts.max(RULE.id, DEFAULT_MAX);
    if total > max {
        out.push(cx.hit(
            table.span(),
            format!("Table `{table}` would have {total} indexes (at most {max})."),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "index-total-number-limit";

    #[test]
    fn flags_the_index_past_the_limit() {
        let sql = "CREATE TABLE t (a int, b int, c int, d int, e int, f int);\nCREATE INDEX ia ON t (a);\nCREATE INDEX ib ON t (b);\nCREATE INDEX ic ON t (c);\nCREATE INDEX id ON t (d);\nCREATE INDEX ie ON t (e);\nCREATE INDEX i_f ON t (f);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [7]);
    }
}
