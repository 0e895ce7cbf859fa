//! `table-require-pk`: every table needs a primary key.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "table-require-pk",
    default_severity: Severity::Error,
    description: "CREATE TABLE without a primary key, or dropping a table's primary key",
    why: "Without a primary key rows cannot be addressed reliably: replication, CDC tools, ORMs and online schema-change tools need one, and duplicates creep in.",
    instead: "Declare a primary key (e.g. `id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY`); to replace a key, add the new one in the same ALTER TABLE that drops the old.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    match &cx.stmt.kind {
        StatementKind::CreateTable(ct) => {
            // Derived tables (AS SELECT, LIKE, PARTITION OF) get their shape elsewhere.
            if ct.derived || ct.partition_of.is_some() || ct.temporary {
                return;
            }
            let has_pk = ct.columns.iter().any(|c| c.primary_key)
                || ct
                    .constraints
                    .iter()
                    .any(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }));
            if !has_pk {
                out.push(cx.hit(
                    ct.name.span(),
                    format!("Table `{}` has no primary key.", ct.name),
                ));
            }
        }
        StatementKind::AlterTable(at) => {
            let adds_pk = at.actions.iter().any(|a| match a {
                AlterAction::AddConstraint { constraint } => {
                    matches!(constraint.kind, ConstraintKind::PrimaryKey { .. })
                }
                AlterAction::AddColumn { column, .. } => column.primary_key,
                _ => false,
            });
            if adds_pk {
                return;
            }
            let table = cx.schema.table(&at.name);
            for a in &at.actions {
                let dropped = match a {
                    AlterAction::DropPrimaryKey => Some(None),
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
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

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
            [2]
        );
        assert_eq!(lines_mysql("ALTER TABLE users DROP PRIMARY KEY;", ID), [1]);
    }

    #[test]
    fn replacing_the_pk_in_one_statement_is_fine() {
        let sql = "ALTER TABLE users DROP CONSTRAINT users_pkey, ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_new_pk;";
        assert!(lines(sql, ID).is_empty());
        assert!(lines("ALTER TABLE users DROP CONSTRAINT users_email_key;", ID).is_empty());
    }
}
