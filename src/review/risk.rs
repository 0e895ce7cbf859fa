//! Risk analysis: a level (low / medium / high) per statement, per file and for
//! the whole change, each with reasons that point at a file and line.
//!
//! Levels come from the statement model's facts (RULES.md, "Risk levels"):
//! destructive statements and DML without `WHERE` are high, as is any schema
//! change when the target environment is production; statements that rewrite,
//! scan or block an existing table are medium; everything else is low.
//! Statements the parser did not understand are classified from their keywords
//! ([`LexicalClass`]) so a parse failure never lowers the risk. The `risk.rules`
//! section of the config overrides the computed level (first match wins).

use super::data_loss::DataLoss;
use super::finding::RiskLevel;
use super::model::{
    AlterAction, ConstraintKind, LexicalClass, ObjectKind, ObjectName, ParseCause, Statement,
    StatementKind, StatementSource,
};
use super::rules;
use super::settings::{RiskRule, RiskSettings};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashSet;

/// Why a statement, file or change has its risk level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskReason {
    /// What triggered it: a statement class (`drop-table`, `dml-without-where`,
    /// `production-ddl`, ...) or `risk-rule-N` for the N-th configured rule.
    pub rule: String,
    /// The file.
    pub path: String,
    /// The statement's first line.
    pub line: u32,
    /// One sentence for people.
    pub message: String,
}

/// The risk of one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRisk {
    /// 0-based position of the statement in its file.
    pub index: usize,
    /// The statement's first line.
    pub line: u32,
    /// The statement class (`create-table`, `drop-table`, `update`, ...), as
    /// `risk.rules[].statement` matches it.
    pub class: Cow<'static, str>,
    /// Its level. Why is kept only for the statements at their file's level,
    /// in [`FileRisk::reasons`]: a large review would otherwise hold a reason
    /// for nearly every statement.
    pub level: RiskLevel,
}

/// The risk of one file: the maximum of its statements'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct FileRisk {
    /// The highest statement level (low for an empty file).
    pub level: RiskLevel,
    /// The reasons of the statements at that level.
    pub reasons: Vec<RiskReason>,
    /// Every statement, in file order.
    pub statements: Vec<StatementRisk>,
}

/// The risk of a whole change: the maximum over its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RiskReport {
    /// The highest level of any statement.
    pub level: RiskLevel,
    /// The reasons of the statements at that level, in file order.
    pub reasons: Vec<RiskReason>,
}

/// One file as risk analysis sees it.
#[derive(Debug, Clone, Copy)]
pub struct RiskFile<'a> {
    /// The file's path (for reasons).
    pub path: &'a str,
    /// Its statements, in order.
    pub statements: &'a [Statement],
    /// False for files this change does not apply (unchanged or removed in the
    /// pull request): they are not assessed, and tables they create count as
    /// existing ones.
    pub in_change: bool,
}

/// Where and how the change will run.
#[derive(Debug, Clone, Copy)]
pub struct RiskContext<'a> {
    /// Target environment name, when known.
    pub environment: Option<&'a str>,
    /// The `risk` config section.
    pub settings: &'a RiskSettings,
}

impl RiskContext<'_> {
    fn is_production(&self) -> bool {
        self.environment.is_some_and(|env| {
            self.settings
                .production_environments
                .iter()
                .any(|p| p.eq_ignore_ascii_case(env))
        })
    }

    fn row_estimate(&self, table: &str) -> Option<u64> {
        self.settings
            .table_rows
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(table))
            .map(|(_, rows)| *rows)
    }
}

/// Assesses every statement of `files` (in apply order) and returns one
/// [`FileRisk`] per file, in the same order, plus the overall report.
pub fn assess(files: &[RiskFile<'_>], ctx: &RiskContext<'_>) -> (Vec<FileRisk>, RiskReport) {
    let mut created: HashSet<String> = HashSet::new();
    let mut per_file = Vec::with_capacity(files.len());
    for file in files {
        let mut statements = Vec::with_capacity(if file.in_change {
            file.statements.len()
        } else {
            0
        });
        let mut level = RiskLevel::Low;
        let mut reasons = Vec::new();
        if file.in_change {
            for stmt in file.statements {
                let (risk, why) = assess_statement(file.path, stmt, &created, ctx);
                // The file's reasons are those of its highest-level statements.
                if risk.level > level {
                    level = risk.level;
                    reasons = why;
                } else if risk.level == level {
                    reasons.extend(why);
                }
                statements.push(risk);
                note_created_tables(&stmt.kind, &mut created);
            }
        }
        per_file.push(FileRisk {
            level,
            reasons,
            statements,
        });
    }
    let report = overall(&per_file);
    (per_file, report)
}

/// The change's risk from its files' (the highest level, with the reasons of
/// the files at that level, in file order).
pub fn overall(per_file: &[FileRisk]) -> RiskReport {
    let level = per_file
        .iter()
        .map(|f| f.level)
        .max()
        .unwrap_or(RiskLevel::Low);
    let reasons = per_file
        .iter()
        .filter(|f| f.level == level)
        .flat_map(|f| f.reasons.iter().cloned())
        .collect();
    RiskReport { level, reasons }
}

/// Remembers tables created (or renamed into) by this change.
fn note_created_tables(kind: &StatementKind, created: &mut HashSet<String>) {
    match kind {
        StatementKind::CreateTable(c) => {
            created.insert(c.name.normalized());
        }
        StatementKind::AlterTable(a) => {
            let was_new = created.contains(&a.name.normalized());
            for action in &a.actions {
                if let AlterAction::RenameTable { to } = action
                    && was_new
                {
                    created.insert(to.normalized());
                }
            }
        }
        StatementKind::RenameTable { renames } => {
            for (from, to) in renames {
                if created.contains(&from.normalized()) {
                    created.insert(to.normalized());
                }
            }
        }
        _ => {}
    }
}

/// One trigger found in a statement: level, id, message.
type Fact = (RiskLevel, &'static str, String);

fn assess_statement(
    path: &str,
    stmt: &Statement,
    created: &HashSet<String>,
    ctx: &RiskContext<'_>,
) -> (StatementRisk, Vec<RiskReason>) {
    let class = statement_class(&stmt.kind);
    let line = stmt.line();
    let mut facts = statement_facts(stmt, created);
    let tables = tables_of(&stmt.kind);
    if ctx.is_production() && is_schema_change(&stmt.kind) {
        facts.push((
            RiskLevel::High,
            "production-ddl",
            format!(
                "schema change in the production environment `{}`",
                ctx.environment.unwrap_or_default()
            ),
        ));
    }
    let rows = tables
        .iter()
        .filter_map(|t| ctx.row_estimate(t).map(|r| (t.as_str(), r)))
        .max_by_key(|(_, r)| *r);
    if let Some((table, estimate)) = rows
        && estimate > ctx.settings.large_table_rows
        && !matches!(stmt.lexical(), LexicalClass::Session | LexicalClass::Other)
    {
        facts.push((
            RiskLevel::Medium,
            "large-table",
            format!(
                "`{table}` has about {estimate} rows (above {})",
                ctx.settings.large_table_rows
            ),
        ));
    }

    let reason = |rule: &str, message: String| RiskReason {
        rule: rule.to_string(),
        path: path.to_string(),
        line,
        message,
    };

    // Configured rules first: the first one whose conditions all hold decides.
    let fact_ids: Vec<&str> = if ctx.settings.rules.is_empty() {
        Vec::new()
    } else {
        facts.iter().map(|(_, id, _)| *id).collect()
    };
    let row_estimate = rows.map(|(_, r)| r);
    for (n, rule) in ctx.settings.rules.iter().enumerate() {
        if rule_matches(
            rule,
            ctx.environment,
            &class,
            &fact_ids,
            &tables,
            row_estimate,
        ) {
            let message = rule
                .reason
                .clone()
                .unwrap_or_else(|| format!("risk rule #{} in the config", n + 1));
            let risk = StatementRisk {
                index: stmt.index,
                line,
                class,
                level: rule.level,
            };
            return (risk, vec![reason(&format!("risk-rule-{}", n + 1), message)]);
        }
    }

    let level = facts
        .iter()
        .map(|(l, _, _)| *l)
        .max()
        .unwrap_or(RiskLevel::Low);
    let reasons = facts
        .into_iter()
        .filter(|(l, _, _)| *l == level && level > RiskLevel::Low)
        .map(|(_, id, msg)| reason(id, msg))
        .collect();
    let risk = StatementRisk {
        index: stmt.index,
        line,
        class,
        level,
    };
    (risk, reasons)
}

fn rule_matches(
    rule: &RiskRule,
    environment: Option<&str>,
    class: &str,
    fact_ids: &[&str],
    tables: &[String],
    rows: Option<u64>,
) -> bool {
    if let Some(env) = &rule.environment
        && !environment.is_some_and(|e| e.eq_ignore_ascii_case(env))
    {
        return false;
    }
    if let Some(statement) = &rule.statement {
        let s = statement.to_ascii_lowercase();
        if s != class && !fact_ids.contains(&s.as_str()) {
            return false;
        }
    }
    if let Some(table) = &rule.table
        && !tables.iter().any(|t| t.eq_ignore_ascii_case(table))
    {
        return false;
    }
    if let Some(min) = rule.min_rows
        && rows.is_none_or(|r| r < min)
    {
        return false;
    }
    true
}

fn names(list: &[ObjectName]) -> String {
    list.iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The facts that raise a statement above low, from the model.
fn statement_facts(stmt: &Statement, created: &HashSet<String>) -> Vec<Fact> {
    use RiskLevel::{High, Medium};
    let existing = |name: &ObjectName| !created.contains(&name.normalized());
    let mut facts: Vec<Fact> = Vec::new();
    match &stmt.kind {
        StatementKind::Drop(d) => {
            let what = names(&d.names);
            match &d.object {
                // Data loss: the one classification the rules share.
                object if let Some(loss) = DataLoss::of_drop(object) => facts.push((
                    High,
                    loss.rule_id(),
                    format!("DROP {} {what} {}", loss.keyword(), loss.consequence()),
                )),
                ObjectKind::Index => facts.push((
                    Medium,
                    "drop-index",
                    if d.concurrently {
                        format!("DROP INDEX {what}: queries that used it slow down")
                    } else {
                        format!(
                            "DROP INDEX {what} takes an ACCESS EXCLUSIVE lock on the table; queries that used it slow down"
                        )
                    },
                )),
                other => facts.push((
                    Medium,
                    "drop-object",
                    format!("DROP {} {what}: dependants break", object_word(other)),
                )),
            }
            if d.cascade {
                facts.push((
                    High,
                    "drop-cascade",
                    format!("DROP … CASCADE on {what} also drops every dependent object"),
                ));
            }
        }
        StatementKind::Truncate(t) => facts.push((
            High,
            "truncate",
            format!("TRUNCATE {} deletes every row", names(&t.tables)),
        )),
        StatementKind::Update(u) => {
            facts.push(dml_fact("UPDATE", &u.table.to_string(), u.has_where))
        }
        StatementKind::Delete(d) => {
            facts.push(dml_fact("DELETE", &names_plain(&d.tables), d.has_where))
        }
        StatementKind::AlterTable(a) => {
            let table = &a.name;
            let is_existing = existing(table);
            for action in &a.actions {
                alter_action_facts(table, is_existing, action, &mut facts);
            }
            if is_existing
                && let Some(algorithm) = &a.algorithm
                && algorithm == "COPY"
            {
                facts.push((
                    Medium,
                    "table-copy",
                    format!("ALGORITHM=COPY rebuilds `{table}` and blocks writes while it runs"),
                ));
            }
            if is_existing
                && let Some(lock) = &a.lock
                && matches!(lock.as_str(), "SHARED" | "EXCLUSIVE")
            {
                facts.push((
                    Medium,
                    "table-lock",
                    format!("LOCK={lock} blocks writes to `{table}` for the whole ALTER"),
                ));
            }
        }
        StatementKind::CreateIndex(c) if !c.concurrently && existing(&c.table) => facts.push((
            Medium,
            "create-index",
            format!(
                "CREATE INDEX without CONCURRENTLY blocks writes to `{}` while the index builds",
                c.table
            ),
        )),
        StatementKind::Reindex(r) if !r.concurrently => facts.push((
            Medium,
            "reindex",
            "REINDEX without CONCURRENTLY blocks writes (and reads that use the index)".to_string(),
        )),
        StatementKind::Vacuum(v) if v.full => facts.push((
            Medium,
            "vacuum-full",
            "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock".to_string(),
        )),
        StatementKind::Cluster(_) => facts.push((
            Medium,
            "cluster",
            "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock".to_string(),
        )),
        StatementKind::Lock { tables, mode } => facts.push((
            Medium,
            "lock-table",
            format!(
                "LOCK {} in {} mode blocks other sessions until the transaction ends",
                names(tables),
                mode.as_deref().unwrap_or("ACCESS EXCLUSIVE")
            ),
        )),
        StatementKind::RefreshMaterializedView { name, concurrently } if !concurrently => facts
            .push((
                Medium,
                "refresh-materialized-view",
                format!("REFRESH MATERIALIZED VIEW `{name}` blocks reads while it runs"),
            )),
        StatementKind::RenameTable { renames } => facts.push((
            Medium,
            "rename-table",
            format!(
                "RENAME TABLE {} breaks clients that use the old name",
                names(&renames.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>())
            ),
        )),
        StatementKind::Unparsed { lexical } => lexical_facts(lexical, &mut facts),
        _ => {}
    }
    // A foreign key locks the table it references: the rule's own reading.
    for (referenced, _) in rules::foreign_keys_added(stmt) {
        if existing(referenced) {
            facts.push((
                Medium,
                "fk-lock-referenced-table",
                format!(
                    "a foreign key takes a SHARE ROW EXCLUSIVE lock on existing table `{referenced}`"
                ),
            ));
        }
    }
    // Another database's syntax, or two statements read as one: what runs is unknown.
    if let StatementSource::Unparsed { error } = &stmt.source
        && error.hides_effect()
    {
        let id = match error.cause {
            ParseCause::MissingSemicolon => "missing-semicolon",
            _ => "parse-error",
        };
        facts.push((High, id, error.message.clone()));
    }
    facts
}

fn names_plain(list: &[ObjectName]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn dml_fact(verb: &str, table: &str, has_where: bool) -> Fact {
    if has_where {
        (
            RiskLevel::Medium,
            "dml-with-where",
            format!("{verb} on `{table}` changes existing rows"),
        )
    } else {
        (
            RiskLevel::High,
            "dml-without-where",
            format!("{verb} on `{table}` without WHERE changes every row"),
        )
    }
}

fn alter_action_facts(
    table: &ObjectName,
    existing: bool,
    action: &AlterAction,
    facts: &mut Vec<Fact>,
) {
    use RiskLevel::{High, Medium};
    match action {
        // Destructive whether or not the table is new: data written by the app is lost.
        AlterAction::DropColumn { name, .. } => facts.push((
            High,
            "drop-column",
            format!("DROP COLUMN `{name}` on `{table}` deletes the column's data"),
        )),
        _ if !existing => {}
        AlterAction::AlterColumnType { column, data_type, .. } => facts.push((
            Medium,
            "column-type-change",
            format!(
                "changing `{table}.{column}` to {} may rewrite the table under an ACCESS EXCLUSIVE lock",
                data_type.raw
            ),
        )),
        AlterAction::ModifyColumn { column } | AlterAction::ChangeColumn { column, .. } => facts
            .push((
                Medium,
                "column-type-change",
                format!(
                    "redefining `{table}.{}` may copy the table",
                    column.name
                ),
            )),
        AlterAction::SetNotNull { column } => facts.push((
            Medium,
            "set-not-null",
            format!(
                "SET NOT NULL on `{table}.{column}` scans the table under an ACCESS EXCLUSIVE lock"
            ),
        )),
        AlterAction::AddColumn { column, .. } => {
            let rewrites = column.is_auto_generated()
                || column.generated_stored
                || column
                    .default
                    .as_ref()
                    .is_some_and(|d| d.volatile != Some(false));
            let required = column.nullable == Some(false)
                && column.default.is_none()
                && !column.is_auto_generated()
                && !column.generated_stored;
            if rewrites {
                facts.push((
                    Medium,
                    "table-rewrite",
                    format!(
                        "adding `{}` to `{table}` rewrites the table under an ACCESS EXCLUSIVE lock",
                        column.name
                    ),
                ));
            } else if required {
                facts.push((
                    Medium,
                    "add-required-column",
                    format!(
                        "adding NOT NULL column `{}` without a default fails if `{table}` has rows",
                        column.name
                    ),
                ));
            }
        }
        AlterAction::AddConstraint { constraint } => {
            let scans = match &constraint.kind {
                ConstraintKind::Check { .. } | ConstraintKind::ForeignKey { .. } => {
                    !constraint.not_valid
                }
                ConstraintKind::PrimaryKey { using_index, .. }
                | ConstraintKind::Unique { using_index, .. } => using_index.is_none(),
                ConstraintKind::NotNull { .. }
                | ConstraintKind::Exclude
                | ConstraintKind::Index { .. } => true,
            };
            if scans {
                facts.push((
                    Medium,
                    "constraint-scan",
                    format!(
                        "adding a constraint to `{table}` scans or indexes the table while holding a lock"
                    ),
                ));
            }
        }
        AlterAction::RenameColumn { from, .. } => facts.push((
            Medium,
            "rename-column",
            format!("renaming `{table}.{from}` breaks clients that use the old name"),
        )),
        AlterAction::RenameTable { .. } => facts.push((
            Medium,
            "rename-table",
            format!("renaming `{table}` breaks clients that use the old name"),
        )),
        AlterAction::DetachPartition {
            partition,
            concurrently: false,
        } => facts.push((
            Medium,
            "detach-partition",
            format!("DETACH PARTITION `{partition}` takes an ACCESS EXCLUSIVE lock on `{table}`"),
        )),
        AlterAction::DropConstraint { name, .. } | AlterAction::DropForeignKey { name } => facts
            .push((
                Medium,
                "drop-constraint",
                format!("dropping constraint `{name}` of `{table}` removes a guarantee under an ACCESS EXCLUSIVE lock"),
            )),
        AlterAction::DropPrimaryKey => facts.push((
            Medium,
            "drop-primary-key",
            format!("dropping the primary key of `{table}` rebuilds it (MySQL) and breaks row identity"),
        )),
        _ => {}
    }
}

/// Risk of a statement the parser did not understand, from its keywords:
/// assume the worst the keywords allow.
fn lexical_facts(lexical: &LexicalClass, facts: &mut Vec<Fact>) {
    use RiskLevel::{High, Medium};
    let note = "(not parsed: classified from its keywords)";
    // Data loss: the one classification the rules share.
    if let Some(loss) = DataLoss::of_lexical(lexical) {
        facts.push((
            High,
            loss.rule_id(),
            format!("DROP {} {note}", loss.keyword()),
        ));
        return;
    }
    let fact: Option<Fact> = match lexical {
        LexicalClass::DropIndex { .. } => {
            Some((Medium, "drop-index", format!("DROP INDEX {note}")))
        }
        LexicalClass::DropOther => Some((Medium, "drop-object", format!("DROP {note}"))),
        LexicalClass::Truncate => Some((High, "truncate", format!("TRUNCATE {note}"))),
        LexicalClass::Delete { has_where: false } => Some((
            High,
            "dml-without-where",
            format!("DELETE without WHERE {note}"),
        )),
        LexicalClass::Update { has_where: false } => Some((
            High,
            "dml-without-where",
            format!("UPDATE without WHERE {note}"),
        )),
        LexicalClass::Delete { has_where: true } => {
            Some((Medium, "dml-with-where", format!("DELETE {note}")))
        }
        LexicalClass::Update { has_where: true } => {
            Some((Medium, "dml-with-where", format!("UPDATE {note}")))
        }
        LexicalClass::AlterTableDropColumn => {
            Some((High, "drop-column", format!("ALTER TABLE … DROP {note}")))
        }
        LexicalClass::AlterTableColumnType => Some((
            Medium,
            "column-type-change",
            format!("ALTER TABLE changing a column type {note}"),
        )),
        LexicalClass::AlterTable => Some((
            Medium,
            "alter-table",
            format!("ALTER TABLE may lock an existing table {note}"),
        )),
        LexicalClass::CreateIndex {
            concurrently: false,
        } => Some((
            Medium,
            "create-index",
            format!("CREATE INDEX without CONCURRENTLY {note}"),
        )),
        // Data loss, handled above.
        LexicalClass::DropTable | LexicalClass::DropDatabase | LexicalClass::DropSchema => None,
        LexicalClass::CreateIndex { concurrently: true }
        | LexicalClass::Insert
        | LexicalClass::CreateTable
        | LexicalClass::OtherDdl
        | LexicalClass::Session
        | LexicalClass::Other => None,
    };
    facts.extend(fact);
}

/// True for statements that change the schema (the "any DDL in production" trigger).
fn is_schema_change(kind: &StatementKind) -> bool {
    match kind {
        k if k.is_parsed_ddl() => true,
        // Unknown statements count when their keywords look like DDL.
        StatementKind::Unparsed { lexical } => !matches!(
            lexical,
            LexicalClass::Session
                | LexicalClass::Other
                | LexicalClass::Insert
                | LexicalClass::Delete { .. }
                | LexicalClass::Update { .. }
        ),
        _ => false,
    }
}

/// Tables a statement touches (normalized own names), for `table` and row estimates.
fn tables_of(kind: &StatementKind) -> Vec<String> {
    match kind {
        StatementKind::Drop(d) if d.object == ObjectKind::Table => {
            d.names.iter().map(ObjectName::normalized).collect()
        }
        StatementKind::Drop(d) => d.table.iter().map(ObjectName::normalized).collect(),
        StatementKind::Truncate(t) => t.tables.iter().map(ObjectName::normalized).collect(),
        StatementKind::Delete(d) => d.tables.iter().map(ObjectName::normalized).collect(),
        StatementKind::Vacuum(v) => v.tables.iter().map(ObjectName::normalized).collect(),
        StatementKind::Lock { tables, .. } => tables.iter().map(ObjectName::normalized).collect(),
        StatementKind::RenameTable { renames } => {
            renames.iter().map(|(f, _)| f.normalized()).collect()
        }
        StatementKind::CreateOther(c) => c.table.iter().map(ObjectName::normalized).collect(),
        other => other
            .table()
            .map(ObjectName::normalized)
            .into_iter()
            .collect(),
    }
}

mod class;

use class::object_word;
pub use class::statement_class;

#[cfg(test)]
mod tests;
