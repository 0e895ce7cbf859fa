//! `pk-no-null`: primary key columns must not be nullable.

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "pk-no-null",
    default_severity: Severity::Error,
    description: "a primary key over a column declared NULL or nullable",
    why: "A primary key column cannot hold NULL: declaring it NULL is contradictory, and adding a key over a nullable column of an existing table makes PostgreSQL run an implicit SET NOT NULL, a full scan under ACCESS EXCLUSIVE.",
    instead: "Declare key columns NOT NULL; on an existing table add a CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, SET NOT NULL, then add the key USING INDEX.",
    dialects: ALL,
    check: Check::Statement(check),
};

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    match &cx.stmt.kind {
        StatementKind::CreateTable(ct) => {
            let pk_cols = super::columns::table_key_columns(ct);
            for c in &ct.columns {
                let in_pk = c.primary_key || pk_cols.contains(&c.name.normalized());
                if in_pk && c.nullable == Some(true) {
                    out.push(cx.hit(
                        c.name.span.or(c.span),
                        format!(
                            "Primary key column `{}` of `{}` is declared NULL.",
                            c.name, ct.name
                        ),
                    ));
                }
            }
        }
        StatementKind::AlterTable(at) => {
            // Columns an earlier action of this ALTER TABLE made NOT NULL: the
            // key adds no implicit SET NOT NULL for them.
            let mut set_not_null: Vec<String> = Vec::new();
            for a in &at.actions {
                match a {
                    AlterAction::SetNotNull { column } => set_not_null.push(column.normalized()),
                    AlterAction::AddColumn { column, .. }
                        if column.primary_key && column.nullable == Some(true) =>
                    {
                        out.push(cx.hit(
                            column.name.span.or(column.span),
                            format!("Primary key column `{}` is declared NULL.", column.name),
                        ));
                    }
                    AlterAction::AddConstraint { constraint } => {
                        let ConstraintKind::PrimaryKey { columns, .. } = &constraint.kind else {
                            continue;
                        };
                        if !cx.existing(&at.name) {
                            continue;
                        }
                        let Some(table) = cx.schema.table(&at.name) else {
                            continue;
                        };
                        for col in columns {
                            if table.column(col).is_some_and(|c| c.nullable)
                                && !set_not_null.contains(&col.normalized())
                            {
                                out.push(cx.hit(
                                    col.span.or(constraint.span),
                                    format!(
                                        "Column `{col}` of `{}` is nullable: the primary key makes PostgreSQL scan the table to set it NOT NULL.",
                                        at.name
                                    ),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::review::FileChange;
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::ReviewSettings;

    const ID: &str = "pk-no-null";

    #[test]
    fn flags_explicit_null_key_column() {
        assert_eq!(
            lines("CREATE TABLE a (\n  id bigint NULL PRIMARY KEY\n);", ID),
            [2]
        );
        assert_eq!(
            lines(
                "CREATE TABLE a (\n  x bigint NULL,\n  PRIMARY KEY (x)\n);",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn not_null_or_unsaid_is_fine() {
        assert!(lines("CREATE TABLE a (id bigint PRIMARY KEY);", ID).is_empty());
        assert!(lines("CREATE TABLE a (id bigint NOT NULL, PRIMARY KEY (id));", ID).is_empty());
    }

    #[test]
    fn flags_pk_over_known_nullable_column_of_existing_table() {
        let out = lint_files_with(
            &[
                (
                    "001_a.sql",
                    "CREATE TABLE a (x bigint, y bigint NOT NULL);",
                    FileChange::Unchanged,
                ),
                (
                    "002_b.sql",
                    "ALTER TABLE a ADD PRIMARY KEY (x);\nALTER TABLE a ADD CONSTRAINT a_pk PRIMARY KEY (y);",
                    FileChange::Added,
                ),
            ],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &[],
        );
        let got: Vec<u32> = out[0]
            .findings
            .iter()
            .filter(|f| f.rule == ID)
            .map(|f| f.span.start.line)
            .collect();
        assert_eq!(got, [1]);
    }

    #[test]
    fn set_not_null_earlier_in_the_same_alter_is_fine() {
        let out = lint_files_with(
            &[
                (
                    "001_a.sql",
                    "CREATE TABLE a (id bigint);",
                    FileChange::Unchanged,
                ),
                (
                    "002_b.sql",
                    "ALTER TABLE a ALTER COLUMN id SET NOT NULL, ADD PRIMARY KEY (id);",
                    FileChange::Added,
                ),
            ],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            false,
            &[],
        );
        assert!(
            out[0].findings.iter().all(|f| f.rule != ID),
            "{:?}",
            out[0].findings
        );
    }
}
