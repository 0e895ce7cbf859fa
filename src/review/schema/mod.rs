//! The schema model: what the earlier statements of a migration set created,
//! so rules know whether a table is new (no traffic, no rows, no lock worries)
//! or already exists (sbdchd/squawk#349: the linters' most common false positive
//! is a locking rule firing on a table created two statements earlier).
//!
//! The model is fed statement by statement in apply order. Objects from files
//! that are already applied (unchanged) are [`Origin::Existing`]; objects from
//! the change under review are [`Origin::New`]. A table the model never saw
//! created is assumed to exist already, with unknown columns.

use super::finding::Span;
use super::model::{
    AlterAction, AlterTable, ColumnDef, ConstraintKind, CreateIndex, CreateTable, DataType, Ident,
    ObjectKind, ObjectName, Statement, StatementKind, TableConstraint,
};
use std::borrow::Cow;
use std::collections::HashMap;

mod table;
pub use table::*;

/// The schema as of some point in the migration set.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Every table ever known; dropped ones are `None`, so ids stay stable and
    /// a rename moves one map entry, not every index's back pointer.
    slots: Vec<Option<Table>>,
    /// Table key → id.
    tables: HashMap<String, usize>,
    /// Index name → table id.
    index_tables: HashMap<String, usize>,
}

/// PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1) and
/// silently drops the rest, so a name written longer is found by its prefix.
const IDENTIFIER_BYTES: usize = 63;

fn truncate_identifier(mut s: String) -> String {
    if s.len() > IDENTIFIER_BYTES {
        let mut end = IDENTIFIER_BYTES;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

fn key(name: &ObjectName) -> String {
    truncate_identifier(name.normalized())
}

/// [`key`] for a lookup: borrowed when normalizing would not change the name
/// (every rule asks about the statement's table: most names are already
/// lowercase ASCII of legal length, and allocating each time added up).
fn lookup_key(name: &ObjectName) -> Cow<'_, str> {
    match name.parts.last() {
        Some(last)
            if last.value.len() <= IDENTIFIER_BYTES
                && last.value.is_ascii()
                && (last.quoted || !last.value.bytes().any(|b| b.is_ascii_uppercase())) =>
        {
            Cow::Borrowed(&last.value)
        }
        Some(_) => Cow::Owned(key(name)),
        None => Cow::Borrowed(""),
    }
}

fn ident_key(name: &Ident) -> String {
    truncate_identifier(name.normalized())
}

fn idents(cols: &[Ident]) -> Vec<String> {
    cols.iter().map(ident_key).collect()
}

impl Schema {
    /// An empty model.
    pub fn new() -> Schema {
        Schema::default()
    }

    fn get(&self, id: usize) -> Option<&Table> {
        self.slots.get(id).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, id: usize) -> Option<&mut Table> {
        self.slots.get_mut(id).and_then(Option::as_mut)
    }

    fn table_by_key(&self, k: &str) -> Option<&Table> {
        self.tables.get(k).and_then(|&id| self.get(id))
    }

    /// Stores `t` under `k` (replacing whatever had that key); returns its id.
    fn insert_table(&mut self, k: String, t: Table) -> usize {
        self.remove_table(&k);
        let id = self.slots.len();
        self.slots.push(Some(t));
        self.tables.insert(k, id);
        id
    }

    fn remove_table(&mut self, k: &str) -> Option<Table> {
        let id = self.tables.remove(k)?;
        self.slots.get_mut(id).and_then(Option::take)
    }

    /// A table the model knows about.
    pub fn table(&self, name: &ObjectName) -> Option<&Table> {
        self.table_by_key(&lookup_key(name))
    }

    /// Every table the model knows about (in the order they became known).
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.slots.iter().flatten()
    }

    /// True when the table was created by the change under review.
    pub fn is_new_table(&self, name: &ObjectName) -> bool {
        self.table(name).is_some_and(|t| t.origin.is_new())
    }

    /// The table an index (by name) belongs to, when known.
    pub fn index_table(&self, index: &ObjectName) -> Option<&Table> {
        self.index_tables
            .get(lookup_key(index).as_ref())
            .and_then(|&id| self.get(id))
    }

    /// True when the index was created by the change under review, or belongs to
    /// a table that was.
    pub fn is_new_index(&self, index: &ObjectName) -> bool {
        let name = key(index);
        self.index_table(index)
            .is_some_and(|t| t.origin.is_new() || t.indexes.named(&name).any(|i| i.origin.is_new()))
    }

    /// The id of the table `name`, created (as existing, columns unknown) if
    /// the model never saw it.
    fn table_entry(&mut self, name: &ObjectName) -> usize {
        let k = key(name);
        if let Some(&id) = self.tables.get(&k) {
            return id;
        }
        self.insert_table(k, Table::new(name, Origin::Existing, false))
    }

    /// Records what `stmt` does. `origin` says whether it belongs to the change
    /// under review.
    pub fn apply(&mut self, stmt: &Statement, origin: Origin) {
        match &stmt.kind {
            StatementKind::CreateTable(ct) => self.create_table(ct, stmt, origin),
            StatementKind::AlterTable(at) => self.alter_table(at, stmt, origin),
            StatementKind::CreateIndex(ci) => self.create_index(ci, origin),
            StatementKind::CreateOther(co)
                if matches!(co.object, ObjectKind::View | ObjectKind::MaterializedView) =>
            {
                // Views are relations too: indexes (materialized views) and
                // drops on a view created in this change are not on live data.
                if let Some(name) = &co.name {
                    let k = key(name);
                    if !self.tables.contains_key(&k) {
                        self.insert_table(k, Table::new(name, origin, false));
                    }
                }
            }
            StatementKind::Drop(d) => match d.object {
                ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView => {
                    for n in &d.names {
                        self.remove_table(&key(n));
                    }
                }
                ObjectKind::Index => {
                    for n in &d.names {
                        let name = key(n);
                        if let Some(id) = self.index_tables.remove(&name)
                            && let Some(t) = self.get_mut(id)
                        {
                            t.indexes.remove_named(&name);
                        }
                    }
                }
                _ => {}
            },
            StatementKind::AlterOther(ao) => {
                if let (Some(from), Some(to)) = (&ao.name, &ao.new_name) {
                    match ao.object {
                        ObjectKind::Index => self.rename_index(from, to),
                        ObjectKind::View | ObjectKind::MaterializedView | ObjectKind::Table => {
                            self.rename_table(&key(from), to)
                        }
                        _ => {}
                    }
                }
            }
            StatementKind::RenameTable { renames } => {
                for (from, to) in renames {
                    self.rename_table(&key(from), to);
                }
            }
            _ => {}
        }
    }

    fn rename_index(&mut self, from: &ObjectName, to: &ObjectName) {
        let (f, t) = (key(from), key(to));
        let Some(id) = self.index_tables.remove(&f) else {
            return;
        };
        if let Some(tb) = self.get_mut(id) {
            tb.indexes.rename(&f, &t);
        }
        self.index_tables.insert(t, id);
    }

    /// Moves the table stored under `from` (a key) to `to`. Index back
    /// pointers hold the table's id, so they need no update.
    fn rename_table(&mut self, from: &str, to: &ObjectName) {
        let Some(id) = self.tables.remove(from) else {
            return;
        };
        let new_key = key(to);
        if new_key != from {
            self.remove_table(&new_key);
        }
        if let Some(t) = self.get_mut(id) {
            t.name = to.to_string();
        }
        self.tables.insert(new_key, id);
    }

    fn create_table(&mut self, ct: &CreateTable, stmt: &Statement, origin: Origin) {
        let k = key(&ct.name);
        if ct.if_not_exists && self.tables.contains_key(&k) {
            return;
        }
        let mut t = Table::new(&ct.name, origin, !ct.derived);
        for col in &ct.columns {
            t.add_column(col);
            if col.primary_key {
                t.primary_key = Some(vec![col.name.normalized()]);
                t.constraints.add(Constraint {
                    name: None,
                    not_null_columns: Vec::new(),
                    primary_key: true,
                    not_valid: false,
                });
                t.indexes
                    .push(None, vec![Some(col.name.normalized())], origin);
            } else if col.unique {
                t.indexes
                    .push(None, vec![Some(col.name.normalized())], origin);
            }
            if let (Some(_), Origin::New { file, stmt: s }) = (&col.references, origin) {
                let r = col.references.as_ref().map(|r| r.table.to_string());
                t.foreign_keys.push(ForeignKey {
                    columns: vec![col.name.normalized()],
                    references: r.unwrap_or_default(),
                    file,
                    stmt: s,
                    span: col.span.unwrap_or(stmt.span),
                    epoch: t.drops,
                });
            }
        }
        let id = self.insert_table(k, t);
        for c in &ct.constraints {
            self.add_constraint(id, c, stmt, origin);
        }
    }

    fn add_constraint(&mut self, id: usize, c: &TableConstraint, stmt: &Statement, origin: Origin) {
        let Some(t) = self.get_mut(id) else {
            return;
        };
        let name = c.name.as_ref().map(ident_key);
        let mut constraint = Constraint {
            name: name.clone(),
            not_null_columns: Vec::new(),
            primary_key: false,
            not_valid: c.not_valid,
        };
        match &c.kind {
            ConstraintKind::PrimaryKey {
                columns,
                using_index,
            } => {
                constraint.primary_key = true;
                let cols = idents(columns);
                for col in &cols {
                    if let Some(c) = t.column_mut(col) {
                        c.nullable = false;
                    }
                }
                if let Some(ix) = using_index {
                    let ixn = ix.normalized();
                    let cols = t.indexes.named(&ixn).next().map(|i| {
                        t.indexes
                            .columns(i)
                            .flatten()
                            .map(str::to_string)
                            .collect::<Vec<_>>()
                    });
                    // A key over an index the model does not know: a key
                    // all the same, columns unknown.
                    t.primary_key = Some(cols.unwrap_or_default());
                } else {
                    t.primary_key = Some(cols.clone());
                    t.indexes
                        .push(name.clone(), cols.into_iter().map(Some).collect(), origin);
                }
            }
            ConstraintKind::Unique { columns, .. } | ConstraintKind::Index { columns } => {
                if !columns.is_empty() {
                    t.indexes.push(
                        name.clone(),
                        idents(columns).into_iter().map(Some).collect(),
                        origin,
                    );
                }
            }
            ConstraintKind::Check {
                not_null_columns, ..
            } => constraint.not_null_columns = idents(not_null_columns),
            ConstraintKind::ForeignKey {
                columns,
                references,
            } => {
                if let Origin::New { file, stmt: s } = origin {
                    t.foreign_keys.push(ForeignKey {
                        columns: idents(columns),
                        references: references.table.to_string(),
                        file,
                        stmt: s,
                        span: c.span.unwrap_or(stmt.span),
                        epoch: t.drops,
                    });
                }
            }
            ConstraintKind::NotNull { column } => {
                if let Some(c) = t.column_mut(&column.normalized()) {
                    c.nullable = false;
                }
            }
            ConstraintKind::Exclude => {}
        }
        // A named constraint is findable as an index when an index has its name.
        let has_index = name
            .as_deref()
            .is_some_and(|n| t.indexes.named(n).next().is_some());
        t.constraints.add(constraint);
        if let (Some(n), true) = (name, has_index) {
            self.index_tables.insert(n, id);
        }
    }

    fn alter_table(&mut self, at: &AlterTable, stmt: &Statement, origin: Origin) {
        let id = self.table_entry(&at.name);
        let mut k = key(&at.name);
        for action in &at.actions {
            let Some(t) = self.get_mut(id) else {
                return;
            };
            match action {
                AlterAction::AddColumn { column, .. } => {
                    t.add_column(column);
                    if column.primary_key {
                        t.primary_key = Some(vec![column.name.normalized()]);
                    }
                    if column.primary_key || column.unique {
                        t.indexes
                            .push(None, vec![Some(column.name.normalized())], origin);
                    }
                    if let (Some(r), Origin::New { file, stmt: s }) = (&column.references, origin) {
                        t.foreign_keys.push(ForeignKey {
                            columns: vec![column.name.normalized()],
                            references: r.table.to_string(),
                            file,
                            stmt: s,
                            span: column.span.unwrap_or(stmt.span),
                            epoch: t.drops,
                        });
                    }
                }
                AlterAction::DropColumn { name, .. } => {
                    let n = name.normalized();
                    // The key goes with any of its columns.
                    if t.primary_key.as_ref().is_some_and(|pk| pk.contains(&n)) {
                        t.primary_key = None;
                        t.constraints.remove_primary_keys();
                    }
                    t.columns.remove(&n);
                    t.indexes.remove_on_column(&n);
                    t.drops += 1;
                    t.dropped.insert(n, t.drops);
                }
                AlterAction::AlterColumnType {
                    column, data_type, ..
                } => {
                    if let Some(c) = t.column_mut(&column.normalized()) {
                        c.data_type = data_type.clone();
                    }
                }
                AlterAction::SetNotNull { column } => {
                    if let Some(c) = t.column_mut(&column.normalized()) {
                        c.nullable = false;
                    }
                }
                AlterAction::DropNotNull { column } => {
                    if let Some(c) = t.column_mut(&column.normalized()) {
                        c.nullable = true;
                    }
                }
                AlterAction::AddConstraint { constraint } => {
                    self.add_constraint(id, constraint, stmt, origin);
                }
                AlterAction::DropConstraint { name, .. } => {
                    let n = ident_key(name);
                    if t.constraints.remove(&n) {
                        t.primary_key = None;
                    }
                    t.indexes.remove_named(&n);
                }
                AlterAction::DropPrimaryKey => {
                    t.primary_key = None;
                    t.constraints.remove_primary_keys();
                }
                AlterAction::DropIndex { name } => {
                    let n = ident_key(name);
                    t.indexes.remove_named(&n);
                    self.index_tables.remove(&n);
                }
                AlterAction::ValidateConstraint { name } => {
                    t.constraints.validate(&ident_key(name));
                }
                AlterAction::RenameColumn { from, to } => {
                    let (f, tn) = (from.normalized(), to.normalized());
                    if let Some(mut c) = t.columns.remove(&f) {
                        c.name = tn.clone();
                        t.columns.insert(tn.clone(), c);
                    }
                    t.indexes.rename_column(&f, &tn);
                }
                AlterAction::RenameConstraint { from, to } => {
                    let (f, tn) = (ident_key(from), ident_key(to));
                    t.constraints.rename(&f, &tn);
                    t.indexes.rename(&f, &tn);
                    if self.index_tables.remove(&f).is_some() {
                        self.index_tables.insert(tn, id);
                    }
                }
                AlterAction::ChangeColumn { old_name, column } => {
                    t.columns.remove(&old_name.normalized());
                    t.add_column(column);
                    if column.primary_key {
                        t.primary_key = Some(vec![column.name.normalized()]);
                    }
                }
                AlterAction::ModifyColumn { column } => {
                    t.add_column(column);
                    if column.primary_key {
                        t.primary_key = Some(vec![column.name.normalized()]);
                    }
                }
                AlterAction::RenameTable { to } => {
                    // The table keeps its id; only its key moves.
                    self.rename_table(&k, to);
                    k = key(to);
                }
                _ => {}
            }
        }
    }

    fn create_index(&mut self, ci: &CreateIndex, origin: Origin) {
        let name = ci.name.as_ref().map(ident_key);
        let id = self.table_entry(&ci.table);
        if let Some(t) = self.get_mut(id) {
            t.indexes.push(
                name.clone(),
                ci.columns
                    .iter()
                    .map(|c| c.column.as_ref().map(Ident::normalized))
                    .collect(),
                origin,
            );
        }
        if let Some(n) = name {
            self.index_tables.insert(n, id);
        }
    }
}

#[cfg(test)]
mod tests;
