//! `--format sarif`: SARIF 2.1.0 for GitHub code scanning and other consumers.
//!
//! One run; `tool.driver.rules` lists every built-in rule from the registry
//! (description, why, instead, default level) plus any custom rule that produced
//! a result, and each result points at its rule by `ruleId` and `ruleIndex`.

use crate::review::ReviewReport;
use crate::review::finding::Severity;
use crate::review::rules::registry;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF document, pretty-printed, with a final newline.
pub fn render(report: &ReviewReport) -> String {
    super::pretty_json(&to_value(report), "{}")
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
        Severity::Off => "none",
    }
}

/// The SARIF log as a JSON value.
pub fn to_value(report: &ReviewReport) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for info in registry() {
        index.insert(info.id.to_string(), rules.len());
        let mut help = String::new();
        if !info.why.is_empty() {
            help.push_str("Why: ");
            help.push_str(info.why);
        }
        if !info.instead.is_empty() {
            if !help.is_empty() {
                help.push('\n');
            }
            help.push_str("Instead: ");
            help.push_str(info.instead);
        }
        rules.push(json!({
            "id": info.id,
            "name": info.id,
            "shortDescription": {"text": info.description},
            "fullDescription": {"text": if info.why.is_empty() { info.description } else { info.why }},
            "help": {"text": if help.is_empty() { info.description.to_string() } else { help }},
            "defaultConfiguration": {"level": level(info.default_severity)},
        }));
    }
    // Custom rules (and internal errors) are not in the registry: describe them by their first message.
    for file in &report.files {
        for f in &file.findings {
            if !index.contains_key(&f.rule) {
                index.insert(f.rule.clone(), rules.len());
                rules.push(json!({
                    "id": f.rule,
                    "name": f.rule,
                    "shortDescription": {"text": f.message},
                    "defaultConfiguration": {"level": level(f.severity)},
                }));
            }
        }
    }

    let mut results = Vec::new();
    for file in &report.files {
        for f in &file.findings {
            let start = f.span.start;
            let end = f.span.end;
            let mut region = json!({
                "startLine": start.line.max(1),
                "startColumn": start.column.max(1),
                "endLine": end.line.max(start.line).max(1),
            });
            // SARIF's endColumn is exclusive; only give it when it is after the start.
            if end.column > 0 && (end.line > start.line || end.column >= start.column) {
                region["endColumn"] = json!(end.column + 1);
            }
            let mut message = f.message.clone();
            if let Some(help) = f.help.as_deref().filter(|h| !h.trim().is_empty()) {
                message.push('\n');
                message.push_str(help.trim());
            }
            results.push(json!({
                "ruleId": f.rule,
                "ruleIndex": index.get(&f.rule).copied().unwrap_or(0),
                "level": level(f.severity),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri(&file.path)},
                        "region": region,
                    }
                }],
            }));
        }
    }

    let reasons: Vec<Value> = report
        .risk
        .reasons
        .iter()
        .map(|r| json!({"rule": r.rule, "path": r.path, "line": r.line, "message": r.message}))
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bytegate",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "properties": {
                "risk": {"level": report.risk.level.as_str(), "reasons": reasons},
            },
        }],
    })
}

/// A relative URI reference for a path: `/` separators, and characters outside
/// RFC 3986's unreserved set and `/` percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
