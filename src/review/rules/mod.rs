//! The review rules: one file per rule, one registry table ([`REGISTRY`]), and
//! [`lint`], which runs them over a migration set.
//!
//! A rule is a [`RuleInfo`]: its id, default severity, the texts shown to
//! people, the dialects it applies to, and its check. Checks come in three
//! shapes: per statement (with the schema model as it was just before the
//! statement), per file (transactions, sizes, versions), and per set (after the
//! last file: foreign keys whose index may come in a later statement).
//!
//! [`lint`] resolves severities (per environment > per rule > default; `off`
//! drops a finding), adds the custom pattern rules, and applies suppression
//! comments. Every rule, `off` or not, is evaluated, so that an ignore comment
//! naming it is judged by what it would silence, not by the environment.

use super::FileChange;
use super::custom::{self, CompiledCustomRule};
use super::finding::{Finding, Position, Severity, Span};
use super::model::{AlterAction, Comment, Dialect, ObjectName, Statement, StatementKind};
use super::schema::{Origin, Schema};
use super::settings::ReviewSettings;
use super::suppress::{self, Directive};
use super::version::version_key;
use std::collections::HashMap;

mod add_column_forces_rewrite;
mod add_column_volatile_default;
mod add_required_column;
mod ban_char_type;
mod check_constraint_not_valid;
mod column_type_change;
mod columns;
mod create_index_concurrently;
mod dml_require_where;
mod drop_cascade;
mod drop_column;
mod drop_constraint;
mod drop_database;
mod drop_default;
mod drop_index_concurrently;
mod drop_not_null;
mod drop_object;
mod drop_schema;
mod drop_table;
mod duplicate_column_assignment;
mod enum_add_value;
mod file_too_large;
mod fk_lock_referenced_table;
mod fk_no_duplicate_column;
mod fk_require_index;
mod foreign_key_not_valid;
mod identifier_max_length;
mod index_no_duplicate_column;
mod insert_explicit_columns;
mod insert_select_star;
mod max_sql_size;
mod migration_edited;
mod migration_out_of_order;
mod missing_semicolon;
mod mysql_online_ddl_options;
mod mysql_require_innodb;
mod naming_snake_case;
mod non_transactional_in_transaction;
mod parse_error;
mod pk_no_null;
mod prefer_bigint;
mod prefer_identity;
mod prefer_jsonb;
mod prefer_repack;
mod prefer_timestamptz;
mod primary_key_via_index;
mod reindex_concurrently;
mod rename_column;
mod rename_table;
mod require_lock_timeout;
mod set_not_null;
mod table_require_pk;
mod text_type_limit;
mod transaction_nesting;
mod truncate;
mod uncommitted_transaction;
mod unique_constraint_via_index;
mod unknown_ignore;
mod validate_in_separate_tx;

// Bytebase's catalogue, second pass (most are team policy, off by default).
mod add_column_with_default;
mod char_length_limit;
mod charset_allowlist;
mod collation_allowlist;
mod column_comment_required;
mod column_no_null;
mod column_require_default;
mod column_required;
mod column_type_disallow_list;
mod comment_max_length;
mod create_specify_schema;
mod drop_table_naming;
mod fk_on_delete_cascade;
mod index_key_number_limit;
mod index_total_number_limit;
mod insert_order_by_random;
mod insert_row_limit;
mod limit_value_max;
mod merge_alter_table;
mod naming_fk_template;
mod naming_fully_qualified;
mod naming_index_template;
mod naming_pk_template;
mod naming_unique_template;
mod no_leading_wildcard_like;
mod no_mixed_ddl_dml;
mod pk_type_allowlist;
mod require_set_role;
mod select_require_where;
mod select_star;
mod table_comment_required;
mod table_disallow_partition;
mod table_no_foreign_key;
mod where_no_functions;
// Helpers shared by rules (not rules).
mod clauses;
mod naming_template;
mod options;

pub(crate) use options::Options;
pub use options::{DEFAULT_NAMING_PATTERN, validate_settings};

#[cfg(test)]
pub(crate) mod test_utils;

pub(crate) use columns::typed_columns;

/// What every rule file imports.
mod prelude {
    pub(super) use super::{
        ALL, Check, FileCtx, Hit, MYSQL, PG, RuleInfo, SetCtx, StmtCtx, typed_columns,
    };
    pub(super) use crate::review::finding::{Severity, Span};
    pub(super) use crate::review::model::*;
    pub(super) use crate::review::schema::Origin;
}

/// Both dialects.
const ALL: &[Dialect] = &[Dialect::Postgres, Dialect::Mysql];
/// PostgreSQL only.
const PG: &[Dialect] = &[Dialect::Postgres];
/// MySQL only.
const MYSQL: &[Dialect] = &[Dialect::Mysql];

mod registry;
pub use registry::REGISTRY;

/// A built-in rule: what it is, what people are told, and its check.
#[derive(Debug)]
pub struct RuleInfo {
    /// Stable kebab-case id (config, JSON, SARIF `ruleId`, docs).
    pub id: &'static str,
    /// Severity when the configuration says nothing.
    pub default_severity: Severity,
    /// What it flags, in one line.
    pub description: &'static str,
    /// Why it matters: the lock taken or the failure caused.
    pub why: &'static str,
    /// The safe alternative.
    pub instead: &'static str,
    /// Dialects it applies to.
    pub dialects: &'static [Dialect],
    pub(crate) check: Check,
}

impl RuleInfo {
    /// The help text attached to findings: why, then what to do instead.
    pub fn help(&self) -> String {
        format!("{} Instead: {}", self.why, self.instead)
    }
}

/// The shapes a rule's check can take.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// Called for every statement of every reviewed file.
    Statement(fn(&StmtCtx<'_>, &mut Vec<Hit>)),
    /// Called once per reviewed file.
    File(fn(&FileCtx<'_>, &mut Vec<Hit>)),
    /// Called once after the last file, with the final schema model.
    Set(fn(&SetCtx<'_>, &mut Vec<Hit>)),
    /// Both: per statement, and once after the last file (a rule whose
    /// finding on a statement a later statement may settle).
    StatementAndSet(
        fn(&StmtCtx<'_>, &mut Vec<Hit>),
        fn(&SetCtx<'_>, &mut Vec<Hit>),
    ),
    /// Reported by [`lint`] itself (suppression bookkeeping).
    Engine,
}

/// Every built-in rule.
pub fn registry() -> &'static [RuleInfo] {
    REGISTRY
}

/// A built-in rule by id.
pub fn rule_info(id: &str) -> Option<&'static RuleInfo> {
    REGISTRY.iter().find(|r| r.id == id)
}

/// True when `id` names a built-in rule.
pub fn is_known_rule(id: &str) -> bool {
    rule_info(id).is_some()
}

/// The registry as a Markdown table (id, default severity, dialects, what it
/// flags, why, what to do instead): for `--list-rules` and the docs.
pub fn catalog_markdown() -> String {
    let mut out = String::from(
        "| id | severity | dialects | flags | why | instead |\n|---|---|---|---|---|---|\n",
    );
    for r in REGISTRY {
        let dialects: Vec<&str> = r.dialects.iter().map(|d| d.as_str()).collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            r.id,
            r.default_severity,
            dialects.join(", "),
            r.description.replace('|', "\\|"),
            r.why.replace('|', "\\|"),
            r.instead.replace('|', "\\|"),
        ));
    }
    out
}

/// Why `stmt` cannot run inside a transaction block (`CREATE INDEX
/// CONCURRENTLY`, `VACUUM`, ...), or `None`. The deploy executor runs such
/// statements on their own.
pub fn non_transactional_reason(stmt: &Statement) -> Option<&'static str> {
    non_transactional_in_transaction::non_transactional(stmt)
}

/// The foreign keys `stmt` adds, as (referenced table, where): each locks
/// its referenced table (`fk-lock-referenced-table`; risk asks the same).
pub fn foreign_keys_added(stmt: &Statement) -> Vec<(&ObjectName, Option<Span>)> {
    fk_lock_referenced_table::foreign_keys_added(stmt)
}

/// True when `stmt` takes a lock that blocks reads or writes of a table that
/// `schema` (the model just before the statement) says already existed.
pub fn takes_blocking_lock(stmt: &Statement, schema: &Schema) -> bool {
    require_lock_timeout::takes_blocking_lock(stmt, schema)
}

/// One file of the migration set.
#[derive(Debug, Clone)]
pub struct LintFile<'a> {
    /// Path as reported.
    pub path: &'a str,
    /// Size of the file in bytes (`max-sql-size`).
    pub size_bytes: u64,
    /// The parsed statements.
    pub statements: &'a [Statement],
    /// How the change touches the file. `Unchanged` files are context: they
    /// feed the schema model as existing objects and get no findings.
    pub change: FileChange,
    /// Comments before the first statement (`bytegate-ignore-file`).
    pub header_comments: &'a [Comment],
}

/// Everything [`lint`] needs.
#[derive(Debug, Clone)]
pub struct LintInput<'a> {
    /// The migration set, in any order (linted in version order).
    pub files: &'a [LintFile<'a>],
    /// SQL dialect.
    pub dialect: Dialect,
    /// Target environment, when reviewing for one.
    pub environment: Option<&'a str>,
    /// The `review` config section.
    pub settings: &'a ReviewSettings,
    /// The environment's executor sets a lock timeout (`require-lock-timeout` → info).
    pub lock_timeout_configured: bool,
    /// Paths (or file names) of the migrations on the base branch.
    pub base_versions: &'a [String],
}

/// A suppressed finding and the reason given for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    /// The finding that was silenced.
    pub finding: Finding,
    /// The text after `--` in the ignore comment, when given.
    pub reason: Option<String>,
}

/// The findings of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFindings {
    /// The file's path.
    pub path: String,
    /// Findings after configuration and suppression, ordered by position.
    pub findings: Vec<Finding>,
    /// How many findings suppression comments silenced.
    pub suppressed: usize,
    /// The silenced findings, with reasons (`suppressed == suppressions.len()`).
    pub suppressions: Vec<Suppressed>,
}

/// Which rule a hit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleRef {
    /// Index into [`REGISTRY`].
    Builtin(usize),
    /// Index into the configured custom rules.
    Custom(usize),
}

/// A rule firing, before configuration and suppression.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    rule: RuleRef,
    file: usize,
    /// The statement, for statement-level suppression.
    stmt: Option<usize>,
    span: Span,
    message: String,
}

/// What a statement check sees.
pub(crate) struct StmtCtx<'a> {
    /// The statement.
    pub stmt: &'a Statement,
    /// The schema model just before the statement.
    pub schema: &'a Schema,
    /// The dialect.
    pub dialect: Dialect,
    /// Rule options.
    pub opts: &'a Options,
    /// Every statement of the file (the statement is `stmts[index]`).
    stmts: &'a [Statement],
    file: usize,
    index: usize,
    /// [`StmtCtx::existing`] for the statement's own table, asked once:
    /// some twenty rules ask it of every `ALTER TABLE`.
    own_table_existing: std::cell::OnceCell<bool>,
    /// The file's [`ConstraintAdds`], built the first time a statement asks.
    constraint_adds: &'a std::cell::OnceCell<ConstraintAdds>,
}

/// For each table (normalized name) and constraint name: the last statement
/// of the file whose `ALTER TABLE` adds that constraint. One pass per file,
/// so asking for every statement stays linear.
type ConstraintAdds = HashMap<String, HashMap<String, usize>>;

fn constraint_adds(stmts: &[Statement]) -> ConstraintAdds {
    let mut adds = ConstraintAdds::new();
    for (i, s) in stmts.iter().enumerate() {
        let StatementKind::AlterTable(at) = &s.kind else {
            continue;
        };
        for a in &at.actions {
            if let AlterAction::AddConstraint { constraint } = a
                && let Some(name) = &constraint.name
            {
                adds.entry(at.name.normalized())
                    .or_default()
                    .insert(name.normalized(), i);
            }
        }
    }
    adds
}

impl StmtCtx<'_> {
    /// Whether this statement or a later one of its file adds constraint
    /// `name` to `table` (both normalized): a drop it settles is a
    /// replacement, not a loss.
    pub fn constraint_added_from_here(&self, table: &str, name: &str) -> bool {
        self.constraint_adds
            .get_or_init(|| constraint_adds(self.stmts))
            .get(table)
            .and_then(|names| names.get(name))
            .is_some_and(|&at| at >= self.index)
    }

    /// A hit at `span` (the statement's span when `None`).
    pub fn hit(&self, span: Option<Span>, message: impl Into<String>) -> Hit {
        Hit {
            rule: RuleRef::Builtin(0),
            file: self.file,
            stmt: Some(self.index),
            span: span.unwrap_or(self.stmt.span),
            message: message.into(),
        }
    }

    /// True when the table existed before the change under review (or is
    /// unknown, which is assumed to exist).
    pub fn existing(&self, table: &ObjectName) -> bool {
        let own = self
            .stmt
            .kind
            .table()
            .is_some_and(|t| std::ptr::eq(t, table));
        if own {
            *self
                .own_table_existing
                .get_or_init(|| !self.schema.is_new_table(table))
        } else {
            !self.schema.is_new_table(table)
        }
    }
}

/// What a file check sees.
pub(crate) struct FileCtx<'a> {
    /// The file.
    pub file: &'a LintFile<'a>,
    /// The whole input (base versions, dialect).
    pub input: &'a LintInput<'a>,
    /// Rule options.
    pub opts: &'a Options,
    /// Per statement: takes a lock that blocks reads or writes of an existing table.
    pub blocking: &'a [bool],
    index: usize,
}

impl FileCtx<'_> {
    /// A hit on statement `stmt` (its span unless `span` is given).
    pub fn stmt_hit(&self, stmt: usize, span: Option<Span>, message: impl Into<String>) -> Hit {
        let fallback = self
            .file
            .statements
            .get(stmt)
            .map(|s| s.span)
            .unwrap_or_default();
        Hit {
            rule: RuleRef::Builtin(0),
            file: self.index,
            stmt: Some(stmt),
            span: span.unwrap_or(fallback),
            message: message.into(),
        }
    }

    /// A hit on the file as a whole (line 1).
    pub fn file_hit(&self, message: impl Into<String>) -> Hit {
        let at = Position { line: 1, column: 1 };
        Hit {
            rule: RuleRef::Builtin(0),
            file: self.index,
            stmt: None,
            span: Span { start: at, end: at },
            message: message.into(),
        }
    }
}

/// What a set check sees.
pub(crate) struct SetCtx<'a> {
    /// The schema model after the last file.
    pub schema: &'a Schema,
    /// The files, as in the input (schema origins index them).
    pub files: &'a [LintFile<'a>],
}

impl SetCtx<'_> {
    /// Statement `stmt` of file `file` (as in [`Origin::New`]).
    pub fn statement(&self, file: usize, stmt: usize) -> Option<&Statement> {
        self.files.get(file)?.statements.get(stmt)
    }

    /// A hit on statement `stmt` of file `file`.
    pub fn hit(&self, file: usize, stmt: usize, span: Span, message: impl Into<String>) -> Hit {
        Hit {
            rule: RuleRef::Builtin(0),
            file,
            stmt: Some(stmt),
            span,
            message: message.into(),
        }
    }
}

/// Runs every rule over the migration set. Never panics; returns one entry
/// per reviewed (not `Unchanged`) file, in input order.
pub fn lint(input: &LintInput<'_>) -> Vec<FileFindings> {
    let opts = Options::from_settings(input.settings);
    let customs: Vec<CompiledCustomRule> = input
        .settings
        .custom
        .iter()
        .map(CompiledCustomRule::new)
        .collect();
    let named = comment_words(input);
    let rules: Vec<(usize, &RuleInfo)> = REGISTRY
        .iter()
        .enumerate()
        .filter(|(_, r)| r.dialects.contains(&input.dialect))
        .filter(|(_, r)| builtin_severity(input, r) != Severity::Off || named.contains(r.id))
        .collect();

    let mut order: Vec<usize> = (0..input.files.len()).collect();
    order.sort_by_cached_key(|&i| input.files.get(i).map(|f| version_key(f.path)));

    let mut schema = Schema::new();
    let mut hits: Vec<Hit> = Vec::new();
    for &fi in &order {
        let Some(file) = input.files.get(fi) else {
            continue;
        };
        match file.change {
            FileChange::Unchanged => {
                for s in file.statements {
                    schema.apply(s, Origin::Existing);
                }
                continue;
            }
            FileChange::Removed => {}
            FileChange::Added | FileChange::Modified | FileChange::Renamed { .. } => {
                let mut blocking = vec![false; file.statements.len()];
                let constraint_adds = std::cell::OnceCell::new();
                for (si, stmt) in file.statements.iter().enumerate() {
                    let cx = StmtCtx {
                        stmt,
                        schema: &schema,
                        dialect: input.dialect,
                        opts: &opts,
                        stmts: file.statements,
                        file: fi,
                        index: si,
                        own_table_existing: std::cell::OnceCell::new(),
                        constraint_adds: &constraint_adds,
                    };
                    for &(ri, rule) in &rules {
                        if let Check::Statement(check) | Check::StatementAndSet(check, _) =
                            rule.check
                        {
                            let start = hits.len();
                            check(&cx, &mut hits);
                            tag(&mut hits[start..], RuleRef::Builtin(ri));
                        }
                    }
                    if !customs.is_empty() {
                        let text = custom::normalize_text(&stmt.text, input.dialect);
                        for (ci, c) in customs.iter().enumerate() {
                            if c.matches(&text) {
                                let mut h = cx.hit(None, c.rule.message.clone());
                                h.rule = RuleRef::Custom(ci);
                                hits.push(h);
                            }
                        }
                    }
                    if let Some(b) = blocking.get_mut(si) {
                        *b = require_lock_timeout::takes_blocking_lock(stmt, &schema);
                    }
                    schema.apply(stmt, Origin::New { file: fi, stmt: si });
                }
                let fcx = FileCtx {
                    file,
                    input,
                    opts: &opts,
                    blocking: &blocking,
                    index: fi,
                };
                for &(ri, rule) in &rules {
                    if let Check::File(check) = rule.check {
                        let start = hits.len();
                        check(&fcx, &mut hits);
                        tag(&mut hits[start..], RuleRef::Builtin(ri));
                    }
                }
                continue;
            }
        }
        // Removed files: only the file-level checks (migration-edited).
        let fcx = FileCtx {
            file,
            input,
            opts: &opts,
            blocking: &[],
            index: fi,
        };
        for &(ri, rule) in &rules {
            if let Check::File(check) = rule.check
                && rule.id == migration_edited::RULE.id
            {
                let start = hits.len();
                check(&fcx, &mut hits);
                tag(&mut hits[start..], RuleRef::Builtin(ri));
            }
        }
    }
    let scx = SetCtx {
        schema: &schema,
        files: input.files,
    };
    for &(ri, rule) in &rules {
        if let Check::Set(check) | Check::StatementAndSet(_, check) = rule.check {
            let start = hits.len();
            check(&scx, &mut hits);
            tag(&mut hits[start..], RuleRef::Builtin(ri));
        }
    }

    let mut per_file: Vec<Vec<Hit>> = vec![Vec::new(); input.files.len()];
    for h in hits {
        if let Some(v) = per_file.get_mut(h.file) {
            v.push(h);
        }
    }
    input
        .files
        .iter()
        .zip(per_file)
        .filter(|(f, _)| f.change != FileChange::Unchanged)
        .map(|(f, hits)| finish_file(input, f, hits, &customs))
        .collect()
}

/// Every rule-id-like word in the reviewed files' comments. A rule that is
/// `off` runs only when a comment names it, so that an ignore comment naming
/// it is still judged by what it would silence; the others cost nothing.
fn comment_words<'a>(input: &'a LintInput<'a>) -> std::collections::HashSet<&'a str> {
    let mut words = std::collections::HashSet::new();
    let reviewed = input
        .files
        .iter()
        .filter(|f| f.change != FileChange::Unchanged);
    for f in reviewed {
        let comments = f
            .header_comments
            .iter()
            .chain(f.statements.iter().flat_map(|s| {
                s.leading_comments
                    .iter()
                    .chain(s.trailing_comment.as_deref())
            }));
        for c in comments {
            words.extend(
                c.text
                    .split(|ch: char| !(ch.is_ascii_lowercase() || ch == '-'))
                    .filter(|w| w.len() > 2),
            );
        }
    }
    words
}

fn tag(hits: &mut [Hit], rule: RuleRef) {
    for h in hits {
        h.rule = rule;
    }
}

/// The severity a built-in rule has in this run.
fn builtin_severity(input: &LintInput<'_>, rule: &RuleInfo) -> Severity {
    // An unreviewed file must fail the check whatever the configuration says.
    if rule.id == file_too_large::RULE.id {
        return Severity::Error;
    }
    let default = if rule.id == require_lock_timeout::RULE.id && input.lock_timeout_configured {
        Severity::Info
    } else {
        rule.default_severity
    };
    configured(input, rule.id, default)
}

/// Per-environment setting > rule setting > `default`.
fn configured(input: &LintInput<'_>, id: &str, default: Severity) -> Severity {
    let Some(s) = input.settings.rules.get(id) else {
        return default;
    };
    input
        .environment
        .and_then(|e| s.environments.get(e).copied())
        .or(s.severity)
        .unwrap_or(default)
}

fn rule_name(rule: RuleRef, customs: &[CompiledCustomRule]) -> &str {
    match rule {
        RuleRef::Builtin(i) => REGISTRY.get(i).map_or("", |r| r.id),
        RuleRef::Custom(i) => customs.get(i).map_or("", |c| c.rule.name.as_str()),
    }
}

/// Applies suppression and severities to one file's hits.
fn finish_file(
    input: &LintInput<'_>,
    file: &LintFile<'_>,
    mut hits: Vec<Hit>,
    customs: &[CompiledCustomRule],
) -> FileFindings {
    hits.sort_by_key(|h| (h.span.start, h.stmt));
    let mut file_dirs = suppress::file_directives(file.header_comments);
    let mut stmt_dirs: Vec<Vec<Directive>> = Vec::with_capacity(file.statements.len());
    let mut detached: Vec<Directive> = Vec::new();
    for i in 0..file.statements.len() {
        let (attached, lost) = suppress::statement_directives(file.statements, i);
        stmt_dirs.push(attached);
        detached.extend(lost);
    }
    let mut out = FileFindings {
        path: file.path.to_string(),
        findings: Vec::new(),
        suppressed: 0,
        suppressions: Vec::new(),
    };
    for h in hits {
        let name = rule_name(h.rule, customs);
        let (severity, help) = match h.rule {
            RuleRef::Builtin(i) => match REGISTRY.get(i) {
                Some(r) => (builtin_severity(input, r), Some(r.help())),
                None => continue,
            },
            RuleRef::Custom(i) => match customs.get(i) {
                Some(c) if c.applies_in(input.environment) => {
                    (configured(input, name, c.rule.severity), None)
                }
                Some(_) => (Severity::Off, None),
                None => continue,
            },
        };
        let reason = if name == file_too_large::RULE.id {
            None // nothing in the file was read: nothing in it may silence this
        } else {
            take_suppression(&mut stmt_dirs, &mut file_dirs, h.stmt, name)
        };
        if severity == Severity::Off {
            continue;
        }
        let finding = Finding {
            rule: name.to_string(),
            severity,
            span: h.span,
            message: h.message,
            help,
        };
        match reason {
            Some(reason) => out.suppressions.push(Suppressed { finding, reason }),
            None => out.findings.push(finding),
        }
    }
    unknown_ignore::report(input, &mut out, stmt_dirs, file_dirs, &detached, customs);
    out.suppressed = out.suppressions.len();
    out.findings.sort_by(|a, b| {
        (a.span.start, &a.rule, &a.message).cmp(&(b.span.start, &b.rule, &b.message))
    });
    out
}

/// `Some(reason)` when a statement or file directive silences `rule` (the
/// statement's own directive is preferred).
fn take_suppression(
    stmt_dirs: &mut [Vec<Directive>],
    file_dirs: &mut [Directive],
    stmt: Option<usize>,
    rule: &str,
) -> Option<Option<String>> {
    if let Some(dirs) = stmt.and_then(|i| stmt_dirs.get_mut(i)) {
        for d in dirs.iter_mut() {
            if d.take(rule) {
                return Some(d.reason.clone());
            }
        }
    }
    for d in file_dirs.iter_mut() {
        if d.take(rule) {
            return Some(d.reason.clone());
        }
    }
    None
}

/// True when `name` is a built-in rule or a configured custom rule.
fn is_known_name(name: &str, customs: &[CompiledCustomRule]) -> bool {
    is_known_rule(name) || customs.iter().any(|c| c.rule.name == name)
}

#[cfg(test)]
mod tests;

/// Lints the Lemmy corpus (up.sql files as one added set) and prints counts
/// per rule: a tool for spotting false positives, not an assertion on them.
/// Run: `cargo test --lib review::rules::corpus -- --ignored --nocapture`
#[cfg(test)]
mod corpus;
