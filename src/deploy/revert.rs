//! How an applied migration is undone: its own down script when it has one
//! (`NNN_name.down.sql` beside it, Diesel's `down.sql` beside `up.sql`, or a
//! `-- bytegate:down` section in the file), else the reverse generated from
//! the statement model for reversible DDL, with data changes restored from
//! their prior backups; anything else is said to be irreversible, with why.
//! Pure: the rollback flow resolves backups and runs the result through the
//! target's executor ([`super::Target::rollback`]).

use super::backup::{
    BackupTaken, Dml, DmlKind, ident_sql, object_sql, qualified_backup, quote_ident,
};
use super::plan::{Step, statements};
use crate::review::down_section::split_down_section;
use crate::review::model::{
    AlterAction, ConstraintKind, Dialect, ObjectKind, ObjectName, Statement, StatementKind,
};
use std::fmt;

/// Reasons a migration is irreversible listed on its one line (the rest counted).
const MAX_REASONS_SHOWN: usize = 3;

/// The path of the down script that belongs to migration `path`, among the
/// files of the change (`NNN_x.sql` → `NNN_x.down.sql`; `dir/up.sql` → `dir/down.sql`).
pub fn down_script_path<'a>(path: &str, files: &'a [(String, Vec<u8>)]) -> Option<&'a str> {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let wanted = if file.eq_ignore_ascii_case("up.sql") {
        format!("{dir}/down.sql")
    } else {
        let stem = file
            .strip_suffix(".sql")
            .or_else(|| file.strip_suffix(".SQL"))?;
        if dir.is_empty() {
            format!("{stem}.down.sql")
        } else {
            format!("{dir}/{stem}.down.sql")
        }
    };
    files
        .iter()
        .map(|(p, _)| p.as_str())
        .find(|p| p.eq_ignore_ascii_case(&wanted))
}

/// One step of undoing a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// SQL that undoes a statement.
    Sql(String),
    /// Re-insert the rows statement `statement_number` deleted, from its backup.
    RestoreDeleted {
        /// 1-based statement of the migration.
        statement_number: usize,
        /// The table.
        table: String,
    },
    /// Put back what statement `statement_number` updated, by primary key.
    RestoreUpdated {
        /// 1-based statement of the migration.
        statement_number: usize,
        /// The table.
        table: String,
    },
}

/// How a migration is undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HowUndone {
    /// By its down script: the path, and its text.
    DownScript {
        /// Where it is (the migration itself for a `-- bytegate:down` section).
        path: String,
        /// The SQL.
        sql: String,
    },
    /// By generated steps, in the order they run.
    Generated(Vec<Undo>),
    /// Not at all: why, one reason per statement that cannot be undone.
    Irreversible(Vec<String>),
}

impl HowUndone {
    /// Whether rollback can undo it (restores still need their backups).
    pub fn is_reversible(&self) -> bool {
        !matches!(self, HowUndone::Irreversible(_))
    }
}

impl fmt::Display for HowUndone {
    /// One line for the review comment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HowUndone::DownScript { path, .. } => write!(f, "reversible: down script `{path}`"),
            HowUndone::Generated(steps) => {
                let restores = steps.iter().filter(|s| !matches!(s, Undo::Sql(_))).count();
                let sql = steps.len() - restores;
                let mut parts = Vec::new();
                if sql > 0 {
                    parts.push(format!("{sql} generated statement(s)"));
                }
                if restores > 0 {
                    parts.push(format!(
                        "{restores} data change(s) restored from the prior backup"
                    ));
                }
                if parts.is_empty() {
                    f.write_str("reversible: nothing to undo")
                } else {
                    write!(f, "reversible: {}", parts.join(", "))
                }
            }
            HowUndone::Irreversible(reasons) => {
                // One line on the review comment: the first reasons, the rest counted.
                let mut shown: Vec<&str> = reasons
                    .iter()
                    .take(MAX_REASONS_SHOWN)
                    .map(String::as_str)
                    .collect();
                let more = reasons.len().saturating_sub(MAX_REASONS_SHOWN);
                let more_text = format!("…and {more} more");
                if more > 0 {
                    shown.push(&more_text);
                }
                write!(
                    f,
                    "not reversible: {}; add a down script to make it so",
                    shown.join("; ")
                )
            }
        }
    }
}

/// How migration `path` (text `text`) is undone, given the change's files
/// (where its down script would be).
pub fn how_undone(
    path: &str,
    text: &str,
    dialect: Dialect,
    files: &[(String, Vec<u8>)],
) -> HowUndone {
    if let Some(down) = down_script_path(path, files)
        && let Some((_, bytes)) = files.iter().find(|(p, _)| p == down)
    {
        return HowUndone::DownScript {
            path: down.to_string(),
            sql: String::from_utf8_lossy(bytes).into_owned(),
        };
    }
    if let (_, Some(section)) = split_down_section(text) {
        return HowUndone::DownScript {
            path: path.to_string(),
            sql: section.to_string(),
        };
    }
    let (stmts, _) = statements(text, dialect);
    match generate(&stmts) {
        Ok(steps) => HowUndone::Generated(steps),
        Err(reasons) => HowUndone::Irreversible(reasons),
    }
}

/// The reverse of a migration's statements, last first; or every reason it
/// cannot be generated.
pub fn generate(stmts: &[Statement]) -> Result<Vec<Undo>, Vec<String>> {
    // Tables this migration creates: whatever else it does to them goes with them.
    let created: Vec<String> = stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StatementKind::CreateTable(c) => Some(c.name.normalized_qualified()),
            _ => None,
        })
        .collect();
    let on_created = |n: &ObjectName| created.contains(&n.normalized_qualified());
    let mut undo = Vec::new();
    let mut reasons = Vec::new();
    for (i, s) in stmts.iter().enumerate().rev() {
        let number = i + 1;
        let mut no = |why: String| reasons.push(format!("statement {number} ({why})"));
        match &s.kind {
            StatementKind::CreateTable(c) if c.temporary => {}
            StatementKind::CreateTable(c) => {
                undo.push(Undo::Sql(format!("DROP TABLE {}", object_sql(&c.name))))
            }
            StatementKind::CreateIndex(c) => match &c.name {
                Some(name) => {
                    let mut qualified = c.table.clone();
                    qualified.parts.pop();
                    qualified.parts.push(name.clone());
                    undo.push(Undo::Sql(format!("DROP INDEX {}", object_sql(&qualified))));
                }
                None if on_created(&c.table) => {}
                None => {
                    no("CREATE INDEX without a name: bytegate cannot name it to drop it".into())
                }
            },
            StatementKind::AlterTable(a) => {
                for action in a.actions.iter().rev() {
                    match reverse_action(&a.name, action) {
                        Ok(Some(sql)) => undo.push(Undo::Sql(sql)),
                        Ok(None) => {}
                        Err(why) => no(why),
                    }
                }
            }
            StatementKind::Insert(i) if on_created(&i.table) => {}
            StatementKind::Insert(_) => {
                no("INSERT into an existing table: the inserted rows cannot be told apart".into())
            }
            StatementKind::Update(u) if on_created(&u.table) => {}
            StatementKind::Delete(d) if d.tables.first().is_some_and(on_created) => {}
            StatementKind::Update(_) | StatementKind::Delete(_) => {
                match Dml::of(s).map(|d| (d.static_obstacle(), d)) {
                    Some((None, d)) => undo.push(match d.kind {
                        DmlKind::Delete => Undo::RestoreDeleted {
                            statement_number: number,
                            table: d.table,
                        },
                        DmlKind::Update => Undo::RestoreUpdated {
                            statement_number: number,
                            table: d.table,
                        },
                    }),
                    Some((Some(obstacle), d)) => {
                        no(format!("{} with no prior backup: {obstacle}", d.kind))
                    }
                    None => no("a data change bytegate cannot read".into()),
                }
            }
            StatementKind::CreateOther(c) => match (droppable(&c.object), &c.name) {
                (Some(kind), Some(name)) if !c.or_replace => {
                    undo.push(Undo::Sql(format!("DROP {kind} {}", object_sql(name))))
                }
                _ => no(format!(
                    "CREATE {}: not generated; write a down script",
                    object_label(&c.object)
                )),
            },
            // Session settings and reads change nothing to undo.
            StatementKind::Set(_)
            | StatementKind::Reset { .. }
            | StatementKind::Select
            | StatementKind::Analyze { .. }
            | StatementKind::Vacuum(_)
            | StatementKind::Reindex(_)
            | StatementKind::Savepoint
            | StatementKind::Begin
            | StatementKind::Commit => {}
            StatementKind::Drop(d) => no(format!(
                "DROP {}: what it dropped is gone",
                object_label(&d.object)
            )),
            StatementKind::Truncate(_) => no("TRUNCATE: the rows are gone".into()),
            StatementKind::Unparsed { .. } => no("bytegate could not read the statement".into()),
            _ => no(format!(
                "`{}` has no generated reverse",
                super::excerpt(&s.text).chars().take(60).collect::<String>()
            )),
        }
    }
    if reasons.is_empty() {
        Ok(undo)
    } else {
        reasons.reverse();
        Err(reasons)
    }
}

/// The reverse of one `ALTER TABLE` action: SQL, nothing to do, or why not.
fn reverse_action(table: &ObjectName, action: &AlterAction) -> Result<Option<String>, String> {
    let t = object_sql(table);
    Ok(Some(match action {
        AlterAction::AddColumn { column, .. } => {
            format!("ALTER TABLE {t} DROP COLUMN {}", ident_sql(&column.name))
        }
        AlterAction::RenameColumn { from, to } => format!(
            "ALTER TABLE {t} RENAME COLUMN {} TO {}",
            ident_sql(to),
            ident_sql(from)
        ),
        AlterAction::RenameTable { to } => {
            // The renamed table stays in its schema: `schema.new` back to `old`.
            let mut now = table.clone();
            now.parts.pop();
            now.parts.extend(to.ident().cloned());
            let old = table.ident().map(ident_sql).unwrap_or_default();
            format!("ALTER TABLE {} RENAME TO {old}", object_sql(&now))
        }
        AlterAction::RenameConstraint { from, to } => format!(
            "ALTER TABLE {t} RENAME CONSTRAINT {} TO {}",
            ident_sql(to),
            ident_sql(from)
        ),
        AlterAction::AddConstraint { constraint } => match &constraint.name {
            Some(name) => format!("ALTER TABLE {t} DROP CONSTRAINT {}", ident_sql(name)),
            None => {
                return Err(format!(
                    "ADD {} without a name: bytegate cannot name it to drop it",
                    constraint_label(&constraint.kind)
                ));
            }
        },
        AlterAction::SetNotNull { column } => {
            format!(
                "ALTER TABLE {t} ALTER COLUMN {} DROP NOT NULL",
                ident_sql(column)
            )
        }
        AlterAction::ValidateConstraint { .. } => return Ok(None),
        AlterAction::DropColumn { name, .. } => {
            return Err(format!("DROP COLUMN {}: its data is gone", name.value));
        }
        AlterAction::AlterColumnType { column, .. } => {
            return Err(format!(
                "ALTER COLUMN {} TYPE: the old type is not known",
                column.value
            ));
        }
        AlterAction::SetDefault { column, .. } | AlterAction::DropDefault { column } => {
            return Err(format!(
                "default of {}: the old default is not known",
                column.value
            ));
        }
        AlterAction::DropNotNull { column } => {
            return Err(format!(
                "DROP NOT NULL on {}: NULLs written since would block SET NOT NULL",
                column.value
            ));
        }
        AlterAction::DropConstraint { name, .. } => {
            return Err(format!(
                "DROP CONSTRAINT {}: its definition is gone",
                name.value
            ));
        }
        other => {
            return Err(
                format!("ALTER TABLE action {other:?} has no generated reverse")
                    .chars()
                    .take(120)
                    .collect(),
            );
        }
    }))
}

fn droppable(kind: &ObjectKind) -> Option<&'static str> {
    Some(match kind {
        ObjectKind::View => "VIEW",
        ObjectKind::MaterializedView => "MATERIALIZED VIEW",
        ObjectKind::Sequence => "SEQUENCE",
        ObjectKind::Schema => "SCHEMA",
        ObjectKind::Type => "TYPE",
        ObjectKind::Domain => "DOMAIN",
        ObjectKind::Extension => "EXTENSION",
        _ => return None,
    })
}

fn object_label(kind: &ObjectKind) -> String {
    match kind {
        ObjectKind::Other(k) => k.clone(),
        other => format!("{other:?}").to_uppercase(),
    }
}

fn constraint_label(kind: &ConstraintKind) -> &'static str {
    match kind {
        ConstraintKind::PrimaryKey { .. } => "PRIMARY KEY",
        ConstraintKind::Unique { .. } => "UNIQUE",
        ConstraintKind::Check { .. } => "CHECK",
        ConstraintKind::ForeignKey { .. } => "FOREIGN KEY",
        ConstraintKind::NotNull { .. } => "NOT NULL",
        ConstraintKind::Exclude => "EXCLUDE",
        ConstraintKind::Index { .. } => "INDEX",
    }
}

/// The SQL that restores a data change from its backup, or why it cannot.
pub fn restore_sql(undo: &Undo, backup: Option<&BackupTaken>) -> Result<String, String> {
    let (number, kind) = match undo {
        Undo::Sql(sql) => return Ok(sql.clone()),
        Undo::RestoreDeleted {
            statement_number, ..
        } => (*statement_number, DmlKind::Delete),
        Undo::RestoreUpdated {
            statement_number, ..
        } => (*statement_number, DmlKind::Update),
    };
    let Some(b) = backup else {
        return Err(format!(
            "statement {number} ({kind}) has no prior backup on record (backups were off, it could not be backed up, or the backup expired)"
        ));
    };
    let from = qualified_backup(&b.backup_table);
    match kind {
        DmlKind::Delete => {
            if b.columns.is_empty() {
                return Err(format!(
                    "statement {number} (DELETE): the backup records no columns"
                ));
            }
            // Catalog names: quoted as they are stored.
            let cols = b
                .columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            Ok(format!(
                "INSERT INTO {} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {from}",
                b.table
            ))
        }
        DmlKind::Update => {
            if b.primary_key.is_empty() {
                return Err(format!(
                    "statement {number} (UPDATE): {} has no primary key to match the backed-up rows by",
                    b.table
                ));
            }
            if b.assigned.is_empty() {
                return Err(format!(
                    "statement {number} (UPDATE): the assigned columns are not known"
                ));
            }
            // Rows whose key it changed cannot be found by that key again.
            let folded = |c: &str| match c.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => c.to_lowercase(),
            };
            if let Some(k) = b
                .assigned
                .iter()
                .find(|a| b.primary_key.contains(&folded(a)))
            {
                return Err(format!(
                    "statement {number} (UPDATE) changes the primary key column {k}: the backed-up rows cannot be matched by it"
                ));
            }
            let set: Vec<String> = b
                .assigned
                .iter()
                .map(|c| format!("{c} = bytegate_old.{c}"))
                .collect();
            let on: Vec<String> = b
                .primary_key
                .iter()
                .map(|c| {
                    let c = quote_ident(c);
                    format!("bytegate_row.{c} = bytegate_old.{c}")
                })
                .collect();
            Ok(format!(
                "UPDATE {} AS bytegate_row SET {} FROM {from} AS bytegate_old WHERE {}",
                b.table,
                set.join(", "),
                on.join(" AND ")
            ))
        }
    }
}

/// Statements of a down script as steps (numbered as a deploy would), and
/// why it cannot run in a transaction, if it cannot.
pub fn down_steps(sql: &str, dialect: Dialect) -> (Vec<Step>, Option<&'static str>) {
    let (stmts, reason) = statements(sql, dialect);
    let steps = stmts
        .into_iter()
        .map(|s| Step {
            line: s.span.start.line,
            column: s.span.start.column,
            dml: None,
            text: s.text,
        })
        .collect();
    (steps, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn undo(sql: &str) -> HowUndone {
        how_undone("m/2_x.sql", sql, Dialect::Postgres, &[])
    }

    fn sqls(h: &HowUndone) -> Vec<String> {
        match h {
            HowUndone::Generated(steps) => steps
                .iter()
                .map(|s| match s {
                    Undo::Sql(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .collect(),
            other => panic!("not generated: {other:?}"),
        }
    }

    #[test]
    fn reversible_ddl_is_undone_last_first() {
        let h = undo(
            "CREATE TABLE app.orders (id bigint PRIMARY KEY, n int);\nCREATE INDEX orders_n ON app.orders (n);\nALTER TABLE users ADD COLUMN nick text, ADD CONSTRAINT nick_len CHECK (length(nick) < 9);\nALTER TABLE users RENAME COLUMN name TO full_name;\nALTER TABLE a.t RENAME TO t2;\n",
        );
        assert_eq!(
            sqls(&h),
            [
                "ALTER TABLE a.t2 RENAME TO t",
                "ALTER TABLE users RENAME COLUMN full_name TO name",
                "ALTER TABLE users DROP CONSTRAINT nick_len",
                "ALTER TABLE users DROP COLUMN nick",
                "DROP INDEX app.orders_n",
                "DROP TABLE app.orders",
            ]
        );
        assert_eq!(h.to_string(), "reversible: 6 generated statement(s)");
    }

    #[test]
    fn data_changes_restore_from_backups_and_destruction_is_irreversible() {
        let h = undo("DELETE FROM users WHERE id > 10;\nUPDATE users SET n = 1 WHERE id = 2;");
        assert_eq!(
            h,
            HowUndone::Generated(vec![
                Undo::RestoreUpdated {
                    statement_number: 2,
                    table: "users".into()
                },
                Undo::RestoreDeleted {
                    statement_number: 1,
                    table: "users".into()
                },
            ])
        );
        let h = undo("ALTER TABLE users DROP COLUMN email;\nDELETE FROM logs;");
        let HowUndone::Irreversible(r) = &h else {
            panic!("{h:?}")
        };
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("DROP COLUMN email"), "{r:?}");
        assert!(r[1].contains("no WHERE"), "{r:?}");
        assert!(h.to_string().starts_with("not reversible: statement 1"));
        let many: String = (0..10).map(|i| format!("DROP TABLE t{i};\n")).collect();
        let line = undo(&many).to_string();
        assert!(
            line.ends_with("; …and 7 more; add a down script to make it so"),
            "{line}"
        );
    }

    #[test]
    fn down_scripts_win_in_every_layout() {
        let files = vec![
            (
                "m/3_drop.sql".to_string(),
                b"ALTER TABLE u DROP COLUMN e;".to_vec(),
            ),
            (
                "m/3_drop.down.sql".to_string(),
                b"ALTER TABLE u ADD COLUMN e text;".to_vec(),
            ),
            (
                "m/2020-01-01_x/up.sql".to_string(),
                b"DROP TABLE t;".to_vec(),
            ),
            (
                "m/2020-01-01_x/down.sql".to_string(),
                b"CREATE TABLE t (id int);".to_vec(),
            ),
        ];
        let h = how_undone(
            "m/3_drop.sql",
            "ALTER TABLE u DROP COLUMN e;",
            Dialect::Postgres,
            &files,
        );
        assert_eq!(
            h,
            HowUndone::DownScript {
                path: "m/3_drop.down.sql".into(),
                sql: "ALTER TABLE u ADD COLUMN e text;".into()
            }
        );
        let h = how_undone(
            "m/2020-01-01_x/up.sql",
            "DROP TABLE t;",
            Dialect::Postgres,
            &files,
        );
        assert!(
            matches!(h, HowUndone::DownScript { ref path, .. } if path == "m/2020-01-01_x/down.sql")
        );
        let text =
            "ALTER TABLE u DROP COLUMN e;\n-- bytegate:down\nALTER TABLE u ADD COLUMN e text;\n";
        let h = how_undone("m/4_y.sql", text, Dialect::Postgres, &[]);
        assert_eq!(
            h,
            HowUndone::DownScript {
                path: "m/4_y.sql".into(),
                sql: "ALTER TABLE u ADD COLUMN e text;\n".into()
            }
        );
        assert_eq!(split_down_section(text).0, "ALTER TABLE u DROP COLUMN e;\n");
    }

    #[test]
    fn restores_need_their_backup_and_updates_a_primary_key() {
        let del = Undo::RestoreDeleted {
            statement_number: 1,
            table: "users".into(),
        };
        assert!(
            restore_sql(&del, None)
                .unwrap_err()
                .contains("no prior backup")
        );
        let b = BackupTaken {
            statement_number: 1,
            kind: DmlKind::Delete,
            table: "users".into(),
            backup_table: "2_1_users".into(),
            rows: 3,
            primary_key: vec!["id".into()],
            columns: vec!["id".into(), "name".into()],
            assigned: vec![],
        };
        assert_eq!(
            restore_sql(&del, Some(&b)).unwrap(),
            "INSERT INTO users (\"id\", \"name\") OVERRIDING SYSTEM VALUE SELECT \"id\", \"name\" FROM bytegate_backup.\"2_1_users\""
        );
        let upd = Undo::RestoreUpdated {
            statement_number: 1,
            table: "users".into(),
        };
        let b = BackupTaken {
            kind: DmlKind::Update,
            assigned: vec!["name".into()],
            ..b
        };
        assert_eq!(
            restore_sql(&upd, Some(&b)).unwrap(),
            "UPDATE users AS bytegate_row SET name = bytegate_old.name FROM bytegate_backup.\"2_1_users\" AS bytegate_old WHERE bytegate_row.\"id\" = bytegate_old.\"id\""
        );
        let no_pk = BackupTaken {
            primary_key: vec![],
            ..b.clone()
        };
        assert!(
            restore_sql(&upd, Some(&no_pk))
                .unwrap_err()
                .contains("no primary key")
        );
        let key_changed = BackupTaken {
            assigned: vec!["name".into(), "ID".into()],
            ..b
        };
        assert!(
            restore_sql(&upd, Some(&key_changed))
                .unwrap_err()
                .contains("changes the primary key column ID")
        );
    }
}
