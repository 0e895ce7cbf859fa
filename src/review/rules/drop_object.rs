//! `drop-object`: dropping a function, procedure, sequence, type, domain or
//! (materialized) view that the file does not create again.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "drop-object",
    default_severity: Severity::Warning,
    description: "DROP FUNCTION / PROCEDURE / SEQUENCE / TYPE / DOMAIN / VIEW / MATERIALIZED VIEW not re-created in the same file",
    why: "Code and objects that use it break at once (queries, triggers, defaults calling nextval, columns of the type); a sequence takes its position with it and a materialized view its data.",
    instead: "Drop it only after no deployed code uses it (expand, then contract); to change it, CREATE OR REPLACE or drop and re-create it in the same migration.",
    dialects: ALL,
    check: Check::File(check),
};

/// The objects this rule covers (tables, schemas and databases have their
/// own rules; indexes, triggers and the rest lose nothing by themselves).
fn covered(kind: &ObjectKind) -> bool {
    matches!(
        kind,
        ObjectKind::Function
            | ObjectKind::Procedure
            | ObjectKind::Sequence
            | ObjectKind::Type
            | ObjectKind::Domain
            | ObjectKind::View
            | ObjectKind::MaterializedView
    )
}

/// The (kind, normalized name) a statement creates, if it creates a covered object.
fn created(stmt: &Statement) -> Option<(&ObjectKind, String)> {
    match &stmt.kind {
        StatementKind::CreateOther(c) if covered(&c.object) => {
            Some((&c.object, c.name.as_ref()?.normalized()))
        }
        _ => None,
    }
}

/// The new (normalized) name an `ALTER <kind> … RENAME TO` gives.
fn renamed_to(stmt: &Statement, kind: &ObjectKind) -> Option<String> {
    match &stmt.kind {
        StatementKind::AlterOther(a) if a.object == *kind => {
            a.new_name.as_ref().map(ObjectName::normalized)
        }
        _ => None,
    }
}

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let stmts = cx.file.statements;
    for (i, s) in stmts.iter().enumerate() {
        let StatementKind::Drop(d) = &s.kind else {
            continue;
        };
        if !covered(&d.object) {
            continue;
        }
        // Created earlier in the file (nothing uses it yet) or again later (a
        // replacement), or renamed away earlier in the file to make room for
        // its replacement (`RENAME TO x__`, create `x`, convert, drop `x__`).
        let lost: Vec<String> = d
            .names
            .iter()
            .filter(|name| {
                let n = name.normalized();
                !stmts.iter().enumerate().any(|(j, other)| {
                    (j != i && created(other).is_some_and(|(k, c)| *k == d.object && c == n))
                        || (j < i && renamed_to(other, &d.object).is_some_and(|to| to == n))
                })
            })
            .map(|name| format!("`{name}`"))
            .collect();
        if lost.is_empty() {
            continue;
        }
        out.push(cx.stmt_hit(
            i,
            None,
            format!(
                "DROP {} {}: whatever uses it breaks, and this file does not create it again.",
                drop_word(&d.object),
                lost.join(", ")
            ),
        ));
    }
}

fn drop_word(kind: &ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Function => "FUNCTION",
        ObjectKind::Procedure => "PROCEDURE",
        ObjectKind::Sequence => "SEQUENCE",
        ObjectKind::Type => "TYPE",
        ObjectKind::Domain => "DOMAIN",
        ObjectKind::View => "VIEW",
        ObjectKind::MaterializedView => "MATERIALIZED VIEW",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "drop-object";

    #[test]
    fn flags_each_kind() {
        let sql = "DROP FUNCTION f(int);\nDROP SEQUENCE s;\nDROP TYPE mood;\nDROP MATERIALIZED VIEW mv;\nDROP VIEW v;\nDROP DOMAIN d;";
        assert_eq!(lines(sql, ID), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn replacements_and_objects_of_the_file_are_fine() {
        let sql = "DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT 1 AS x;\nDROP FUNCTION f();\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\nCREATE TYPE t AS ENUM ('a');\nDROP TYPE t;";
        assert!(lines(sql, ID).is_empty());
        let sql = "ALTER TYPE mood RENAME TO mood__;\nCREATE TYPE mood AS ENUM ('a', 'b');\nALTER TABLE t ALTER COLUMN m TYPE mood USING m::text::mood;\nDROP TYPE mood__;";
        assert!(lines(sql, ID).is_empty());
        // Tables and indexes are other rules' business.
        assert!(lines("DROP INDEX CONCURRENTLY i;", ID).is_empty());
    }
}
