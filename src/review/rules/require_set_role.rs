//! `require-set-role`: a file sets its role before changing anything
//! (Bytebase's `statement.check-set-role-variable`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "require-set-role",
    default_severity: Severity::Off,
    description: "a file whose first DDL or DML statement comes before any `SET ROLE`",
    why: "Team policy: objects belong to the role that creates them; without SET ROLE they belong to whichever user runs the migration, and later migrations run as the owner role cannot alter them.",
    instead: "Start the file with `SET ROLE app_owner;`.",
    dialects: PG,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    for (i, s) in cx.file.statements.iter().enumerate() {
        match &s.kind {
            StatementKind::Set(set) if set.name == "role" => return,
            StatementKind::Set(_)
            | StatementKind::Reset { .. }
            | StatementKind::Begin
            | StatementKind::Commit
            | StatementKind::Rollback
            | StatementKind::Savepoint
            | StatementKind::Select
            | StatementKind::Other { .. } => {}
            _ => {
                out.push(cx.stmt_hit(i, None, "This statement runs before any SET ROLE."));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "require-set-role";

    #[test]
    fn flags_changes_before_set_role() {
        let sql = "SET lock_timeout = '1s';\nCREATE TABLE a (id bigint PRIMARY KEY);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
        assert!(
            lines_on(
                "SET ROLE owner;\nCREATE TABLE a (id bigint PRIMARY KEY);",
                ID
            )
            .is_empty()
        );
    }
}
