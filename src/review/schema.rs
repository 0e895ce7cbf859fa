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
    /// Key columns in order, as slots of the table's key-name table (`None`
    /// for expression keys): a column rename changes one name, not every index.
    keys: Vec<Option<usize>>,
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
    /// The table's column-drop epoch when it was added (see `Table::dropped`).
    epoch: u64,
}

/// A table's indexes, findable by name and by key column without a scan
/// (a pull request can put hundreds of thousands on one table).
#[derive(Debug, Clone, Default, PartialEq)]
struct Indexes {
    /// Every index ever added; removed ones are `None` (ids stay stable).
    slots: Vec<Option<Index>>,
    /// Name → id.
    by_name: HashMap<String, usize>,
    /// Key column name → slot.
    key_slot: HashMap<String, usize>,
    /// Slot → current key column name.
    key_names: Vec<String>,
    /// Slot → ids of indexes with that key (may hold removed ids).
    by_key: Vec<Vec<usize>>,
}

impl Indexes {
    fn slot(&mut self, column: String) -> usize {
        if let Some(&k) = self.key_slot.get(&column) {
            return k;
        }
        let k = self.key_names.len();
        self.key_names.push(column.clone());
        self.by_key.push(Vec::new());
        self.key_slot.insert(column, k);
        k
    }

    /// Adds an index. A second live index of the same name is ignored, as
    /// PostgreSQL refuses it ("relation already exists").
    fn push(&mut self, name: Option<String>, columns: Vec<Option<String>>, origin: Origin) {
        if name
            .as_deref()
            .is_some_and(|n| self.named(n).next().is_some())
        {
            return;
        }
        let id = self.slots.len();
        let keys: Vec<Option<usize>> = columns
            .into_iter()
            .map(|c| c.map(|c| self.slot(c)))
            .collect();
        for &k in keys.iter().flatten() {
            if let Some(ids) = self.by_key.get_mut(k)
                && ids.last() != Some(&id)
            {
                ids.push(id);
            }
        }
        if let Some(n) = &name {
            self.by_name.insert(n.clone(), id);
        }
        self.slots.push(Some(Index { name, keys, origin }));
    }

    fn iter(&self) -> impl Iterator<Item = &Index> {
        self.slots.iter().flatten()
    }

    /// The key column names of `ix`, in order (`None` for expressions).
    fn columns<'a>(&'a self, ix: &'a Index) -> impl Iterator<Item = Option<&'a str>> + 'a {
        ix.keys
            .iter()
            .map(|k| k.and_then(|k| self.key_names.get(k)).map(String::as_str))
    }

    fn named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Index> {
        self.by_name
            .get(name)
            .and_then(|&id| self.slots.get(id).and_then(Option::as_ref))
            .into_iter()
    }

    fn remove_named(&mut self, name: &str) {
        if let Some(id) = self.by_name.remove(name)
            && let Some(slot) = self.slots.get_mut(id)
        {
            *slot = None;
        }
    }

    fn rename(&mut self, from: &str, to: &str) {
        let Some(id) = self.by_name.remove(from) else {
            return;
        };
        if let Some(Some(ix)) = self.slots.get_mut(id) {
            ix.name = Some(to.to_string());
            self.by_name.insert(to.to_string(), id);
        }
    }

    fn remove_on_column(&mut self, column: &str) {
        let Some(k) = self.key_slot.remove(column) else {
            return;
        };
        for id in self
            .by_key
            .get_mut(k)
            .map(std::mem::take)
            .unwrap_or_default()
        {
            if let Some(slot) = self.slots.get_mut(id)
                && let Some(ix) = slot.take()
                && let Some(n) = ix.name
                && self.by_name.get(&n) == Some(&id)
            {
                self.by_name.remove(&n);
            }
        }
    }

    /// Renames a key column. When `to` is already a key name the two slots
    /// merge, and the indexes of the smaller one are relabelled (each index
    /// is relabelled O(log n) times at most, however the renames go).
    fn rename_column(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        let Some(f) = self.key_slot.remove(from) else {
            return;
        };
        let Some(&t) = self.key_slot.get(to) else {
            self.key_slot.insert(to.to_string(), f);
            if let Some(n) = self.key_names.get_mut(f) {
                *n = to.to_string();
            }
            return;
        };
        let len = |k: usize| self.by_key.get(k).map_or(0, Vec::len);
        let (small, big) = if len(f) <= len(t) { (f, t) } else { (t, f) };
        let moved = self
            .by_key
            .get_mut(small)
            .map(std::mem::take)
            .unwrap_or_default();
        let mut live = Vec::with_capacity(moved.len());
        for id in moved {
            if let Some(Some(ix)) = self.slots.get_mut(id) {
                for k in ix.keys.iter_mut().flatten() {
                    if *k == small {
                        *k = big;
                    }
                }
                live.push(id);
            }
        }
        if let Some(ids) = self.by_key.get_mut(big) {
            ids.extend(live);
        }
        self.key_slot.insert(to.to_string(), big);
        if let Some(n) = self.key_names.get_mut(big) {
            *n = to.to_string();
        }
    }
}

/// A table's constraints as the rules ask about them: by name, and which
/// columns a validated CHECK proves non-null (counted, so adding, validating
/// and dropping are O(1) per constraint).
#[derive(Debug, Clone, Default, PartialEq)]
struct Constraints {
    /// Named constraints (one per name, as PostgreSQL keeps them).
    named: HashMap<String, Vec<Constraint>>,
    /// Names that held a primary key constraint (may be stale).
    pk_names: Vec<String>,
    /// Column → number of validated constraints proving it non-null.
    valid_not_null: HashMap<String, usize>,
}

impl Constraints {
    fn count(&mut self, c: &Constraint, up: bool) {
        if c.not_valid {
            return;
        }
        for col in &c.not_null_columns {
            let n = self.valid_not_null.entry(col.clone()).or_default();
            *n = if up { *n + 1 } else { n.saturating_sub(1) };
        }
    }

    fn add(&mut self, c: Constraint) {
        // PostgreSQL refuses a second constraint of the same name on a table;
        // ignoring it also keeps every name's list at one entry.
        if c.name.as_ref().is_some_and(|n| self.named.contains_key(n)) {
            return;
        }
        self.count(&c, true);
        // An unnamed constraint cannot be named again later (validated,
        // dropped, renamed): only what it proves is kept.
        if let Some(n) = c.name.clone() {
            if c.primary_key {
                self.pk_names.push(n.clone());
            }
            self.named.entry(n).or_default().push(c);
        }
    }

    /// Removes the constraints named `name`; true when one was a primary key.
    fn remove(&mut self, name: &str) -> bool {
        let removed = self.named.remove(name).unwrap_or_default();
        for c in &removed {
            self.count(c, false);
        }
        removed.iter().any(|c| c.primary_key)
    }

    fn remove_primary_keys(&mut self) {
        for n in std::mem::take(&mut self.pk_names) {
            if let Some(list) = self.named.get_mut(&n) {
                list.retain(|c| !c.primary_key);
                if list.is_empty() {
                    self.named.remove(&n);
                }
            }
        }
    }

    fn validate(&mut self, name: &str) {
        let Some(mut list) = self.named.remove(name) else {
            return;
        };
        for c in &mut list {
            if c.not_valid {
                c.not_valid = false;
                self.count(c, true);
            }
        }
        self.named.insert(name.to_string(), list);
    }

    fn rename(&mut self, from: &str, to: &str) {
        if from == to || self.named.contains_key(to) {
            return; // refused by PostgreSQL when the name is taken
        }
        let Some(mut list) = self.named.remove(from) else {
            return;
        };
        for c in &mut list {
            c.name = Some(to.to_string());
        }
        if list.iter().any(|c| c.primary_key) {
            self.pk_names.push(to.to_string());
        }
        self.named.entry(to.to_string()).or_default().extend(list);
    }
}

/// PostgreSQL indexes have at most 32 key columns (INDEX_MAX_KEYS).
const INDEX_MAX_KEYS: usize = 32;

/// What the model knows about a table. Columns, indexes and constraints are
/// kept in maps keyed by normalized name, so each statement costs the same
/// however many of them a table already has.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The name as last written.
    pub name: String,
    /// Where it came from.
    pub origin: Origin,
    /// True when the model saw the table created (column list complete).
    pub complete: bool,
    /// Known columns by normalized name.
    columns: HashMap<String, Column>,
    /// Primary key columns, when known.
    pub primary_key: Option<Vec<String>>,
    /// Known constraints.
    constraints: Constraints,
    /// Known indexes.
    indexes: Indexes,
    /// Foreign keys added by the change under review (including ones whose
    /// column was dropped since: see [`Table::foreign_keys`]).
    foreign_keys: Vec<ForeignKey>,
    /// Column drops so far; a foreign key is gone when one of its columns was
    /// dropped after it was added. Marking is O(1) per drop, where removing
    /// would scan every foreign key.
    drops: u64,
    /// Column → the drop count when it was last dropped.
    dropped: HashMap<String, u64>,
}

impl Table {
    fn new(name: &ObjectName, origin: Origin, complete: bool) -> Table {
        Table {
            name: name.to_string(),
            origin,
            complete,
            columns: HashMap::new(),
            primary_key: None,
            constraints: Constraints::default(),
            indexes: Indexes::default(),
            foreign_keys: Vec::new(),
            drops: 0,
            dropped: HashMap::new(),
        }
    }

    /// A column by (unnormalized) name.
    pub fn column(&self, name: &Ident) -> Option<&Column> {
        self.columns.get(&name.normalized())
    }

    /// Known columns (any order).
    pub fn columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.values()
    }

    /// Known indexes, in the order they were added.
    pub fn indexes(&self) -> impl Iterator<Item = &Index> {
        self.indexes.iter()
    }

    /// Known constraints named `name` (normalized).
    pub fn constraints_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Constraint> {
        self.constraints.named.get(name).into_iter().flatten()
    }

    /// Foreign keys added by the change under review and still in place.
    pub fn foreign_keys(&self) -> impl Iterator<Item = &ForeignKey> {
        self.foreign_keys.iter().filter(|fk| {
            !fk.columns
                .iter()
                .any(|c| self.dropped.get(c).is_some_and(|&at| at > fk.epoch))
        })
    }

    /// The key column names of one of this table's indexes, in order
    /// (`None` for expression keys).
    pub fn index_columns<'a>(&'a self, ix: &'a Index) -> Vec<Option<&'a str>> {
        self.indexes.columns(ix).collect()
    }

    /// True when some index's leading keys are exactly `columns` (any order).
    /// One scan of the indexes: for many questions about one table use
    /// [`Table::uncovered_foreign_keys`].
    pub fn has_index_covering(&self, columns: &[String]) -> bool {
        if columns.is_empty() {
            return true;
        }
        self.indexes.iter().any(|ix| {
            let keys: Vec<Option<&str>> = self.indexes.columns(ix).take(columns.len()).collect();
            keys.len() == columns.len()
                && keys
                    .iter()
                    .all(|c| c.is_some_and(|c| columns.iter().any(|x| x == c)))
        })
    }

    /// Foreign keys whose columns no index covers (see [`Table::has_index_covering`]),
    /// in one pass over the indexes: each index's leading key sets (up to 32
    /// keys) are hashed once, so the cost is linear in indexes plus keys. An
    /// index whose leading keys repeat a column covers only that column set;
    /// a foreign key over more than 32 columns is never covered (PostgreSQL
    /// allows at most 32 keys in an index).
    pub fn uncovered_foreign_keys(&self) -> Vec<&ForeignKey> {
        use std::collections::HashSet;
        use std::hash::BuildHasher;
        let live: Vec<&ForeignKey> = self.foreign_keys().collect();
        if live.is_empty() {
            return Vec::new();
        }
        // Random keys: input cannot be crafted to collide.
        let hasher = std::collections::hash_map::RandomState::new();
        // Running hashes of a key list's leading sets: the sum of the distinct
        // members' hashes (order-free), one per prefix length.
        let set_hashes = |cols: &mut dyn Iterator<Item = &str>| {
            let mut seen: Vec<&str> = Vec::new();
            let mut sums = Vec::new();
            let mut sum = 0u64;
            for c in cols {
                if !seen.contains(&c) {
                    seen.push(c);
                    sum = sum.wrapping_add(hasher.hash_one(c));
                }
                sums.push(sum);
            }
            sums
        };
        let wanted: HashSet<usize> = live.iter().map(|f| f.columns.len()).collect();
        let mut covered: HashSet<(usize, u64)> = HashSet::new();
        for ix in self.indexes.iter() {
            let mut keys = self
                .indexes
                .columns(ix)
                .take(INDEX_MAX_KEYS)
                .map_while(|c| c);
            for (k, sum) in set_hashes(&mut keys).into_iter().enumerate() {
                if wanted.contains(&(k + 1)) {
                    covered.insert((k + 1, sum));
                }
            }
        }
        live.into_iter()
            .filter(|fk| {
                let k = fk.columns.len();
                if k == 0 {
                    return false;
                }
                if k > INDEX_MAX_KEYS {
                    return true;
                }
                let mut cols = fk.columns.iter().map(String::as_str);
                let sum = set_hashes(&mut cols).last().copied().unwrap_or(0);
                !covered.contains(&(k, sum))
            })
            .collect()
    }

    /// True when a validated CHECK proves `column` non-null.
    pub fn has_valid_not_null_check(&self, column: &Ident) -> bool {
        self.constraints
            .valid_not_null
            .get(&column.normalized())
            .is_some_and(|&n| n > 0)
    }

    fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.get_mut(name)
    }

    fn add_column(&mut self, col: &ColumnDef) {
        let name = col.name.normalized();
        self.columns.insert(
            name.clone(),
            Column {
                name,
                data_type: col.data_type.clone(),
                nullable: col.nullable != Some(false) && !col.primary_key,
            },
        );
    }
}

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
        self.table_by_key(&key(name))
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
            .get(&key(index))
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
                    t.primary_key = cols;
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
                }
                AlterAction::ModifyColumn { column } => t.add_column(column),
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
