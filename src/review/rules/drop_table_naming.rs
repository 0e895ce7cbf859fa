//! `drop-table-naming`: only tables renamed for deletion may be dropped
//! (Bytebase's `table.drop-naming-convention`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-table-naming",
    default_severity: Severity::Off,
    description: "DROP TABLE of a table whose name does not match the drop pattern (default `_del$`)",
    why: "Team policy: renaming a table first (`orders` → `orders_del`) shows within one release whether anything still uses it; the later DROP is then of a table nobody reads.",
    instead: "Rename the table to match the pattern in one release and drop it in a later one, or set `review.rules.drop-table-naming.pattern`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const PATTERN: &str = "_del$";

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::Drop(d) = &cx.stmt.kind else {
        return;
    };
    if d.object != ObjectKind::Table {
        return;
    }
    let Some(pattern) = cx.opts.pattern(RULE.id, PATTERN) else {
        return;
    };
    for n in d.names.iter().filter(|n| cx.existing(n)) {
        if !pattern.is_match(&n.normalized()) {
            out.push(cx.hit(
                n.span(),
                format!(
                    "Table `{n}` does not match `{}`: rename it before dropping.",
                    pattern.as_str()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-table-naming";

    #[test]
    fn flags_drops_of_tables_not_renamed_first() {
        let sql = "DROP TABLE orders;\nDROP TABLE orders_del;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
