//! `merge-alter-table`: several ALTER TABLE statements on one table in one
//! file (Bytebase's `statement.merge-alter-table`).

use super::prelude::*;
use std::collections::HashMap;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "merge-alter-table",
    default_severity: Severity::Off,
    description: "a second (third, ...) ALTER TABLE of the same table in one file",
    why: "Team policy: each ALTER TABLE queues for its own ACCESS EXCLUSIVE lock and may rewrite or scan the table again; one statement with several actions does it once.",
    instead: "Combine the actions: ALTER TABLE t ADD COLUMN a …, ADD COLUMN b …;",
    dialects: ALL,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (i, s) in cx.file.statements.iter().enumerate() {
        if let StatementKind::AlterTable(at) = &s.kind {
            let first = seen.entry(at.name.normalized_qualified()).or_insert(0);
            if *first > 0 {
                out.push(cx.stmt_hit(
                    i,
                    at.name.span(),
                    format!(
                        "`{}` is already altered on line {} of this file: merge the statements.",
                        at.name, first
                    ),
                ));
            } else {
                *first = s.line();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "merge-alter-table";

    #[test]
    fn flags_repeated_alters() {
        let sql = "ALTER TABLE users ADD COLUMN a int;\nALTER TABLE orders ADD COLUMN b int;\nALTER TABLE users ADD COLUMN c int;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [3]);
    }
}
