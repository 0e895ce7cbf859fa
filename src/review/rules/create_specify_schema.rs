//! `create-specify-schema`: a CREATE names the schema of what it creates
//! (Bytebase's `statement.create-specify-schema`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "create-specify-schema",
    default_severity: Severity::Off,
    description: "CREATE TABLE / VIEW / SEQUENCE / TYPE / FUNCTION ... without a schema",
    why: "Team policy: without a schema the object lands in the first schema of `search_path`, which depends on the role and session that runs the migration.",
    instead: "Create it as `schema.name`.",
    dialects: PG,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let name = match &cx.stmt.kind {
        StatementKind::CreateTable(ct) if !ct.temporary => Some(&ct.name),
        StatementKind::CreateOther(c)
            if matches!(
                c.object,
                ObjectKind::View
                    | ObjectKind::MaterializedView
                    | ObjectKind::Sequence
                    | ObjectKind::Type
                    | ObjectKind::Domain
                    | ObjectKind::Function
                    | ObjectKind::Procedure
            ) =>
        {
            c.name.as_ref()
        }
        _ => None,
    };
    if let Some(n) = name
        && n.schema().is_none()
    {
        out.push(cx.hit(n.span(), format!("`{n}` is created without a schema.")));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "create-specify-schema";

    #[test]
    fn flags_create_without_schema() {
        let sql = "CREATE TABLE public.a (id bigint PRIMARY KEY);\nCREATE TABLE b (id bigint PRIMARY KEY);\nCREATE VIEW v AS SELECT 1 AS x;\nCREATE TEMP TABLE t (x int);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2, 3]);
    }
}
