//! `drop-cascade`: CASCADE drops objects nobody listed.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-cascade",
    default_severity: Severity::Error,
    description: "DROP … CASCADE (also DROP COLUMN / DROP CONSTRAINT … CASCADE)",
    why: "CASCADE silently drops every dependent object too — views, foreign keys, other tables' constraints — none of which the reviewer sees in the migration.",
    instead: "Drop the dependent objects explicitly, one statement each, then the object itself without CASCADE.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    match &cx.stmt.kind {
        StatementKind::Drop(d) if d.cascade => {
            let names: Vec<String> = d.names.iter().map(|n| format!("`{n}`")).collect();
            out.push(cx.hit(
                None,
                format!(
                    "DROP {} CASCADE also drops whatever depends on it.",
                    names.join(", ")
                ),
            ));
        }
        StatementKind::AlterTable(at) => {
            for a in &at.actions {
                match a {
                    AlterAction::DropColumn {
                        name,
                        cascade: true,
                        ..
                    } => out.push(cx.hit(
                        name.span,
                        format!("DROP COLUMN `{name}` CASCADE also drops whatever depends on it."),
                    )),
                    AlterAction::DropConstraint {
                        name,
                        cascade: true,
                        ..
                    } => out.push(cx.hit(
                        name.span,
                        format!(
                            "DROP CONSTRAINT `{name}` CASCADE also drops whatever depends on it."
                        ),
                    )),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-cascade";

    #[test]
    fn flags_cascade() {
        let sql = "DROP TABLE users CASCADE;\nALTER TABLE t DROP COLUMN x CASCADE;\nDROP SCHEMA s CASCADE;";
        assert_eq!(lines(sql, ID), [1, 2, 3]);
    }

    #[test]
    fn restrict_is_fine() {
        assert!(lines("DROP TABLE users;\nALTER TABLE t DROP COLUMN x;", ID).is_empty());
    }
}
