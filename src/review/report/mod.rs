//! Renderers of a [`ReviewReport`](super::ReviewReport): `text` for people,
//! `json` for tools (DESIGN.md's shape), `sarif` 2.1.0 for code scanning,
//! `github` workflow-command annotations and `gitlab` code-quality JSON.

pub mod github;
pub mod gitlab;
pub mod json;
pub mod sarif;
pub mod text;

use super::ReviewReport;
use std::fmt;
use std::io;
use std::str::FromStr;

/// An output format of `bytegate review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `path:line:col: severity [rule] message`, with why / instead hints.
    #[default]
    Text,
    /// One JSON document: files with findings, risk, summary.
    Json,
    /// SARIF 2.1.0 (GitHub code scanning and other SARIF consumers).
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`).
    Github,
    /// GitLab code-quality JSON (`artifacts: reports: codequality`).
    Gitlab,
}

impl Format {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::Gitlab => "gitlab",
        }
    }

    /// Renders `report` in this format.
    pub fn render(self, report: &ReviewReport) -> String {
        match self {
            Format::Text => text::render(report),
            Format::Json => json::render(report),
            Format::Sarif => sarif::render(report),
            Format::Github => github::render(report),
            Format::Gitlab => gitlab::render(report),
        }
    }

    /// Writes `report` in this format to `out`, the same bytes as
    /// [`Format::render`]. JSON is streamed from the report, SARIF from its
    /// value tree: on a large review the rendered string would be as big again.
    pub fn write(self, report: &ReviewReport, out: &mut impl io::Write) -> io::Result<()> {
        match self {
            Format::Json => json::write(report, out),
            Format::Sarif => write_json(&sarif::to_value(report), out),
            other => out.write_all(other.render(report).as_bytes()),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "github" => Ok(Format::Github),
            "gitlab" => Ok(Format::Gitlab),
            other => Err(format!(
                "unknown format `{other}` (expected text, json, sarif, github or gitlab)"
            )),
        }
    }
}

/// A JSON document pretty-printed with a final newline (`fallback` if it
/// cannot be serialized, which a `Value` never fails to be).
pub(crate) fn pretty_json(value: &serde_json::Value, fallback: &str) -> String {
    let mut out = serde_json::to_string_pretty(value).unwrap_or_else(|_| fallback.to_string());
    out.push('\n');
    out
}

/// What [`pretty_json`] returns, written to `out`.
fn write_json(value: &serde_json::Value, out: &mut impl io::Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    out.write_all(b"\n")
}

/// The "why it matters" and "do instead" texts of a rule, from the registry.
pub(crate) fn rule_hint(rule: &str) -> Option<(&'static str, &'static str)> {
    super::rules::registry()
        .iter()
        .find(|r| r.id == rule)
        .map(|r| (r.why, r.instead))
}

#[cfg(test)]
pub(crate) mod tests;
