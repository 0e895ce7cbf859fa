//! Bytebase's naming templates (`idx_{{table}}_{{column_list}}`, ...), shared
//! by the four `naming-*-template` rules: the expected name is the template
//! with its tokens filled in; a named key whose name differs is flagged.

use super::prelude::*;

/// What a template's tokens stand for.
pub(super) struct NameParts<'a> {
    /// `{{table}}` / `{{referencing_table}}`.
    pub table: &'a ObjectName,
    /// `{{column_list}}` / `{{referencing_column}}`.
    pub columns: &'a [Ident],
    /// `{{referenced_table}}`.
    pub referenced_table: Option<&'a ObjectName>,
    /// `{{referenced_column}}`.
    pub referenced_columns: &'a [Ident],
}

impl<'a> NameParts<'a> {
    /// The parts of an index or constraint on `table`'s own `columns`.
    pub(super) fn own(table: &'a ObjectName, columns: &'a [Ident]) -> NameParts<'a> {
        NameParts {
            table,
            columns,
            referenced_table: None,
            referenced_columns: &[],
        }
    }
}

fn joined(idents: &[Ident]) -> String {
    idents
        .iter()
        .map(Ident::normalized)
        .collect::<Vec<_>>()
        .join("_")
}

/// The tokens a template may use.
const TOKENS: &[&str] = &[
    "{{table}}",
    "{{column_list}}",
    "{{referencing_table}}",
    "{{referencing_column}}",
    "{{referenced_table}}",
    "{{referenced_column}}",
];

/// The `{{...}}` tokens of `template` that no rule fills in (a typo would
/// otherwise make every name "wrong").
pub(super) fn unknown_tokens(template: &str) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let Some(len) = rest[open..].find("}}") else {
            break;
        };
        let token = &rest[open..open + len + 2];
        if !TOKENS.contains(&token) {
            unknown.push(token.to_string());
        }
        rest = &rest[open + len + 2..];
    }
    unknown
}

/// The name `template` asks for.
pub(super) fn expected(template: &str, parts: &NameParts<'_>) -> String {
    let referenced = parts
        .referenced_table
        .map(ObjectName::normalized)
        .unwrap_or_default();
    template
        .replace("{{table}}", &parts.table.normalized())
        .replace("{{referencing_table}}", &parts.table.normalized())
        .replace("{{column_list}}", &joined(parts.columns))
        .replace("{{referencing_column}}", &joined(parts.columns))
        .replace("{{referenced_table}}", &referenced)
        .replace("{{referenced_column}}", &joined(parts.referenced_columns))
}

/// Checks `name` against the rule's template; pushes a hit when it differs.
pub(super) fn check_name(
    cx: &StmtCtx<'_>,
    rule: &RuleInfo,
    default_template: &str,
    what: &str,
    name: &Ident,
    parts: &NameParts<'_>,
    out: &mut Vec<Hit>,
) {
    let want = expected(cx.opts.template(rule.id, default_template), parts);
    if name.normalized() != want {
        out.push(cx.hit(
            name.span,
            format!("The {what} `{name}` should be named `{want}`."),
        ));
    }
}

/// Every named constraint a statement adds, with the table it is on.
pub(super) fn named_constraints(stmt: &Statement) -> Vec<(&ObjectName, &Ident, &ConstraintKind)> {
    match &stmt.kind {
        StatementKind::CreateTable(ct) => ct
            .constraints
            .iter()
            .filter_map(|c| c.name.as_ref().map(|n| (&ct.name, n, &c.kind)))
            .collect(),
        StatementKind::AlterTable(at) => at
            .actions
            .iter()
            .filter_map(|a| match a {
                AlterAction::AddConstraint { constraint: c } => {
                    c.name.as_ref().map(|n| (&at.name, n, &c.kind))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The plain-column keys of an index, or `None` when one is an expression.
pub(super) fn index_columns(ci: &CreateIndex) -> Option<Vec<Ident>> {
    ci.columns.iter().map(|c| c.column.clone()).collect()
}
