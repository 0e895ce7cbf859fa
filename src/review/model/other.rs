//! The other statements of the model: DROP, TRUNCATE, DML, SET and maintenance.

use super::*;

/// `DROP <object> [CONCURRENTLY] [IF EXISTS] names [CASCADE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Drop {
    /// What kind of object.
    pub object: ObjectKind,
    /// The objects dropped.
    pub names: Vec<ObjectName>,
    /// `IF EXISTS`.
    pub if_exists: bool,
    /// `CASCADE`.
    pub cascade: bool,
    /// `CONCURRENTLY` (`DROP INDEX` only).
    pub concurrently: bool,
    /// MySQL `DROP INDEX idx ON table`: the table.
    pub table: Option<ObjectName>,
}

/// `TRUNCATE [TABLE] names [CASCADE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Truncate {
    /// Tables truncated.
    pub tables: Vec<ObjectName>,
    /// `CASCADE`.
    pub cascade: bool,
}

/// `INSERT INTO table [(cols)] ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// Target table.
    pub table: ObjectName,
    /// An explicit column list was given.
    pub has_column_list: bool,
    /// The explicit columns.
    pub columns: Vec<Ident>,
    /// Rows come from `VALUES` (as opposed to `SELECT` / `DEFAULT VALUES`).
    pub values: bool,
    /// Rows come from a `SELECT *` (a wildcard in the top-level select list).
    pub select_star: bool,
}

/// `UPDATE table SET ... [WHERE ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Target table.
    pub table: ObjectName,
    /// A `WHERE` clause is present.
    pub has_where: bool,
    /// Assigned columns in order (duplicates kept: a rule flags them).
    pub assignments: Vec<Ident>,
    /// The rows it touches, when it is a plain single-table statement with a
    /// `WHERE` (what a prior backup copies).
    pub filter: Option<RowFilter>,
}

/// `DELETE FROM table [WHERE ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// Target table(s).
    pub tables: Vec<ObjectName>,
    /// A `WHERE` clause is present.
    pub has_where: bool,
    /// The rows it deletes, when it is a plain single-table statement with a
    /// `WHERE` (what a prior backup copies).
    pub filter: Option<RowFilter>,
}

/// The rows a single-table `UPDATE`/`DELETE` touches: `SELECT * FROM
/// {relation} WHERE {predicate}` reads exactly them (before the statement runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFilter {
    /// The table as written, with its alias (`users AS u`).
    pub relation: String,
    /// The `WHERE` expression's SQL text.
    pub predicate: String,
}

/// `SET [SESSION|LOCAL|GLOBAL] name {=|TO} value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// Lowercased setting name (e.g. `lock_timeout`, `statement_timeout`, `search_path`).
    pub name: String,
    /// `SET LOCAL` (lasts until the end of the transaction).
    pub local: bool,
    /// The value as written (`'5s'`, `DEFAULT`, ...).
    pub value: Option<String>,
}

/// `REINDEX`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reindex {
    /// `CONCURRENTLY` (also as the option `(CONCURRENTLY)`).
    pub concurrently: bool,
    /// What is reindexed.
    pub target: ObjectKind,
    /// Its name (absent for `REINDEX SYSTEM`/`DATABASE` without a name).
    pub name: Option<ObjectName>,
}

/// `VACUUM`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vacuum {
    /// `FULL` (also `(FULL)` / `(FULL true)`).
    pub full: bool,
    /// `ANALYZE` requested.
    pub analyze: bool,
    /// Tables named (empty: the whole database).
    pub tables: Vec<ObjectName>,
}

/// `CLUSTER`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// The table (absent: re-cluster every previously clustered table).
    pub table: Option<ObjectName>,
    /// `USING index`.
    pub index: Option<Ident>,
}

/// Other `CREATE` statements.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateOther {
    /// What is created.
    pub object: ObjectKind,
    /// Its name, when the statement has one bytegate could read.
    pub name: Option<ObjectName>,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// For triggers, statistics, policies: the table it is on.
    pub table: Option<ObjectName>,
}

/// Other `ALTER` statements.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterOther {
    /// What is altered.
    pub object: ObjectKind,
    /// Its name, when readable.
    pub name: Option<ObjectName>,
    /// A short uppercased description of the change (e.g. `RENAME TO`, `ADD VALUE`, `OWNER TO`).
    pub action: String,
    /// For `... RENAME TO new`: the new name (PostgreSQL keeps the object in
    /// the schema of `name`).
    pub new_name: Option<ObjectName>,
}
