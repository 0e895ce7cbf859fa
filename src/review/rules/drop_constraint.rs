//! `drop-constraint`: dropping a constraint of an existing table.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-constraint",
    default_severity: Severity::Warning,
    description: "ALTER TABLE … DROP CONSTRAINT (MySQL: DROP FOREIGN KEY / CHECK) on an existing table",
    why: "The guarantee goes at once for every writer: duplicates, orphans or invalid rows can appear, a unique or primary key constraint takes its index (queries slow down), and the statement takes an ACCESS EXCLUSIVE lock.",
    instead: "Make sure no code relies on the constraint; to change one, add the replacement first (NOT VALID, then VALIDATE) and drop the old one in the same ALTER TABLE or later.",
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
    let table = at.name.normalized();
    for a in &at.actions {
        let name = match a {
            AlterAction::DropConstraint { name, .. } | AlterAction::DropForeignKey { name } => name,
            _ => continue,
        };
        // Added back by this statement or a later one of the file: a
        // replacement, not a loss.
        if cx.constraint_added_from_here(&table, &name.normalized()) {
            continue;
        }
        out.push(cx.hit(
            name.span,
            format!("This drops constraint `{name}` of table `{}`.", at.name),
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-constraint";

    #[test]
    fn flags_dropping_a_constraint_of_an_existing_table() {
        let sql = "SELECT 1;\nALTER TABLE orders DROP CONSTRAINT orders_total_check;";
        assert_eq!(lines(sql, ID), [2]);
        assert_eq!(
            lines_mysql("ALTER TABLE orders DROP FOREIGN KEY orders_user_fk;", ID),
            [1]
        );
    }

    #[test]
    fn new_tables_and_replacements_are_fine() {
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, n int CONSTRAINT n_pos CHECK (n > 0));\nALTER TABLE t DROP CONSTRAINT n_pos;";
        assert!(lines(sql, ID).is_empty());
        let sql = "ALTER TABLE orders DROP CONSTRAINT orders_total_check, ADD CONSTRAINT orders_total_check CHECK (total >= 0) NOT VALID;";
        assert!(lines(sql, ID).is_empty());
        let sql = "ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_check;\nUPDATE orders SET total = 0 WHERE total IS NULL;\nALTER TABLE orders ADD CONSTRAINT orders_check CHECK (total >= 0) NOT VALID;";
        assert!(lines(sql, ID).is_empty());
        // Added back to another table: still a loss here.
        let sql = "ALTER TABLE orders DROP CONSTRAINT orders_check;\nALTER TABLE invoices ADD CONSTRAINT orders_check CHECK (total >= 0) NOT VALID;";
        assert_eq!(lines(sql, ID), [1]);
    }
}
