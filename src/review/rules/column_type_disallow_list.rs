//! `column-type-disallow-list`: column types the team banned (Bytebase's
//! `column.type-disallow-list`).

use super::prelude::*;
use crate::review::parse::normalize_type;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "column-type-disallow-list",
    default_severity: Severity::Off,
    description: "a column (CREATE TABLE, ADD COLUMN, type change) whose type is in `list` (default: `json`, `money`, `timetz`)",
    why: "Team policy: some types are known traps (`money` depends on lc_monetary, `timetz` cannot be compared meaningfully, `json` keeps duplicates and cannot be indexed).",
    instead: "Use the team's preferred type (`jsonb`, `numeric`, `timestamptz`), or set `review.rules.column-type-disallow-list.list`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT: &[&str] = &["json", "money", "timetz"];

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let banned: Vec<String> = cx
        .opts
        .list(RULE.id, DEFAULT)
        .iter()
        .map(|t| normalize_type(t).name)
        .collect();
    for col in typed_columns(cx.stmt) {
        if banned.contains(&col.data_type.name) {
            out.push(cx.hit(
                col.span,
                format!(
                    "Column `{}` is {}, a disallowed type.",
                    col.name, col.data_type.raw
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::RuleSetting;

    const ID: &str = "column-type-disallow-list";

    #[test]
    fn flags_banned_types() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY,\n  price money,\n  at timestamptz);";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }

    #[test]
    fn list_uses_type_aliases() {
        let s = RuleSetting {
            list: Some(vec!["INT4".into()]),
            ..RuleSetting::default()
        };
        let sql = "ALTER TABLE a ADD COLUMN n integer;\nALTER TABLE a ADD COLUMN m bigint;";
        assert_eq!(lines_on_with(sql, ID, Dialect::Postgres, s), [1]);
    }
}
