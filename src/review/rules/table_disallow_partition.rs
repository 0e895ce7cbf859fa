//! `table-disallow-partition`: partitioned tables (Bytebase's
//! `table.disallow-partition`).

use super::clauses::Clauses;
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "table-disallow-partition",
    default_severity: Severity::Off,
    description: "CREATE TABLE … PARTITION BY / PARTITION OF, ALTER TABLE … ATTACH PARTITION",
    why: "Team policy: partitioning changes how keys, unique constraints, foreign keys and every later migration work; it is a design decision, not something to slip into a migration.",
    instead: "Agree on partitioning with the database owners first, then switch this rule off for that change.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    match &cx.stmt.kind {
        StatementKind::CreateTable(ct) => {
            let partitioned = ct.partition_of.is_some() || {
                let c = Clauses::of(cx);
                (0..c.len())
                    .any(|i| c.depth(i) == 0 && c.is_kw(i, "PARTITION") && c.is_kw(i + 1, "BY"))
            };
            if partitioned {
                out.push(cx.hit(
                    ct.name.span(),
                    format!("Table `{}` is partitioned.", ct.name),
                ));
            }
        }
        StatementKind::AlterTable(at) => {
            for a in &at.actions {
                if let AlterAction::AttachPartition { partition } = a {
                    out.push(cx.hit(
                        partition.span(),
                        format!("`{partition}` is attached as a partition of `{}`.", at.name),
                    ));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "table-disallow-partition";

    #[test]
    fn flags_partitioned_tables() {
        let sql = "CREATE TABLE m (at date NOT NULL, v bigint) PARTITION BY RANGE (at);\nCREATE TABLE p (id bigint PRIMARY KEY);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
