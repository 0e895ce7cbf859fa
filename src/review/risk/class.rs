//! Statement classes: the names `risk.rules[].statement` matches
//! (`create-table`, `drop-index`, ...), and the SQL words for object kinds.

use crate::review::model::{ObjectKind, StatementKind};
use std::borrow::Cow;

pub(super) fn object_word(kind: &ObjectKind) -> String {
    match kind {
        ObjectKind::Table => "TABLE".into(),
        ObjectKind::Index => "INDEX".into(),
        ObjectKind::View => "VIEW".into(),
        ObjectKind::MaterializedView => "MATERIALIZED VIEW".into(),
        ObjectKind::Sequence => "SEQUENCE".into(),
        ObjectKind::Schema => "SCHEMA".into(),
        ObjectKind::Database => "DATABASE".into(),
        ObjectKind::Function => "FUNCTION".into(),
        ObjectKind::Procedure => "PROCEDURE".into(),
        ObjectKind::Trigger => "TRIGGER".into(),
        ObjectKind::Type => "TYPE".into(),
        ObjectKind::Domain => "DOMAIN".into(),
        ObjectKind::Extension => "EXTENSION".into(),
        ObjectKind::Role => "ROLE".into(),
        ObjectKind::Statistics => "STATISTICS".into(),
        ObjectKind::Policy => "POLICY".into(),
        ObjectKind::Column => "COLUMN".into(),
        ObjectKind::Constraint => "CONSTRAINT".into(),
        ObjectKind::Other(word) => word.clone(),
    }
}

/// The statement class that `risk.rules[].statement` matches: `create-table`,
/// `alter-table`, `create-index`, `drop-<object>` (`drop-table`, `drop-index`,
/// ...), `truncate`, `insert`, `update`, `delete`, `set`, `begin`, ...,
/// `create-<object>`, `alter-<object>`, `unparsed`.
pub fn statement_class(kind: &StatementKind) -> Cow<'static, str> {
    let class: &'static str = match kind {
        StatementKind::CreateTable(_) => "create-table",
        StatementKind::AlterTable(_) => "alter-table",
        StatementKind::CreateIndex(_) => "create-index",
        StatementKind::Drop(d) => return object_class("drop", &d.object),
        StatementKind::Truncate(_) => "truncate",
        StatementKind::Insert(_) => "insert",
        StatementKind::Update(_) => "update",
        StatementKind::Delete(_) => "delete",
        StatementKind::Set(_) => "set",
        StatementKind::Reset { .. } => "reset",
        StatementKind::Begin => "begin",
        StatementKind::Commit => "commit",
        StatementKind::Rollback => "rollback",
        StatementKind::Savepoint => "savepoint",
        StatementKind::Reindex(_) => "reindex",
        StatementKind::Vacuum(_) => "vacuum",
        StatementKind::Analyze { .. } => "analyze",
        StatementKind::Cluster(_) => "cluster",
        StatementKind::RenameTable { .. } => "rename-table",
        StatementKind::Lock { .. } => "lock",
        StatementKind::RefreshMaterializedView { .. } => "refresh-materialized-view",
        StatementKind::Comment { .. } => "comment",
        StatementKind::Grant { revoke: false } => "grant",
        StatementKind::Grant { revoke: true } => "revoke",
        StatementKind::CreateOther(c) => return object_class("create", &c.object),
        StatementKind::AlterOther(a) => return object_class("alter", &a.object),
        StatementKind::DoBlock => "do",
        StatementKind::Select => "select",
        StatementKind::Other { keyword } => {
            return Cow::Owned(keyword.to_ascii_lowercase().replace(' ', "-"));
        }
        StatementKind::Unparsed { .. } => "unparsed",
    };
    Cow::Borrowed(class)
}

/// `verb-object` (`drop-table`, `create-view`, ...), allocation-free for known objects.
fn object_class(verb: &'static str, object: &ObjectKind) -> Cow<'static, str> {
    let known: Option<&'static str> = match (verb, object) {
        ("drop", ObjectKind::Table) => Some("drop-table"),
        ("drop", ObjectKind::Index) => Some("drop-index"),
        ("drop", ObjectKind::View) => Some("drop-view"),
        ("drop", ObjectKind::MaterializedView) => Some("drop-materialized-view"),
        ("drop", ObjectKind::Schema) => Some("drop-schema"),
        ("drop", ObjectKind::Database) => Some("drop-database"),
        ("drop", ObjectKind::Function) => Some("drop-function"),
        ("drop", ObjectKind::Trigger) => Some("drop-trigger"),
        ("drop", ObjectKind::Type) => Some("drop-type"),
        ("drop", ObjectKind::Sequence) => Some("drop-sequence"),
        ("create", ObjectKind::View) => Some("create-view"),
        ("create", ObjectKind::MaterializedView) => Some("create-materialized-view"),
        ("create", ObjectKind::Function) => Some("create-function"),
        ("create", ObjectKind::Trigger) => Some("create-trigger"),
        ("create", ObjectKind::Type) => Some("create-type"),
        ("create", ObjectKind::Sequence) => Some("create-sequence"),
        ("create", ObjectKind::Extension) => Some("create-extension"),
        ("create", ObjectKind::Schema) => Some("create-schema"),
        ("alter", ObjectKind::Sequence) => Some("alter-sequence"),
        ("alter", ObjectKind::Index) => Some("alter-index"),
        ("alter", ObjectKind::Type) => Some("alter-type"),
        ("alter", ObjectKind::View) => Some("alter-view"),
        _ => None,
    };
    match known {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(format!(
            "{verb}-{}",
            object_word(object).to_ascii_lowercase().replace(' ', "-")
        )),
    }
}
