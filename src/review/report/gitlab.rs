//! `--format gitlab`: GitLab's code-quality report (the Code Climate subset
//! GitLab reads from `artifacts: reports: codequality`), one issue per finding.
//!
//! The fingerprint hashes path, rule, message and the finding's rank among
//! identical ones, not its line: a finding that only moved (lines added
//! above it) stays the same issue in the merge request widget.

use crate::review::ReviewReport;
use crate::review::finding::Severity;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The JSON array, pretty-printed, with a final newline.
pub fn render(report: &ReviewReport) -> String {
    super::pretty_json(&to_value(report), "[]")
}

/// GitLab's severity names (`info`, `minor`, `major`, `critical`, `blocker`).
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Info | Severity::Off => "info",
    }
}

/// The code-quality issues as a JSON array.
pub fn to_value(report: &ReviewReport) -> Value {
    let mut seen: HashMap<[u8; 32], u32> = HashMap::new();
    let mut issues = Vec::new();
    for file in &report.files {
        for f in &file.findings {
            let base: [u8; 32] = Sha256::new()
                .chain_update(file.path.as_bytes())
                .chain_update([0])
                .chain_update(f.rule.as_bytes())
                .chain_update([0])
                .chain_update(f.message.as_bytes())
                .finalize()
                .into();
            let rank = seen.entry(base).or_insert(0);
            let fingerprint = Sha256::new()
                .chain_update(base)
                .chain_update(rank.to_be_bytes())
                .finalize();
            *rank += 1;
            issues.push(json!({
                "description": f.message,
                "check_name": f.rule,
                "fingerprint": hex::encode(fingerprint),
                "severity": severity(f.severity),
                "location": {
                    "path": file.path,
                    "lines": {"begin": f.span.start.line.max(1)},
                },
            }));
        }
    }
    Value::Array(issues)
}
