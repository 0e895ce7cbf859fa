//! Data types (normalized names and parameters) and column defaults
//! (volatile or not).

use super::*;

/// Normalizes a sqlparser data type (via its SQL rendering, which is stable
/// across sqlparser's many type variants).
pub(crate) fn data_type_of(t: &sa::DataType) -> DataType {
    normalize_type(&t.to_string())
}

/// Normalizes a type as written (`character varying(20)`, `int4[]`, `TIMESTAMP(3) WITH TIME ZONE`).
pub(crate) fn normalize_type(raw: &str) -> DataType {
    let lower = raw.trim().to_lowercase();
    let mut array = false;
    let mut base = lower.as_str();
    if let Some(b) = base.strip_suffix("[]") {
        array = true;
        base = b.trim_end();
        while let Some(b) = base.strip_suffix("[]") {
            base = b.trim_end();
        }
    }
    if let Some(b) = base.strip_suffix(" array") {
        array = true;
        base = b.trim_end();
    }
    // Type parameters: the first parenthesized group; the name is the rest.
    let (mut length, mut scale) = (None, None);
    let mut name = String::with_capacity(base.len());
    let mut rest = base;
    if let Some(open) = base.find('(') {
        let close = base[open..].find(')').map(|c| open + c);
        if let Some(close) = close {
            let mut params = base[open + 1..close]
                .split(',')
                .map(|p| p.trim().parse::<u64>().ok());
            length = params.next().flatten();
            scale = params.next().flatten();
            name.push_str(base[..open].trim_end());
            name.push(' ');
            name.push_str(base[close + 1..].trim_start());
            rest = "";
        }
    }
    if rest == base {
        name.push_str(base);
    }
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = name
        .rsplit_once('.')
        .filter(|(schema, _)| *schema == "pg_catalog")
        .map_or(name.as_str(), |(_, n)| n);
    let canonical = match name {
        "int" | "int4" | "integer" | "int unsigned" | "integer unsigned" => "integer",
        "int2" | "smallint" | "smallint unsigned" => "smallint",
        "int8" | "bigint" | "bigint unsigned" => "bigint",
        "tinyint" | "tinyint unsigned" => "tinyint",
        "mediumint" | "mediumint unsigned" => "mediumint",
        "serial" | "serial4" => "serial",
        "bigserial" | "serial8" => "bigserial",
        "smallserial" | "serial2" => "smallserial",
        "varchar" | "character varying" | "nvarchar" | "char varying" | "varchar2" => "varchar",
        "char" | "character" | "nchar" | "bpchar" | "national char" | "national character" => {
            "char"
        }
        "text" | "tinytext" | "mediumtext" | "longtext" | "string" => "text",
        "timestamp" | "timestamp without time zone" | "datetime" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "timetz" | "time with time zone" => "timetz",
        "numeric" | "decimal" | "dec" => "numeric",
        "bool" | "boolean" => "boolean",
        "float4" | "real" => "real",
        "float8" | "double precision" | "double" => "double precision",
        other => other,
    };
    DataType {
        raw: raw.trim().to_string(),
        name: canonical.to_string(),
        length,
        scale,
        array,
    }
}

/// Functions known to be volatile (a `DEFAULT` calling them rewrites the table
/// on `ADD COLUMN`).
pub(super) const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "gen_random_uuid",
    "gen_random_bytes",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "uuid",
    "uuid_short",
    "rand",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setval",
    "txid_current",
    "sysdate",
];

/// Functions known not to be volatile (immutable or stable: evaluated once).
pub(super) const NON_VOLATILE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "session_user",
    "user",
    "current_schema",
    "lower",
    "upper",
    "coalesce",
    "concat",
    "length",
    "to_jsonb",
    "to_json",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "array",
    "make_interval",
    "utc_timestamp",
    "abs",
    "round",
    "trim",
];

pub(super) fn default_value(e: &sa::Expr) -> DefaultValue {
    let mut functions: Vec<String> = Vec::new();
    let mut non_literal = false;
    let _ = sa::visit_expressions(e, |x| {
        match x {
            sa::Expr::Function(f) => {
                let name = f
                    .name
                    .0
                    .last()
                    .map(|p| match p {
                        sa::ObjectNamePart::Identifier(i) => i.value.to_lowercase(),
                        other => other.to_string().to_lowercase(),
                    })
                    .unwrap_or_default();
                functions.push(name);
            }
            sa::Expr::Identifier(_)
            | sa::Expr::CompoundIdentifier(_)
            | sa::Expr::Subquery(_)
            | sa::Expr::Exists { .. } => non_literal = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    let is_constant = functions.is_empty() && !non_literal;
    let volatile = if functions
        .iter()
        .any(|f| VOLATILE_FUNCTIONS.contains(&f.as_str()))
    {
        Some(true)
    } else if !non_literal
        && functions
            .iter()
            .all(|f| NON_VOLATILE_FUNCTIONS.contains(&f.as_str()))
    {
        Some(false)
    } else {
        None
    };
    DefaultValue {
        text: e.to_string(),
        functions,
        is_constant,
        volatile,
    }
}
