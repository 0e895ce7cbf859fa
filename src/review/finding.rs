//! What a review produces: findings with a location, a rule id and a severity.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How serious a finding is. `Off` only appears in configuration: a rule set to
/// `off` produces no findings.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule is disabled.
    Off,
    /// Shown, never blocks.
    Info,
    /// Shown, makes the check neutral.
    Warning,
    /// Fails the check and `bytegate review` (exit 1).
    Error,
}

impl Severity {
    /// The lowercase name used in config, JSON and text output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Off => "off",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "off" => Ok(Severity::Off),
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity `{other}` (expected off, info, warning or error)"
            )),
        }
    }
}

/// A 1-based position in a source file (columns count characters).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// The part of a file a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Span {
    /// First character.
    pub start: Position,
    /// Last character (inclusive line; column may be approximate).
    pub end: Position,
}

/// One thing a rule found in one statement (or file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (kebab-case, e.g. `table-require-pk`), or a custom rule's name.
    pub rule: String,
    /// Effective severity after configuration.
    pub severity: Severity,
    /// Where in the file.
    pub span: Span,
    /// What is wrong, in one sentence, naming the object.
    pub message: String,
    /// Why it matters and what to do instead (shown to people, not in JSON).
    pub help: Option<String>,
}

/// The risk of a statement, a file or a whole change.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    /// New objects, nullable columns, concurrent index builds, comments, grants.
    #[default]
    Low,
    /// Type changes, blocking index builds, scans under lock, DML with WHERE.
    Medium,
    /// Destructive changes, DML without WHERE, any DDL in production.
    High,
}

impl RiskLevel {
    /// The lowercase name used in config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

impl fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
