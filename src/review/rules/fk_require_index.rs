//! `fk-require-index`: the referencing columns of a foreign key need an index.
//!
//! Checked after the whole migration set, so an index created by a later
//! statement or file (the usual order: table, then its indexes) counts.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "fk-require-index",
    default_severity: Severity::Warning,
    description: "foreign key columns not covered by an index on the referencing table",
    why: "PostgreSQL does not index the referencing side of a foreign key: every DELETE or key UPDATE on the referenced table scans the referencing table, and joins on the key scan too.",
    instead: "Create an index whose leading columns are the foreign key's columns (CONCURRENTLY on an existing table).",
    dialects: PG,
    check: Check::Set(check),
};

fn check(cx: &SetCtx<'_>, out: &mut Vec<Hit>) {
    for table in cx.schema.tables() {
        for fk in table.uncovered_foreign_keys() {
            out.push(cx.hit(
                fk.file,
                fk.stmt,
                fk.span,
                format!(
                    "Foreign key `{}` ({}) → `{}` has no index on `{}`.",
                    table.name,
                    fk.columns.join(", "),
                    fk.references,
                    table.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::FileChange;
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::ReviewSettings;

    const ID: &str = "fk-require-index";

    #[test]
    fn flags_unindexed_fk() {
        let sql = "CREATE TABLE user_preferences (\n  id bigint PRIMARY KEY,\n  user_id bigint NOT NULL REFERENCES users (id)\n);";
        assert_eq!(lines(sql, ID), [3]);
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, a bigint, b bigint,\n  FOREIGN KEY (a, b) REFERENCES p (x, y));\nCREATE INDEX t_b ON t (b, a);";
        assert!(lines(sql, ID).is_empty());
    }

    #[test]
    fn seed_example_with_its_index_is_fine() {
        let sql = "CREATE TABLE user_preferences (\n  id bigint PRIMARY KEY,\n  user_id bigint NOT NULL REFERENCES users (id)\n);\nCREATE INDEX idx_user_preferences_user_id ON user_preferences (user_id);";
        assert!(lines(sql, ID).is_empty());
    }

    #[test]
    fn index_must_lead_with_the_fk_columns() {
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, a bigint REFERENCES p (id));\nCREATE INDEX t_id_a ON t (id, a);";
        assert_eq!(lines(sql, ID), [1]);
        let sql = "CREATE TABLE t (a bigint PRIMARY KEY REFERENCES p (id));";
        assert!(lines(sql, ID).is_empty());
    }

    #[test]
    fn index_in_a_later_file_counts_and_alter_add_fk_is_checked() {
        let out = lint_files_with(
            &[
                (
                    "001_a.sql",
                    "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
                    FileChange::Added,
                ),
                (
                    "002_b.sql",
                    "CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);",
                    FileChange::Added,
                ),
            ],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &[],
        );
        assert!(out.iter().all(|f| f.findings.iter().all(|x| x.rule != ID)));
        assert_eq!(
            lines(
                "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
                ID
            ),
            [1]
        );
    }

    #[test]
    fn mysql_indexes_fks_itself() {
        let sql =
            "CREATE TABLE t (id bigint PRIMARY KEY, a bigint REFERENCES p (id)) ENGINE=InnoDB;";
        assert!(lines_mysql(sql, ID).is_empty());
    }
}
