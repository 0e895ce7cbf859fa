//! `naming-index-template`: a named plain index follows the index template
//! (Bytebase's `naming.index.idx`).

use super::naming_template::{NameParts, check_name, index_columns};
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "naming-index-template",
    default_severity: Severity::Off,
    description: "a named non-unique index whose name is not the template's (default `idx_{{table}}_{{column_list}}`)",
    why: "Team policy: names built from the table and columns tell what an index covers in plans, errors and monitoring without looking it up.",
    instead: "Name it as the template says, or set `review.rules.naming-index-template.template`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const TEMPLATE: &str = "idx_{{table}}_{{column_list}}";

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if let StatementKind::CreateIndex(ci) = &cx.stmt.kind
        && !ci.unique
        && let Some(name) = &ci.name
        && let Some(columns) = index_columns(ci)
    {
        let parts = NameParts::own(&ci.table, &columns);
        check_name(cx, &RULE, TEMPLATE, "index", name, &parts, out);
    }
    for (table, name, kind) in super::naming_template::named_constraints(cx.stmt) {
        if let ConstraintKind::Index { columns } = kind {
            let parts = NameParts::own(table, columns);
            check_name(cx, &RULE, TEMPLATE, "index", name, &parts, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::RuleSetting;

    const ID: &str = "naming-index-template";

    #[test]
    fn flags_index_names_off_template() {
        let sql = "CREATE INDEX idx_users_email ON users (email);\nCREATE INDEX users_mail ON users (email);\nCREATE UNIQUE INDEX u ON users (email);\nCREATE INDEX ix ON users (lower(email));";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }

    #[test]
    fn template_is_configurable() {
        let s = RuleSetting {
            template: Some("{{table}}_{{column_list}}_idx".into()),
            ..RuleSetting::default()
        };
        let sql = "CREATE INDEX users_email_idx ON users (email);\nCREATE INDEX idx_users_email ON users (email);";
        assert_eq!(lines_on_with(sql, ID, Dialect::Postgres, s), [2]);
    }
}
