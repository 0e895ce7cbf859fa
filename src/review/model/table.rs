//! Tables in the model: CREATE/ALTER TABLE, columns, types, constraints, indexes.

use super::*;

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
        column: Box<ColumnDef>,
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
        column: Box<ColumnDef>,
    },
    /// MySQL `MODIFY [COLUMN] def`: retype/redefine in place.
    ModifyColumn {
        /// The new definition.
        column: Box<ColumnDef>,
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
