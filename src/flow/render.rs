//! What the pull request shows: the check's title, summary and annotations,
//! and the sticky comment. Pure functions of the combined review.

use super::analysis::{Combined, MergedFinding};
use crate::forge::{Annotation, AnnotationLevel, truncate_with_note};
use crate::review::finding::{RiskLevel, Severity};
use std::fmt::Write;

/// Name of the review check (check run or commit status).
pub const CHECK_NAME: &str = "bytegate/sql-review";
/// Hidden marker that identifies bytegate's sticky comment.
pub const COMMENT_MARKER: &str = "<!-- bytegate:sql-review -->";
/// Start of the approval section (filled by the approval flow).
pub const APPROVALS_START: &str = "<!-- bytegate:approvals:start -->";
/// End of the approval section.
pub const APPROVALS_END: &str = "<!-- bytegate:approvals:end -->";

/// Risk reasons listed per environment in the comment.
const MAX_REASONS_COMMENT: usize = 10;
/// Risk reasons listed per environment in the check summary.
const MAX_REASONS_SUMMARY: usize = 50;

/// What the renderers need besides the review itself.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// Reviewed commit.
    pub head_sha: &'a str,
    /// The PR comes from a fork (reviewed statically only).
    pub is_fork: bool,
    /// More than one environment was reviewed (show the environment column).
    pub multi_env: bool,
    /// Web URL of the reviewed files (`{blob_url}/{path}#L{line}`): line
    /// numbers in the comment link there. See `Forge::blob_url`.
    pub blob_url: Option<&'a str>,
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// `2 errors, 1 warning · risk high` (or `No findings · risk low`).
pub fn check_title(c: &Combined) -> String {
    let mut parts = Vec::new();
    if c.errors > 0 {
        parts.push(plural(c.errors, "error"));
    }
    if c.warnings > 0 {
        parts.push(plural(c.warnings, "warning"));
    }
    if c.infos > 0 {
        parts.push(plural(c.infos, "info"));
    }
    let counts = if parts.is_empty() {
        "No findings".to_string()
    } else {
        parts.join(", ")
    };
    format!("{counts} · risk {}", c.risk)
}

/// Markdown cell text: no pipes or line breaks.
/// Text from a pull request (or derived from it) in a markdown table cell or
/// line: one line, no pipes, no HTML (a PR cannot forge bytegate's hidden
/// markers or markup), no @mentions that would notify people.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width space keeps `@name` from mentioning anyone.
            '@' => out.push_str("@\u{200b}"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Inline code that survives backticks and line breaks in the text (a code
/// span shows HTML and mentions literally).
pub fn code(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => '?',
            c => c,
        })
        .collect();
    // Not even inside code: no copy of a hidden marker in bytegate's comments.
    format!("`{}`", clean.replace("<!--", "<!\u{200b}--"))
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
        Severity::Off => "off",
    }
}

fn envs_label(m: &MergedFinding) -> String {
    match &m.only_in {
        None => "all".to_string(),
        Some(envs) => envs.join(", "),
    }
}

/// Risk per environment with its reasons (at most `max_reasons` each; the rest counted).
fn risk_section(out: &mut String, c: &Combined, max_reasons: usize) {
    let _ = writeln!(out, "**Risk: {}**\n", c.risk.as_str().to_uppercase());
    for r in &c.risks {
        let name = r.environment.as_deref().unwrap_or("all environments");
        let _ = writeln!(out, "- {name}: **{}**", r.level);
        if r.level > RiskLevel::Low {
            for reason in r.reasons.iter().take(max_reasons) {
                let _ = writeln!(
                    out,
                    "  - {} (`{}` line {}): {}",
                    code(&reason.path),
                    cell(&reason.rule),
                    reason.line,
                    cell(&reason.message)
                );
            }
            let more = r.reasons.len().saturating_sub(max_reasons);
            if more > 0 {
                let _ = writeln!(out, "  - …and {}", plural(more, "more reason"));
            }
        }
    }
    out.push('\n');
}

/// Findings tables per file; at most `limit` findings (the rest counted).
/// A repository path as a URL path (each segment percent-encoded).
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(crate::forge::encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

fn findings_section(out: &mut String, c: &Combined, ctx: &RenderContext<'_>, limit: usize) {
    let mut shown = 0;
    // Files reviewed, then other files with findings (the repository config).
    let mut sections: Vec<(&str, String)> = c
        .files
        .iter()
        .map(|(path, change, statements)| {
            (
                path.as_str(),
                format!("{change}, {}", plural(*statements, "statement")),
            )
        })
        .collect();
    for m in &c.findings {
        if !sections.iter().any(|(p, _)| *p == m.path) {
            sections.push((m.path.as_str(), "changed".to_string()));
        }
    }
    for (path, label) in sections {
        let _ = writeln!(out, "#### {} ({label})\n", code(path));
        if let Some((_, how)) = c.rollback.iter().find(|(p, _)| p == path) {
            let _ = writeln!(out, "↩️ Rollback: {}\n", cell(how));
        }
        let findings: Vec<&MergedFinding> = c.findings.iter().filter(|m| m.path == path).collect();
        if findings.is_empty() {
            out.push_str("No findings.\n\n");
            continue;
        }
        if ctx.multi_env {
            out.push_str(
                "| Severity | Line | Rule | Message | Environments |\n|---|---|---|---|---|\n",
            );
        } else {
            out.push_str("| Severity | Line | Rule | Message |\n|---|---|---|---|\n");
        }
        for m in findings {
            if shown >= limit {
                break;
            }
            shown += 1;
            let f = &m.finding;
            let line = f.span.start.line;
            let line = match ctx.blob_url {
                Some(base) => format!("[{line}]({base}/{}#L{line})", encode_path(path)),
                None => line.to_string(),
            };
            let _ = write!(
                out,
                "| {} | {} | `{}` | {} |",
                severity_label(f.severity),
                line,
                cell(&f.rule),
                cell(&f.message)
            );
            if ctx.multi_env {
                let _ = write!(out, " {} |", cell(&envs_label(m)));
            }
            out.push('\n');
        }
        out.push('\n');
    }
    let hidden = c.findings.len().saturating_sub(shown);
    if hidden > 0 {
        let _ = writeln!(
            out,
            "…and {} not shown here (size limit); the check run lists them all.\n",
            plural(hidden, "more finding")
        );
    }
}

/// The check run's markdown summary.
pub fn check_summary(c: &Combined, ctx: &RenderContext<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Reviewed {} at {}.\n",
        plural(c.files.len(), "migration file"),
        code(short(ctx.head_sha))
    );
    if ctx.is_fork {
        out.push_str("This pull request comes from a fork: it was reviewed statically; no database was contacted.\n\n");
    }
    risk_section(&mut out, c, MAX_REASONS_SUMMARY);
    findings_section(&mut out, c, ctx, usize::MAX);
    if c.suppressed > 0 {
        let _ = writeln!(
            out,
            "{} suppressed by `bytegate-ignore` comments.",
            plural(c.suppressed, "finding")
        );
    }
    out
}

/// Line annotations for the check run.
pub fn annotations(c: &Combined) -> Vec<Annotation> {
    c.findings
        .iter()
        // A refused path is no path to annotate (the summary and comment say it).
        .filter(|m| super::analysis::refused_path(&m.path).is_none())
        .map(|m| {
            let f = &m.finding;
            let level = match f.severity {
                Severity::Error => AnnotationLevel::Failure,
                Severity::Warning => AnnotationLevel::Warning,
                Severity::Info | Severity::Off => AnnotationLevel::Notice,
            };
            let mut message = f.message.clone();
            if let Some(envs) = &m.only_in {
                let _ = write!(message, " (environments: {})", envs.join(", "));
            }
            Annotation {
                path: m.path.clone(),
                start_line: f.span.start.line.max(1),
                end_line: f.span.end.line.max(f.span.start.line).max(1),
                level,
                title: f.rule.clone(),
                message,
                details: f.help.clone(),
            }
        })
        .collect()
}

fn approvals_section(out: &mut String) {
    out.push_str("### Approvals\n\n");
    out.push_str(APPROVALS_START);
    out.push_str("\n_Approval status will appear here._\n");
    out.push_str(APPROVALS_END);
    out.push_str("\n\n");
}

fn comment_with_limit(c: &Combined, ctx: &RenderContext<'_>, limit: usize) -> String {
    let mut out = String::new();
    out.push_str(COMMENT_MARKER);
    out.push_str("\n## bytegate SQL review\n\n");
    let _ = writeln!(
        out,
        "{} at {} · {}\n",
        plural(c.files.len(), "migration file"),
        code(short(ctx.head_sha)),
        check_title(c)
    );
    if ctx.is_fork {
        out.push_str("> This pull request comes from a fork: it was reviewed statically; no database was contacted.\n\n");
    }
    out.push_str("### Risk\n\n");
    risk_section(&mut out, c, MAX_REASONS_COMMENT);
    approvals_section(&mut out);
    out.push_str("### Findings\n\n");
    findings_section(&mut out, c, ctx, limit);
    let _ = writeln!(
        out,
        "<sub>bytegate edits this comment on every push. Reviewed commit: {}.</sub>",
        ctx.head_sha
    );
    out
}

/// The sticky comment, within `max_chars` (findings beyond the limit are
/// counted, not listed; the check run has them all).
pub fn comment(c: &Combined, ctx: &RenderContext<'_>, max_chars: usize) -> String {
    let mut limit = c.findings.len();
    loop {
        let body = comment_with_limit(c, ctx, limit);
        if body.chars().count() <= max_chars {
            return body;
        }
        if limit == 0 {
            return truncate_with_note(&body, max_chars, "\n\n…(truncated)");
        }
        limit /= 2;
    }
}

/// The sticky comment once the PR no longer changes any migration.
pub fn comment_no_migrations(head_sha: &str) -> String {
    format!(
        "{COMMENT_MARKER}\n## bytegate SQL review\n\nThis pull request no longer changes any migration (as of {}). Nothing to review.\n",
        code(short(head_sha))
    )
}

#[cfg(test)]
mod tests {
    use super::super::analysis::{EnvRisk, MergedFinding};
    use super::*;
    use crate::forge::CheckConclusion;
    use crate::review::finding::{Finding, Position, Span};
    use crate::review::risk::RiskReason;

    fn combined(n: usize) -> Combined {
        let findings = (0..n)
            .map(|i| MergedFinding {
                path: "schema/migrations/002_drop.sql".into(),
                finding: Finding {
                    rule: "drop-table".into(),
                    severity: if i == 0 {
                        Severity::Error
                    } else {
                        Severity::Warning
                    },
                    span: Span {
                        start: Position {
                            line: 3 + i as u32,
                            column: 1,
                        },
                        end: Position {
                            line: 3 + i as u32,
                            column: 20,
                        },
                    },
                    message: "Dropping table `users` | loses data".into(),
                    help: Some("Keep the table.".into()),
                },
                only_in: if i == 1 {
                    Some(vec!["production".into()])
                } else {
                    None
                },
            })
            .collect();
        Combined {
            files: vec![("schema/migrations/002_drop.sql".into(), "added".into(), 2)],
            findings,
            risks: vec![
                EnvRisk {
                    environment: Some("staging".into()),
                    level: RiskLevel::Medium,
                    reasons: vec![],
                },
                EnvRisk {
                    environment: Some("production".into()),
                    level: RiskLevel::High,
                    reasons: vec![RiskReason {
                        rule: "drop-table".into(),
                        path: "schema/migrations/002_drop.sql".into(),
                        line: 3,
                        message: "DROP TABLE destroys data".into(),
                    }],
                },
            ],
            risk: RiskLevel::High,
            errors: 1,
            warnings: n.saturating_sub(1),
            infos: 0,
            suppressed: 0,
            conclusion: CheckConclusion::Failure,
            rollback: vec![(
                "schema/migrations/002_drop.sql".into(),
                "not reversible: statement 1 (DROP TABLE: what it dropped is gone); add a down script to make it so".into(),
            )],
        }
    }

    const CTX: RenderContext<'static> = RenderContext {
        head_sha: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        is_fork: false,
        multi_env: true,
        blob_url: None,
    };

    #[test]
    fn title_counts_and_risk() {
        assert_eq!(check_title(&combined(2)), "1 error, 1 warning · risk high");
        let mut c = combined(0);
        c.errors = 0;
        c.risk = RiskLevel::Low;
        assert_eq!(check_title(&c), "No findings · risk low");
    }

    #[test]
    fn comment_snapshot() {
        insta::assert_snapshot!(comment(&combined(2), &CTX, 65_536));
    }

    #[test]
    fn comment_fits_the_limit_and_keeps_marker_and_approvals() {
        let c = combined(2000);
        let body = comment(&c, &CTX, 20_000);
        assert!(body.chars().count() <= 20_000);
        assert!(body.starts_with(COMMENT_MARKER));
        assert!(body.contains(APPROVALS_START) && body.contains(APPROVALS_END));
        assert!(body.contains("not shown here"));
    }

    #[test]
    fn annotations_carry_level_line_and_environment() {
        let a = annotations(&combined(2));
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].level, AnnotationLevel::Failure);
        assert_eq!((a[0].start_line, a[0].end_line), (3, 3));
        assert_eq!(a[0].title, "drop-table");
        assert!(a[1].message.ends_with("(environments: production)"));
    }
}
