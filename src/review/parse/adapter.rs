//! sqlparser AST → bytegate statement model.
//!
//! The only place that reads sqlparser's AST. Every node whose span sqlparser
//! fills in carries it over (tokens were already in file coordinates).

use super::split::span_of;
use crate::review::model::{
    AlterAction, AlterOther, AlterTable, ColumnDef, ConstraintKind, CreateIndex, CreateOther,
    CreateTable, DataType, DefaultValue, Delete, Drop, ForeignKeyRef, Ident, IndexColumn, Insert,
    ObjectKind, ObjectName, ReferentialAction, Set, StatementKind, TableConstraint, Truncate,
    Update, Vacuum,
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

fn create_table(ct: &sa::CreateTable) -> CreateTable {
    let mut columns = Vec::with_capacity(ct.columns.len());
    for c in &ct.columns {
        columns.push(column_def(
            &c.name,
            &c.data_type,
            c.options.iter().map(|o| &o.option),
            span_of(c.span()),
        ));
    }
    CreateTable {
        name: object_name(&ct.name),
        columns,
        constraints: ct
            .constraints
            .iter()
            .map(|c| table_constraint(c, false))
            .collect(),
        if_not_exists: ct.if_not_exists,
        temporary: ct.temporary,
        unlogged: ct.unlogged,
        derived: ct.query.is_some()
            || ct.like.is_some()
            || ct.clone.is_some()
            || ct.partition_of.is_some(),
        partition_of: ct.partition_of.as_ref().map(object_name),
        engine: table_engine(&ct.table_options),
    }
}

fn table_engine(opts: &sa::CreateTableOptions) -> Option<String> {
    let list = match opts {
        sa::CreateTableOptions::None => return None,
        sa::CreateTableOptions::With(v)
        | sa::CreateTableOptions::Options(v)
        | sa::CreateTableOptions::Plain(v)
        | sa::CreateTableOptions::TableProperties(v) => v,
    };
    list.iter().find_map(|o| match o {
        sa::SqlOption::NamedParenthesizedList(l) if l.key.value.eq_ignore_ascii_case("engine") => {
            l.name.as_ref().map(|n| n.value.clone())
        }
        sa::SqlOption::KeyValue { key, value }
            if key.to_string().eq_ignore_ascii_case("engine") =>
        {
            Some(value.to_string())
        }
        _ => None,
    })
}

fn column_def<'a>(
    name: &sa::Ident,
    data_type: &sa::DataType,
    options: impl Iterator<Item = &'a sa::ColumnOption>,
    span: Option<crate::review::finding::Span>,
) -> ColumnDef {
    let mut col = ColumnDef::new(ident(name), data_type_of(data_type));
    col.span = span;
    for opt in options {
        match opt {
            sa::ColumnOption::Null => col.nullable = Some(true),
            sa::ColumnOption::NotNull => col.nullable = Some(false),
            sa::ColumnOption::Default(e) => col.default = Some(default_value(e)),
            sa::ColumnOption::PrimaryKey(_) => col.primary_key = true,
            sa::ColumnOption::Unique(_) => col.unique = true,
            sa::ColumnOption::ForeignKey(fk) => {
                col.references = Some(ForeignKeyRef {
                    table: object_name(&fk.foreign_table),
                    columns: fk.referred_columns.iter().map(ident).collect(),
                    on_delete: fk.on_delete.as_ref().map(referential_action),
                    on_update: fk.on_update.as_ref().map(referential_action),
                })
            }
            sa::ColumnOption::Check(c) => col.checks.push(c.expr.to_string()),
            sa::ColumnOption::Generated {
                generation_expr,
                generation_expr_mode,
                ..
            } => {
                if generation_expr.is_some() {
                    // PostgreSQL < 18 requires STORED; without it (PG 18, MySQL) it is virtual.
                    if matches!(
                        generation_expr_mode,
                        Some(sa::GeneratedExpressionMode::Stored)
                    ) {
                        col.generated_stored = true;
                    } else {
                        col.generated_virtual = true;
                    }
                } else {
                    col.identity = true;
                }
            }
            sa::ColumnOption::Identity(_) => col.identity = true,
            sa::ColumnOption::DialectSpecific(tokens)
                if tokens
                    .iter()
                    .any(|t| super::tokens::is_kw(t, "AUTO_INCREMENT")) =>
            {
                col.auto_increment = true;
            }
            _ => {}
        }
    }
    col
}

fn referential_action(a: &sa::ReferentialAction) -> ReferentialAction {
    match a {
        sa::ReferentialAction::Restrict => ReferentialAction::Restrict,
        sa::ReferentialAction::Cascade => ReferentialAction::Cascade,
        sa::ReferentialAction::SetNull => ReferentialAction::SetNull,
        sa::ReferentialAction::NoAction => ReferentialAction::NoAction,
        sa::ReferentialAction::SetDefault => ReferentialAction::SetDefault,
    }
}

fn index_columns_idents(cols: &[sa::IndexColumn]) -> Vec<Ident> {
    cols.iter()
        .filter_map(|c| expr_column(&c.column.expr))
        .collect()
}

fn expr_column(e: &sa::Expr) -> Option<Ident> {
    match e {
        sa::Expr::Identifier(i) => Some(ident(i)),
        sa::Expr::CompoundIdentifier(is) => is.last().map(ident),
        sa::Expr::Nested(inner) => expr_column(inner),
        _ => None,
    }
}

fn table_constraint(c: &sa::TableConstraint, not_valid: bool) -> TableConstraint {
    let span = span_of(c.span());
    let (name, kind) = match c {
        // MySQL `UNIQUE KEY name (...)` puts the name in `index_name`.
        sa::TableConstraint::Unique(u) => (
            u.name.as_ref().or(u.index_name.as_ref()),
            ConstraintKind::Unique {
                columns: index_columns_idents(&u.columns),
                using_index: None,
            },
        ),
        sa::TableConstraint::PrimaryKey(p) => (
            p.name.as_ref().or(p.index_name.as_ref()),
            ConstraintKind::PrimaryKey {
                columns: index_columns_idents(&p.columns),
                using_index: None,
            },
        ),
        sa::TableConstraint::ForeignKey(fk) => (
            fk.name.as_ref().or(fk.index_name.as_ref()),
            ConstraintKind::ForeignKey {
                columns: fk.columns.iter().map(ident).collect(),
                references: ForeignKeyRef {
                    table: object_name(&fk.foreign_table),
                    columns: fk.referred_columns.iter().map(ident).collect(),
                    on_delete: fk.on_delete.as_ref().map(referential_action),
                    on_update: fk.on_update.as_ref().map(referential_action),
                },
            },
        ),
        sa::TableConstraint::Check(ch) => (
            ch.name.as_ref(),
            ConstraintKind::Check {
                expr: ch.expr.to_string(),
                not_null_columns: not_null_conjuncts(&ch.expr),
            },
        ),
        sa::TableConstraint::Index(i) => (
            i.name.as_ref(),
            ConstraintKind::Index {
                columns: index_columns_idents(&i.columns),
            },
        ),
        sa::TableConstraint::FulltextOrSpatial(i) => (
            i.opt_index_name.as_ref(),
            ConstraintKind::Index {
                columns: index_columns_idents(&i.columns),
            },
        ),
        sa::TableConstraint::PrimaryKeyUsingIndex(u) => (
            u.name.as_ref(),
            ConstraintKind::PrimaryKey {
                columns: Vec::new(),
                using_index: Some(ident(&u.index_name)),
            },
        ),
        sa::TableConstraint::UniqueUsingIndex(u) => (
            u.name.as_ref(),
            ConstraintKind::Unique {
                columns: Vec::new(),
                using_index: Some(ident(&u.index_name)),
            },
        ),
        sa::TableConstraint::Exclude(e) => (e.name.as_ref(), ConstraintKind::Exclude),
    };
    TableConstraint {
        name: name.map(ident),
        kind,
        not_valid,
        span,
    }
}

/// Columns `c` with `c IS NOT NULL` among the top-level `AND` conjuncts.
fn not_null_conjuncts(e: &sa::Expr) -> Vec<Ident> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            sa::Expr::BinaryOp {
                left,
                op: sa::BinaryOperator::And,
                right,
            } => {
                stack.push(right);
                stack.push(left);
            }
            sa::Expr::Nested(inner) => stack.push(inner),
            sa::Expr::IsNotNull(inner) => {
                if let Some(c) = expr_column(inner) {
                    out.push(c);
                }
            }
            _ => {}
        }
    }
    out
}

fn alter_table(at: &sa::AlterTable) -> AlterTable {
    let mut out = AlterTable {
        name: object_name(&at.name),
        if_exists: at.if_exists,
        only: at.only,
        actions: Vec::with_capacity(at.operations.len()),
        algorithm: None,
        lock: None,
    };
    for op in &at.operations {
        match op {
            sa::AlterTableOperation::Algorithm { algorithm, .. } => {
                out.algorithm = Some(algorithm.to_string().to_uppercase());
            }
            sa::AlterTableOperation::Lock { lock, .. } => {
                out.lock = Some(lock.to_string().to_uppercase());
            }
            other => alter_action(other, &mut out.actions),
        }
    }
    out
}

fn alter_action(op: &sa::AlterTableOperation, out: &mut Vec<AlterAction>) {
    use sa::AlterTableOperation as O;
    let action = match op {
        O::AddConstraint {
            constraint,
            not_valid,
        } => AlterAction::AddConstraint {
            constraint: table_constraint(constraint, *not_valid),
        },
        O::AddColumn {
            if_not_exists,
            column_def: c,
            ..
        } => AlterAction::AddColumn {
            column: column_def(
                &c.name,
                &c.data_type,
                c.options.iter().map(|o| &o.option),
                span_of(c.span()),
            ),
            if_not_exists: *if_not_exists,
        },
        O::DropConstraint {
            if_exists,
            name,
            drop_behavior,
        } => AlterAction::DropConstraint {
            name: ident(name),
            if_exists: *if_exists,
            cascade: is_cascade(drop_behavior.as_ref()),
        },
        O::DropColumn {
            column_names,
            if_exists,
            drop_behavior,
            ..
        } => {
            for n in column_names {
                out.push(AlterAction::DropColumn {
                    name: ident(n),
                    if_exists: *if_exists,
                    cascade: is_cascade(drop_behavior.as_ref()),
                });
            }
            return;
        }
        O::DropPrimaryKey { .. } => AlterAction::DropPrimaryKey,
        O::DropForeignKey { name, .. } => AlterAction::DropForeignKey { name: ident(name) },
        O::DropIndex { name } => AlterAction::DropIndex { name: ident(name) },
        O::RenameColumn {
            old_column_name,
            new_column_name,
        } => AlterAction::RenameColumn {
            from: ident(old_column_name),
            to: ident(new_column_name),
        },
        O::RenameTable { table_name } => AlterAction::RenameTable {
            to: match table_name {
                sa::RenameTableNameKind::As(n) | sa::RenameTableNameKind::To(n) => object_name(n),
            },
        },
        O::RenameConstraint { old_name, new_name } => AlterAction::RenameConstraint {
            from: ident(old_name),
            to: ident(new_name),
        },
        O::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            ..
        } => AlterAction::ChangeColumn {
            old_name: ident(old_name),
            column: column_def(new_name, data_type, options.iter(), span_of(op.span())),
        },
        O::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => AlterAction::ModifyColumn {
            column: column_def(col_name, data_type, options.iter(), span_of(op.span())),
        },
        O::AlterColumn {
            column_name,
            op: cop,
        } => {
            let column = ident(column_name);
            match cop {
                sa::AlterColumnOperation::SetNotNull => AlterAction::SetNotNull { column },
                sa::AlterColumnOperation::DropNotNull => AlterAction::DropNotNull { column },
                sa::AlterColumnOperation::SetDefault { value } => AlterAction::SetDefault {
                    column,
                    default: default_value(value),
                },
                sa::AlterColumnOperation::DropDefault => AlterAction::DropDefault { column },
                sa::AlterColumnOperation::SetDataType {
                    data_type, using, ..
                } => AlterAction::AlterColumnType {
                    column,
                    data_type: data_type_of(data_type),
                    using: using.as_ref().map(ToString::to_string),
                },
                other => AlterAction::Other {
                    description: format!("ALTER COLUMN {}", head_words(&other.to_string(), 2)),
                },
            }
        }
        O::ValidateConstraint { name } => AlterAction::ValidateConstraint { name: ident(name) },
        O::AttachPartitionOf { partition, .. } => AlterAction::AttachPartition {
            partition: object_name(partition),
        },
        O::DetachPartitionOf { partition, mode } => AlterAction::DetachPartition {
            partition: object_name(partition),
            concurrently: matches!(mode, Some(sa::DetachPartitionMode::Concurrently)),
        },
        other => AlterAction::Other {
            description: head_words(&other.to_string(), 2),
        },
    };
    out.push(action);
}

fn create_index(ci: &sa::CreateIndex) -> CreateIndex {
    CreateIndex {
        name: ci.name.as_ref().and_then(last_ident),
        table: object_name(&ci.table_name),
        columns: ci
            .columns
            .iter()
            .map(|c| IndexColumn {
                column: expr_column(&c.column.expr),
                expr: c.column.expr.to_string(),
            })
            .collect(),
        unique: ci.unique,
        concurrently: ci.concurrently,
        if_not_exists: ci.if_not_exists,
        using: ci.using.as_ref().map(|u| u.to_string().to_lowercase()),
        partial: ci.predicate.is_some(),
    }
}

fn insert(i: &sa::Insert) -> Insert {
    let table = match &i.table {
        sa::TableObject::TableName(n) => object_name(n),
        other => ObjectName::simple(other.to_string()),
    };
    let columns: Vec<Ident> = i.columns.iter().filter_map(last_ident).collect();
    let values = i
        .source
        .as_ref()
        .is_some_and(|q| matches!(*q.body, sa::SetExpr::Values(_)));
    Insert {
        table,
        has_column_list: !i.columns.is_empty(),
        columns,
        values,
    }
}

/// A query, or the data-modifying statement inside it (`WITH d AS (DELETE ...)
/// SELECT ...`, `WITH ... INSERT ...`): the riskiest one wins, so a `DELETE`
/// without `WHERE` in a CTE is seen as one.
fn query(q: &sa::Query) -> StatementKind {
    let mut best = StatementKind::Select;
    let mut rank = 0u8;
    let mut queries: Vec<&sa::Query> = vec![q];
    let mut sets: Vec<&sa::SetExpr> = Vec::new();
    while let Some(q) = queries.pop() {
        if let Some(with) = &q.with {
            queries.extend(with.cte_tables.iter().map(|c| &*c.query));
        }
        sets.push(&q.body);
        while let Some(set) = sets.pop() {
            let inner = match set {
                sa::SetExpr::Query(q) => {
                    queries.push(q);
                    continue;
                }
                sa::SetExpr::SetOperation { left, right, .. } => {
                    sets.push(left);
                    sets.push(right);
                    continue;
                }
                sa::SetExpr::Insert(st)
                | sa::SetExpr::Update(st)
                | sa::SetExpr::Delete(st)
                | sa::SetExpr::Merge(st) => st,
                _ => continue,
            };
            let kind = match inner {
                sa::Statement::Insert(i) => StatementKind::Insert(insert(i)),
                sa::Statement::Delete(d) => StatementKind::Delete(delete(d)),
                sa::Statement::Update(_) => adapt(inner, "UPDATE"),
                _ => StatementKind::Other {
                    keyword: "MERGE".to_string(),
                },
            };
            let r = match &kind {
                StatementKind::Delete(Delete {
                    has_where: false, ..
                })
                | StatementKind::Update(Update {
                    has_where: false, ..
                }) => 4,
                StatementKind::Delete(_) | StatementKind::Update(_) => 3,
                StatementKind::Insert(_) => 2,
                _ => 1,
            };
            if r > rank {
                rank = r;
                best = kind;
            }
        }
    }
    best
}

fn table_factor_name(t: &sa::TableFactor) -> Option<ObjectName> {
    match t {
        sa::TableFactor::Table { name, .. } => Some(object_name(name)),
        _ => None,
    }
}

fn delete(d: &sa::Delete) -> Delete {
    let mut tables: Vec<ObjectName> = d.tables.iter().map(object_name).collect();
    if tables.is_empty() {
        let from = match &d.from {
            sa::FromTable::WithFromKeyword(v) | sa::FromTable::WithoutKeyword(v) => v,
        };
        tables = from
            .iter()
            .filter_map(|t| table_factor_name(&t.relation))
            .collect();
    }
    Delete {
        tables,
        has_where: d.selection.is_some(),
    }
}

fn set(s: &sa::Set) -> StatementKind {
    let (name, local, value) = match s {
        sa::Set::SingleAssignment {
            scope,
            variable,
            values,
            ..
        } => (
            variable.to_string(),
            matches!(scope, Some(sa::ContextModifier::Local)),
            Some(
                values
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ),
        sa::Set::MultipleAssignments { assignments } => match assignments.first() {
            Some(a) => (
                a.name.to_string(),
                matches!(a.scope, Some(sa::ContextModifier::Local)),
                Some(a.value.to_string()),
            ),
            None => (String::new(), false, None),
        },
        sa::Set::SetTimeZone { local, value } => {
            ("timezone".to_string(), *local, Some(value.to_string()))
        }
        sa::Set::SetRole { .. } => ("role".to_string(), false, None),
        sa::Set::SetNames { charset_name, .. } => {
            ("names".to_string(), false, Some(charset_name.to_string()))
        }
        sa::Set::SetNamesDefault {} => ("names".to_string(), false, None),
        sa::Set::SetTransaction { .. } => ("transaction".to_string(), false, None),
        sa::Set::SetSessionAuthorization(_) => ("session_authorization".to_string(), false, None),
        sa::Set::SetSessionParam(_) | sa::Set::ParenthesizedAssignments { .. } => {
            (head_words(&s.to_string(), 2).to_lowercase(), false, None)
        }
    };
    StatementKind::Set(Set {
        name: name.to_lowercase(),
        local,
        value,
    })
}

/// Normalizes a sqlparser data type (via its SQL rendering, which is stable
/// across sqlparser's many type variants).
pub(crate) fn data_type_of(t: &sa::DataType) -> DataType {
    normalize_type(&t.to_string())
}

/// Normalizes a type as written (`character varying(20)`, `int4[]`, `TIMESTAMP(3) WITH TIME ZONE`).
pub(crate) fn normalize_type(raw: &str) -> DataType {
    let lower = raw.trim().to_lowercase();
    let mut array = false;
    let mut base = lower.as_str();
    if let Some(b) = base.strip_suffix("[]") {
        array = true;
        base = b.trim_end();
        while let Some(b) = base.strip_suffix("[]") {
            base = b.trim_end();
        }
    }
    if let Some(b) = base.strip_suffix(" array") {
        array = true;
        base = b.trim_end();
    }
    // Type parameters: the first parenthesized group; the name is the rest.
    let (mut length, mut scale) = (None, None);
    let mut name = String::with_capacity(base.len());
    let mut rest = base;
    if let Some(open) = base.find('(') {
        let close = base[open..].find(')').map(|c| open + c);
        if let Some(close) = close {
            let mut params = base[open + 1..close]
                .split(',')
                .map(|p| p.trim().parse::<u64>().ok());
            length = params.next().flatten();
            scale = params.next().flatten();
            name.push_str(base[..open].trim_end());
            name.push(' ');
            name.push_str(base[close + 1..].trim_start());
            rest = "";
        }
    }
    if rest == base {
        name.push_str(base);
    }
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = name
        .rsplit_once('.')
        .filter(|(schema, _)| *schema == "pg_catalog")
        .map_or(name.as_str(), |(_, n)| n);
    let canonical = match name {
        "int" | "int4" | "integer" | "int unsigned" | "integer unsigned" => "integer",
        "int2" | "smallint" | "smallint unsigned" => "smallint",
        "int8" | "bigint" | "bigint unsigned" => "bigint",
        "tinyint" | "tinyint unsigned" => "tinyint",
        "mediumint" | "mediumint unsigned" => "mediumint",
        "serial" | "serial4" => "serial",
        "bigserial" | "serial8" => "bigserial",
        "smallserial" | "serial2" => "smallserial",
        "varchar" | "character varying" | "nvarchar" | "char varying" | "varchar2" => "varchar",
        "char" | "character" | "nchar" | "bpchar" | "national char" | "national character" => {
            "char"
        }
        "text" | "tinytext" | "mediumtext" | "longtext" | "string" => "text",
        "timestamp" | "timestamp without time zone" | "datetime" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "timetz" | "time with time zone" => "timetz",
        "numeric" | "decimal" | "dec" => "numeric",
        "bool" | "boolean" => "boolean",
        "float4" | "real" => "real",
        "float8" | "double precision" | "double" => "double precision",
        other => other,
    };
    DataType {
        raw: raw.trim().to_string(),
        name: canonical.to_string(),
        length,
        scale,
        array,
    }
}

/// Functions known to be volatile (a `DEFAULT` calling them rewrites the table
/// on `ADD COLUMN`).
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "gen_random_bytes",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "uuid",
    "uuid_short",
    "rand",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setval",
    "txid_current",
    "sysdate",
];

/// Functions known not to be volatile (immutable or stable: evaluated once).
const NON_VOLATILE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "session_user",
    "user",
    "current_schema",
    "lower",
    "upper",
    "coalesce",
    "concat",
    "length",
    "to_jsonb",
    "to_json",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "array",
    "make_interval",
    "utc_timestamp",
    "abs",
    "round",
    "trim",
];

fn default_value(e: &sa::Expr) -> DefaultValue {
    let mut functions: Vec<String> = Vec::new();
    let mut non_literal = false;
    let _ = sa::visit_expressions(e, |x| {
        match x {
            sa::Expr::Function(f) => {
                let name = f
                    .name
                    .0
                    .last()
                    .map(|p| match p {
                        sa::ObjectNamePart::Identifier(i) => i.value.to_lowercase(),
                        other => other.to_string().to_lowercase(),
                    })
                    .unwrap_or_default();
                functions.push(name);
            }
            sa::Expr::Identifier(_)
            | sa::Expr::CompoundIdentifier(_)
            | sa::Expr::Subquery(_)
            | sa::Expr::Exists { .. } => non_literal = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    let is_constant = functions.is_empty() && !non_literal;
    let volatile = if functions
        .iter()
        .any(|f| VOLATILE_FUNCTIONS.contains(&f.as_str()))
    {
        Some(true)
    } else if !non_literal
        && functions
            .iter()
            .all(|f| NON_VOLATILE_FUNCTIONS.contains(&f.as_str()))
    {
        Some(false)
    } else {
        None
    };
    DefaultValue {
        text: e.to_string(),
        functions,
        is_constant,
        volatile,
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
