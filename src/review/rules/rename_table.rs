//! `rename-table`: renaming breaks running clients.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "rename-table",
    default_severity: Severity::Warning,
    description: "ALTER TABLE … RENAME TO / RENAME TABLE",
    why: "Application versions still running during the deploy query the old name and fail until they are replaced.",
    instead: "Create the new table (or a view with the new name), migrate readers and writers, and drop the old name in a later release.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    match &cx.stmt.kind {
        StatementKind::AlterTable(at) if cx.existing(&at.name) => {
            for a in &at.actions {
                if let AlterAction::RenameTable { to } = a {
                    out.push(cx.hit(
                        to.span(),
                        format!("Table `{}` is renamed to `{to}`.", at.name),
                    ));
                }
            }
        }
        StatementKind::RenameTable { renames } => {
            for (from, to) in renames.iter().filter(|(f, _)| cx.existing(f)) {
                out.push(cx.hit(from.span(), format!("Table `{from}` is renamed to `{to}`.")));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "rename-table";

    #[test]
    fn flags_renames() {
        assert_eq!(
            lines("SELECT 1;\nALTER TABLE users RENAME TO accounts;", ID),
            [2]
        );
        assert_eq!(lines_mysql("RENAME TABLE users TO accounts;", ID), [1]);
    }

    #[test]
    fn renaming_a_new_table_is_fine() {
        assert!(
            lines(
                "CREATE TABLE t (id bigint PRIMARY KEY);\nALTER TABLE t RENAME TO u;",
                ID
            )
            .is_empty()
        );
    }
}
