//! `column-required`: every new table has the team's required columns
//! (Bytebase's `column.required`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "column-required",
    default_severity: Severity::Off,
    description: "CREATE TABLE without one of the required columns (`list`, default `id`, `created_at`, `updated_at`); dropping or renaming one of them",
    why: "Team policy: tools and conventions (auditing, sync jobs, soft deletes) rely on every table having these columns.",
    instead: "Add the missing columns, or set `review.rules.column-required.list`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT: &[&str] = &["id", "created_at", "updated_at"];

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let required = cx.opts.list(RULE.id, DEFAULT);
    match &cx.stmt.kind {
        StatementKind::CreateTable(ct) if !ct.derived && !ct.temporary => {
            let missing: Vec<&str> = required
                .iter()
                .filter(|r| !ct.columns.iter().any(|c| c.name.normalized() == **r))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                out.push(cx.hit(
                    ct.name.span(),
                    format!(
                        "Table `{}` lacks the required column(s) {}.",
                        ct.name,
                        missing.join(", ")
                    ),
                ));
            }
        }
        StatementKind::AlterTable(at) => {
            for a in &at.actions {
                let gone = match a {
                    AlterAction::DropColumn { name, .. } => Some(name),
                    AlterAction::RenameColumn { from, .. } => Some(from),
                    AlterAction::ChangeColumn { old_name, column }
                        if old_name.normalized() != column.name.normalized() =>
                    {
                        Some(old_name)
                    }
                    _ => None,
                };
                if let Some(c) = gone
                    && required.contains(&c.normalized())
                {
                    out.push(cx.hit(
                        c.span,
                        format!(
                            "Required column `{c}` of `{}` is dropped or renamed.",
                            at.name
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::RuleSetting;

    const ID: &str = "column-required";

    #[test]
    fn flags_missing_and_dropped_required_columns() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY, created_at timestamptz, updated_at timestamptz);\nCREATE TABLE b (id bigint PRIMARY KEY);\nALTER TABLE a DROP COLUMN created_at;";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2, 3]);
    }

    #[test]
    fn list_is_configurable() {
        let s = RuleSetting {
            list: Some(vec!["tenant_id".into()]),
            ..RuleSetting::default()
        };
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY, tenant_id bigint);\nCREATE TABLE b (id bigint PRIMARY KEY);";
        assert_eq!(lines_on_with(sql, ID, Dialect::Postgres, s), [2]);
    }
}
