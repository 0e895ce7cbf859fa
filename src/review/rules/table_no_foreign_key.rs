//! `table-no-foreign-key`: no foreign keys at all (Bytebase's
//! `table.no-foreign-key`).

use super::fk_on_delete_cascade::foreign_keys;
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "table-no-foreign-key",
    default_severity: Severity::Off,
    description: "any FOREIGN KEY / REFERENCES",
    why: "Team policy (sharded or online-migrated schemas): foreign keys lock the referenced table when added, slow every write that checks them, and block tools that copy tables.",
    instead: "Keep the relation in the application, or switch this rule off.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for (fk, span) in foreign_keys(cx.stmt) {
        out.push(cx.hit(span, format!("A foreign key to `{}` is added.", fk.table)));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "table-no-foreign-key";

    #[test]
    fn flags_any_foreign_key() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY);\nALTER TABLE a ADD COLUMN u bigint REFERENCES users (id);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }
}
