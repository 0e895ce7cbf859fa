//! `--format json`: one JSON document, DESIGN.md's shape.
//!
//! Serialized straight from the report through borrowed mirror structs (no
//! `serde_json::Value` tree: on a large review building and dropping it cost
//! as much as the rules). Fields are declared in alphabetical order, the
//! order [`ReviewReport::to_json`]'s maps print in, so both give the same bytes.

use crate::review::{FileReport, ReviewReport};
use serde::Serialize;
use std::io;

/// Pretty-printed JSON of [`ReviewReport::to_json`], with a final newline.
pub fn render(report: &ReviewReport) -> String {
    let mut out = Vec::new();
    match write(report, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_else(|_| "{}\n".to_string()),
        Err(_) => "{}\n".to_string(),
    }
}

/// [`render`], written to `out`.
pub fn write(report: &ReviewReport, out: &mut impl io::Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &Doc::new(report))?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct Doc<'a> {
    files: Vec<File<'a>>,
    risk: Risk<'a>,
    summary: Summary,
}

#[derive(Serialize)]
struct File<'a> {
    findings: Vec<Finding<'a>>,
    path: &'a str,
    statements: usize,
}

#[derive(Serialize)]
struct Finding<'a> {
    column: u32,
    end_line: u32,
    line: u32,
    message: &'a str,
    rule: &'a str,
    severity: &'static str,
}

#[derive(Serialize)]
struct Risk<'a> {
    level: &'static str,
    reasons: Vec<Reason<'a>>,
}

#[derive(Serialize)]
struct Reason<'a> {
    line: u32,
    path: &'a str,
    rule: &'a str,
}

#[derive(Serialize)]
struct Summary {
    errors: usize,
    infos: usize,
    suppressed: usize,
    warnings: usize,
}

impl<'a> Doc<'a> {
    fn new(report: &'a ReviewReport) -> Self {
        Doc {
            files: report.files.iter().map(File::new).collect(),
            risk: Risk {
                level: report.risk.level.as_str(),
                reasons: report
                    .risk
                    .reasons
                    .iter()
                    .map(|r| Reason {
                        line: r.line,
                        path: &r.path,
                        rule: &r.rule,
                    })
                    .collect(),
            },
            summary: Summary {
                errors: report.summary.errors,
                infos: report.summary.infos,
                suppressed: report.summary.suppressed,
                warnings: report.summary.warnings,
            },
        }
    }
}

impl<'a> File<'a> {
    fn new(f: &'a FileReport) -> Self {
        File {
            findings: f
                .findings
                .iter()
                .map(|x| Finding {
                    column: x.span.start.column,
                    end_line: x.span.end.line.max(x.span.start.line),
                    line: x.span.start.line,
                    message: &x.message,
                    rule: &x.rule,
                    severity: x.severity.as_str(),
                })
                .collect(),
            path: &f.path,
            statements: f.statements,
        }
    }
}
