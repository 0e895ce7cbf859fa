//! `--format json`: one JSON document, DESIGN.md's shape.

use crate::review::ReviewReport;

/// Pretty-printed JSON of [`ReviewReport::to_json`], with a final newline.
pub fn render(report: &ReviewReport) -> String {
    let mut out = serde_json::to_string_pretty(&report.to_json())
        // Serializing a `Value` cannot fail; keep the output valid JSON regardless.
        .unwrap_or_else(|_| "{}".to_string());
    out.push('\n');
    out
}
