//! `mysql-online-ddl-options`: say how MySQL may run an ALTER TABLE.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "mysql-online-ddl-options",
    default_severity: Severity::Warning,
    description: "MySQL ALTER TABLE without ALGORITHM= / LOCK=, or with ALGORITHM=COPY / LOCK=SHARED|EXCLUSIVE",
    why: "Without explicit options MySQL silently falls back to a table copy that blocks writes when the change cannot be done online; COPY and SHARED/EXCLUSIVE locks block writes (or reads) for the whole rebuild.",
    instead: "Write `ALGORITHM=INSTANT` or `ALGORITHM=INPLACE, LOCK=NONE` so MySQL refuses instead of blocking, or use gh-ost / pt-online-schema-change.",
    dialects: MYSQL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::AlterTable(at) = &cx.stmt.kind else {
        return;
    };
    if !cx.existing(&at.name) {
        return;
    }
    let algorithm = at.algorithm.as_deref().map(str::to_ascii_uppercase);
    let lock = at.lock.as_deref().map(str::to_ascii_uppercase);
    let message = match (algorithm.as_deref(), lock.as_deref()) {
        (None, None) => format!(
            "ALTER TABLE `{}` does not say ALGORITHM= or LOCK=; MySQL may copy the table and block writes.",
            at.name
        ),
        (Some("COPY"), _) => format!(
            "ALTER TABLE `{}` uses ALGORITHM=COPY (table copy, writes blocked).",
            at.name
        ),
        (_, Some(l @ ("SHARED" | "EXCLUSIVE"))) => {
            format!("ALTER TABLE `{}` uses LOCK={l}.", at.name)
        }
        _ => return,
    };
    out.push(cx.hit(None, message));
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "mysql-online-ddl-options";

    #[test]
    fn flags_missing_or_blocking_options() {
        let sql = "SELECT 1;\nALTER TABLE users ADD COLUMN a int;\nALTER TABLE users ADD COLUMN b int, ALGORITHM=COPY;\nALTER TABLE users ADD COLUMN c int, LOCK=EXCLUSIVE;";
        assert_eq!(lines_mysql(sql, ID), [2, 3, 4]);
    }

    #[test]
    fn online_options_new_tables_and_postgres_are_fine() {
        assert!(
            lines_mysql(
                "ALTER TABLE users ADD COLUMN a int, ALGORITHM=INPLACE, LOCK=NONE;",
                ID
            )
            .is_empty()
        );
        assert!(
            lines_mysql("ALTER TABLE users ADD COLUMN a int, ALGORITHM=INSTANT;", ID).is_empty()
        );
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY) ENGINE=InnoDB;\nALTER TABLE t ADD COLUMN a int;";
        assert!(lines_mysql(sql, ID).is_empty());
        assert!(lines("ALTER TABLE users ADD COLUMN a int;", ID).is_empty());
    }
}
