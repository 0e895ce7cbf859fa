//! Snapshot tests of the five formats over one hand-built report, so the
//! renderers are pinned independently of the rules' wording.

use super::Format;
use crate::review::finding::{Finding, Position, RiskLevel, Severity, Span};
use crate::review::risk::{FileRisk, RiskReason, RiskReport};
use crate::review::{FileReport, ReviewReport, Summary};

fn span(line: u32, column: u32, end_line: u32, end_column: u32) -> Span {
    Span {
        start: Position { line, column },
        end: Position {
            line: end_line,
            column: end_column,
        },
    }
}

fn finding(
    rule: &str,
    severity: Severity,
    span: Span,
    message: &str,
    help: Option<&str>,
) -> Finding {
    Finding {
        rule: rule.to_string(),
        severity,
        span,
        message: message.to_string(),
        help: help.map(str::to_string),
    }
}

/// Two files: one with an error, a warning whose text needs escaping and an
/// info; one clean. High risk from a DROP TABLE.
pub(crate) fn sample_report() -> ReviewReport {
    let reason = RiskReason {
        rule: "drop-table".to_string(),
        path: "schema/migrations/002_drop.sql".to_string(),
        line: 3,
        message: "DROP TABLE `old_orders` deletes the table and its data".to_string(),
    };
    ReviewReport {
        files: vec![
            FileReport {
                path: "schema/migrations/001_init.sql".to_string(),
                statements: 2,
                findings: vec![
                    finding(
                        "table-require-pk",
                        Severity::Error,
                        span(1, 1, 4, 2),
                        "Table `audit` has no primary key.",
                        Some(
                            "Rows without a key cannot be updated or replicated safely.\nAdd a PRIMARY KEY (e.g. `id bigint GENERATED ALWAYS AS IDENTITY`).",
                        ),
                    ),
                    finding(
                        "no_truncate_in_prod",
                        Severity::Warning,
                        span(6, 3, 6, 20),
                        "50% of rows: TRUNCATE, really?\nsecond line",
                        None,
                    ),
                    finding(
                        "prefer-identity",
                        Severity::Info,
                        span(2, 5, 2, 21),
                        "Column `id` uses serial; prefer GENERATED … AS IDENTITY.",
                        None,
                    ),
                ],
                suppressed: 1,
                risk: FileRisk::default(),
            },
            FileReport {
                path: "schema/migrations/002_drop.sql".to_string(),
                statements: 1,
                findings: Vec::new(),
                suppressed: 0,
                risk: FileRisk {
                    level: RiskLevel::High,
                    reasons: vec![reason.clone()],
                    statements: Vec::new(),
                },
            },
        ],
        risk: RiskReport {
            level: RiskLevel::High,
            reasons: vec![reason],
        },
        summary: Summary {
            errors: 1,
            warnings: 1,
            infos: 1,
            suppressed: 1,
        },
    }
}

#[test]
fn text_format() {
    insta::assert_snapshot!(super::text::render(&sample_report()));
}

#[test]
fn json_format() {
    insta::assert_snapshot!(super::json::render(&sample_report()));
}

#[test]
fn json_streamed_is_the_value_tree_printed() {
    // `json::write` serializes the report directly; `to_json` (the PR flow's
    // value) must print the same bytes.
    let report = sample_report();
    let mut streamed = Vec::new();
    Format::Json.write(&report, &mut streamed).unwrap();
    let expected = super::pretty_json(&report.to_json(), "{}");
    assert_eq!(String::from_utf8(streamed).unwrap(), expected);
    assert_eq!(super::json::render(&report), expected);
}

#[test]
fn sarif_format() {
    insta::assert_snapshot!(super::sarif::render(&sample_report()));
}

#[test]
fn github_format() {
    insta::assert_snapshot!(super::github::render(&sample_report()));
}

#[test]
fn gitlab_format() {
    insta::assert_snapshot!(super::gitlab::render(&sample_report()));
}

#[test]
fn write_gives_the_bytes_of_render_in_every_format() {
    let report = sample_report();
    for format in [
        super::Format::Text,
        super::Format::Json,
        super::Format::Sarif,
        super::Format::Github,
        super::Format::Gitlab,
    ] {
        let mut written = Vec::new();
        format.write(&report, &mut written).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            format.render(&report),
            "{format}"
        );
    }
}

#[test]
fn gitlab_issues_have_the_code_quality_keys_and_distinct_stable_fingerprints() {
    let mut report = sample_report();
    let v = super::gitlab::to_value(&report);
    let issues = v.as_array().unwrap();
    assert_eq!(issues.len(), 3);
    let first = &issues[0];
    assert_eq!(first["check_name"], "table-require-pk");
    assert_eq!(first["severity"], "major");
    assert_eq!(first["location"]["path"], "schema/migrations/001_init.sql");
    assert_eq!(first["location"]["lines"]["begin"], 1);
    assert_eq!(issues[1]["severity"], "minor");
    assert_eq!(issues[2]["severity"], "info");
    // A finding that only moved keeps its fingerprint; a second identical one gets another.
    let moved = &mut report.files[0].findings[0];
    moved.span.start.line += 5;
    let copy = moved.clone();
    report.files[0].findings.push(copy);
    let again = super::gitlab::to_value(&report);
    assert_eq!(again[0]["fingerprint"], first["fingerprint"]);
    assert_eq!(again[0]["location"]["lines"]["begin"], 6);
    assert_ne!(again[3]["fingerprint"], first["fingerprint"]);
    let fingerprints: std::collections::BTreeSet<&str> = again
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints.len(), 4);
}

#[test]
fn json_has_exactly_the_documented_keys() {
    let v = sample_report().to_json();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&v), ["files", "risk", "summary"]);
    assert_eq!(keys(&v["files"][0]), ["findings", "path", "statements"]);
    assert_eq!(
        keys(&v["files"][0]["findings"][0]),
        ["column", "end_line", "line", "message", "rule", "severity"]
    );
    assert_eq!(keys(&v["risk"]), ["level", "reasons"]);
    assert_eq!(keys(&v["risk"]["reasons"][0]), ["line", "path", "rule"]);
    assert_eq!(
        keys(&v["summary"]),
        ["errors", "infos", "suppressed", "warnings"]
    );
    assert_eq!(v["files"][0]["findings"][0]["end_line"], 4);
}

#[test]
fn github_properties_escape_commas_and_colons_and_data_escapes_newlines() {
    assert_eq!(
        super::github::escape_property("a,b:c%\n"),
        "a%2Cb%3Ac%25%0A"
    );
    assert_eq!(super::github::escape_data("a,b:c%\r\n"), "a,b:c%25%0D%0A");
    let out = super::github::render(&sample_report());
    let warning = out.lines().find(|l| l.starts_with("::warning")).unwrap();
    assert!(
        warning.ends_with("::50%25 of rows: TRUNCATE, really?%0Asecond line"),
        "{warning}"
    );
    assert_eq!(out.lines().count(), 4, "three findings and the risk notice");
}

#[test]
fn sarif_results_reference_rules_by_index() {
    let v = super::sarif::to_value(&sample_report());
    let run = &v["runs"][0];
    assert_eq!(v["version"], "2.1.0");
    for result in run["results"].as_array().unwrap() {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][index]["id"],
            result["ruleId"]
        );
    }
    assert_eq!(run["results"][2]["level"], "note");
}
