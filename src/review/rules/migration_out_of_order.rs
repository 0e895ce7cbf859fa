//! `migration-out-of-order`: a new migration must sort after every applied one.

use super::prelude::*;
use crate::review::FileChange;
use crate::review::version::version_key;
use std::cmp::Ordering;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "migration-out-of-order",
    default_severity: Severity::Error,
    description: "a new migration file whose version sorts at or before one already on the base branch",
    why: "Environments that applied the later migrations will either skip this one or refuse to deploy; a fresh database would run the files in a different order than production did.",
    instead: "Rename the file with a version after the base branch's newest (rebase and renumber).",
    dialects: ALL,
    check: Check::File(check),
};

/// The numeric version parts of a migration path, when it has a version.
pub(super) fn version_of(path: &str) -> Option<Vec<String>> {
    version_key(path)
        .version()
        .map(|v| v.split('.').map(str::to_string).collect())
}

/// The newest version among the base branch's migrations.
pub(super) fn newest_base(base: &[String]) -> Option<Vec<String>> {
    base.iter()
        .filter_map(|p| version_of(p))
        .max_by(|a, b| cmp_versions(a, b))
}

/// Compares versions part by part as numbers (parts have no leading zeros).
pub(super) fn cmp_versions(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    if cx.file.change != FileChange::Added {
        return;
    }
    // Without base versions (most local runs) the path need not be read.
    let Some(newest) = newest_base(cx.input.base_versions) else {
        return;
    };
    let Some(version) = version_of(cx.file.path) else {
        return;
    };
    if cmp_versions(&version, &newest).is_le() {
        out.push(cx.file_hit(format!(
            "New migration version {} sorts at or before {}, the newest on the base branch.",
            version.join("."),
            newest.join(".")
        )));
    }
}

#[cfg(test)]
mod tests {
    use crate::review::FileChange;
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::ReviewSettings;

    const ID: &str = "migration-out-of-order";

    fn run(path: &str, base: &[&str]) -> Vec<u32> {
        let base: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        lint_files_with(
            &[(path, "SELECT 1;", FileChange::Added)],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &base,
        )[0]
        .findings
        .iter()
        .filter(|f| f.rule == ID)
        .map(|f| f.span.start.line)
        .collect()
    }

    #[test]
    fn flags_new_file_before_newest() {
        assert_eq!(run("002_late.sql", &["001_a.sql", "010_b.sql"]), [1]);
        assert_eq!(run("010_dup.sql", &["001_a.sql", "010_b.sql"]), [1]);
    }

    #[test]
    fn newer_or_unversioned_is_fine() {
        assert!(run("011_c.sql", &["001_a.sql", "010_b.sql"]).is_empty());
        assert!(run("seed.sql", &["001_a.sql"]).is_empty());
        assert!(run("001_a.sql", &[]).is_empty());
    }
}
