//! Which files are migrations, by file-name suffix, and in which dialect:
//! `migration_suffixes` in `bytegate.yaml` (`project:`) and in a repository's
//! `.bytegate.yaml`. The one answer for the pull-request flow, the deploy's
//! folder listing and `bytegate review`.
//!
//! `.sql` is always a migration in the environment's (or `--dialect`)
//! dialect unless the mapping says otherwise; the longest matching suffix
//! wins, so projects that keep `*.sql.postgres` / `*.sql.sqlite` pairs map
//! `.sql.postgres: postgres` and `.sql.sqlite: ignore`.

use crate::review::model::Dialect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What files with a suffix are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuffixTarget {
    /// Migrations in PostgreSQL, whatever the environment's engine.
    Postgres,
    /// Migrations in MySQL / MariaDB, whatever the environment's engine.
    Mysql,
    /// Not migrations: never reviewed, never deployed.
    Ignore,
}

/// The suffix → target map (keys start with `.`, compared case-insensitively).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MigrationSuffixes(pub BTreeMap<String, SuffixTarget>);

/// What the mapping says a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Not a migration (no mapped suffix, or mapped to `ignore`).
    Other,
    /// A migration in the dialect of the review (`.sql`).
    Migration,
    /// A migration in this dialect only.
    Pinned(Dialect),
}

impl FileKind {
    /// True for a migration (reviewed and deployed).
    pub fn is_migration(self) -> bool {
        self != FileKind::Other
    }

    /// True when a review in `dialect` covers this file: a migration that is
    /// not pinned to another dialect.
    pub fn fits(self, dialect: Dialect) -> bool {
        match self {
            FileKind::Other => false,
            FileKind::Migration => true,
            FileKind::Pinned(d) => d == dialect,
        }
    }
}

/// The suffix every project has.
const SQL: &str = ".sql";

impl MigrationSuffixes {
    /// What `path` is (by its file name's longest mapped suffix).
    pub fn kind(&self, path: &str) -> FileKind {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let name = name.to_ascii_lowercase();
        let matches = |suffix: &str| name.len() > suffix.len() && name.ends_with(suffix);
        let mut best: Option<(usize, FileKind)> =
            matches(SQL).then_some((SQL.len(), FileKind::Migration));
        for (suffix, target) in &self.0 {
            let suffix = suffix.to_ascii_lowercase();
            if matches(&suffix) && best.is_none_or(|(len, _)| suffix.len() >= len) {
                let kind = match target {
                    SuffixTarget::Postgres => FileKind::Pinned(Dialect::Postgres),
                    SuffixTarget::Mysql => FileKind::Pinned(Dialect::Mysql),
                    SuffixTarget::Ignore => FileKind::Other,
                };
                best = Some((suffix.len(), kind));
            }
        }
        best.map_or(FileKind::Other, |(_, kind)| kind)
    }

    /// This mapping with `over`'s entries replacing or adding to its own
    /// (a repository's `.bytegate.yaml` over the server's config).
    pub fn with(&self, over: &MigrationSuffixes) -> MigrationSuffixes {
        let mut out = self.0.clone();
        for (suffix, target) in &over.0 {
            out.retain(|k, _| !k.eq_ignore_ascii_case(suffix));
            out.insert(suffix.clone(), *target);
        }
        MigrationSuffixes(out)
    }

    /// Checks every suffix: `.` then at least one character, no `/`, and not
    /// given twice in different case. The error names the suffix.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::BTreeSet::new();
        for suffix in self.0.keys() {
            if suffix.len() < 2
                || !suffix.starts_with('.')
                || suffix.contains(['/', '\\'])
                || suffix.chars().any(char::is_whitespace)
            {
                return Err(format!(
                    "`{suffix}`: a suffix starts with `.` (e.g. `.sql.postgres`) and has no `/` or spaces"
                ));
            }
            if !seen.insert(suffix.to_ascii_lowercase()) {
                return Err(format!("`{suffix}` is given twice (suffixes ignore case)"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, SuffixTarget)]) -> MigrationSuffixes {
        MigrationSuffixes(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn plain_sql_is_a_migration_of_the_reviews_dialect_by_default() {
        let none = MigrationSuffixes::default();
        assert_eq!(none.kind("m/001_a.sql"), FileKind::Migration);
        assert_eq!(none.kind("m/001_a.SQL"), FileKind::Migration);
        assert_eq!(none.kind("m/001_a.sql.postgres"), FileKind::Other);
        assert_eq!(none.kind("m/README.md"), FileKind::Other);
        assert_eq!(none.kind("m/.sql"), FileKind::Other);
    }

    #[test]
    fn the_longest_mapped_suffix_decides() {
        let m = map(&[
            (".sql.postgres", SuffixTarget::Postgres),
            (".SQL.sqlite", SuffixTarget::Ignore),
            (".mysql.sql", SuffixTarget::Mysql),
        ]);
        assert_eq!(
            m.kind("db/1_init.sql.postgres"),
            FileKind::Pinned(Dialect::Postgres)
        );
        assert_eq!(m.kind("db/1_init.sql.sqlite"), FileKind::Other);
        assert_eq!(
            m.kind("db/1_init.mysql.sql"),
            FileKind::Pinned(Dialect::Mysql)
        );
        assert_eq!(m.kind("db/1_init.sql"), FileKind::Migration);
        assert!(FileKind::Pinned(Dialect::Postgres).fits(Dialect::Postgres));
        assert!(!FileKind::Pinned(Dialect::Mysql).fits(Dialect::Postgres));
        assert!(FileKind::Migration.fits(Dialect::Mysql));
        assert!(!FileKind::Other.fits(Dialect::Postgres));
        // `.sql` itself can be switched off.
        let only_pinned = map(&[
            (".sql", SuffixTarget::Ignore),
            (".sql.postgres", SuffixTarget::Postgres),
        ]);
        assert_eq!(only_pinned.kind("a/1.sql"), FileKind::Other);
        assert!(only_pinned.kind("a/1.sql.postgres").is_migration());
    }

    #[test]
    fn a_repository_mapping_overrides_the_servers_per_suffix() {
        let server = map(&[
            (".sql.postgres", SuffixTarget::Postgres),
            (".sql.sqlite", SuffixTarget::Ignore),
        ]);
        let repo = map(&[(".SQL.POSTGRES", SuffixTarget::Ignore)]);
        let merged = server.with(&repo);
        assert_eq!(merged.kind("x/1.sql.postgres"), FileKind::Other);
        assert_eq!(merged.kind("x/1.sql.sqlite"), FileKind::Other);
        assert_eq!(merged.0.len(), 2);
    }

    #[test]
    fn suffixes_are_validated() {
        assert!(
            map(&[(".sql.postgres", SuffixTarget::Postgres)])
                .validate()
                .is_ok()
        );
        for bad in ["sql", ".", "./x", ".a b"] {
            let err = map(&[(bad, SuffixTarget::Ignore)]).validate().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
        assert!(
            map(&[(".X", SuffixTarget::Ignore), (".x", SuffixTarget::Postgres)])
                .validate()
                .is_err()
        );
    }
}
