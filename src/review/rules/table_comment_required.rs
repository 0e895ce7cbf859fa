//! `table-comment-required`: every new table gets a COMMENT ON TABLE in the
//! same file (Bytebase's `table.comment`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "table-comment-required",
    default_severity: Severity::Off,
    description: "CREATE TABLE with no COMMENT ON TABLE for it in the same file",
    why: "Team policy: the catalog is the documentation people and tools (data catalogs, generated docs) read; a table without a comment says nothing about what it holds.",
    instead: "Add `COMMENT ON TABLE t IS '…';` next to the CREATE TABLE.",
    dialects: PG,
    check: Check::File(check),
};

/// Normalized names of the objects of kind `object` commented on in the file.
pub(super) fn commented(stmts: &[Statement], object: &ObjectKind) -> Vec<Vec<String>> {
    stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StatementKind::Comment {
                object: o,
                name: Some(n),
            } if o == object => Some(n.parts.iter().map(Ident::normalized).collect()),
            _ => None,
        })
        .collect()
}

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    let done = commented(stmts, &ObjectKind::Table);
    for (i, s) in stmts.iter().enumerate() {
        if let StatementKind::CreateTable(ct) = &s.kind
            && !ct.temporary
            && ct.partition_of.is_none()
            && !done.iter().any(|n| n.last() == Some(&ct.name.normalized()))
        {
            out.push(cx.stmt_hit(
                i,
                ct.name.span(),
                format!("Table `{}` has no COMMENT ON TABLE.", ct.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "table-comment-required";

    #[test]
    fn flags_tables_without_comment() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY);\nCREATE TABLE b (id bigint PRIMARY KEY);\nCOMMENT ON TABLE public.b IS 'Bees.';";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }
}
