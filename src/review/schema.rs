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
use std::collections::HashMap;

/// Where an object of the model comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Created by an already-applied migration, or assumed to exist.
    Existing,
    /// Created by the change under review: file index (in the lint input) and
    /// statement index.
    New {
        /// Index of the file in the lint input.
        file: usize,
        /// Index of the statement in its file.
        stmt: usize,
    },
}

impl Origin {
    /// True for objects created by the change under review.
    pub fn is_new(self) -> bool {
        matches!(self, Origin::New { .. })
    }
}

/// What the model knows about a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Normalized name.
    pub name: String,
    /// Declared type.
    pub data_type: DataType,
    /// False when declared `NOT NULL` or part of the primary key.
    pub nullable: bool,
}

/// A CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY or other named constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// Normalized name, when named.
    pub name: Option<String>,
    /// Columns a CHECK proves non-null (`col IS NOT NULL`).
    pub not_null_columns: Vec<String>,
    /// Primary key constraint.
    pub primary_key: bool,
    /// Added `NOT VALID` and not validated since.
    pub not_valid: bool,
}

/// An index (explicit, or implied by a PRIMARY KEY / UNIQUE constraint).
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// Normalized name, when known.
    pub name: Option<String>,
    /// Key columns in order (`None` for expression keys).
    pub columns: Vec<Option<String>>,
    /// Where it came from.
    pub origin: Origin,
}

/// A foreign key added by the change under review (what `fk-require-index` checks).
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    /// Normalized referencing columns.
    pub columns: Vec<String>,
    /// The referenced table as written.
    pub references: String,
    /// File and statement that added it.
    pub file: usize,
    /// Statement index in that file.
    pub stmt: usize,
    /// The constraint's (or statement's) location.
    pub span: Span,
}

/// What the model knows about a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The name as last written.
    pub name: String,
    /// Where it came from.
    pub origin: Origin,
    /// True when the model saw the table created (column list complete).
    pub complete: bool,
    /// Known columns.
    pub columns: Vec<Column>,
    /// Primary key columns, when known.
    pub primary_key: Option<Vec<String>>,
    /// Known constraints.
    pub constraints: Vec<Constraint>,
    /// Known indexes.
    pub indexes: Vec<Index>,
    /// Foreign keys added by the change under review.
    pub foreign_keys: Vec<ForeignKey>,
}

impl Table {
    fn new(name: &ObjectName, origin: Origin, complete: bool) -> Table {
        Table {
            name: name.to_string(),
            origin,
            complete,
            columns: Vec::new(),
            primary_key: None,
            constraints: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
        }
    }

    /// A column by (unnormalized) name.
    pub fn column(&self, name: &Ident) -> Option<&Column> {
        let n = name.normalized();
        self.columns.iter().find(|c| c.name == n)
    }

    /// True when some index's leading keys are exactly `columns` (any order).
    pub fn has_index_covering(&self, columns: &[String]) -> bool {
        if columns.is_empty() {
            return true;
        }
        self.indexes.iter().any(|ix| {
            ix.columns.len() >= columns.len()
                && ix.columns[..columns.len()]
                    .iter()
                    .all(|c| c.as_ref().is_some_and(|c| columns.contains(c)))
        })
    }

    /// True when a validated CHECK proves `column` non-null.
    pub fn has_valid_not_null_check(&self, column: &Ident) -> bool {
        let n = column.normalized();
        self.constraints
            .iter()
            .any(|c| !c.not_valid && c.not_null_columns.contains(&n))
    }

    fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    fn add_column(&mut self, col: &ColumnDef) {
        let name = col.name.normalized();
        self.columns.retain(|c| c.name != name);
        self.columns.push(Column {
            name,
            data_type: col.data_type.clone(),
            nullable: col.nullable != Some(false) && !col.primary_key,
        });
    }
}

/// The schema as of some point in the migration set.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    tables: HashMap<String, Table>,
    /// Index name → table key.
    index_tables: HashMap<String, String>,
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

    /// A table the model knows about.
    pub fn table(&self, name: &ObjectName) -> Option<&Table> {
        self.tables.get(&key(name))
    }

    /// Every table the model knows about (any order).
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    /// True when the table was created by the change under review.
    pub fn is_new_table(&self, name: &ObjectName) -> bool {
        self.table(name).is_some_and(|t| t.origin.is_new())
    }

    /// The table an index (by name) belongs to, when known.
    pub fn index_table(&self, index: &ObjectName) -> Option<&Table> {
        self.index_tables
            .get(&key(index))
            .and_then(|t| self.tables.get(t))
    }

    /// True when the index was created by the change under review, or belongs to
    /// a table that was.
    pub fn is_new_index(&self, index: &ObjectName) -> bool {
        let name = key(index);
        self.index_table(index).is_some_and(|t| {
            t.origin.is_new()
                || t.indexes
                    .iter()
                    .any(|i| i.name.as_deref() == Some(name.as_str()) && i.origin.is_new())
        })
    }

    fn table_entry(&mut self, name: &ObjectName) -> &mut Table {
        self.tables
            .entry(key(name))
            .or_insert_with(|| Table::new(name, Origin::Existing, false))
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
                    self.tables
                        .entry(k)
                        .or_insert_with(|| Table::new(name, origin, false));
                }
            }
            StatementKind::Drop(d) => match d.object {
                ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView => {
                    for n in &d.names {
                        self.tables.remove(&key(n));
                    }
                }
                ObjectKind::Index => {
                    for n in &d.names {
                        let name = key(n);
                        if let Some(t) = self.index_tables.remove(&name)
                            && let Some(t) = self.tables.get_mut(&t)
                        {
                            t.indexes
                                .retain(|i| i.name.as_deref() != Some(name.as_str()));
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
                            self.rename_table(from, to)
                        }
                        _ => {}
                    }
                }
            }
            StatementKind::RenameTable { renames } => {
                for (from, to) in renames {
                    self.rename_table(from, to);
                }
            }
            _ => {}
        }
    }

    fn rename_index(&mut self, from: &ObjectName, to: &ObjectName) {
        let (f, t) = (key(from), key(to));
        let Some(table) = self.index_tables.remove(&f) else {
            return;
        };
        if let Some(tb) = self.tables.get_mut(&table) {
            for ix in &mut tb.indexes {
                if ix.name.as_deref() == Some(f.as_str()) {
                    ix.name = Some(t.clone());
                }
            }
        }
        self.index_tables.insert(t, table);
    }

    fn rename_table(&mut self, from: &ObjectName, to: &ObjectName) {
        if let Some(mut t) = self.tables.remove(&key(from)) {
            t.name = to.to_string();
            let new_key = key(to);
            for ix in &t.indexes {
                if let Some(n) = &ix.name {
                    self.index_tables.insert(n.clone(), new_key.clone());
                }
            }
            self.tables.insert(new_key, t);
        }
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
                t.constraints.push(Constraint {
                    name: None,
                    not_null_columns: Vec::new(),
                    primary_key: true,
                    not_valid: false,
                });
                t.indexes.push(Index {
                    name: None,
                    columns: vec![Some(col.name.normalized())],
                    origin,
                });
            } else if col.unique {
                t.indexes.push(Index {
                    name: None,
                    columns: vec![Some(col.name.normalized())],
                    origin,
                });
            }
            if let (Some(_), Origin::New { file, stmt: s }) = (&col.references, origin) {
                let r = col.references.as_ref().map(|r| r.table.to_string());
                t.foreign_keys.push(ForeignKey {
                    columns: vec![col.name.normalized()],
                    references: r.unwrap_or_default(),
                    file,
                    stmt: s,
                    span: col.span.unwrap_or(stmt.span),
                });
            }
        }
        self.tables.insert(k.clone(), t);
        for c in &ct.constraints {
            self.add_constraint(&k, c, stmt, origin);
        }
    }

    fn add_constraint(&mut self, k: &str, c: &TableConstraint, stmt: &Statement, origin: Origin) {
        let Some(t) = self.tables.get_mut(k) else {
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
                    let cols = t
                        .indexes
                        .iter()
                        .find(|i| i.name.as_deref() == Some(ixn.as_str()))
                        .map(|i| i.columns.iter().flatten().cloned().collect::<Vec<_>>());
                    t.primary_key = cols;
                } else {
                    t.primary_key = Some(cols.clone());
                    t.indexes.push(Index {
                        name: name.clone(),
                        columns: cols.into_iter().map(Some).collect(),
                        origin,
                    });
                }
            }
            ConstraintKind::Unique { columns, .. } | ConstraintKind::Index { columns } => {
                if !columns.is_empty() {
                    t.indexes.push(Index {
                        name: name.clone(),
                        columns: idents(columns).into_iter().map(Some).collect(),
                        origin,
                    });
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
        if let Some(n) = &name
            && t.indexes.iter().any(|i| i.name.as_ref() == Some(n))
        {
            self.index_tables.insert(n.clone(), k.to_string());
        }
        t.constraints.push(constraint);
    }

    fn alter_table(&mut self, at: &AlterTable, stmt: &Statement, origin: Origin) {
        let mut k = key(&at.name);
        self.table_entry(&at.name);
        for action in &at.actions {
            let Some(t) = self.tables.get_mut(&k) else {
                return;
            };
            match action {
                AlterAction::AddColumn { column, .. } => {
                    t.add_column(column);
                    if column.primary_key {
                        t.primary_key = Some(vec![column.name.normalized()]);
                    }
                    if column.primary_key || column.unique {
                        t.indexes.push(Index {
                            name: None,
                            columns: vec![Some(column.name.normalized())],
                            origin,
                        });
                    }
                    if let (Some(r), Origin::New { file, stmt: s }) = (&column.references, origin) {
                        t.foreign_keys.push(ForeignKey {
                            columns: vec![column.name.normalized()],
                            references: r.table.to_string(),
                            file,
                            stmt: s,
                            span: column.span.unwrap_or(stmt.span),
                        });
                    }
                }
                AlterAction::DropColumn { name, .. } => {
                    let n = name.normalized();
                    t.columns.retain(|c| c.name != n);
                    t.indexes
                        .retain(|i| !i.columns.iter().any(|c| c.as_deref() == Some(&n)));
                    t.foreign_keys.retain(|f| !f.columns.contains(&n));
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
                    let kk = k.clone();
                    self.add_constraint(&kk, constraint, stmt, origin);
                }
                AlterAction::DropConstraint { name, .. } => {
                    let n = ident_key(name);
                    if t.constraints
                        .iter()
                        .any(|c| c.primary_key && c.name.as_deref() == Some(n.as_str()))
                    {
                        t.primary_key = None;
                    }
                    t.constraints
                        .retain(|c| c.name.as_deref() != Some(n.as_str()));
                    t.indexes.retain(|i| i.name.as_deref() != Some(n.as_str()));
                }
                AlterAction::DropPrimaryKey => {
                    t.primary_key = None;
                    t.constraints.retain(|c| !c.primary_key);
                }
                AlterAction::DropIndex { name } => {
                    let n = ident_key(name);
                    t.indexes.retain(|i| i.name.as_deref() != Some(n.as_str()));
                    self.index_tables.remove(&n);
                }
                AlterAction::ValidateConstraint { name } => {
                    let n = ident_key(name);
                    for c in &mut t.constraints {
                        if c.name.as_deref() == Some(n.as_str()) {
                            c.not_valid = false;
                        }
                    }
                }
                AlterAction::RenameColumn { from, to } => {
                    let (f, tn) = (from.normalized(), to.normalized());
                    if let Some(c) = t.column_mut(&f) {
                        c.name = tn.clone();
                    }
                    for ix in &mut t.indexes {
                        for c in ix.columns.iter_mut().flatten() {
                            if *c == f {
                                *c = tn.clone();
                            }
                        }
                    }
                }
                AlterAction::RenameConstraint { from, to } => {
                    let (f, tn) = (ident_key(from), ident_key(to));
                    for c in &mut t.constraints {
                        if c.name.as_deref() == Some(f.as_str()) {
                            c.name = Some(tn.clone());
                        }
                    }
                    for ix in &mut t.indexes {
                        if ix.name.as_deref() == Some(f.as_str()) {
                            ix.name = Some(tn.clone());
                        }
                    }
                    if self.index_tables.remove(&f).is_some() {
                        self.index_tables.insert(tn, k.clone());
                    }
                }
                AlterAction::ChangeColumn { old_name, column } => {
                    let old = old_name.normalized();
                    t.columns.retain(|c| c.name != old);
                    t.add_column(column);
                }
                AlterAction::ModifyColumn { column } => t.add_column(column),
                AlterAction::RenameTable { to } => {
                    let from = ObjectName {
                        parts: vec![Ident::new(k.clone())],
                    };
                    self.rename_table(&from, to);
                    k = key(to);
                }
                _ => {}
            }
        }
    }

    fn create_index(&mut self, ci: &CreateIndex, origin: Origin) {
        let k = key(&ci.table);
        let name = ci.name.as_ref().map(ident_key);
        let t = self.table_entry(&ci.table);
        t.indexes.push(Index {
            name: name.clone(),
            columns: ci
                .columns
                .iter()
                .map(|c| c.column.as_ref().map(Ident::normalized))
                .collect(),
            origin,
        });
        if let Some(n) = name {
            self.index_tables.insert(n, k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::model::Dialect;
    use crate::review::parse::parse_file;

    fn schema_after(existing: &str, new: &str) -> Schema {
        let mut s = Schema::new();
        for st in parse_file(existing, Dialect::Postgres) {
            s.apply(&st, Origin::Existing);
        }
        for (i, st) in parse_file(new, Dialect::Postgres).iter().enumerate() {
            s.apply(st, Origin::New { file: 0, stmt: i });
        }
        s
    }

    fn name(n: &str) -> ObjectName {
        ObjectName::simple(n)
    }

    #[test]
    fn tables_created_in_the_change_are_new() {
        let s = schema_after(
            "CREATE TABLE old (id bigint PRIMARY KEY);",
            "CREATE TABLE fresh (id bigint PRIMARY KEY);",
        );
        assert!(s.is_new_table(&name("fresh")));
        assert!(!s.is_new_table(&name("old")));
        assert!(!s.is_new_table(&name("never_seen")));
        assert!(
            s.table(&name("FRESH")).is_some(),
            "unquoted names fold case"
        );
    }

    #[test]
    fn renames_and_drops_follow_the_table() {
        let s = schema_after(
            "",
            "CREATE TABLE a (id bigint PRIMARY KEY);\nALTER TABLE a RENAME TO b;\nCREATE TABLE c (id bigint);\nDROP TABLE c;",
        );
        assert!(s.is_new_table(&name("b")));
        assert!(s.table(&name("a")).is_none());
        assert!(s.table(&name("c")).is_none());
    }

    #[test]
    fn columns_nullability_and_types_are_tracked() {
        let s = schema_after(
            "CREATE TABLE u (id bigint PRIMARY KEY, email text, n integer NOT NULL);",
            "ALTER TABLE u ALTER COLUMN email SET NOT NULL, ALTER COLUMN n DROP NOT NULL, ALTER COLUMN n TYPE bigint;",
        );
        let t = s.table(&name("u")).unwrap();
        let col = |c: &str| t.column(&Ident::new(c)).unwrap();
        assert!(!col("id").nullable);
        assert!(!col("email").nullable);
        assert!(col("n").nullable);
        assert_eq!(col("n").data_type.name, "bigint");
    }

    #[test]
    fn indexes_and_checks_are_tracked() {
        let s = schema_after(
            "CREATE TABLE o (id bigint PRIMARY KEY, u bigint, v bigint);",
            "CREATE INDEX o_u_v ON o (u, v);\nALTER TABLE o ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID;",
        );
        let t = s.table(&name("o")).unwrap();
        assert!(t.has_index_covering(&["u".to_string()]));
        assert!(t.has_index_covering(&["v".to_string(), "u".to_string()]));
        assert!(!t.has_index_covering(&["v".to_string()]));
        assert!(!t.has_valid_not_null_check(&Ident::new("v")));
        assert!(s.is_new_index(&name("o_u_v")));
        let s2 = schema_after(
            "CREATE TABLE o (id bigint PRIMARY KEY, v bigint);\nALTER TABLE o ADD CONSTRAINT v_nn CHECK (v IS NOT NULL) NOT VALID;",
            "ALTER TABLE o VALIDATE CONSTRAINT v_nn;",
        );
        assert!(
            s2.table(&name("o"))
                .unwrap()
                .has_valid_not_null_check(&Ident::new("v"))
        );
    }

    #[test]
    fn foreign_keys_are_recorded_only_for_the_change() {
        let s = schema_after(
            "CREATE TABLE a (id bigint PRIMARY KEY, p bigint REFERENCES p (id));",
            "CREATE TABLE b (id bigint PRIMARY KEY, p bigint REFERENCES p (id));",
        );
        assert!(s.table(&name("a")).unwrap().foreign_keys.is_empty());
        let fks = &s.table(&name("b")).unwrap().foreign_keys;
        assert_eq!(fks.len(), 1);
        assert_eq!(fks[0].columns, ["p"]);
    }

    #[test]
    fn long_names_are_found_by_their_63_byte_prefix() {
        let long = format!("idx_{}", "x".repeat(70));
        let s = schema_after(
            "",
            &format!("CREATE TABLE t (id bigint PRIMARY KEY);\nCREATE INDEX {long} ON t (id);"),
        );
        assert!(s.is_new_index(&name(&long[..63])));
    }

    #[test]
    fn renamed_constraints_keep_their_index() {
        let s = schema_after(
            "CREATE TABLE t (id bigint, CONSTRAINT t_old UNIQUE (id));",
            "ALTER TABLE t RENAME CONSTRAINT t_old TO t_new;",
        );
        assert!(s.index_table(&name("t_new")).is_some());
        assert!(s.index_table(&name("t_old")).is_none());
    }

    #[test]
    fn renamed_indexes_and_views_are_followed() {
        let s = schema_after(
            "",
            "CREATE TABLE t (id bigint PRIMARY KEY);\nCREATE INDEX a ON t (id);\nALTER INDEX a RENAME TO b;\nCREATE VIEW v AS SELECT 1;\nALTER VIEW v RENAME TO w;",
        );
        assert!(s.is_new_index(&name("b")));
        assert!(s.index_table(&name("a")).is_none());
        assert!(s.is_new_table(&name("w")));
    }
}
