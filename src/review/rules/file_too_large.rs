//! `file-too-large`: a migration file above `review.max_file_bytes` is not
//! reviewed and never deployed.
//!
//! [`crate::review::review`] does not parse such a file (its statements are
//! empty), so this finding is the file's whole review. Its severity is always
//! error: neither the server's nor a repository's configuration, nor a
//! suppression comment, can turn it down (see `builtin_severity`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "file-too-large",
    default_severity: Severity::Error,
    description: "a migration file over `review.max_file_bytes` (default 5 MB): not reviewed, never deployed",
    why: "A file this large cannot be reviewed by people and costs minutes and gigabytes to analyse for every environment; bytegate does not parse it, so nothing about it was checked, and the deploy refuses it.",
    instead: "Split the change into reviewable migrations, and load bulk data outside migrations (COPY / LOAD DATA); an operator may raise `review.max_file_bytes` in the server's bytegate.yaml (a repository's .bytegate.yaml can only lower it).",
    dialects: ALL,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let max = cx.opts.max_file_bytes;
    if cx.file.size_bytes > max {
        out.push(cx.file_hit(format!(
            "The file is {} bytes, above the {max}-byte limit (review.max_file_bytes): it was not reviewed and will not be deployed.",
            cx.file.size_bytes
        )));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::{ReviewSettings, RuleSetting};

    const ID: &str = "file-too-large";

    fn findings(sql: &str, settings: &ReviewSettings) -> Vec<crate::review::finding::Finding> {
        lint_with(sql, Dialect::Postgres, Some("production"), settings)
            .findings
            .into_iter()
            .filter(|f| f.rule == ID)
            .collect()
    }

    fn capped(max: u64) -> ReviewSettings {
        ReviewSettings {
            max_file_bytes: Some(max),
            ..ReviewSettings::default()
        }
    }

    #[test]
    fn a_file_over_the_cap_is_an_error_on_line_one() {
        let found = findings("SELECT 1;\nSELECT 2;\n", &capped(10));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, crate::review::finding::Severity::Error);
        assert_eq!(found[0].span.start.line, 1);
        assert!(
            found[0].message.contains("20 bytes"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn a_file_at_or_under_the_cap_is_fine() {
        assert!(findings("SELECT 1;", &capped(9)).is_empty());
        assert!(findings("SELECT 1;", &ReviewSettings::default()).is_empty());
    }

    #[test]
    fn configuration_cannot_turn_the_finding_down() {
        let mut s = capped(5);
        s.rules.insert(
            ID.into(),
            RuleSetting {
                severity: Some(crate::review::finding::Severity::Off),
                ..RuleSetting::default()
            },
        );
        let found = findings("SELECT 1;", &s);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, crate::review::finding::Severity::Error);
    }

    #[test]
    fn an_ignore_comment_cannot_silence_it() {
        let sql = "-- bytegate-ignore-file file-too-large\nSELECT 1;\n";
        assert_eq!(findings(sql, &capped(5)).len(), 1);
    }
}
