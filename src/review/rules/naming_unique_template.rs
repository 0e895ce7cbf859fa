//! `naming-unique-template`: a named unique index or constraint follows the
//! unique-key template (Bytebase's `naming.index.uk`).

use super::naming_template::{NameParts, check_name, index_columns, named_constraints};
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "naming-unique-template",
    default_severity: Severity::Off,
    description: "a named unique index or UNIQUE constraint whose name is not the template's (default `uk_{{table}}_{{column_list}}`)",
    why: "Team policy: a unique violation's error names the constraint; a name built from table and columns says at once which value clashed.",
    instead: "Name it as the template says, or set `review.rules.naming-unique-template.template`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const TEMPLATE: &str = "uk_{{table}}_{{column_list}}";

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::CreateIndex(ci) = &cx.stmt.kind
        && ci.unique
        && let Some(name) = &ci.name
        && let Some(columns) = index_columns(ci)
    {
        let parts = NameParts::own(&ci.table, &columns);
        check_name(cx, &RULE, TEMPLATE, "unique index", name, &parts, out);
    }
    for (table, name, kind) in named_constraints(cx.stmt) {
        if let ConstraintKind::Unique {
            columns,
            using_index: None,
        } = kind
        {
            let parts = NameParts::own(table, columns);
            check_name(cx, &RULE, TEMPLATE, "unique constraint", name, &parts, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "naming-unique-template";

    #[test]
    fn flags_unique_names_off_template() {
        let sql = "CREATE UNIQUE INDEX uk_users_email ON users (email);\nCREATE UNIQUE INDEX users_email_key ON users (email);\nALTER TABLE users ADD CONSTRAINT uniq UNIQUE (a, b);\nALTER TABLE users ADD CONSTRAINT uk_users_a_b UNIQUE (a, b);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2, 3]);
    }
}
