//! `enum-add-value` and `enum-value-same-transaction`: a new enum label
//! cannot be taken back, and cannot be used before its transaction commits.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "enum-add-value",
    // The failure (using the label too early) is the error rule below; this
    // one is a reminder that the label is for good.
    default_severity: Severity::Info,
    description: "ALTER TYPE … ADD VALUE",
    why: "An enum label cannot be removed again (PostgreSQL has no DROP VALUE; undoing it means rebuilding the type and every column using it), before PostgreSQL 12 the statement cannot run inside a transaction block, and the new label cannot be used until the transaction commits.",
    instead: "Make sure the label is final; add it in a migration of its own and use it in a later one.",
    dialects: PG,
    check: Check::File(check),
};

pub(super) const SAME_TRANSACTION_RULE: RuleInfo = RuleInfo {
    id: "enum-value-same-transaction",
    default_severity: Severity::Error,
    description: "a label added by ALTER TYPE … ADD VALUE used later in the same transaction",
    why: "PostgreSQL refuses to use an enum label before the transaction that added it commits (\"unsafe use of new value\"); bytegate runs a file in one transaction, so the migration fails.",
    instead: "Add the label in one migration and use it in a later one.",
    dialects: PG,
    check: Check::File(check_use),
};

/// The label an `ALTER TYPE … ADD VALUE [IF NOT EXISTS] 'label'` adds, as the
/// quoted literal written (`'archived'`).
fn added_label(stmt: &Statement) -> Option<&str> {
    let StatementKind::AlterOther(a) = &stmt.kind else {
        return None;
    };
    if a.object != ObjectKind::Type || !a.action.starts_with("ADD VALUE") {
        return None;
    }
    let text = stmt.text.as_str();
    let after = text.to_ascii_uppercase().find("VALUE")? + "VALUE".len();
    let start = after + text.get(after..)?.find('\'')?;
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            if bytes.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            return text.get(start..=i);
        }
        i += 1;
    }
    None
}

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    for (i, s) in cx.file.statements.iter().enumerate() {
        if let Some(label) = added_label(s) {
            out.push(cx.stmt_hit(
                i,
                None,
                format!("Enum label {label} cannot be removed once added."),
            ));
        }
    }
}

fn check_use(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    // Files with a statement that cannot run in a transaction run statement
    // by statement: each one commits.
    if stmts
        .iter()
        .any(|s| super::non_transactional_in_transaction::non_transactional(s).is_some())
    {
        return;
    }
    for (i, s) in stmts.iter().enumerate() {
        let Some(label) = added_label(s) else {
            continue;
        };
        let used = stmts.iter().enumerate().skip(i + 1).find(|(_, later)| {
            // Placing another label next to it (`ADD VALUE 'b' AFTER 'a'`) is allowed.
            added_label(later).is_none()
                && !matches!(later.kind, StatementKind::Comment { .. })
                && later.text.contains(label)
        });
        if let Some((j, _)) = used {
            out.push(cx.stmt_hit(
                j,
                None,
                format!(
                    "Enum label {label} is added on line {} in the same transaction: PostgreSQL refuses to use it before that commits.",
                    s.line()
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "enum-add-value";
    const USE: &str = "enum-value-same-transaction";

    #[test]
    fn flags_add_value() {
        let sql = "SELECT 1;\nALTER TYPE status ADD VALUE IF NOT EXISTS 'archived' AFTER 'done';";
        assert_eq!(lines(sql, ID), [2]);
        assert!(lines(sql, USE).is_empty());
    }

    #[test]
    fn flags_use_of_the_new_label_in_the_same_file() {
        let sql = "ALTER TYPE status ADD VALUE 'archived';\nALTER TYPE status ADD VALUE 'gone' AFTER 'archived';\nUPDATE orders SET status = 'archived' WHERE closed;";
        assert_eq!(lines(sql, USE), [3]);
        // A file that runs statement by statement commits in between.
        let sql = "ALTER TYPE status ADD VALUE 'archived';\nCREATE INDEX CONCURRENTLY i ON orders (status) WHERE status = 'archived';";
        assert!(lines(sql, USE).is_empty());
    }
}
