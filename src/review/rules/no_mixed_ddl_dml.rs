//! `no-mixed-ddl-dml`: schema changes and data changes in one file
//! (Bytebase's `statement.disallow-mix-in-ddl` and `statement.disallow-mix-in-dml`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "no-mixed-ddl-dml",
    default_severity: Severity::Off,
    description: "INSERT / UPDATE / DELETE in a file that also changes the schema",
    why: "Team policy: in one transaction a backfill holds the DDL's ACCESS EXCLUSIVE lock for as long as the data change takes; separate files can also be reviewed, retried and rolled back separately.",
    instead: "Put the data change in its own migration file (after the schema change).",
    dialects: ALL,
    check: Check::File(check),
};

fn is_ddl(kind: &StatementKind) -> bool {
    kind.is_parsed_ddl()
}

fn is_dml(kind: &StatementKind) -> bool {
    matches!(
        kind,
        StatementKind::Insert(_) | StatementKind::Update(_) | StatementKind::Delete(_)
    )
}

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    if !stmts.iter().any(|s| is_ddl(&s.kind)) {
        return;
    }
    for (i, s) in stmts.iter().enumerate() {
        if is_dml(&s.kind) {
            out.push(cx.stmt_hit(
                i,
                None,
                "Data is changed in a file that also changes the schema.",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "no-mixed-ddl-dml";

    #[test]
    fn flags_dml_next_to_ddl() {
        let sql = "ALTER TABLE users ADD COLUMN a int;\nUPDATE users SET a = 1 WHERE id = 1;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
        assert!(lines_on("UPDATE users SET a = 1 WHERE id = 1;", ID).is_empty());
    }
}
