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
    pub trailing_comment: Option<Comment>,
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
        error: ParseError,
    },
}

/// A parse failure, as reported by the `parse-error` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// sqlparser's or the tokenizer's message.
    pub message: String,
    /// Where in the file, when the parser said (file coordinates).
    pub position: Option<Position>,
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

/// `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateTable {
    /// The table.
    pub name: ObjectName,
    /// Columns in order.
    pub columns: Vec<ColumnDef>,
    /// Table-level constraints (and MySQL inline `KEY`/`INDEX` definitions).
    pub constraints: Vec<TableConstraint>,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `TEMPORARY` / `TEMP`.
    pub temporary: bool,
    /// `UNLOGGED`.
    pub unlogged: bool,
    /// `CREATE TABLE ... AS SELECT` / `LIKE` / `PARTITION OF`: the columns come from elsewhere.
    pub derived: bool,
    /// `PARTITION OF parent`.
    pub partition_of: Option<ObjectName>,
    /// MySQL `ENGINE=...` (as written).
    pub engine: Option<String>,
}

/// A column definition (`CREATE TABLE`, `ADD COLUMN`, MySQL `MODIFY`/`CHANGE`).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    /// Column name.
    pub name: Ident,
    /// Declared type.
    pub data_type: DataType,
    /// `Some(false)` for `NOT NULL`, `Some(true)` for explicit `NULL`, `None` when unsaid.
    pub nullable: Option<bool>,
    /// `DEFAULT expr`.
    pub default: Option<DefaultValue>,
    /// Inline `PRIMARY KEY`.
    pub primary_key: bool,
    /// Inline `UNIQUE`.
    pub unique: bool,
    /// Inline `REFERENCES`.
    pub references: Option<ForeignKeyRef>,
    /// Inline `CHECK (...)` expressions (SQL text).
    pub checks: Vec<String>,
    /// `GENERATED ALWAYS AS (...) STORED` (PostgreSQL) / MySQL `... STORED`.
    pub generated_stored: bool,
    /// A generated column that is not stored (`VIRTUAL`).
    pub generated_virtual: bool,
    /// `GENERATED {ALWAYS|BY DEFAULT} AS IDENTITY`.
    pub identity: bool,
    /// MySQL `AUTO_INCREMENT`.
    pub auto_increment: bool,
    /// Where the whole column definition is, when known.
    pub span: Option<Span>,
}

impl ColumnDef {
    /// A column with only a name and a type (tests, recognizers).
    pub fn new(name: Ident, data_type: DataType) -> ColumnDef {
        ColumnDef {
            name,
            data_type,
            nullable: None,
            default: None,
            primary_key: false,
            unique: false,
            references: None,
            checks: Vec::new(),
            generated_stored: false,
            generated_virtual: false,
            identity: false,
            auto_increment: false,
            span: None,
        }
    }

    /// True when the column gets values from a sequence or counter
    /// (serial types, identity, AUTO_INCREMENT).
    pub fn is_auto_generated(&self) -> bool {
        self.identity || self.auto_increment || self.data_type.is_serial()
    }
}

/// A column's declared type, with the normalization rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataType {
    /// As written (sqlparser's rendering), e.g. `VARCHAR(255)`, `timestamp with time zone`.
    pub raw: String,
    /// Canonical lowercase base name: `integer`, `bigint`, `smallint`, `serial`,
    /// `bigserial`, `smallserial`, `varchar`, `char`, `text`, `json`, `jsonb`,
    /// `timestamp`, `timestamptz`, `time`, `timetz`, `numeric`, `boolean`, `uuid`, ...
    /// Unknown / user types keep their (lowercased) name.
    pub name: String,
    /// First type parameter: length of `varchar(n)`/`char(n)`, precision of `numeric(p,s)`.
    pub length: Option<u64>,
    /// Second type parameter (e.g. scale of `numeric(p,s)`).
    pub scale: Option<u64>,
    /// Array type (`int[]`, `text ARRAY`).
    pub array: bool,
}

impl DataType {
    /// A type from its canonical name (tests, recognizers).
    pub fn named(name: &str) -> DataType {
        DataType {
            raw: name.to_string(),
            name: name.to_string(),
            length: None,
            scale: None,
            array: false,
        }
    }

    /// `serial`, `bigserial`, `smallserial`.
    pub fn is_serial(&self) -> bool {
        !self.array && matches!(self.name.as_str(), "serial" | "bigserial" | "smallserial")
    }

    /// `json` (not `jsonb`).
    pub fn is_json(&self) -> bool {
        self.name == "json"
    }

    /// Fixed-length `char(n)` / `character(n)` / `nchar`.
    pub fn is_char(&self) -> bool {
        self.name == "char"
    }

    /// `varchar(n)` / `character varying(n)`.
    pub fn is_varchar(&self) -> bool {
        self.name == "varchar"
    }

    /// `timestamp` / `timestamp without time zone` / MySQL `datetime`.
    pub fn is_timestamp_without_tz(&self) -> bool {
        self.name == "timestamp"
    }

    /// 32-bit or narrower integer types, including `serial`/`smallserial`:
    /// what `prefer-bigint` flags.
    pub fn is_small_integer(&self) -> bool {
        matches!(
            self.name.as_str(),
            "integer" | "smallint" | "serial" | "smallserial" | "tinyint" | "mediumint"
        )
    }

    /// Any integer type.
    pub fn is_integer(&self) -> bool {
        self.is_small_integer() || matches!(self.name.as_str(), "bigint" | "bigserial")
    }
}

/// A `DEFAULT` expression, summarized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultValue {
    /// The expression's SQL text.
    pub text: String,
    /// Lowercased names of the functions the expression calls (`now`, `nextval`, ...).
    pub functions: Vec<String>,
    /// Literal only (numbers, strings, booleans, `NULL`, casts of literals).
    pub is_constant: bool,
    /// `Some(true)`: calls a known volatile function (`random()`, `gen_random_uuid()`,
    /// `clock_timestamp()`, `nextval()`, ...); `Some(false)`: constant or only known
    /// non-volatile functions (`now()`, `current_timestamp`, ...); `None`: calls
    /// functions bytegate does not know.
    pub volatile: Option<bool>,
}

/// `REFERENCES table (cols) [ON DELETE ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyRef {
    /// Referenced table.
    pub table: ObjectName,
    /// Referenced columns (empty: the referenced table's primary key).
    pub columns: Vec<Ident>,
    /// `ON DELETE` action.
    pub on_delete: Option<ReferentialAction>,
    /// `ON UPDATE` action.
    pub on_update: Option<ReferentialAction>,
}

/// A foreign key's `ON DELETE` / `ON UPDATE` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferentialAction {
    /// `NO ACTION`.
    NoAction,
    /// `RESTRICT`.
    Restrict,
    /// `CASCADE`.
    Cascade,
    /// `SET NULL`.
    SetNull,
    /// `SET DEFAULT`.
    SetDefault,
}

/// A table constraint (in `CREATE TABLE` or `ALTER TABLE ... ADD`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableConstraint {
    /// `CONSTRAINT name`, when given.
    pub name: Option<Ident>,
    /// What it constrains.
    pub kind: ConstraintKind,
    /// `NOT VALID` (PostgreSQL CHECK / FOREIGN KEY).
    pub not_valid: bool,
    /// Where the constraint is, when known.
    pub span: Option<Span>,
}

/// The kinds of table constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstraintKind {
    /// `PRIMARY KEY (cols)` or `PRIMARY KEY USING INDEX idx`.
    PrimaryKey {
        /// Key columns (empty with `USING INDEX`).
        columns: Vec<Ident>,
        /// `USING INDEX name`.
        using_index: Option<Ident>,
    },
    /// `UNIQUE (cols)` or `UNIQUE USING INDEX idx`.
    Unique {
        /// Key columns (empty with `USING INDEX`).
        columns: Vec<Ident>,
        /// `USING INDEX name`.
        using_index: Option<Ident>,
    },
    /// `CHECK (expr)`.
    Check {
        /// The expression's SQL text.
        expr: String,
        /// Columns the check requires to be non-null (`col IS NOT NULL` conjuncts).
        not_null_columns: Vec<Ident>,
    },
    /// `FOREIGN KEY (cols) REFERENCES ...`.
    ForeignKey {
        /// Referencing columns.
        columns: Vec<Ident>,
        /// Referenced table, columns and actions.
        references: ForeignKeyRef,
    },
    /// PostgreSQL 18 `[CONSTRAINT name] NOT NULL col`.
    NotNull {
        /// The column.
        column: Ident,
    },
    /// `EXCLUDE USING ...`.
    Exclude,
    /// MySQL `KEY`/`INDEX`/`FULLTEXT`/`SPATIAL` index definitions.
    Index {
        /// Indexed columns.
        columns: Vec<Ident>,
    },
}

/// `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTable {
    /// The table.
    pub name: ObjectName,
    /// `IF EXISTS`.
    pub if_exists: bool,
    /// `ONLY` (PostgreSQL inheritance).
    pub only: bool,
    /// The actions, in order.
    pub actions: Vec<AlterAction>,
    /// MySQL `ALGORITHM=...` (uppercased value), when given.
    pub algorithm: Option<String>,
    /// MySQL `LOCK=...` (uppercased value), when given.
    pub lock: Option<String>,
}

impl AlterTable {
    /// MySQL `ENGINE=...` given as an action (uppercased value), e.g. `MYISAM`.
    /// Stored as [`AlterAction::Other`] described `ENGINE=VALUE`.
    pub fn engine(&self) -> Option<String> {
        self.actions.iter().find_map(|a| match a {
            AlterAction::Other { description } => {
                description.strip_prefix("ENGINE=").map(str::to_string)
            }
            _ => None,
        })
    }
}

/// One action of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterAction {
    /// `ADD [COLUMN] [IF NOT EXISTS] col type ...`.
    AddColumn {
        /// The new column.
        column: ColumnDef,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP [COLUMN] [IF EXISTS] col [CASCADE]`.
    DropColumn {
        /// The column.
        name: Ident,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `CASCADE`.
        cascade: bool,
    },
    /// `ALTER [COLUMN] col [SET DATA] TYPE type [USING expr]`.
    AlterColumnType {
        /// The column.
        column: Ident,
        /// The new type.
        data_type: DataType,
        /// `USING` expression text.
        using: Option<String>,
    },
    /// `ALTER [COLUMN] col SET NOT NULL`.
    SetNotNull {
        /// The column.
        column: Ident,
    },
    /// `ALTER [COLUMN] col DROP NOT NULL`.
    DropNotNull {
        /// The column.
        column: Ident,
    },
    /// `ALTER [COLUMN] col SET DEFAULT expr`.
    SetDefault {
        /// The column.
        column: Ident,
        /// The default.
        default: DefaultValue,
    },
    /// `ALTER [COLUMN] col DROP DEFAULT`.
    DropDefault {
        /// The column.
        column: Ident,
    },
    /// `ADD [CONSTRAINT name] ...` (incl. MySQL `ADD INDEX`/`ADD KEY`).
    AddConstraint {
        /// The constraint; `not_valid` is on it.
        constraint: TableConstraint,
    },
    /// `DROP CONSTRAINT [IF EXISTS] name [CASCADE]`.
    DropConstraint {
        /// The constraint.
        name: Ident,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `CASCADE`.
        cascade: bool,
    },
    /// MySQL `DROP PRIMARY KEY`.
    DropPrimaryKey,
    /// MySQL `DROP FOREIGN KEY name`.
    DropForeignKey {
        /// The constraint.
        name: Ident,
    },
    /// MySQL `DROP INDEX name` / `DROP KEY name`.
    DropIndex {
        /// The index.
        name: Ident,
    },
    /// `VALIDATE CONSTRAINT name`.
    ValidateConstraint {
        /// The constraint.
        name: Ident,
    },
    /// `ALTER CONSTRAINT name ...` (deferrability).
    AlterConstraint {
        /// The constraint.
        name: Ident,
    },
    /// `RENAME [COLUMN] a TO b`.
    RenameColumn {
        /// Old name.
        from: Ident,
        /// New name.
        to: Ident,
    },
    /// `RENAME TO name` / MySQL `RENAME [TO|AS] name`.
    RenameTable {
        /// New name.
        to: ObjectName,
    },
    /// `RENAME CONSTRAINT a TO b`.
    RenameConstraint {
        /// Old name.
        from: Ident,
        /// New name.
        to: Ident,
    },
    /// MySQL `CHANGE [COLUMN] old new_def`: rename and/or retype.
    ChangeColumn {
        /// The column's current name.
        old_name: Ident,
        /// The new definition (its `name` is the new name).
        column: ColumnDef,
    },
    /// MySQL `MODIFY [COLUMN] def`: retype/redefine in place.
    ModifyColumn {
        /// The new definition.
        column: ColumnDef,
    },
    /// `ATTACH PARTITION name ...`.
    AttachPartition {
        /// The partition table.
        partition: ObjectName,
    },
    /// `DETACH PARTITION name [CONCURRENTLY | FINALIZE]`.
    DetachPartition {
        /// The partition table.
        partition: ObjectName,
        /// `CONCURRENTLY`.
        concurrently: bool,
    },
    /// Any other action (owner, triggers, storage, RLS, identity changes, ...).
    Other {
        /// A short uppercased description of the action (e.g. `OWNER TO`, `ENABLE TRIGGER`);
        /// MySQL table options are `NAME=VALUE` (`ENGINE=MYISAM`, `CHARSET=UTF8MB4`).
        description: String,
    },
}

/// `CREATE [UNIQUE] INDEX`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateIndex {
    /// Index name, when given.
    pub name: Option<Ident>,
    /// The indexed table.
    pub table: ObjectName,
    /// The key columns / expressions, in order.
    pub columns: Vec<IndexColumn>,
    /// `UNIQUE`.
    pub unique: bool,
    /// `CONCURRENTLY`.
    pub concurrently: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `USING method` (lowercased), e.g. `gin`.
    pub using: Option<String>,
    /// A `WHERE` clause (partial index).
    pub partial: bool,
}

/// One key of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexColumn {
    /// The column, when the key is a plain column reference.
    pub column: Option<Ident>,
    /// The key's SQL text (column or expression).
    pub expr: String,
}

/// `DROP <object> [CONCURRENTLY] [IF EXISTS] names [CASCADE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Drop {
    /// What kind of object.
    pub object: ObjectKind,
    /// The objects dropped.
    pub names: Vec<ObjectName>,
    /// `IF EXISTS`.
    pub if_exists: bool,
    /// `CASCADE`.
    pub cascade: bool,
    /// `CONCURRENTLY` (`DROP INDEX` only).
    pub concurrently: bool,
    /// MySQL `DROP INDEX idx ON table`: the table.
    pub table: Option<ObjectName>,
}

/// `TRUNCATE [TABLE] names [CASCADE]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Truncate {
    /// Tables truncated.
    pub tables: Vec<ObjectName>,
    /// `CASCADE`.
    pub cascade: bool,
}

/// `INSERT INTO table [(cols)] ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// Target table.
    pub table: ObjectName,
    /// An explicit column list was given.
    pub has_column_list: bool,
    /// The explicit columns.
    pub columns: Vec<Ident>,
    /// Rows come from `VALUES` (as opposed to `SELECT` / `DEFAULT VALUES`).
    pub values: bool,
}

/// `UPDATE table SET ... [WHERE ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// Target table.
    pub table: ObjectName,
    /// A `WHERE` clause is present.
    pub has_where: bool,
    /// Assigned columns in order (duplicates kept: a rule flags them).
    pub assignments: Vec<Ident>,
}

/// `DELETE FROM table [WHERE ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// Target table(s).
    pub tables: Vec<ObjectName>,
    /// A `WHERE` clause is present.
    pub has_where: bool,
}

/// `SET [SESSION|LOCAL|GLOBAL] name {=|TO} value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    /// Lowercased setting name (e.g. `lock_timeout`, `statement_timeout`, `search_path`).
    pub name: String,
    /// `SET LOCAL` (lasts until the end of the transaction).
    pub local: bool,
    /// The value as written (`'5s'`, `DEFAULT`, ...).
    pub value: Option<String>,
}

/// `REINDEX`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reindex {
    /// `CONCURRENTLY` (also as the option `(CONCURRENTLY)`).
    pub concurrently: bool,
    /// What is reindexed.
    pub target: ObjectKind,
    /// Its name (absent for `REINDEX SYSTEM`/`DATABASE` without a name).
    pub name: Option<ObjectName>,
}

/// `VACUUM`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vacuum {
    /// `FULL` (also `(FULL)` / `(FULL true)`).
    pub full: bool,
    /// `ANALYZE` requested.
    pub analyze: bool,
    /// Tables named (empty: the whole database).
    pub tables: Vec<ObjectName>,
}

/// `CLUSTER`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// The table (absent: re-cluster every previously clustered table).
    pub table: Option<ObjectName>,
    /// `USING index`.
    pub index: Option<Ident>,
}

/// Other `CREATE` statements.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateOther {
    /// What is created.
    pub object: ObjectKind,
    /// Its name, when the statement has one bytegate could read.
    pub name: Option<ObjectName>,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// For triggers, statistics, policies: the table it is on.
    pub table: Option<ObjectName>,
}

/// Other `ALTER` statements.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterOther {
    /// What is altered.
    pub object: ObjectKind,
    /// Its name, when readable.
    pub name: Option<ObjectName>,
    /// A short uppercased description of the change (e.g. `RENAME TO`, `ADD VALUE`, `OWNER TO`).
    pub action: String,
    /// For `... RENAME TO new`: the new name (PostgreSQL keeps the object in
    /// the schema of `name`).
    pub new_name: Option<ObjectName>,
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
