//! Data statements (`INSERT`, `DELETE`, queries with data-modifying CTEs)
//! and `SET`.

use super::*;

pub(super) fn insert(i: &sa::Insert) -> Insert {
    let table = match &i.table {
        sa::TableObject::TableName(n) => object_name(n),
        other => ObjectName::simple(other.to_string()),
    };
    let columns: Vec<Ident> = i.columns.iter().filter_map(last_ident).collect();
    let values = i
        .source
        .as_ref()
        .is_some_and(|q| matches!(*q.body, sa::SetExpr::Values(_)));
    let select_star = i.source.as_ref().is_some_and(|q| match &*q.body {
        sa::SetExpr::Select(s) => s.projection.iter().any(|p| {
            matches!(
                p,
                sa::SelectItem::Wildcard(_) | sa::SelectItem::QualifiedWildcard(..)
            )
        }),
        _ => false,
    });
    Insert {
        table,
        has_column_list: !i.columns.is_empty(),
        columns,
        values,
        select_star,
    }
}

/// A query, or the data-modifying statement inside it (`WITH d AS (DELETE ...)
/// SELECT ...`, `WITH ... INSERT ...`): the riskiest one wins, so a `DELETE`
/// without `WHERE` in a CTE is seen as one.
pub(super) fn query(q: &sa::Query) -> StatementKind {
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
            // Inside a query its rows may depend on the query's other parts:
            // no single-table filter.
            match &mut best {
                StatementKind::Update(u) => u.filter = None,
                StatementKind::Delete(d) => d.filter = None,
                _ => {}
            }
        }
    }
    best
}

pub(super) fn table_factor_name(t: &sa::TableFactor) -> Option<ObjectName> {
    match t {
        sa::TableFactor::Table { name, .. } => Some(object_name(name)),
        _ => None,
    }
}

pub(super) fn delete(d: &sa::Delete) -> Delete {
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
        filter: delete_filter(d),
    }
}

/// The rows a plain single-table `UPDATE t [AS a] SET … WHERE …` touches
/// (none for `FROM`, joins, `LIMIT`/`ORDER BY`: their rows are not one
/// table's `WHERE`).
pub(super) fn update_filter(u: &sa::Update) -> Option<RowFilter> {
    let plain = u.from.is_none()
        && u.table.joins.is_empty()
        && u.order_by.is_empty()
        && u.limit.is_none()
        && matches!(u.table.relation, sa::TableFactor::Table { .. });
    row_filter(plain, &u.table.relation, u.selection.as_ref())
}

/// The rows a plain single-table `DELETE FROM t [AS a] WHERE …` deletes.
fn delete_filter(d: &sa::Delete) -> Option<RowFilter> {
    let from = match &d.from {
        sa::FromTable::WithFromKeyword(v) | sa::FromTable::WithoutKeyword(v) => v,
    };
    let [only] = from.as_slice() else {
        return None;
    };
    let plain = d.tables.is_empty()
        && d.using.is_none()
        && d.order_by.is_empty()
        && d.limit.is_none()
        && only.joins.is_empty()
        && matches!(only.relation, sa::TableFactor::Table { .. });
    row_filter(plain, &only.relation, d.selection.as_ref())
}

fn row_filter(plain: bool, relation: &sa::TableFactor, wh: Option<&sa::Expr>) -> Option<RowFilter> {
    let predicate = wh?;
    plain.then(|| RowFilter {
        relation: relation.to_string(),
        predicate: predicate.to_string(),
    })
}

pub(super) fn set(s: &sa::Set) -> StatementKind {
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
