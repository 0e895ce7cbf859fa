//! `naming-snake-case`: table, column, index and constraint names follow the
//! naming pattern (default lower snake_case) and length limit.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "naming-snake-case",
    default_severity: Severity::Warning,
    description: "table, column, index or constraint name not matching the naming pattern (default snake_case, at most 63 bytes)",
    why: "Mixed-case names must be quoted forever after in PostgreSQL, and inconsistent names make schemas hard to read and tools hard to configure.",
    instead: "Use lower snake_case names (`user_preferences`, `created_at`, `idx_orders_user_id`), or set `review.rules.naming-snake-case.pattern`.",
    dialects: ALL,
    check: Check::Statement(check),
};

/// Above this many bytes, `identifier-max-length` reports the name instead.
const IDENTIFIER_LIMIT: usize = 63;

/// MySQL `KEY`/`INDEX` definitions name indexes, everything else constraints.
fn constraint_kind(c: &TableConstraint) -> &'static str {
    match c.kind {
        ConstraintKind::Index { .. } => "index",
        _ => "constraint",
    }
}

/// A name a statement introduces: what it names, and the identifier.
pub(super) fn introduced_names(stmt: &Statement) -> Vec<(&'static str, &Ident)> {
    let mut names = Vec::new();
    match &stmt.kind {
        StatementKind::CreateTable(ct) => {
            if let Some(n) = ct.name.ident() {
                names.push(("table", n));
            }
            names.extend(ct.columns.iter().map(|c| ("column", &c.name)));
            names.extend(
                ct.constraints
                    .iter()
                    .filter_map(|c| c.name.as_ref().map(|n| (constraint_kind(c), n))),
            );
        }
        StatementKind::AlterTable(at) => {
            for a in &at.actions {
                match a {
                    AlterAction::AddColumn { column, .. } => names.push(("column", &column.name)),
                    AlterAction::ChangeColumn { old_name, column }
                        if old_name.normalized() != column.name.normalized() =>
                    {
                        names.push(("column", &column.name))
                    }
                    AlterAction::RenameColumn { to, .. } => names.push(("column", to)),
                    AlterAction::AddConstraint { constraint: c } => {
                        if let Some(n) = c.name.as_ref() {
                            names.push((constraint_kind(c), n));
                        }
                    }
                    AlterAction::RenameConstraint { to, .. } => names.push(("constraint", to)),
                    AlterAction::RenameTable { to } => {
                        if let Some(n) = to.ident() {
                            names.push(("table", n));
                        }
                    }
                    _ => {}
                }
            }
        }
        StatementKind::CreateIndex(ci) => {
            if let Some(n) = &ci.name {
                names.push(("index", n));
            }
        }
        StatementKind::RenameTable { renames } => {
            names.extend(
                renames
                    .iter()
                    .filter_map(|(_, to)| to.ident())
                    .map(|n| ("table", n)),
            );
        }
        _ => {}
    }
    names
}

/// The name the database stores. PostgreSQL folds unquoted identifiers to
/// lower case (`CREATE TABLE MyTable` creates `mytable`); only quoted ones
/// keep their case. MySQL keeps a table's name as written (it is a file name,
/// case-sensitive on Linux), while column, index and constraint names are
/// case-insensitive whether quoted or not: they are judged lower-cased.
fn stored_name<'a>(what: &str, name: &'a Ident, dialect: Dialect) -> std::borrow::Cow<'a, str> {
    let fold = match dialect {
        Dialect::Postgres => !name.quoted,
        Dialect::Mysql => what != "table",
    };
    if fold && name.value.chars().any(char::is_uppercase) {
        std::borrow::Cow::Owned(name.value.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(&name.value)
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    for (what, name) in introduced_names(cx.stmt) {
        let len = name.value.len();
        let p = &cx.opts.naming_pattern;
        if !p.is_match(&stored_name(what, name, cx.dialect)) {
            out.push(cx.hit(
                name.span,
                format!(
                    "The {what} name `{}` does not match the naming pattern `{}`.",
                    name.value,
                    p.as_str()
                ),
            ));
        } else if len > cx.opts.naming_max_length && len <= IDENTIFIER_LIMIT {
            out.push(cx.hit(
                name.span,
                format!(
                    "The {what} name `{}` is {len} bytes long (at most {} allowed).",
                    name.value, cx.opts.naming_max_length
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::{ReviewSettings, RuleSetting};

    const ID: &str = "naming-snake-case";

    #[test]
    fn flags_each_kind_of_name() {
        let sql = "CREATE TABLE \"UserPrefs\" (\n  id bigint PRIMARY KEY,\n  \"userId\" bigint,\n  CONSTRAINT \"Bad\" UNIQUE (id)\n);\nCREATE INDEX \"IdxX\" ON t (x);\nALTER TABLE t RENAME COLUMN a TO \"B\";";
        assert_eq!(lines(sql, ID), [1, 3, 4, 6, 7]);
    }

    #[test]
    fn unquoted_names_are_judged_as_postgres_folds_them() {
        let sql = "CREATE TABLE MyTable (\n  Id bigint PRIMARY KEY,\n  UserId bigint\n);\nCREATE INDEX IdxMyTableUserId ON MyTable (UserId);\nALTER TABLE MyTable ADD COLUMN \"CamelCase\" text;";
        assert_eq!(lines(sql, ID), [6]);
    }

    #[test]
    fn mysql_judges_table_names_as_written_and_other_names_folded() {
        let sql = "CREATE TABLE MyTable (\n  Id bigint PRIMARY KEY,\n  `UserId` bigint\n);\nCREATE TABLE `Other` (id bigint PRIMARY KEY);";
        assert_eq!(lines_mysql(sql, ID), [1, 5]);
    }

    #[test]
    fn snake_case_names_pass() {
        let sql = "CREATE TABLE user_preferences (id bigint PRIMARY KEY, user_id bigint);\nCREATE INDEX idx_user_preferences_user_id ON user_preferences (user_id);";
        assert!(lines(sql, ID).is_empty());
    }

    #[test]
    fn pattern_and_length_are_configurable() {
        let mut s = ReviewSettings::default();
        s.rules.insert(
            ID.into(),
            RuleSetting {
                pattern: Some("^t_[a-z_]+$".into()),
                max_length: Some(10),
                ..RuleSetting::default()
            },
        );
        let got = |sql| {
            lint_with(sql, Dialect::Postgres, None, &s)
                .findings
                .into_iter()
                .filter(|f| f.rule == ID)
                .count()
        };
        assert_eq!(got("CREATE TABLE t_ok (i bigint PRIMARY KEY);"), 1); // column `i`
        assert_eq!(
            got("CREATE TABLE t_much_too_long (t_id bigint PRIMARY KEY);"),
            1
        );
        assert_eq!(got("CREATE TABLE t_ok (t_id bigint PRIMARY KEY);"), 0);
    }
}
