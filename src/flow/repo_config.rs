//! A repository's own `.bytegate.yaml`, read from the pull request's **base**
//! commit only: a pull request can never change the rules it is reviewed by.

use crate::config::MigrationSuffixes;
use crate::review::settings::ReviewSettings;
use serde::Deserialize;

/// Where the file lives in the repository.
pub const REPO_CONFIG_PATH: &str = ".bytegate.yaml";

/// What a repository may set for its own reviews.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RepoConfig {
    /// Folder of the migrations (overrides `project.migrations_dir`).
    pub migrations_dir: Option<String>,
    /// Migration file suffixes and their dialect (over `project.migration_suffixes`,
    /// per suffix), e.g. `.sql.postgres: postgres`, `.sql.sqlite: ignore`.
    pub migration_suffixes: MigrationSuffixes,
    /// Rule severities/options (per rule id, over the server's) and extra custom rules.
    pub review: Option<ReviewSettings>,
}

impl RepoConfig {
    /// Parses the file; the error names what is wrong.
    pub fn parse(text: &str) -> Result<RepoConfig, String> {
        if text.trim().is_empty() {
            return Ok(RepoConfig::default());
        }
        let config: RepoConfig =
            serde_norway::from_str(text).map_err(|e| format!("{REPO_CONFIG_PATH}: {e}"))?;
        config
            .migration_suffixes
            .validate()
            .map_err(|e| format!("{REPO_CONFIG_PATH}: migration_suffixes: {e}"))?;
        Ok(config)
    }

    /// The server's suffix mapping with this repository's on top.
    pub fn merged_suffixes(&self, server: &MigrationSuffixes) -> MigrationSuffixes {
        server.with(&self.migration_suffixes)
    }

    /// The server's review settings with this repository's on top: its rule
    /// settings replace the server's for the same rule id; its custom rules are added.
    pub fn merged_review(&self, server: &ReviewSettings) -> ReviewSettings {
        let mut out = server.clone();
        if let Some(own) = &self.review {
            for (id, setting) in &own.rules {
                out.rules.insert(id.clone(), setting.clone());
            }
            out.custom.extend(own.custom.iter().cloned());
            out.lower_max_file_bytes(own.max_file_bytes);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::finding::Severity;

    #[test]
    fn repository_rules_override_per_rule_and_add_custom_rules() {
        let repo = RepoConfig::parse(
            "migrations_dir: db/migrate\nreview:\n  rules:\n    drop-table: {severity: warning}\n  custom:\n    - {name: no-truncate, severity: error, patterns: ['TRUNCATE'], message: no}\n",
        )
        .unwrap();
        assert_eq!(repo.migrations_dir.as_deref(), Some("db/migrate"));
        let merged = repo.merged_review(&ReviewSettings::default());
        assert_eq!(merged.rules["drop-table"].severity, Some(Severity::Warning));
        assert_eq!(merged.custom.len(), 1);
    }

    #[test]
    fn suffix_mappings_are_read_validated_and_merged_over_the_servers() {
        use crate::config::{FileKind, SuffixTarget};
        use crate::review::model::Dialect;
        let repo = RepoConfig::parse(
            "migration_suffixes:\n  .sql.postgres: postgres\n  .sql.sqlite: ignore\n",
        )
        .unwrap();
        let server = MigrationSuffixes(
            [(".sql.mysql".to_string(), SuffixTarget::Mysql)]
                .into_iter()
                .collect(),
        );
        let merged = repo.merged_suffixes(&server);
        assert_eq!(
            merged.kind("m/1.sql.postgres"),
            FileKind::Pinned(Dialect::Postgres)
        );
        assert_eq!(merged.kind("m/1.sql.sqlite"), FileKind::Other);
        assert_eq!(
            merged.kind("m/1.sql.mysql"),
            FileKind::Pinned(Dialect::Mysql)
        );
        let err = RepoConfig::parse("migration_suffixes:\n  postgres: postgres\n").unwrap_err();
        assert!(
            err.contains("migration_suffixes") && err.contains("`postgres`"),
            "{err}"
        );
        assert!(RepoConfig::parse("migration_suffixes:\n  .x: sqlite\n").is_err());
    }

    #[test]
    fn unknown_keys_and_empty_files() {
        assert!(RepoConfig::parse("environments: []").is_err());
        assert_eq!(RepoConfig::parse("  \n").unwrap(), RepoConfig::default());
    }
}
