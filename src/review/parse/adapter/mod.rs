//! sqlparser AST → bytegate statement model.
//!
//! The only place that reads sqlparser's AST. Every node whose span sqlparser
//! fills in carries it over (tokens were already in file coordinates).
//!
//! Split along its jobs: this file dispatches statements and converts names;
//! [`tables`] converts table DDL (CREATE/ALTER TABLE, constraints, indexes),
//! [`dml`] data statements and `SET`, [`types`] data types and defaults.

mod dml;
mod tables;
mod types;

use dml::*;
use tables::*;
/// Canonical type names, for rules that compare configured type lists.
pub(crate) use types::normalize_type;
use types::*;

use super::split::span_of;
use crate::review::model::{
    AlterAction, AlterOther, AlterTable, ColumnDef, ConstraintKind, CreateIndex, CreateOther,
    CreateTable, DataType, DefaultValue, Delete, Drop, ForeignKeyRef, Ident, IndexColumn, Insert,
    ObjectKind, ObjectName, ReferentialAction, RowFilter, Set, StatementKind, TableConstraint,
    Truncate, Update, Vacuum,
};
use sqlparser::ast::{self as sa, Spanned};
use std::ops::ControlFlow;

/// Converts one parsed statement. `keyword` is the statement's first word
/// (uppercased), used for statements bytegate keeps no facts about.
pub(crate) fn adapt(stmt: &sa::Statement, keyword: &str) -> StatementKind {
    use sa::Statement as S;
    match stmt {
        S::CreateTable(ct) => StatementKind::CreateTable(create_table(ct)),
        S::AlterTable(at) => StatementKind::AlterTable(alter_table(at)),
        S::CreateIndex(ci) => StatementKind::CreateIndex(create_index(ci)),
        S::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            table,
            ..
        } => StatementKind::Drop(Drop {
            object: object_type_kind(object_type),
            names: names.iter().map(object_name).collect(),
            if_exists: *if_exists,
            cascade: *cascade,
            concurrently: false,
            table: table.as_ref().map(object_name),
        }),
        S::DropFunction(df) => drop_simple(
            ObjectKind::Function,
            df.func_desc.iter().map(|f| object_name(&f.name)).collect(),
            df.if_exists,
            is_cascade(df.drop_behavior.as_ref()),
        ),
        S::DropProcedure {
            if_exists,
            proc_desc,
            drop_behavior,
        } => drop_simple(
            ObjectKind::Procedure,
            proc_desc.iter().map(|f| object_name(&f.name)).collect(),
            *if_exists,
            is_cascade(drop_behavior.as_ref()),
        ),
        S::DropDomain(d) => drop_simple(
            ObjectKind::Domain,
            vec![object_name(&d.name)],
            d.if_exists,
            is_cascade(d.drop_behavior.as_ref()),
        ),
        S::DropExtension(d) => drop_simple(
            ObjectKind::Extension,
            d.names
                .iter()
                .map(|n| ObjectName {
                    parts: vec![ident(n)],
                })
                .collect(),
            d.if_exists,
            matches!(d.cascade_or_restrict, Some(sa::ReferentialAction::Cascade)),
        ),
        S::DropTrigger(d) => StatementKind::Drop(Drop {
            object: ObjectKind::Trigger,
            names: vec![object_name(&d.trigger_name)],
            if_exists: d.if_exists,
            cascade: matches!(d.option, Some(sa::ReferentialAction::Cascade)),
            concurrently: false,
            table: d.table_name.as_ref().map(object_name),
        }),
        S::DropPolicy(d) => StatementKind::Drop(Drop {
            object: ObjectKind::Policy,
            names: vec![ObjectName {
                parts: vec![ident(&d.name)],
            }],
            if_exists: d.if_exists,
            cascade: is_cascade(d.drop_behavior.as_ref()),
            concurrently: false,
            table: Some(object_name(&d.table_name)),
        }),
        S::Truncate(t) => StatementKind::Truncate(Truncate {
            tables: t.table_names.iter().map(|x| object_name(&x.name)).collect(),
            cascade: matches!(t.cascade, Some(sa::CascadeOption::Cascade)),
        }),
        S::Insert(i) => StatementKind::Insert(insert(i)),
        S::Update(u) => StatementKind::Update(Update {
            table: table_factor_name(&u.table.relation).unwrap_or_default(),
            has_where: u.selection.is_some(),
            filter: update_filter(u),
            assignments: u
                .assignments
                .iter()
                .flat_map(|a| match &a.target {
                    sa::AssignmentTarget::ColumnName(n) => vec![last_ident(n)],
                    sa::AssignmentTarget::Tuple(ns) => ns.iter().map(last_ident).collect(),
                })
                .flatten()
                .collect(),
        }),
        S::Delete(d) => StatementKind::Delete(delete(d)),
        S::Set(s) => set(s),
        S::Reset(r) => StatementKind::Reset {
            name: match &r.reset {
                sa::Reset::ALL => None,
                sa::Reset::ConfigurationParameter(n) => Some(n.to_string().to_lowercase()),
                sa::Reset::SessionAuthorization => Some("session_authorization".to_string()),
            },
        },
        S::StartTransaction { .. } => StatementKind::Begin,
        S::Commit { .. } => StatementKind::Commit,
        S::Rollback { savepoint, .. } => {
            if savepoint.is_some() {
                StatementKind::Savepoint
            } else {
                StatementKind::Rollback
            }
        }
        S::Savepoint { .. } | S::ReleaseSavepoint { .. } => StatementKind::Savepoint,
        S::Vacuum(v) => StatementKind::Vacuum(Vacuum {
            full: v.full,
            analyze: false,
            tables: v.table_name.iter().map(object_name).collect(),
        }),
        S::Analyze(a) => StatementKind::Analyze {
            tables: a.table_name.iter().map(object_name).collect(),
        },
        S::RenameTable(rs) => StatementKind::RenameTable {
            renames: rs
                .iter()
                .map(|r| (object_name(&r.old_name), object_name(&r.new_name)))
                .collect(),
        },
        S::Lock(l) => StatementKind::Lock {
            tables: l.tables.iter().map(|t| object_name(&t.name)).collect(),
            mode: Some(l.lock_mode.as_ref().map_or_else(
                || "ACCESS EXCLUSIVE".to_string(),
                |m| m.to_string().to_uppercase(),
            )),
        },
        S::LockTables { tables } => StatementKind::Lock {
            tables: tables
                .iter()
                .map(|t| ObjectName {
                    parts: vec![ident(&t.table)],
                })
                .collect(),
            mode: None,
        },
        S::RefreshMaterializedView(r) => StatementKind::RefreshMaterializedView {
            name: object_name(&r.name),
            concurrently: r.concurrently,
        },
        S::Comment {
            object_type,
            object_name: name,
            ..
        } => StatementKind::Comment {
            object: comment_object_kind(object_type),
            name: Some(object_name(name)),
        },
        S::Grant(_) | S::GrantRole(_) | S::AlterDefaultPrivileges(_) => {
            StatementKind::Grant { revoke: false }
        }
        S::Revoke(_) | S::RevokeRole(_) | S::Deny(_) => StatementKind::Grant { revoke: true },
        S::CreateView(v) => create_other(
            if v.materialized {
                ObjectKind::MaterializedView
            } else {
                ObjectKind::View
            },
            Some(object_name(&v.name)),
            v.or_replace,
            v.if_not_exists,
            None,
        ),
        S::CreateFunction(f) => create_other(
            ObjectKind::Function,
            Some(object_name(&f.name)),
            f.or_replace,
            f.if_not_exists,
            None,
        ),
        S::CreateProcedure { name, or_alter, .. } => create_other(
            ObjectKind::Procedure,
            Some(object_name(name)),
            *or_alter,
            false,
            None,
        ),
        S::CreateTrigger(t) => create_other(
            ObjectKind::Trigger,
            Some(object_name(&t.name)),
            t.or_replace,
            false,
            Some(object_name(&t.table_name)),
        ),
        S::CreateSequence {
            name,
            if_not_exists,
            ..
        } => create_other(
            ObjectKind::Sequence,
            Some(object_name(name)),
            false,
            *if_not_exists,
            None,
        ),
        S::CreateType { name, .. } => create_other(
            ObjectKind::Type,
            Some(object_name(name)),
            false,
            false,
            None,
        ),
        S::CreateDomain(d) => create_other(
            ObjectKind::Domain,
            Some(object_name(&d.name)),
            false,
            false,
            None,
        ),
        S::CreateExtension(e) => create_other(
            ObjectKind::Extension,
            Some(ObjectName {
                parts: vec![ident(&e.name)],
            }),
            false,
            e.if_not_exists,
            None,
        ),
        S::CreateSchema {
            schema_name,
            or_replace,
            if_not_exists,
            ..
        } => create_other(
            ObjectKind::Schema,
            match schema_name {
                sa::SchemaName::Simple(n) | sa::SchemaName::NamedAuthorization(n, _) => {
                    Some(object_name(n))
                }
                sa::SchemaName::UnnamedAuthorization(i) => Some(ObjectName {
                    parts: vec![ident(i)],
                }),
            },
            *or_replace,
            *if_not_exists,
            None,
        ),
        S::CreateDatabase {
            db_name,
            if_not_exists,
            or_replace,
            ..
        } => create_other(
            ObjectKind::Database,
            Some(object_name(db_name)),
            *or_replace,
            *if_not_exists,
            None,
        ),
        S::CreateRole(r) => create_other(
            ObjectKind::Role,
            r.names.first().map(object_name),
            false,
            r.if_not_exists,
            None,
        ),
        S::CreateUser(u) => create_other(
            ObjectKind::Role,
            Some(ObjectName {
                parts: vec![ident(&u.name)],
            }),
            u.or_replace,
            u.if_not_exists,
            None,
        ),
        S::CreatePolicy(p) => create_other(
            ObjectKind::Policy,
            Some(ObjectName {
                parts: vec![ident(&p.name)],
            }),
            false,
            false,
            Some(object_name(&p.table_name)),
        ),
        S::CreateAggregate(_) => create_other(other_kind("AGGREGATE"), None, false, false, None),
        S::CreateCollation(_) => create_other(other_kind("COLLATION"), None, false, false, None),
        S::AlterIndex { name, operation } => alter_other(
            ObjectKind::Index,
            Some(object_name(name)),
            &operation.to_string(),
        ),
        S::AlterView(v) => alter_other(
            if v.materialized {
                ObjectKind::MaterializedView
            } else {
                ObjectKind::View
            },
            Some(object_name(&v.name)),
            &v.operation.to_string(),
        ),
        S::AlterType(t) => alter_other(
            ObjectKind::Type,
            Some(object_name(&t.name)),
            &t.operation.to_string(),
        ),
        S::AlterSchema(s) => alter_other(
            ObjectKind::Schema,
            Some(object_name(&s.name)),
            &s.operations
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        S::AlterFunction(f) => alter_other(
            ObjectKind::Function,
            Some(object_name(&f.function.name)),
            &f.operation.to_string(),
        ),
        S::AlterRole { name, operation } => alter_other(
            ObjectKind::Role,
            Some(ObjectName {
                parts: vec![ident(name)],
            }),
            &operation.to_string(),
        ),
        S::AlterPolicy(p) => alter_other(
            ObjectKind::Policy,
            Some(ObjectName {
                parts: vec![ident(&p.name)],
            }),
            &p.operation.to_string(),
        ),
        S::AlterTrigger(t) => alter_other(
            ObjectKind::Trigger,
            Some(ObjectName {
                parts: vec![ident(&t.name)],
            }),
            &t.operation.to_string(),
        ),
        S::Query(q) => query(q),
        S::Copy {
            source:
                sa::CopySource::Table {
                    table_name,
                    columns,
                },
            to: false,
            ..
        } => StatementKind::Insert(Insert {
            table: object_name(table_name),
            has_column_list: !columns.is_empty(),
            columns: columns.iter().map(ident).collect(),
            values: false,
            select_star: false,
        }),
        _ => StatementKind::Other {
            keyword: keyword.to_string(),
        },
    }
}

fn drop_simple(
    object: ObjectKind,
    names: Vec<ObjectName>,
    if_exists: bool,
    cascade: bool,
) -> StatementKind {
    StatementKind::Drop(Drop {
        object,
        names,
        if_exists,
        cascade,
        concurrently: false,
        table: None,
    })
}

fn create_other(
    object: ObjectKind,
    name: Option<ObjectName>,
    or_replace: bool,
    if_not_exists: bool,
    table: Option<ObjectName>,
) -> StatementKind {
    StatementKind::CreateOther(CreateOther {
        object,
        name,
        or_replace,
        if_not_exists,
        table,
    })
}

fn alter_other(object: ObjectKind, name: Option<ObjectName>, op: &str) -> StatementKind {
    StatementKind::AlterOther(AlterOther {
        object,
        name,
        action: head_words(op, 2),
        // Filled from the tokens by the caller (one place for every object kind).
        new_name: None,
    })
}

fn other_kind(s: &str) -> ObjectKind {
    ObjectKind::Other(s.to_string())
}

/// The first `n` words of `s`, uppercased (a short description of an action).
pub(crate) fn head_words(s: &str, n: usize) -> String {
    s.split_whitespace()
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

fn is_cascade(b: Option<&sa::DropBehavior>) -> bool {
    matches!(b, Some(sa::DropBehavior::Cascade))
}

/// A sqlparser identifier as a model identifier (with its span, if any).
pub(crate) fn ident(i: &sa::Ident) -> Ident {
    Ident {
        value: i.value.clone(),
        quoted: i.quote_style.is_some(),
        span: span_of(i.span),
    }
}

/// A sqlparser object name as a model object name.
pub(crate) fn object_name(n: &sa::ObjectName) -> ObjectName {
    ObjectName {
        parts: n
            .0
            .iter()
            .map(|p| match p {
                sa::ObjectNamePart::Identifier(i) => ident(i),
                other => Ident {
                    value: other.to_string(),
                    quoted: false,
                    span: span_of(other.span()),
                },
            })
            .collect(),
    }
}

fn last_ident(n: &sa::ObjectName) -> Option<Ident> {
    object_name(n).parts.pop()
}

fn object_type_kind(t: &sa::ObjectType) -> ObjectKind {
    match t {
        sa::ObjectType::Table => ObjectKind::Table,
        sa::ObjectType::View => ObjectKind::View,
        sa::ObjectType::MaterializedView => ObjectKind::MaterializedView,
        sa::ObjectType::Index => ObjectKind::Index,
        sa::ObjectType::Schema => ObjectKind::Schema,
        sa::ObjectType::Database => ObjectKind::Database,
        sa::ObjectType::Role | sa::ObjectType::User | sa::ObjectType::Group => ObjectKind::Role,
        sa::ObjectType::Sequence => ObjectKind::Sequence,
        sa::ObjectType::Type => ObjectKind::Type,
        other => ObjectKind::Other(other.to_string().to_uppercase()),
    }
}

fn comment_object_kind(t: &sa::CommentObject) -> ObjectKind {
    match t.to_string().to_uppercase().as_str() {
        "TABLE" => ObjectKind::Table,
        "COLUMN" => ObjectKind::Column,
        "INDEX" => ObjectKind::Index,
        "VIEW" => ObjectKind::View,
        "MATERIALIZED VIEW" => ObjectKind::MaterializedView,
        "SCHEMA" => ObjectKind::Schema,
        "DATABASE" => ObjectKind::Database,
        "FUNCTION" => ObjectKind::Function,
        "PROCEDURE" => ObjectKind::Procedure,
        "TRIGGER" => ObjectKind::Trigger,
        "TYPE" => ObjectKind::Type,
        "DOMAIN" => ObjectKind::Domain,
        "EXTENSION" => ObjectKind::Extension,
        "SEQUENCE" => ObjectKind::Sequence,
        "ROLE" | "USER" => ObjectKind::Role,
        "POLICY" => ObjectKind::Policy,
        "CONSTRAINT" => ObjectKind::Constraint,
        other => ObjectKind::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn normalizes_type_names_and_parameters() {
        let t = normalize_type("character varying(255)");
        assert_eq!((t.name.as_str(), t.length), ("varchar", Some(255)));
        let t = normalize_type("TIMESTAMP(3) WITH TIME ZONE");
        assert_eq!((t.name.as_str(), t.length), ("timestamptz", Some(3)));
        let t = normalize_type("timestamp without time zone");
        assert!(t.is_timestamp_without_tz());
        let t = normalize_type("int4[]");
        assert!(t.array && t.name == "integer");
        let t = normalize_type("NUMERIC(10,2)");
        assert_eq!(
            (t.name.as_str(), t.length, t.scale),
            ("numeric", Some(10), Some(2))
        );
        assert!(normalize_type("serial").is_serial());
        assert!(normalize_type("bpchar(3)").is_char());
        assert!(normalize_type("pg_catalog.json").is_json());
        assert_eq!(normalize_type("my_enum").name, "my_enum");
    }
}
