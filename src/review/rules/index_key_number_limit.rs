//! `index-key-number-limit`: indexes with many key columns (Bytebase's
//! `index.key-number-limit`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "index-key-number-limit",
    default_severity: Severity::Off,
    description: "an index, unique or primary key with more key columns than `max` (default 5)",
    why: "Team policy: wide indexes are large and slow to write, and queries rarely use their trailing columns.",
    instead: "Index the leading columns queries filter on (use INCLUDE for covering columns), or raise `review.rules.index-key-number-limit.max`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT_MAX: u64 = 5;

fn constraint_keys(c: &TableConstraint) -> usize {
    match &c.kind {
        ConstraintKind::PrimaryKey { columns, .. }
        | ConstraintKind::Unique { columns, .. }
        | ConstraintKind::Index { columns } => columns.len(),
        _ => 0,
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let max = cx.opts.max(RULE.id, DEFAULT_MAX);
    let mut keys: Vec<(usize, Option<Span>)> = Vec::new();
    match &cx.stmt.kind {
        StatementKind::CreateIndex(ci) => keys.push((ci.columns.len(), ci.table.span())),
        StatementKind::CreateTable(ct) => {
            keys.extend(ct.constraints.iter().map(|c| (constraint_keys(c), c.span)))
        }
        StatementKind::AlterTable(at) => keys.extend(at.actions.iter().filter_map(|a| match a {
            AlterAction::AddConstraint { constraint } => {
                Some((constraint_keys(constraint), constraint.span))
            }
            _ => None,
        })),
        _ => {}
    }
    for (n, span) in keys {
        if n as u64 > max {
            out.push(cx.hit(span, format!("The key has {n} columns (at most {max}).")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "index-key-number-limit";

    #[test]
    fn flags_wide_keys() {
        let sql = "CREATE INDEX i ON t (a, b, c, d, e, f);\nCREATE INDEX j ON t (a, b, c, d, e);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
