//! `table-require-pk`: every table needs a primary key.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "table-require-pk",
    default_severity: Severity::Error,
    description: "CREATE TABLE without a primary key, or dropping a table's primary key",
    why: "Without a primary key rows cannot be addressed reliably: replication, CDC tools, ORMs and online schema-change tools need one, and duplicates creep in.",
    instead: "Declare a primary key (e.g. `id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`); to replace a key, add the new one in the same ALTER TABLE that drops the old.",
    dialects: ALL,
    // Dropping a key is judged per statement; a created table after the last
    // file, so a key added later (pg_dump's `ALTER TABLE … ADD CONSTRAINT …
    // PRIMARY KEY`, in this file or a later one) counts.
    check: Check::StatementAndSet(check, check_created),
};

/// Tables the change created that still have no primary key after its last
/// statement.
fn check_created(cx: &SetCtx<'_>, out: &mut Vec<Hit>) {
    for table in cx.schema.tables() {
        let Origin::New { file, stmt } = table.origin else {
            continue;
        };
        if table.primary_key.is_some() {
            continue;
        }
        let Some(created) = cx.statement(file, stmt) else {
            continue;
        };
        let StatementKind::CreateTable(ct) = &created.kind else {
            continue; // views
        };
        // Derived tables (AS SELECT, LIKE, PARTITION OF) get their shape elsewhere.
        if ct.derived || ct.partition_of.is_some() || ct.temporary {
            continue;
        }
        out.push(cx.hit(
            file,
            stmt,
            ct.name.span().unwrap_or(created.span),
            format!("Table `{}` has no primary key.", ct.name),
        ));
    }
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::AlterTable(at) = &cx.stmt.kind else {
        return;
    };
    let adds_pk = at.actions.iter().any(|a| match a {
        AlterAction::AddConstraint { constraint } => {
            matches!(constraint.kind, ConstraintKind::PrimaryKey { .. })
        }
        AlterAction::AddColumn { column, .. }
        | AlterAction::ModifyColumn { column }
        | AlterAction::ChangeColumn { column, .. } => column.primary_key,
        _ => false,
    });
    if adds_pk {
        return;
    }
    let table = cx.schema.table(&at.name);
    for a in &at.actions {
        let dropped = match a {
            AlterAction::DropPrimaryKey => Some(None),
            // A key column takes the key with it.
            AlterAction::DropColumn { name, .. } => {
                let n = name.normalized();
                table
                    .and_then(|t| t.primary_key.as_ref())
                    .is_some_and(|pk| pk.contains(&n))
                    .then_some(Some(name))
            }
            AlterAction::DropConstraint { name, .. } => {
                let n = name.normalized();
                let known_pk =
                    table.is_some_and(|t| t.constraints_named(&n).any(|c| c.primary_key));
                // PostgreSQL names an unnamed primary key `<table>_pkey`.
                (known_pk || n.ends_with("_pkey")).then_some(Some(name))
            }
            _ => None,
        };
        if let Some(name) = dropped {
            out.push(cx.hit(
                name.and_then(|n| n.span),
                format!("This drops the primary key of table `{}`.", at.name),
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

    const ID: &str = "table-require-pk";

    #[test]
    fn flags_table_without_pk() {
        let sql = "SELECT 1;\nCREATE TABLE user_preferences (\n  user_id bigint NOT NULL,\n  theme text\n);";
        assert_eq!(lines(sql, ID), [2]);
        assert_eq!(lines_mysql(sql, ID), [2]);
    }

    #[test]
    fn accepts_inline_and_table_level_pk() {
        assert!(lines("CREATE TABLE a (id bigint PRIMARY KEY);", ID).is_empty());
        assert!(
            lines(
                "CREATE TABLE a (x bigint, y bigint, PRIMARY KEY (x, y));",
                ID
            )
            .is_empty()
        );
        assert!(
            lines(
                "CREATE TABLE a (id bigint, CONSTRAINT a_pk PRIMARY KEY (id));",
                ID
            )
            .is_empty()
        );
        assert!(lines("CREATE TABLE p PARTITION OF parent FOR VALUES IN (1);", ID).is_empty());
    }

    #[test]
    fn flags_dropping_the_pk() {
        assert_eq!(
            lines("ALTER TABLE users DROP CONSTRAINT users_pkey;", ID),
            [1]
        );
        assert_eq!(
            lines(
                "CREATE TABLE t (id bigint, CONSTRAINT t_key PRIMARY KEY (id));\nALTER TABLE t DROP CONSTRAINT t_key;",
                ID
            ),
            // Line 1 too: the new table ends without a key.
            [1, 2]
        );
        assert_eq!(lines_mysql("ALTER TABLE users DROP PRIMARY KEY;", ID), [1]);
    }

    #[test]
    fn a_key_added_later_counts() {
        // pg_dump's shape: the key comes in an ALTER TABLE after the data.
        let sql = "CREATE TABLE a (id bigint NOT NULL, n text);\nALTER TABLE ONLY a ADD CONSTRAINT a_pkey PRIMARY KEY (id);";
        assert!(lines(sql, ID).is_empty());
        let sql = "CREATE TABLE a (id bigint NOT NULL);\nALTER TABLE a ADD PRIMARY KEY (id);";
        assert!(lines_mysql(sql, ID).is_empty());
        let sql = "CREATE TABLE a (id bigint NOT NULL);\nALTER TABLE a MODIFY COLUMN id bigint NOT NULL PRIMARY KEY;";
        assert!(lines_mysql(sql, ID).is_empty());
        let sql = "CREATE TABLE a (x bigint NOT NULL);\nALTER TABLE a CHANGE COLUMN x id bigint NOT NULL PRIMARY KEY;";
        assert!(lines_mysql(sql, ID).is_empty());
        // Still flagged when nothing adds one.
        let sql = "CREATE TABLE a (id bigint);\nALTER TABLE a ADD CONSTRAINT a_u UNIQUE (id);";
        assert_eq!(lines(sql, ID), [1]);
    }

    #[test]
    fn a_key_added_in_a_later_file_counts() {
        let out = lint_files_with(
            &[
                (
                    "001_a.sql",
                    "CREATE TABLE a (id bigint NOT NULL);",
                    FileChange::Added,
                ),
                (
                    "002_b.sql",
                    "ALTER TABLE a ADD CONSTRAINT a_pkey PRIMARY KEY (id);",
                    FileChange::Added,
                ),
            ],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &[],
        );
        let hits: Vec<_> = out
            .iter()
            .flat_map(|f| &f.findings)
            .filter(|f| f.rule == ID)
            .collect();
        assert!(hits.is_empty(), "{hits:?}");
    }

    #[test]
    fn dropping_a_key_column_drops_the_key() {
        let sql = "CREATE TABLE t (id bigint PRIMARY KEY, n text);\nALTER TABLE t DROP COLUMN n;\nALTER TABLE t DROP COLUMN id;";
        // Line 1 too: the new table ends without a key.
        assert_eq!(lines(sql, ID), [1, 3]);
        let out = lint_files_with(
            &[
                (
                    "001_a.sql",
                    "CREATE TABLE t (id bigint, PRIMARY KEY (id));",
                    FileChange::Unchanged,
                ),
                (
                    "002_b.sql",
                    "ALTER TABLE t DROP COLUMN id;",
                    FileChange::Added,
                ),
            ],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &[],
        );
        assert!(out[0].findings.iter().any(|f| f.rule == ID));
    }

    #[test]
    fn replacing_the_pk_in_one_statement_is_fine() {
        let sql = "ALTER TABLE users DROP CONSTRAINT users_pkey, ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_new_pk;";
        assert!(lines(sql, ID).is_empty());
        assert!(lines("ALTER TABLE users DROP CONSTRAINT users_email_key;", ID).is_empty());
    }
}
