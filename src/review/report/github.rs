//! `--format github`: GitHub Actions workflow commands, one annotation per
//! finding (`::error file=…,line=…,col=…,title=…::message`) and a notice with
//! the risk.

use super::rule_hint;
use crate::review::ReviewReport;
use crate::review::finding::{RiskLevel, Severity};
use std::fmt::Write;

/// One workflow command per finding, then one for the overall risk.
pub fn render(report: &ReviewReport) -> String {
    let mut out = String::new();
    for file in &report.files {
        for f in &file.findings {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info | Severity::Off => "notice",
            };
            let start = f.span.start;
            let end_line = f.span.end.line.max(start.line);
            let mut message = f.message.clone();
            if let Some((why, instead)) = rule_hint(&f.rule) {
                if !why.is_empty() {
                    message.push_str("\nWhy: ");
                    message.push_str(why);
                }
                if !instead.is_empty() {
                    message.push_str("\nInstead: ");
                    message.push_str(instead);
                }
            } else if let Some(help) = f.help.as_deref().filter(|h| !h.trim().is_empty()) {
                message.push('\n');
                message.push_str(help.trim());
            }
            let _ = writeln!(
                out,
                "::{command} file={},line={},endLine={},col={},title={}::{}",
                escape_property(&file.path),
                start.line.max(1),
                end_line.max(1),
                start.column.max(1),
                escape_property(&format!("bytegate {}", f.rule)),
                escape_data(&message)
            );
        }
    }
    let mut risk = format!("Risk: {}", report.risk.level);
    if report.risk.level > RiskLevel::Low {
        for r in &report.risk.reasons {
            let _ = write!(risk, "\n{}:{}: {}", r.path, r.line, r.message);
        }
    }
    let _ = writeln!(
        out,
        "::notice title={}::{}",
        escape_property("bytegate risk"),
        escape_data(&risk)
    );
    out
}

/// Escapes a command's message: `%`, CR and LF (as GitHub's toolkit does).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value: the message escapes plus `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}
