//! `--format text`: findings for people, then the risk and a summary line.

use super::rule_hint;
use crate::review::ReviewReport;
use crate::review::finding::RiskLevel;
use std::fmt::Write;

/// `path:line:col: severity [rule] message`, each followed by why / instead
/// hints; then the risk with its reasons, then the counts.
pub fn render(report: &ReviewReport) -> String {
    let mut out = String::new();
    for file in &report.files {
        for f in &file.findings {
            let _ = writeln!(
                out,
                "{}:{}:{}: {} [{}] {}",
                file.path,
                f.span.start.line,
                f.span.start.column,
                f.severity,
                f.rule,
                one_line(&f.message)
            );
            for line in hint_lines(f.help.as_deref(), &f.rule) {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = write!(out, "risk: {}", report.risk.level);
    if report.risk.level > RiskLevel::Low {
        out.push('\n');
        for r in &report.risk.reasons {
            let _ = writeln!(
                out,
                "  {}:{}: {} ({})",
                r.path,
                r.line,
                one_line(&r.message),
                r.rule
            );
        }
    } else {
        out.push('\n');
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{} {}, {} {}: {} {}, {} {}, {} {}, {} suppressed",
        report.files.len(),
        plural(report.files.len(), "file", "files"),
        report.statement_count(),
        plural(report.statement_count(), "statement", "statements"),
        s.errors,
        plural(s.errors, "error", "errors"),
        s.warnings,
        plural(s.warnings, "warning", "warnings"),
        s.infos,
        plural(s.infos, "info", "infos"),
        s.suppressed,
    );
    out
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// Messages stay on one line so `path:line:col` parsers (editors, grep) keep working.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rule's why / instead texts from the registry; for rules outside it
/// (custom rules), the finding's own help.
fn hint_lines(help: Option<&str>, rule: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some((why, instead)) = rule_hint(rule) {
        if !why.is_empty() {
            lines.push(format!("why: {}", one_line(why)));
        }
        if !instead.is_empty() {
            lines.push(format!("instead: {}", one_line(instead)));
        }
    } else if let Some(help) = help {
        lines.extend(
            help.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    lines
}
