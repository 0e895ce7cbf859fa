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

/// The object names a statement refers to.
fn names(stmt: &Statement) -> Vec<&ObjectName> {
    match &stmt.kind {
        StatementKind::Drop(d) => d.names.iter().collect(),
        StatementKind::Truncate(t) => t.tables.iter().collect(),
        StatementKind::Delete(d) => d.tables.iter().collect(),
        StatementKind::CreateOther(c) => c.name.iter().chain(&c.table).collect(),
        StatementKind::AlterOther(a) => a.name.iter().collect(),
        StatementKind::Comment { name, .. } => name.iter().collect(),
        kind => kind.table().into_iter().collect(),
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if matches!(
        &cx.stmt.kind,
        StatementKind::CreateOther(c) if matches!(c.object, ObjectKind::Schema | ObjectKind::Database | ObjectKind::Extension | ObjectKind::Role)
    ) || matches!(&cx.stmt.kind, StatementKind::Drop(d) if matches!(d.object, ObjectKind::Schema | ObjectKind::Database | ObjectKind::Extension | ObjectKind::Role))
    {
        return;
    }
    // COMMENT ON COLUMN t.c names a column: its table is the part before it.
    let min_parts = match &cx.stmt.kind {
        StatementKind::Comment {
            object: ObjectKind::Column,
            ..
        } => 3,
        _ => 2,
    };
    for n in names(cx.stmt) {
        if !n.parts.is_empty() && n.parts.len() < min_parts {
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
        let sql = "CREATE TABLE public.a (id bigint PRIMARY KEY);\nINSERT INTO a (id) VALUES (1);\nDROP INDEX public.i;\nCOMMENT ON COLUMN a.id IS 'x';\nCREATE SCHEMA s;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2, 4]);
    }
}
