//! `duplicate-column-assignment`: the same column twice in CREATE TABLE or UPDATE … SET.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "duplicate-column-assignment",
    default_severity: Severity::Error,
    description: "the same column twice in CREATE TABLE or UPDATE … SET",
    why: "The database rejects it (PostgreSQL) or keeps only one of the values (MySQL applies assignments left to right) — either way it is a mistake.",
    instead: "Define or assign each column once.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let (what, names): (&str, Vec<&Ident>) = match &cx.stmt.kind {
        StatementKind::CreateTable(ct) => ("defined", ct.columns.iter().map(|c| &c.name).collect()),
        StatementKind::Update(u) => ("assigned", u.assignments.iter().collect()),
        _ => return,
    };
    let mut seen: Vec<String> = Vec::new();
    for n in names {
        let k = n.normalized();
        if seen.contains(&k) {
            out.push(cx.hit(n.span, format!("Column `{n}` is {what} more than once.")));
        } else {
            seen.push(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "duplicate-column-assignment";

    #[test]
    fn flags_duplicates() {
        assert_eq!(
            lines(
                "SELECT 1;\nUPDATE t SET a = 1, b = 2, a = 3 WHERE id = 1;",
                ID
            ),
            [2]
        );
        assert_eq!(
            lines_mysql("UPDATE t SET a = 1, a = 3 WHERE id = 1;", ID),
            [1]
        );
    }

    #[test]
    fn distinct_columns_are_fine() {
        assert!(lines("UPDATE t SET a = 1, b = 2 WHERE id = 1;", ID).is_empty());
        assert!(lines("CREATE TABLE t (id bigint PRIMARY KEY, a text);", ID).is_empty());
    }
}
