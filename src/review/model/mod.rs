//! bytegate's own statement model: the facts about each SQL statement that the
//! rules, the schema model and the risk analysis need.
//!
//! Rules never see sqlparser's AST. `review::parse` turns each statement of a
//! file into a [`Statement`] — from sqlparser's AST (source `Parsed`), from a
//! token-level recognizer for forms sqlparser rejects (`Recognized`), or as
//! `Unparsed` with a lexical classification so risk is never underestimated.
//!
//! Everything here is plain data: public fields, `Debug`, `Clone`, `PartialEq`.
//! Names keep what was written ([`Ident::value`], [`Ident::quoted`]) and offer a
//! normalized form ([`Ident::normalized`]) for comparisons.

use super::finding::{Position, Span};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

mod other;
mod table;

pub use other::*;
pub use table::*;

/// The SQL dialect a migration set is written in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// PostgreSQL (the default).
    #[default]
    Postgres,
    /// MySQL / MariaDB.
    Mysql,
}

impl Dialect {
    /// The lowercase name used in config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dialect {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            other => Err(format!(
                "unknown dialect `{other}` (expected postgres or mysql)"
            )),
        }
    }
}

/// One SQL statement of a migration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// What the statement does: the facts rules read.
    pub kind: StatementKind,
    /// From the statement's first token to its last (1-based lines and columns,
    /// columns count characters; the terminating `;` is not included).
    pub span: Span,
    /// The statement's source text (no trailing `;`, leading/trailing comments excluded).
    pub text: String,
    /// Byte offsets of `text` in the file.
    pub byte_range: Range<usize>,
    /// 0-based position of the statement in its file.
    pub index: usize,
    /// How `kind` was obtained.
    pub source: StatementSource,
    /// Comments between the previous statement (or the file start) and this
    /// statement's first token, in order. Suppression reads the ones on the lines
    /// directly above the statement.
    pub leading_comments: Vec<Comment>,
    /// A comment on the statement's last line after its last token (after the `;`,
    /// or before it / at the end of the file when the `;` is elsewhere or missing).
    pub trailing_comment: Option<Box<Comment>>,
}

impl Statement {
    /// The line of the statement's first token.
    pub fn line(&self) -> u32 {
        self.span.start.line
    }

    /// True when sqlparser or a recognizer understood the statement.
    pub fn is_understood(&self) -> bool {
        !matches!(self.source, StatementSource::Unparsed { .. })
    }

    /// The lexical classification: computed for unparsed statements, derived
    /// from `kind` otherwise. Risk uses it so a parse failure never lowers risk.
    pub fn lexical(&self) -> LexicalClass {
        match &self.kind {
            StatementKind::Unparsed { lexical } => lexical.clone(),
            kind => kind.lexical_class(),
        }
    }
}

/// How a statement's [`StatementKind`] was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementSource {
    /// sqlparser parsed it; the adapter turned the AST into the model.
    Parsed,
    /// sqlparser rejected it, a token-level recognizer understood it.
    Recognized,
    /// Neither understood it: `kind` is [`StatementKind::Unparsed`].
    Unparsed {
        /// Why (sqlparser's or the tokenizer's message).
        error: Box<ParseError>,
    },
}

/// A parse failure, as reported by the `parse-error` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// sqlparser's or the tokenizer's message.
    pub message: String,
    /// Where in the file, when the parser said (file coordinates).
    pub position: Option<Position>,
    /// Why the statement was not understood.
    pub cause: ParseCause,
}

/// Why a statement was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParseCause {
    /// The parser (or tokenizer) rejected it.
    #[default]
    Syntax,
    /// It is another database's syntax (SQLite, MySQL) reviewed as
    /// PostgreSQL: it would fail, so risk counts it as high.
    OtherDialect,
    /// A `;` is missing: two statements were read as one (`position` is the join).
    MissingSemicolon,
}

impl ParseError {
    /// True when the statement is unreadable in a way that makes its effect
    /// unknown: another database's syntax, or two statements joined.
    pub fn hides_effect(&self) -> bool {
        self.cause != ParseCause::Syntax
    }
}

/// A SQL comment in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// 1-based line of the comment's first character.
    pub line: u32,
    /// 1-based column of the comment's first character.
    pub column: u32,
    /// The comment's last line (differs from `line` for multi-line block comments).
    pub end_line: u32,
    /// The body without the `--` / `#` / `/* */` markers and without the trailing newline.
    pub text: String,
    /// True for `/* ... */`.
    pub block: bool,
}

/// An identifier as written, with its location when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The identifier's value (without quotes).
    pub value: String,
    /// True when written quoted (`"Foo"` or `` `Foo` ``): case is significant.
    pub quoted: bool,
    /// Where the identifier is in the file, when sqlparser gave a span.
    pub span: Option<Span>,
}

impl Ident {
    /// An unquoted identifier without a location (handy in tests and recognizers).
    pub fn new(value: impl Into<String>) -> Ident {
        Ident {
            value: value.into(),
            quoted: false,
            span: None,
        }
    }

    /// The form used to compare names: unquoted identifiers fold to lowercase.
    pub fn normalized(&self) -> String {
        if self.quoted {
            self.value.clone()
        } else if self.value.is_ascii() {
            // Same result as `to_lowercase` for ASCII, without its per-char walk.
            self.value.to_ascii_lowercase()
        } else {
            self.value.to_lowercase()
        }
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// A possibly schema-qualified object name (`schema.table`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectName {
    /// The dotted parts, in order; the last one is the object's own name.
    pub parts: Vec<Ident>,
}

impl ObjectName {
    /// A one-part unquoted name without a location.
    pub fn simple(value: impl Into<String>) -> ObjectName {
        ObjectName {
            parts: vec![Ident::new(value)],
        }
    }

    /// The object's own name (the last part); empty when there are no parts.
    pub fn name(&self) -> &str {
        self.parts.last().map(|p| p.value.as_str()).unwrap_or("")
    }

    /// The last part as an [`Ident`].
    pub fn ident(&self) -> Option<&Ident> {
        self.parts.last()
    }

    /// The schema (second-to-last part), when qualified.
    pub fn schema(&self) -> Option<&Ident> {
        if self.parts.len() >= 2 {
            self.parts.get(self.parts.len() - 2)
        } else {
            None
        }
    }

    /// Normalized own name (last part): for matching tables across statements.
    pub fn normalized(&self) -> String {
        self.parts.last().map(Ident::normalized).unwrap_or_default()
    }

    /// Normalized full dotted name.
    pub fn normalized_qualified(&self) -> String {
        self.parts
            .iter()
            .map(Ident::normalized)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The span of the name (from its first to its last part), when known.
    pub fn span(&self) -> Option<Span> {
        let first = self.parts.first()?.span?;
        let last = self.parts.last()?.span?;
        Some(Span {
            start: first.start,
            end: last.end,
        })
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&p.value)?;
        }
        Ok(())
    }
}

/// The facts of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `CREATE TABLE`.
    CreateTable(CreateTable),
    /// `ALTER TABLE` with its actions.
    AlterTable(AlterTable),
    /// `CREATE [UNIQUE] INDEX`.
    CreateIndex(CreateIndex),
    /// `DROP <object> ...` (tables, indexes, views, schemas, databases, ...).
    Drop(Drop),
    /// `TRUNCATE`.
    Truncate(Truncate),
    /// `INSERT` / `REPLACE`.
    Insert(Insert),
    /// `UPDATE`.
    Update(Update),
    /// `DELETE`.
    Delete(Delete),
    /// `SET [SESSION|LOCAL] name = value` (also MySQL `SET SESSION x = ...`).
    Set(Set),
    /// `RESET name` / `RESET ALL`.
    Reset {
        /// Lowercased setting name; `None` for `RESET ALL`.
        name: Option<String>,
    },
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` / `ABORT` (not `ROLLBACK TO SAVEPOINT`).
    Rollback,
    /// `SAVEPOINT`, `RELEASE [SAVEPOINT]`, `ROLLBACK TO [SAVEPOINT]`.
    Savepoint,
    /// `REINDEX [ (opts) ] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} [CONCURRENTLY] name`.
    Reindex(Reindex),
    /// `VACUUM [FULL] [tables]`.
    Vacuum(Vacuum),
    /// `ANALYZE [tables]`.
    Analyze {
        /// Tables named (empty: the whole database).
        tables: Vec<ObjectName>,
    },
    /// `CLUSTER [table [USING index]]`.
    Cluster(Cluster),
    /// MySQL `RENAME TABLE a TO b, ...` (PostgreSQL renames are [`AlterAction::RenameTable`]).
    RenameTable {
        /// (from, to) pairs.
        renames: Vec<(ObjectName, ObjectName)>,
    },
    /// `LOCK [TABLE] name [IN mode MODE]`.
    Lock {
        /// Tables locked.
        tables: Vec<ObjectName>,
        /// The lock mode as written, uppercased (`ACCESS EXCLUSIVE` when omitted in PostgreSQL).
        mode: Option<String>,
    },
    /// `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name`.
    RefreshMaterializedView {
        /// The view.
        name: ObjectName,
        /// `CONCURRENTLY` given.
        concurrently: bool,
    },
    /// `COMMENT ON <object> name IS ...`.
    Comment {
        /// What is commented on.
        object: ObjectKind,
        /// Its name.
        name: Option<ObjectName>,
    },
    /// `GRANT` or `REVOKE`.
    Grant {
        /// True for `REVOKE`.
        revoke: bool,
    },
    /// Any other `CREATE`: view, function, sequence, type, extension, trigger,
    /// schema, database, statistics, domain, ...
    CreateOther(CreateOther),
    /// `ALTER <object>` other than `ALTER TABLE`: sequence, index, type, view,
    /// function, database, ...
    AlterOther(AlterOther),
    /// `DO $$ ... $$` (anonymous code block).
    DoBlock,
    /// `SELECT` (incl. `SELECT fn(...)`) and other queries (`WITH`, `VALUES`).
    Select,
    /// A recognized or parsed statement bytegate has no facts for
    /// (`EXPLAIN`, `CALL`, `SHOW`, `USE`, ...).
    Other {
        /// The statement's first keyword(s), uppercased (e.g. `CALL`, `SHOW`).
        keyword: String,
    },
    /// Neither sqlparser nor a recognizer understood the statement.
    Unparsed {
        /// What the statement's tokens say it does, for risk.
        lexical: LexicalClass,
    },
}

/// Kinds of database objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `TABLE`.
    Table,
    /// `INDEX`.
    Index,
    /// `VIEW`.
    View,
    /// `MATERIALIZED VIEW`.
    MaterializedView,
    /// `SEQUENCE`.
    Sequence,
    /// `SCHEMA`.
    Schema,
    /// `DATABASE`.
    Database,
    /// `FUNCTION`.
    Function,
    /// `PROCEDURE`.
    Procedure,
    /// `TRIGGER`.
    Trigger,
    /// `TYPE`.
    Type,
    /// `DOMAIN`.
    Domain,
    /// `EXTENSION`.
    Extension,
    /// `ROLE` / `USER`.
    Role,
    /// `STATISTICS`.
    Statistics,
    /// `POLICY`.
    Policy,
    /// `COLUMN` (in `COMMENT ON COLUMN`).
    Column,
    /// `CONSTRAINT` (in `COMMENT ON CONSTRAINT`).
    Constraint,
    /// Anything else, with its keyword(s) uppercased (e.g. `AGGREGATE`, `COLLATION`).
    Other(String),
}

/// What an unparsed statement's tokens say it does. Risk analysis uses this so a
/// parse failure never makes a destructive statement look harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexicalClass {
    /// `DROP TABLE`.
    DropTable,
    /// `DROP DATABASE`.
    DropDatabase,
    /// `DROP SCHEMA`.
    DropSchema,
    /// `DROP INDEX`.
    DropIndex {
        /// `CONCURRENTLY` seen.
        concurrently: bool,
    },
    /// `DROP` of anything else.
    DropOther,
    /// `TRUNCATE`.
    Truncate,
    /// `DELETE`.
    Delete {
        /// A top-level `WHERE` seen.
        has_where: bool,
    },
    /// `UPDATE`.
    Update {
        /// A top-level `WHERE` seen.
        has_where: bool,
    },
    /// `INSERT` / `REPLACE` / `COPY` / `MERGE`.
    Insert,
    /// `ALTER TABLE ... DROP COLUMN` (or MySQL `DROP` of a column).
    AlterTableDropColumn,
    /// `ALTER TABLE ... ALTER COLUMN ... TYPE` / MySQL `MODIFY` / `CHANGE`.
    AlterTableColumnType,
    /// Any other `ALTER TABLE`.
    AlterTable,
    /// `CREATE INDEX`.
    CreateIndex {
        /// `CONCURRENTLY` seen.
        concurrently: bool,
    },
    /// `CREATE TABLE`.
    CreateTable,
    /// Other DDL (`CREATE`, `ALTER`, `COMMENT`, `GRANT`, `REINDEX`, `VACUUM`, ...).
    OtherDdl,
    /// `BEGIN`, `COMMIT`, `ROLLBACK`, `SET`, ...
    Session,
    /// `SELECT` / `WITH` / `DO`, or nothing recognizable.
    Other,
}

impl StatementKind {
    /// True for a parsed statement that changes the schema (DDL). Unparsed
    /// statements are left to the caller: their keywords are all there is.
    pub fn is_parsed_ddl(&self) -> bool {
        matches!(
            self,
            StatementKind::CreateTable(_)
                | StatementKind::AlterTable(_)
                | StatementKind::CreateIndex(_)
                | StatementKind::Drop(_)
                | StatementKind::Truncate(_)
                | StatementKind::RenameTable { .. }
                | StatementKind::CreateOther(_)
                | StatementKind::AlterOther(_)
        )
    }

    /// The lexical class matching this statement's facts (for parsed statements).
    pub fn lexical_class(&self) -> LexicalClass {
        match self {
            StatementKind::CreateTable(_) => LexicalClass::CreateTable,
            StatementKind::AlterTable(a) => {
                if a.actions
                    .iter()
                    .any(|x| matches!(x, AlterAction::DropColumn { .. }))
                {
                    LexicalClass::AlterTableDropColumn
                } else if a.actions.iter().any(|x| {
                    matches!(
                        x,
                        AlterAction::AlterColumnType { .. }
                            | AlterAction::ModifyColumn { .. }
                            | AlterAction::ChangeColumn { .. }
                    )
                }) {
                    LexicalClass::AlterTableColumnType
                } else {
                    LexicalClass::AlterTable
                }
            }
            StatementKind::CreateIndex(c) => LexicalClass::CreateIndex {
                concurrently: c.concurrently,
            },
            StatementKind::Drop(d) => match d.object {
                ObjectKind::Table => LexicalClass::DropTable,
                ObjectKind::Database => LexicalClass::DropDatabase,
                ObjectKind::Schema => LexicalClass::DropSchema,
                ObjectKind::Index => LexicalClass::DropIndex {
                    concurrently: d.concurrently,
                },
                _ => LexicalClass::DropOther,
            },
            StatementKind::Truncate(_) => LexicalClass::Truncate,
            StatementKind::Insert(_) => LexicalClass::Insert,
            StatementKind::Update(u) => LexicalClass::Update {
                has_where: u.has_where,
            },
            StatementKind::Delete(d) => LexicalClass::Delete {
                has_where: d.has_where,
            },
            StatementKind::Set(_)
            | StatementKind::Reset { .. }
            | StatementKind::Begin
            | StatementKind::Commit
            | StatementKind::Rollback
            | StatementKind::Savepoint => LexicalClass::Session,
            StatementKind::Reindex(_)
            | StatementKind::Vacuum(_)
            | StatementKind::Analyze { .. }
            | StatementKind::Cluster(_)
            | StatementKind::RenameTable { .. }
            | StatementKind::Lock { .. }
            | StatementKind::RefreshMaterializedView { .. }
            | StatementKind::Comment { .. }
            | StatementKind::Grant { .. }
            | StatementKind::CreateOther(_)
            | StatementKind::AlterOther(_) => LexicalClass::OtherDdl,
            StatementKind::DoBlock | StatementKind::Select | StatementKind::Other { .. } => {
                LexicalClass::Other
            }
            StatementKind::Unparsed { lexical } => lexical.clone(),
        }
    }

    /// The table the statement is mainly about (created, altered, indexed, written), if any.
    pub fn table(&self) -> Option<&ObjectName> {
        match self {
            StatementKind::CreateTable(c) => Some(&c.name),
            StatementKind::AlterTable(a) => Some(&a.name),
            StatementKind::CreateIndex(c) => Some(&c.table),
            StatementKind::Insert(i) => Some(&i.table),
            StatementKind::Update(u) => Some(&u.table),
            StatementKind::Delete(d) => d.tables.first(),
            StatementKind::Truncate(t) => t.tables.first(),
            StatementKind::Cluster(c) => c.table.as_ref(),
            _ => None,
        }
    }
}

/// A parsed file: its statements plus every comment, for suppression.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFile {
    /// The statements, in order.
    pub statements: Vec<Statement>,
    /// Comments before the first statement (the file header), in order.
    pub header_comments: Vec<Comment>,
    /// Every comment in the file, in order (including those inside statements).
    pub comments: Vec<Comment>,
}
