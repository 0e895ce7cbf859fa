//! The columns a statement creates or retypes, as the type and naming rules
//! read them.

use crate::review::finding::Span;
use crate::review::model::{
    AlterAction, ColumnDef, ConstraintKind, CreateTable, DataType, Ident, ObjectName, Statement,
    StatementKind,
};

/// A column a statement defines or retypes, for the type and naming rules.
pub(crate) struct TypedColumn<'a> {
    /// The column's name.
    pub name: &'a Ident,
    /// Its (new) type.
    pub data_type: &'a DataType,
    /// Where to point.
    pub span: Option<Span>,
}

/// Columns a statement creates or retypes (CREATE TABLE, ADD COLUMN, ALTER
/// COLUMN TYPE, MySQL MODIFY/CHANGE).
pub(crate) fn typed_columns(stmt: &Statement) -> Vec<TypedColumn<'_>> {
    use crate::review::model::AlterAction as A;
    fn def(c: &ColumnDef) -> TypedColumn<'_> {
        TypedColumn {
            name: &c.name,
            data_type: &c.data_type,
            span: c.name.span.or(c.span),
        }
    }
    match &stmt.kind {
        StatementKind::CreateTable(ct) => ct.columns.iter().map(def).collect(),
        StatementKind::AlterTable(at) => at
            .actions
            .iter()
            .filter_map(|a| match a {
                A::AddColumn { column, .. }
                | A::ModifyColumn { column }
                | A::ChangeColumn { column, .. } => Some(def(column)),
                A::AlterColumnType {
                    column, data_type, ..
                } => Some(TypedColumn {
                    name: column,
                    data_type,
                    span: column.span,
                }),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The columns a CREATE TABLE's table-level `PRIMARY KEY (...)` lists, normalized.
pub(crate) fn table_key_columns(ct: &CreateTable) -> Vec<String> {
    ct.constraints
        .iter()
        .filter_map(|c| match &c.kind {
            ConstraintKind::PrimaryKey { columns, .. } => Some(columns),
            _ => None,
        })
        .flatten()
        .map(Ident::normalized)
        .collect()
}

/// The columns a statement adds (CREATE TABLE, ADD COLUMN) and their table,
/// leaving out those a table-level `PRIMARY KEY (...)` covers (they are NOT
/// NULL keys whatever their definition says).
pub(crate) fn added_columns(stmt: &Statement) -> Option<(&ObjectName, Vec<&ColumnDef>)> {
    match &stmt.kind {
        StatementKind::CreateTable(ct) => {
            let keys = table_key_columns(ct);
            Some((
                &ct.name,
                ct.columns
                    .iter()
                    .filter(|c| !keys.contains(&c.name.normalized()))
                    .collect(),
            ))
        }
        StatementKind::AlterTable(at) => Some((
            &at.name,
            at.actions
                .iter()
                .filter_map(|a| match a {
                    AlterAction::AddColumn { column, .. } => Some(&**column),
                    _ => None,
                })
                .collect(),
        )),
        _ => None,
    }
}
