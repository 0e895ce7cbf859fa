//! `unknown-ignore`: suppression comments that name no known rule or silence
//! nothing. Reported by the driver after suppression is applied.

use super::prelude::*;
use super::{CompiledCustomRule, FileFindings, LintInput, Suppressed, configured, is_known_name};
use crate::review::finding::Finding;
use crate::review::suppress::{Directive, Scope};

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "unknown-ignore",
    default_severity: Severity::Warning,
    description: "a bytegate-ignore comment naming an unknown rule, or one that suppressed nothing",
    why: "A misspelled or stale ignore silently does nothing (or, after the statement changes, hides nothing it should): reviewers believe a finding was looked at when it was not.",
    instead: "Name the exact rule id shown in the finding, put the comment directly above the statement (or after its last line), and delete ignores that no longer silence anything.",
    dialects: ALL,
    check: Check::Engine,
};

/// Adds `unknown-ignore` findings for `file`'s directives (after every other
/// finding has been matched against them). `bytegate-ignore-file unknown-ignore`
/// silences them.
pub(super) fn report(
    input: &LintInput<'_>,
    out: &mut FileFindings,
    stmt_dirs: Vec<Vec<Directive>>,
    mut file_dirs: Vec<Directive>,
    detached: &[Directive],
    customs: &[CompiledCustomRule],
) {
    let severity = configured(input, RULE.id, RULE.default_severity);
    let mut problems: Vec<(crate::review::finding::Span, String)> = Vec::new();
    for d in detached {
        let what = match d.scope {
            Scope::Statement => "is not directly above a statement (or after its last line)",
            Scope::File => "is not in the file header (before the first statement)",
        };
        problems.push((
            d.span,
            format!("This ignore comment {what}, so it applies to nothing."),
        ));
    }
    let all: Vec<&Directive> = stmt_dirs.iter().flatten().chain(file_dirs.iter()).collect();
    for d in &all {
        let kind = match d.scope {
            Scope::Statement => "bytegate-ignore",
            Scope::File => "bytegate-ignore-file",
        };
        if d.rules.is_empty() {
            problems.push((d.span, format!("`{kind}` names no rule.")));
        }
        for r in d.rules.iter().filter(|r| r.name != RULE.id) {
            if !is_known_name(&r.name, customs) {
                problems.push((
                    d.span,
                    format!("`{kind} {}` names an unknown rule.", r.name),
                ));
            } else if !r.used {
                problems.push((d.span, format!("`{kind} {}` suppressed nothing.", r.name)));
            }
        }
    }
    let help = Some(RULE.help());
    for (span, message) in problems {
        let silenced = file_dirs
            .iter_mut()
            .find_map(|d| d.take(RULE.id).then(|| d.reason.clone()));
        if severity == Severity::Off {
            continue;
        }
        let finding = Finding {
            rule: RULE.id.to_string(),
            severity,
            span,
            message,
            help: help.clone(),
        };
        match silenced {
            Some(reason) => out.suppressions.push(Suppressed { finding, reason }),
            None => out.findings.push(finding),
        }
    }
    // An ignore of `unknown-ignore` itself that silenced nothing.
    for d in stmt_dirs.iter().flatten().chain(file_dirs.iter()) {
        if d.rules.iter().any(|r| r.name == RULE.id && !r.used) && severity != Severity::Off {
            out.findings.push(Finding {
                rule: RULE.id.to_string(),
                severity,
                span: d.span,
                message: format!("`bytegate-ignore {}` suppressed nothing.", RULE.id),
                help: help.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::ReviewSettings;

    const ID: &str = "unknown-ignore";

    fn run(sql: &str) -> (Vec<(String, u32)>, usize) {
        let out = lint_with(sql, Dialect::Postgres, None, &ReviewSettings::default());
        (
            out.findings
                .iter()
                .map(|f| (f.rule.clone(), f.span.start.line))
                .collect(),
            out.suppressed,
        )
    }

    #[test]
    fn ignore_above_statement_suppresses_and_counts() {
        let (findings, suppressed) = run(
            "SELECT 1;\n-- bytegate-ignore drop-table -- archived in 2024\nDROP TABLE old_logs;",
        );
        assert!(
            findings.iter().all(|(r, _)| r != "drop-table"),
            "{findings:?}"
        );
        assert_eq!(suppressed, 1);
        assert!(findings.iter().all(|(r, _)| r != ID));
    }

    #[test]
    fn ignore_at_end_of_last_line_and_several_rules() {
        let (findings, suppressed) = run(
            "ALTER TABLE users\n  DROP COLUMN a; -- bytegate-ignore drop-column, require-lock-timeout",
        );
        assert!(findings.is_empty(), "{findings:?}");
        assert_eq!(suppressed, 2);
    }

    #[test]
    fn ignore_file_in_header() {
        let (findings, suppressed) =
            run("-- bytegate-ignore-file drop-table\n\nDROP TABLE a;\nDROP TABLE b;");
        assert!(findings.iter().all(|(r, _)| r != "drop-table"));
        assert_eq!(suppressed, 2);
    }

    #[test]
    fn detached_ignore_does_not_apply() {
        let (findings, _) = run("-- bytegate-ignore drop-table\n\nSELECT 1;\nDROP TABLE a;");
        assert!(findings.contains(&("drop-table".to_string(), 4)));
        assert!(findings.contains(&(ID.to_string(), 1)));
    }

    #[test]
    fn unknown_and_unused_ignores_are_warnings() {
        let (findings, suppressed) = run(
            "-- bytegate-ignore drop-tabel\nDROP TABLE a;\n-- bytegate-ignore drop-column\nSELECT 1;",
        );
        assert_eq!(suppressed, 0);
        assert!(findings.contains(&(ID.to_string(), 1)));
        assert!(findings.contains(&(ID.to_string(), 3)));
        assert!(findings.contains(&("drop-table".to_string(), 2)));
    }

    #[test]
    fn ignore_only_reaches_its_own_statement() {
        let (findings, suppressed) =
            run("-- bytegate-ignore drop-table\nDROP TABLE a;\nDROP TABLE b;");
        assert_eq!(suppressed, 1);
        assert_eq!(
            findings
                .iter()
                .filter(|(r, _)| r == "drop-table")
                .map(|(_, l)| *l)
                .collect::<Vec<_>>(),
            [3]
        );
    }

    #[test]
    fn trailing_ignore_belongs_to_its_own_statement_only() {
        let (findings, suppressed) =
            run("DROP TABLE a; -- bytegate-ignore drop-table\nDROP TABLE b;");
        assert_eq!(suppressed, 1);
        let drops: Vec<u32> = findings
            .iter()
            .filter(|(r, _)| r == "drop-table")
            .map(|(_, l)| *l)
            .collect();
        assert_eq!(drops, [2]);
        assert!(findings.iter().all(|(r, _)| r != ID), "{findings:?}");
    }

    #[test]
    fn stacked_comments_and_block_comments_attach() {
        let (findings, suppressed) = run(
            "SELECT 1;\n-- bytegate-ignore drop-table\n-- (the table was archived)\nDROP TABLE a;\n/* bytegate-ignore drop-table */\nDROP TABLE b;",
        );
        assert_eq!(suppressed, 2);
        assert!(
            findings.iter().all(|(r, _)| r != "drop-table" && r != ID),
            "{findings:?}"
        );
    }

    #[test]
    fn ignore_file_outside_the_header_is_reported() {
        let (findings, suppressed) =
            run("SELECT 1;\n-- bytegate-ignore-file drop-table\nDROP TABLE a;");
        assert_eq!(suppressed, 0);
        assert!(findings.contains(&(ID.to_string(), 2)));
        assert!(findings.contains(&("drop-table".to_string(), 3)));
    }

    #[test]
    fn custom_rule_names_can_be_ignored() {
        use crate::review::finding::Severity;
        use crate::review::settings::CustomRule;
        let settings = ReviewSettings {
            rules: Default::default(),
            max_file_bytes: None,
            custom: vec![CustomRule {
                name: "no_truncate_in_prod".into(),
                severity: Severity::Error,
                environments: vec!["production".into()],
                patterns: vec![r"\bTRUNCATE\b".into()],
                message: "no".into(),
            }],
        };
        let sql = "-- bytegate-ignore no_truncate_in_prod, truncate\nTRUNCATE sessions;";
        for env in ["production", "development"] {
            let out = lint_with(sql, Dialect::Postgres, Some(env), &settings);
            // Out of scope in development: nothing to count, but the ignore is not "unused" either.
            assert!(
                out.findings.iter().all(|f| f.rule != ID),
                "{env}: {:?}",
                out.findings
            );
            let expected = if env == "production" { 2 } else { 1 };
            assert_eq!(out.suppressed, expected, "{env}");
        }
    }
}
