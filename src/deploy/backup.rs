//! Prior backups of data changes: before an `UPDATE` or `DELETE` runs on an
//! environment with backups enabled, the rows it will touch are copied into
//! schema [`BACKUP_SCHEMA`] on the same target, in the same transaction, with
//! the statement's own `WHERE`. Here: what a step's data change is, the
//! environment's policy, and what a deploy reports about each statement.
//! The copying itself is the engine's (`postgres::backup`).

use crate::config::{Backup as BackupConfig, WhenImpossible};
use crate::review::model::{Ident, ObjectName, RowFilter, Statement, StatementKind};
pub use crate::store::dml_backups::{BackupTaken, DmlKind};
use chrono::{DateTime, Utc};
use std::fmt;

/// The schema backups live in, on each target.
pub const BACKUP_SCHEMA: &str = "bytegate_backup";

/// PostgreSQL's identifier limit (bytes).
const MAX_IDENT_BYTES: usize = 63;

/// The data change of one migration statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dml {
    /// UPDATE or DELETE.
    pub kind: DmlKind,
    /// The table, as SQL (quoted where it was written quoted).
    pub table: String,
    /// A `WHERE` was given.
    pub has_where: bool,
    /// The rows it touches, for a plain single-table statement with a `WHERE`.
    pub filter: Option<RowFilter>,
    /// Columns an `UPDATE` assigns, as SQL.
    pub assigned: Vec<String>,
}

impl Dml {
    /// The data change of a statement, if it is an `UPDATE` or `DELETE`.
    pub fn of(statement: &Statement) -> Option<Dml> {
        match &statement.kind {
            StatementKind::Update(u) => Some(Dml {
                kind: DmlKind::Update,
                table: object_sql(&u.table),
                has_where: u.has_where,
                filter: u.filter.clone(),
                assigned: u.assignments.iter().map(ident_sql).collect(),
            }),
            StatementKind::Delete(d) => Some(Dml {
                kind: DmlKind::Delete,
                table: d.tables.first().map(object_sql).unwrap_or_default(),
                has_where: d.has_where,
                filter: d.filter.clone(),
                assigned: Vec::new(),
            }),
            _ => None,
        }
    }

    /// Why this statement cannot be backed up by its shape alone, if it cannot.
    pub fn static_obstacle(&self) -> Option<NoBackup> {
        if !self.has_where {
            Some(NoBackup::NoWhere)
        } else if self.filter.is_none() || self.table.is_empty() {
            Some(NoBackup::NotSimple)
        } else {
            None
        }
    }
}

/// An environment's backup policy for one deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPolicy {
    /// Most rows one statement's backup may hold.
    pub max_rows: u64,
    /// What happens to a statement that cannot be backed up.
    pub when_impossible: WhenImpossible,
    /// When backups taken now expire (the environment's retention).
    pub expires_at: DateTime<Utc>,
}

impl BackupPolicy {
    /// The policy of an environment's `backup:` section at `now` (`None`: disabled).
    pub fn for_environment(cfg: &BackupConfig, now: DateTime<Utc>) -> Option<BackupPolicy> {
        cfg.enabled.then(|| BackupPolicy {
            max_rows: cfg.max_rows,
            when_impossible: cfg.when_impossible,
            expires_at: now + chrono::Duration::days(i64::from(cfg.retention_days)),
        })
    }
}

/// Why a statement was not backed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoBackup {
    /// No `WHERE`: every row is touched.
    NoWhere,
    /// Not a plain single-table statement (`FROM`/`USING`, joins, a CTE, `LIMIT`).
    NotSimple,
    /// Its file runs outside a transaction.
    NonTransactional,
    /// The target's engine has no prior backups yet (MySQL).
    NotOnEngine(crate::config::Engine),
    /// It touches more rows than the cap.
    OverCap {
        /// `backup.max_rows`.
        cap: u64,
    },
}

impl fmt::Display for NoBackup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoBackup::NoWhere => f.write_str("it has no WHERE clause (every row would be copied)"),
            NoBackup::NotSimple => f.write_str(
                "it is not a plain single-table statement (FROM/USING, joins, a WITH query or LIMIT): its rows are not one table's WHERE",
            ),
            NoBackup::NonTransactional => {
                f.write_str("its file runs outside a transaction (the copy could not be atomic with it)")
            }
            NoBackup::NotOnEngine(engine) => write!(
                f,
                "prior backups are not available on {} targets yet",
                super::engine_name(*engine)
            ),
            NoBackup::OverCap { cap } => write!(
                f,
                "it touches more than {cap} rows (backup.max_rows)"
            ),
        }
    }
}

/// What [`WhenImpossible`] means, for messages.
pub fn consequence(w: WhenImpossible) -> &'static str {
    match w {
        WhenImpossible::Refuse => {
            "this environment refuses such statements (backup.when_impossible: refuse): the migration is not applied"
        }
        WhenImpossible::Proceed => {
            "it runs without a backup (backup.when_impossible: proceed) and cannot be rolled back"
        }
    }
}

/// A statement a deploy ran without a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSkipped {
    /// 1-based statement of the migration.
    pub statement_number: usize,
    /// UPDATE or DELETE.
    pub kind: DmlKind,
    /// The table changed, as SQL.
    pub table: String,
    /// Why.
    pub reason: NoBackup,
}

/// The backup table's name for statement `n` of `version` on `table`:
/// `<version>_<n>_<table>`, cut to PostgreSQL's 63 bytes.
pub fn backup_table_name(version: &str, n: usize, table: &str) -> String {
    let own = table
        .rsplit('.')
        .next()
        .unwrap_or(table)
        .trim_matches('"')
        .replace('"', "");
    let mut name = format!("{version}_{n}_{own}");
    while name.len() > MAX_IDENT_BYTES {
        name.pop();
    }
    name
}

/// An identifier quoted for SQL (`"a""b"`).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// An identifier as SQL: quoted when it was written quoted, else as written
/// (PostgreSQL folds it as it did in the migration).
pub fn ident_sql(i: &Ident) -> String {
    if i.quoted {
        quote_ident(&i.value)
    } else {
        i.value.clone()
    }
}

/// A possibly qualified name as SQL.
pub fn object_sql(n: &ObjectName) -> String {
    n.parts.iter().map(ident_sql).collect::<Vec<_>>().join(".")
}

/// `bytegate_backup."<name>"`.
pub fn qualified_backup(name: &str) -> String {
    format!("{BACKUP_SCHEMA}.{}", quote_ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::model::Dialect;
    use crate::review::parse::parse_file;

    fn dml(sql: &str) -> Dml {
        let s = parse_file(sql, Dialect::Postgres);
        Dml::of(&s[0]).expect("a data change")
    }

    #[test]
    fn plain_statements_carry_their_filter_and_others_say_why_not() {
        let d = dml("DELETE FROM users u WHERE u.id IN (1, 2)");
        assert_eq!(d.kind, DmlKind::Delete);
        assert_eq!(d.table, "users");
        let f = d.filter.clone().unwrap();
        assert_eq!(f.relation, "users u");
        assert_eq!(f.predicate, "u.id IN (1, 2)");
        assert_eq!(d.static_obstacle(), None);

        let u = dml("UPDATE \"Accounts\" SET plan = 'pro', seats = 2 WHERE id = 7");
        assert_eq!(u.table, "\"Accounts\"");
        assert_eq!(u.assigned, ["plan", "seats"]);
        assert_eq!(u.static_obstacle(), None);

        assert_eq!(
            dml("DELETE FROM users").static_obstacle(),
            Some(NoBackup::NoWhere)
        );
        assert_eq!(
            dml("UPDATE users SET n = o.n FROM other o WHERE o.id = users.id").static_obstacle(),
            Some(NoBackup::NotSimple)
        );
        assert_eq!(
            dml("DELETE FROM users USING other o WHERE o.id = users.id").static_obstacle(),
            Some(NoBackup::NotSimple)
        );
        let s = parse_file(
            "WITH gone AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT count(*) FROM gone",
            Dialect::Postgres,
        );
        assert_eq!(
            Dml::of(&s[0]).unwrap().static_obstacle(),
            Some(NoBackup::NotSimple)
        );
    }

    #[test]
    fn backup_names_fit_postgres_identifiers() {
        assert_eq!(backup_table_name("3", 2, "public.users"), "3_2_users");
        assert_eq!(backup_table_name("3", 1, "\"Accounts\""), "3_1_Accounts");
        let long = "x".repeat(80);
        assert_eq!(backup_table_name("20250101", 1, &long).len(), 63);
        assert_eq!(qualified_backup("a\"b"), "bytegate_backup.\"a\"\"b\"");
    }
}
