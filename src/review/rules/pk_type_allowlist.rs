//! `pk-type-allowlist`: primary-key columns use an allowed type (Bytebase's
//! `index.primary-key-type-allowlist`).

use super::prelude::*;
use crate::review::parse::normalize_type;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "pk-type-allowlist",
    default_severity: Severity::Off,
    description: "a PRIMARY KEY column whose type is not in `list` (default: bigint, bigserial, integer, serial, uuid)",
    why: "Team policy: keys of other types (text, numeric, timestamps) are wide, slow to compare and copied into every referencing table and index.",
    instead: "Use a surrogate key of an allowed type and a UNIQUE constraint on the natural key, or set `review.rules.pk-type-allowlist.list`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT: &[&str] = &["bigint", "bigserial", "integer", "serial", "uuid"];

/// Key columns of a CREATE TABLE: inline PRIMARY KEY and table-level ones.
fn key_columns(ct: &CreateTable) -> Vec<&ColumnDef> {
    let listed = super::columns::table_key_columns(ct);
    ct.columns
        .iter()
        .filter(|c| c.primary_key || listed.contains(&c.name.normalized()))
        .collect()
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let allowed: Vec<String> = cx
        .opts
        .list(RULE.id, DEFAULT)
        .iter()
        .map(|t| normalize_type(t).name)
        .collect();
    let mut flag = |name: &Ident, t: &DataType, span: Option<Span>| {
        if !allowed.contains(&t.name) {
            out.push(cx.hit(
                span,
                format!(
                    "Primary key column `{name}` is {}, not an allowed key type.",
                    t.raw
                ),
            ));
        }
    };
    match &cx.stmt.kind {
        StatementKind::CreateTable(ct) => {
            for c in key_columns(ct) {
                flag(&c.name, &c.data_type, c.name.span.or(c.span));
            }
        }
        StatementKind::AlterTable(at) => {
            for a in &at.actions {
                match a {
                    AlterAction::AddColumn { column: c, .. } if c.primary_key => {
                        flag(&c.name, &c.data_type, c.name.span.or(c.span))
                    }
                    AlterAction::AddConstraint { constraint } => {
                        if let ConstraintKind::PrimaryKey { columns, .. } = &constraint.kind {
                            let table = cx.schema.table(&at.name);
                            for col in columns {
                                if let Some(c) = table.and_then(|t| t.column(col)) {
                                    flag(col, &c.data_type, col.span.or(constraint.span));
                                }
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
    use crate::review::rules::test_utils::*;

    const ID: &str = "pk-type-allowlist";

    #[test]
    fn flags_keys_of_other_types() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY);\nCREATE TABLE b (code text PRIMARY KEY);\nCREATE TABLE c (k varchar(10), PRIMARY KEY (k));";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2, 3]);
    }
}
