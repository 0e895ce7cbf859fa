//! `column-type-change`: changing a column's type rewrites the table unless it
//! is a known safe widening.

use super::prelude::*;
use crate::review::schema::Table;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "column-type-change",
    default_severity: Severity::Warning,
    description: "ALTER COLUMN TYPE / MODIFY that is not a safe widening",
    why: "Most type changes rewrite the table and rebuild its indexes under an ACCESS EXCLUSIVE lock (MySQL: a table copy), and break clients that read the old type.",
    instead: "Add a new column with the new type, backfill it in batches, switch the application, then drop the old column. Safe in place: varchar(n) → varchar(m ≥ n) / text, numeric(p,s) → numeric(q ≥ p,s).",
    dialects: ALL,
    check: Check::Statement(check),
};

/// True when changing `old` to `new` needs no rewrite.
fn safe_change(old: &DataType, new: &DataType, dialect: Dialect) -> bool {
    if old.array != new.array {
        return false;
    }
    if old.name == new.name && old.length == new.length && old.scale == new.scale {
        return true;
    }
    let wider = |o: Option<u64>, n: Option<u64>| match (o, n) {
        (_, None) => true,
        (Some(o), Some(n)) => n >= o,
        (None, Some(_)) => false,
    };
    match dialect {
        Dialect::Postgres => match (old.name.as_str(), new.name.as_str()) {
            ("varchar", "varchar") => wider(old.length, new.length),
            ("varchar", "text") | ("text", "varchar") if new.length.is_none() => true,
            ("numeric", "numeric") => {
                new.length.is_none() || (wider(old.length, new.length) && old.scale == new.scale)
            }
            ("cidr", "inet") => true,
            _ => false,
        },
        Dialect::Mysql => match (old.name.as_str(), new.name.as_str()) {
            // In place only while the length prefix stays one byte (utf8mb4: < 64 chars).
            ("varchar", "varchar") => match (old.length, new.length) {
                (Some(o), Some(n)) => n >= o && ((o < 64) == (n < 64)),
                _ => false,
            },
            _ => false,
        },
    }
}

fn old_type<'a>(table: Option<&'a Table>, col: &Ident) -> Option<&'a DataType> {
    table.and_then(|t| t.column(col)).map(|c| &c.data_type)
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let StatementKind::AlterTable(at) = &cx.stmt.kind else {
        return;
    };
    if !cx.existing(&at.name) {
        return;
    }
    let table = cx.schema.table(&at.name);
    for a in &at.actions {
        let (col, new, span, unknown_is_change) = match a {
            AlterAction::AlterColumnType {
                column, data_type, ..
            } => (column, data_type, column.span, true),
            // MySQL MODIFY / CHANGE restate the type; only a known different type counts.
            AlterAction::ModifyColumn { column } => {
                (&column.name, &column.data_type, column.name.span, false)
            }
            AlterAction::ChangeColumn { old_name, column } => {
                (old_name, &column.data_type, column.name.span, false)
            }
            _ => continue,
        };
        let message = match old_type(table, col) {
            Some(old) if safe_change(old, new, cx.dialect) => continue,
            Some(old) => format!(
                "Column `{}.{col}` changes type from {} to {}: the table is rewritten.",
                at.name, old.raw, new.raw
            ),
            None if unknown_is_change => format!(
                "Column `{}.{col}` changes type to {}: unless this is a safe widening the table is rewritten.",
                at.name, new.raw
            ),
            None => continue,
        };
        out.push(cx.hit(span, message));
    }
}

#[cfg(test)]
mod tests {
    use super::safe_change;
    use crate::review::FileChange;
    use crate::review::model::{DataType, Dialect};
    use crate::review::rules::test_utils::*;
    use crate::review::settings::ReviewSettings;

    const ID: &str = "column-type-change";

    fn ty(name: &str, length: Option<u64>) -> DataType {
        DataType {
            length,
            ..DataType::named(name)
        }
    }

    #[test]
    fn flags_type_change_on_existing_table() {
        assert_eq!(
            lines(
                "SELECT 1;\nALTER TABLE users ALTER COLUMN age TYPE bigint;",
                ID
            ),
            [2]
        );
    }

    #[test]
    fn safe_widening_and_new_tables_are_fine() {
        let sql = "CREATE TABLE u (id bigint PRIMARY KEY, name varchar(50));\nALTER TABLE u ALTER COLUMN name TYPE varchar(100);";
        assert!(lines(sql, ID).is_empty());
        let pg = Dialect::Postgres;
        assert!(safe_change(
            &ty("varchar", Some(50)),
            &ty("varchar", Some(100)),
            pg
        ));
        assert!(safe_change(&ty("varchar", Some(50)), &ty("text", None), pg));
        assert!(!safe_change(
            &ty("varchar", Some(100)),
            &ty("varchar", Some(50)),
            pg
        ));
        assert!(!safe_change(&ty("integer", None), &ty("bigint", None), pg));
        assert!(safe_change(
            &ty("varchar", Some(10)),
            &ty("varchar", Some(50)),
            Dialect::Mysql
        ));
        assert!(!safe_change(
            &ty("varchar", Some(50)),
            &ty("varchar", Some(100)),
            Dialect::Mysql
        ));
    }

    #[test]
    fn known_old_type_decides() {
        let run = |change: &str| {
            let out = lint_files_with(
                &[
                    (
                        "001_a.sql",
                        "CREATE TABLE u (id bigint PRIMARY KEY, name varchar(50), n integer);",
                        FileChange::Unchanged,
                    ),
                    ("002_b.sql", change, FileChange::Added),
                ],
                Dialect::Postgres,
                None,
                &ReviewSettings::default(),
                false,
                &[],
            );
            out[0].findings.iter().filter(|f| f.rule == ID).count()
        };
        assert_eq!(run("ALTER TABLE u ALTER COLUMN name TYPE text;"), 0);
        assert_eq!(run("ALTER TABLE u ALTER COLUMN n TYPE bigint;"), 1);
    }
}
