//! A table of the schema model: columns, indexes (by key-column slots),
//! constraints and foreign keys, each keyed by name so lookups are O(1).

use super::*;

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
    pub(super) keys: Vec<Option<usize>>,
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
    pub(super) epoch: u64,
}

/// A table's indexes, findable by name and by key column without a scan
/// (a pull request can put hundreds of thousands on one table).
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Indexes {
    /// Every index ever added; removed ones are `None` (ids stay stable).
    pub(super) slots: Vec<Option<Index>>,
    /// Name → id.
    pub(super) by_name: HashMap<String, usize>,
    /// Key column name → slot.
    pub(super) key_slot: HashMap<String, usize>,
    /// Slot → current key column name.
    pub(super) key_names: Vec<String>,
    /// Slot → ids of indexes with that key (may hold removed ids).
    pub(super) by_key: Vec<Vec<usize>>,
}

impl Indexes {
    pub(super) fn slot(&mut self, column: String) -> usize {
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
    pub(super) fn push(
        &mut self,
        name: Option<String>,
        columns: Vec<Option<String>>,
        origin: Origin,
    ) {
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

    pub(super) fn iter(&self) -> impl Iterator<Item = &Index> {
        self.slots.iter().flatten()
    }

    /// The key column names of `ix`, in order (`None` for expressions).
    pub(super) fn columns<'a>(
        &'a self,
        ix: &'a Index,
    ) -> impl Iterator<Item = Option<&'a str>> + 'a {
        ix.keys
            .iter()
            .map(|k| k.and_then(|k| self.key_names.get(k)).map(String::as_str))
    }

    pub(super) fn named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Index> {
        self.by_name
            .get(name)
            .and_then(|&id| self.slots.get(id).and_then(Option::as_ref))
            .into_iter()
    }

    pub(super) fn remove_named(&mut self, name: &str) {
        if let Some(id) = self.by_name.remove(name)
            && let Some(slot) = self.slots.get_mut(id)
        {
            *slot = None;
        }
    }

    pub(super) fn rename(&mut self, from: &str, to: &str) {
        let Some(id) = self.by_name.remove(from) else {
            return;
        };
        if let Some(Some(ix)) = self.slots.get_mut(id) {
            ix.name = Some(to.to_string());
            self.by_name.insert(to.to_string(), id);
        }
    }

    pub(super) fn remove_on_column(&mut self, column: &str) {
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
    pub(super) fn rename_column(&mut self, from: &str, to: &str) {
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
pub(super) struct Constraints {
    /// Named constraints (one per name, as PostgreSQL keeps them).
    pub(super) named: HashMap<String, Vec<Constraint>>,
    /// Names that held a primary key constraint (may be stale).
    pub(super) pk_names: Vec<String>,
    /// Column → number of validated constraints proving it non-null.
    pub(super) valid_not_null: HashMap<String, usize>,
}

impl Constraints {
    pub(super) fn count(&mut self, c: &Constraint, up: bool) {
        if c.not_valid {
            return;
        }
        for col in &c.not_null_columns {
            let n = self.valid_not_null.entry(col.clone()).or_default();
            *n = if up { *n + 1 } else { n.saturating_sub(1) };
        }
    }

    pub(super) fn add(&mut self, c: Constraint) {
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
    pub(super) fn remove(&mut self, name: &str) -> bool {
        let removed = self.named.remove(name).unwrap_or_default();
        for c in &removed {
            self.count(c, false);
        }
        removed.iter().any(|c| c.primary_key)
    }

    pub(super) fn remove_primary_keys(&mut self) {
        for n in std::mem::take(&mut self.pk_names) {
            if let Some(list) = self.named.get_mut(&n) {
                list.retain(|c| !c.primary_key);
                if list.is_empty() {
                    self.named.remove(&n);
                }
            }
        }
    }

    pub(super) fn validate(&mut self, name: &str) {
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

    pub(super) fn rename(&mut self, from: &str, to: &str) {
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
pub(super) const INDEX_MAX_KEYS: usize = 32;

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
    pub(super) columns: HashMap<String, Column>,
    /// Primary key columns, when known.
    pub primary_key: Option<Vec<String>>,
    /// Known constraints.
    pub(super) constraints: Constraints,
    /// Known indexes.
    pub(super) indexes: Indexes,
    /// Foreign keys added by the change under review (including ones whose
    /// column was dropped since: see [`Table::foreign_keys`]).
    pub(super) foreign_keys: Vec<ForeignKey>,
    /// Column drops so far; a foreign key is gone when one of its columns was
    /// dropped after it was added. Marking is O(1) per drop, where removing
    /// would scan every foreign key.
    pub(super) drops: u64,
    /// Column → the drop count when it was last dropped.
    pub(super) dropped: HashMap<String, u64>,
}

impl Table {
    pub(super) fn new(name: &ObjectName, origin: Origin, complete: bool) -> Table {
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

    pub(super) fn column_mut(&mut self, name: &str) -> Option<&mut Column> {
        self.columns.get_mut(name)
    }

    pub(super) fn add_column(&mut self, col: &ColumnDef) {
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
