//! `max-sql-size`: keep migration files reviewable.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "max-sql-size",
    default_severity: Severity::Warning,
    description: "a migration file over the configured size (default 2 MB)",
    why: "Huge migration files are usually data dumps: they cannot be reviewed, run long in one transaction and hold their locks throughout.",
    instead: "Load bulk data with COPY / LOAD DATA outside migrations, or split the change; raise `review.rules.max-sql-size.max_bytes` if the file really belongs here.",
    dialects: ALL,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let max = cx.opts.max_sql_bytes;
    // Above the hard cap `file-too-large` says it all.
    if cx.file.size_bytes > max && cx.file.size_bytes <= cx.opts.max_file_bytes {
        out.push(cx.file_hit(format!(
            "The file is {} bytes, above the {max}-byte limit.",
            cx.file.size_bytes
        )));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::{ReviewSettings, RuleSetting};

    const ID: &str = "max-sql-size";

    fn count(sql: &str, max: Option<u64>) -> usize {
        let mut s = ReviewSettings::default();
        s.rules.insert(
            ID.into(),
            RuleSetting {
                max_bytes: max,
                ..RuleSetting::default()
            },
        );
        lint_with(sql, Dialect::Postgres, None, &s)
            .findings
            .iter()
            .filter(|f| f.rule == ID && f.span.start.line == 1)
            .count()
    }

    #[test]
    fn flags_files_over_the_limit() {
        assert_eq!(count("SELECT 1;\nSELECT 2;", Some(10)), 1);
    }

    #[test]
    fn small_files_are_fine() {
        assert_eq!(count("SELECT 1;", None), 0);
        assert_eq!(count("SELECT 1;", Some(100)), 0);
    }
}
