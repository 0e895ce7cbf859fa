//! `--format json`: one JSON document, DESIGN.md's shape.

use crate::review::ReviewReport;

/// Pretty-printed JSON of [`ReviewReport::to_json`], with a final newline.
pub fn render(report: &ReviewReport) -> String {
    super::pretty_json(&report.to_json(), "{}")
}
