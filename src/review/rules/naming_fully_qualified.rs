//! `naming-fully-qualified`: every table a statement names is written with
//! its schema (Bytebase's `naming.fully-qualified`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "naming-fully-qualified",
    default_severity: Severity::Off,
    description: "a table, index, view, sequence or function named without its schema (`users` instead of `public.users`)",
    why: "Team policy: an unqualified name resolves through `search_path`, which differs between sessions, roles and tools; the migration can then touch another schema's object.",
    instead: "Write `schema.name`, e.g. `public.users`.",
    dialects: PG,
    check: Check::Statement(check),
};

/// Kinds of object PostgreSQL lets a migration qualify with a schema
/// (schemas, roles, extensions, triggers, policies ... have no schema).
fn qualifiable(object: &ObjectKind) -> bool {
    matches!(
        object,
        ObjectKind::Table
            | ObjectKind::Index
            | ObjectKind::View
            | ObjectKind::MaterializedView
            | ObjectKind::Sequence
            | ObjectKind::Function
            | ObjectKind::Procedure
            | ObjectKind::Type
            | ObjectKind::Domain
            | ObjectKind::Statistics
    )
}

/// The object names a statement refers to, with the number of parts a
/// qualified one has.
fn names(stmt: &Statement) -> Vec<(&ObjectName, usize)> {
    fn plain(n: &ObjectName) -> (&ObjectName, usize) {
        (n, 2)
    }
    match &stmt.kind {
        StatementKind::Drop(d) if qualifiable(&d.object) => d.names.iter().map(plain).collect(),
        StatementKind::Truncate(t) => t.tables.iter().map(plain).collect(),
        StatementKind::Delete(d) => d.tables.iter().map(plain).collect(),
        StatementKind::CreateOther(c) => c
            .name
            .iter()
            .filter(|_| qualifiable(&c.object))
            .chain(&c.table)
            .map(plain)
            .collect(),
        StatementKind::AlterOther(a) if qualifiable(&a.object) => {
            a.name.iter().map(plain).collect()
        }
        // COMMENT ON COLUMN t.c names a column: qualified, it has three parts.
        StatementKind::Comment {
            object: ObjectKind::Column,
            name,
        } => name.iter().map(|n| (n, 3)).collect(),
        StatementKind::Comment { object, name } if qualifiable(object) => {
            name.iter().map(plain).collect()
        }
        StatementKind::Drop(_) | StatementKind::AlterOther(_) | StatementKind::Comment { .. } => {
            Vec::new()
        }
        kind => kind.table().into_iter().map(plain).collect(),
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for (n, parts) in names(cx.stmt) {
        if !n.parts.is_empty() && n.parts.len() < parts {
            out.push(cx.hit(n.span(), format!("`{n}` is not qualified with its schema.")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "naming-fully-qualified";

    #[test]
    fn flags_unqualified_names() {
        let sql = "CREATE TABLE public.a (id bigint PRIMARY KEY);\nINSERT INTO a (id) VALUES (1);\nDROP INDEX public.i;\nCOMMENT ON COLUMN a.id IS 'x';\nCREATE SCHEMA s;\nCOMMENT ON SCHEMA s IS 'x';\nCREATE TRIGGER t BEFORE INSERT ON public.a FOR EACH ROW EXECUTE FUNCTION public.f();\nDROP TRIGGER t ON a;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2, 4]);
    }
}
