//! The `review` and `risk` sections of `bytegate.yaml`.

use super::finding::{RiskLevel, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `review:`: rule severities and options, and custom pattern rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewSettings {
    /// Per built-in rule id: severity (overall and per environment) and options.
    pub rules: BTreeMap<String, RuleSetting>,
    /// Regex rules written by the team.
    pub custom: Vec<CustomRule>,
    /// Largest migration file that is reviewed, in bytes (default
    /// [`DEFAULT_MAX_FILE_BYTES`]). A larger file is not parsed: it gets a
    /// `file-too-large` error and is never deployable. A repository's
    /// `.bytegate.yaml` may lower it, never raise it
    /// ([`ReviewSettings::lower_max_file_bytes`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file_bytes: Option<u64>,
}

/// Default of `review.max_file_bytes`: 5 MiB. Real migrations are far smaller;
/// a pull request's file is untrusted input, and the review of one file is
/// repeated for every environment.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

impl ReviewSettings {
    /// The file size cap in effect (`review.max_file_bytes` or the default).
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES)
    }

    /// Applies a repository's own `max_file_bytes` on top of the server's: it
    /// may lower the cap, never raise it (the repository is what a pull request
    /// author controls).
    pub fn lower_max_file_bytes(&mut self, repo: Option<u64>) {
        if let Some(repo) = repo {
            self.max_file_bytes = Some(repo.min(self.max_file_bytes()));
        }
    }
}

/// Configuration of one built-in rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuleSetting {
    /// Severity in every environment, unless `environments` says otherwise.
    pub severity: Option<Severity>,
    /// Severity per environment name (overrides `severity`).
    pub environments: BTreeMap<String, Severity>,
    /// Regexes: `naming-snake-case` (names must match), `drop-table-naming`
    /// (tables that may be dropped).
    pub pattern: Option<String>,
    /// Length limits: `text-type-limit`, `char-length-limit`,
    /// `comment-max-length` (characters), `naming-snake-case` (bytes).
    pub max_length: Option<u32>,
    /// Size limits: `max-sql-size` (bytes; the hard cap is `review.max_file_bytes`).
    pub max_bytes: Option<u64>,
    /// Count limits: keys per index, indexes per table, rows per INSERT, LIMIT value.
    pub max: Option<u64>,
    /// Names: required columns, allowed or banned types, allowed charsets and collations.
    pub list: Option<Vec<String>>,
    /// Naming templates (`idx_{{table}}_{{column_list}}`, ...), Bytebase's tokens.
    pub template: Option<String>,
}

/// A team's own rule: regexes matched on the statement text with comments
/// stripped and whitespace folded to single spaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    /// Rule name as shown in findings (e.g. `no_truncate_in_prod`).
    pub name: String,
    /// Severity of a match.
    pub severity: Severity,
    /// Environments the rule applies to; empty means all.
    #[serde(default)]
    pub environments: Vec<String>,
    /// Regexes; any match flags the statement (case-insensitive unless the regex says otherwise).
    pub patterns: Vec<String>,
    /// What the author is told.
    pub message: String,
}

/// `risk:`: which environments count as production, thresholds, and ordered
/// override rules (first match wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSettings {
    /// Environments where any schema change is high risk.
    pub production_environments: Vec<String>,
    /// A row estimate above this makes a change at least medium risk.
    pub large_table_rows: u64,
    /// Ordered overrides; the first matching rule sets the level.
    pub rules: Vec<RiskRule>,
    /// Row estimates per table name (until the target's catalog is read): a
    /// change to a table above `large_table_rows` is at least medium risk.
    pub table_rows: BTreeMap<String, u64>,
}

impl Default for RiskSettings {
    fn default() -> Self {
        RiskSettings {
            production_environments: vec!["production".to_string()],
            large_table_rows: 1_000_000,
            rules: Vec::new(),
            table_rows: BTreeMap::new(),
        }
    }
}

/// One risk override: when every given condition matches, use `level`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRule {
    /// Level to assign.
    pub level: RiskLevel,
    /// Environment name to match.
    #[serde(default)]
    pub environment: Option<String>,
    /// Statement class to match (e.g. `drop-table`, `create-index`, `update`).
    #[serde(default)]
    pub statement: Option<String>,
    /// Table name to match.
    #[serde(default)]
    pub table: Option<String>,
    /// Minimum row estimate to match.
    #[serde(default)]
    pub min_rows: Option<u64>,
    /// Reason shown with the level.
    #[serde(default)]
    pub reason: Option<String>,
}
