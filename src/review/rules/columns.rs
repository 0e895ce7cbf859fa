//! The columns a statement creates or retypes, as the type and naming rules
//! read them.

use crate::review::finding::Span;
use crate::review::model::{ColumnDef, DataType, Ident, Statement, StatementKind};

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
