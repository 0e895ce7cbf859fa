//! `migration-edited`: never change a migration that may already be applied.

use super::prelude::*;
use crate::review::FileChange;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "migration-edited",
    default_severity: Severity::Error,
    description: "a changed, renamed or deleted migration file at or before the base branch's newest version",
    why: "Environments that already applied the file will never run the edit (or will refuse to deploy because the checksum changed), so environments drift apart.",
    instead: "Leave applied migrations alone and add a new migration that makes the correction.",
    dialects: ALL,
    check: Check::File(check),
};

fn check(cx: &FileCtx<'_>, out: &mut Vec<Hit>) {
    let (what, path) = match &cx.file.change {
        FileChange::Modified => ("edited", cx.file.path),
        FileChange::Removed => ("deleted", cx.file.path),
        FileChange::Renamed { from } => ("renamed", from.as_str()),
        FileChange::Added | FileChange::Unchanged => return,
    };
    let Some(version) = super::migration_out_of_order::version_of(path) else {
        return;
    };
    let Some(newest) = super::migration_out_of_order::newest_base(cx.input.base_versions) else {
        return;
    };
    if super::migration_out_of_order::cmp_versions(&version, &newest).is_le() {
        out.push(cx.file_hit(format!(
            "Migration {} (version {}) is {what}, but the base branch already has it (newest there: {}): it may be applied already.",
            path,
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

    const ID: &str = "migration-edited";

    fn run(path: &str, change: FileChange, base: &[&str]) -> usize {
        let base: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        lint_files_with(
            &[(path, "SELECT 1;", change)],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &base,
        )[0]
        .findings
        .iter()
        .filter(|f| f.rule == ID)
        .count()
    }

    #[test]
    fn flags_edits_and_deletes_of_applied_migrations() {
        let base = ["001_a.sql", "002_b.sql", "003_c.sql"];
        assert_eq!(run("002_b.sql", FileChange::Modified, &base), 1);
        assert_eq!(run("003_c.sql", FileChange::Removed, &base), 1);
        assert_eq!(
            run(
                "009_x.sql",
                FileChange::Renamed {
                    from: "001_a.sql".into()
                },
                &base
            ),
            1
        );
    }

    #[test]
    fn new_files_and_unknown_base_are_fine() {
        assert_eq!(run("004_d.sql", FileChange::Added, &["001_a.sql"]), 0);
        assert_eq!(run("002_b.sql", FileChange::Modified, &[]), 0);
    }
}
