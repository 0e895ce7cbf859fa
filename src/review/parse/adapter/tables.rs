//! Table DDL: `CREATE TABLE` (columns, constraints, engine), `ALTER TABLE`
//! actions and `CREATE INDEX`.

use super::*;

pub(super) fn create_table(ct: &sa::CreateTable) -> CreateTable {
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

pub(super) fn table_engine(opts: &sa::CreateTableOptions) -> Option<String> {
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

pub(super) fn column_def<'a>(
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
                    .any(|t| super::super::tokens::is_kw(t, "AUTO_INCREMENT")) =>
            {
                col.auto_increment = true;
            }
            _ => {}
        }
    }
    col
}

pub(super) fn referential_action(a: &sa::ReferentialAction) -> ReferentialAction {
    match a {
        sa::ReferentialAction::Restrict => ReferentialAction::Restrict,
        sa::ReferentialAction::Cascade => ReferentialAction::Cascade,
        sa::ReferentialAction::SetNull => ReferentialAction::SetNull,
        sa::ReferentialAction::NoAction => ReferentialAction::NoAction,
        sa::ReferentialAction::SetDefault => ReferentialAction::SetDefault,
    }
}

pub(super) fn index_columns_idents(cols: &[sa::IndexColumn]) -> Vec<Ident> {
    cols.iter()
        .filter_map(|c| expr_column(&c.column.expr))
        .collect()
}

pub(super) fn expr_column(e: &sa::Expr) -> Option<Ident> {
    match e {
        sa::Expr::Identifier(i) => Some(ident(i)),
        sa::Expr::CompoundIdentifier(is) => is.last().map(ident),
        sa::Expr::Nested(inner) => expr_column(inner),
        _ => None,
    }
}

pub(super) fn table_constraint(c: &sa::TableConstraint, not_valid: bool) -> TableConstraint {
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
pub(super) fn not_null_conjuncts(e: &sa::Expr) -> Vec<Ident> {
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

pub(super) fn alter_table(at: &sa::AlterTable) -> AlterTable {
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

pub(super) fn alter_action(op: &sa::AlterTableOperation, out: &mut Vec<AlterAction>) {
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
            column: Box::new(column_def(
                &c.name,
                &c.data_type,
                c.options.iter().map(|o| &o.option),
                span_of(c.span()),
            )),
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
            column: Box::new(column_def(
                new_name,
                data_type,
                options.iter(),
                span_of(op.span()),
            )),
        },
        O::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => AlterAction::ModifyColumn {
            column: Box::new(column_def(
                col_name,
                data_type,
                options.iter(),
                span_of(op.span()),
            )),
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

pub(super) fn create_index(ci: &sa::CreateIndex) -> CreateIndex {
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
