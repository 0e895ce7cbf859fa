//! `text-type-limit`: VARCHAR(n) above the configured maximum, and (MySQL)
//! tables whose declared text columns exceed the row size limit. CHAR(n) has
//! its own limit (`char-length-limit`).

use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "text-type-limit",
    default_severity: Severity::Warning,
    description: "VARCHAR(n) longer than the configured maximum (default 1024; CHAR(n) has `char-length-limit`); MySQL tables whose text columns exceed the 65,535-byte row limit",
    why: "Very long bounded strings are usually a design smell (use text, or a separate table); in MySQL, wide VARCHARs count against the 65,535-byte row limit and inflate memory for sorts and temporary tables.",
    instead: "Use `text` (PostgreSQL) or TEXT/MEDIUMTEXT (MySQL) for long content, or raise `review.rules.text-type-limit.max_length` deliberately.",
    dialects: ALL,
    check: Check::Statement(check),
};

/// MySQL's row size limit, and utf8mb4's worst case bytes per character.
const MYSQL_ROW_LIMIT: u64 = 65_535;
const MYSQL_BYTES_PER_CHAR: u64 = 4;

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let max = cx.opts.text_max_length;
    for col in typed_columns(cx.stmt) {
        let t = col.data_type;
        if t.is_varchar()
            && let Some(n) = t.length
            && n > max
        {
            out.push(cx.hit(
                col.span,
                format!(
                    "Column `{}` is {} ({n} characters; at most {max} allowed).",
                    col.name, t.raw
                ),
            ));
        }
    }
    if cx.dialect == Dialect::Mysql
        && let StatementKind::CreateTable(ct) = &cx.stmt.kind
    {
        let width: u64 = ct
            .columns
            .iter()
            .filter(|c| c.data_type.is_varchar() || c.data_type.is_char())
            .filter_map(|c| c.data_type.length)
            .map(|n| n.saturating_mul(MYSQL_BYTES_PER_CHAR))
            .fold(0, u64::saturating_add);
        if width > MYSQL_ROW_LIMIT {
            out.push(cx.hit(
                ct.name.span(),
                format!(
                    "The text columns of `{}` may need {width} bytes per row, above MySQL's {MYSQL_ROW_LIMIT}-byte row limit.",
                    ct.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::{ReviewSettings, RuleSetting};

    const ID: &str = "text-type-limit";

    #[test]
    fn flags_long_varchar_not_char() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY,\n  bio varchar(4000),\n  code varchar(1024), c char(2000));\nALTER TABLE a ALTER COLUMN code TYPE varchar(2000);";
        assert_eq!(lines(sql, ID), [2, 4]);
        assert!(
            lines(
                "CREATE TABLE a (id bigint PRIMARY KEY, note text, v varchar(255));",
                ID
            )
            .is_empty()
        );
    }

    #[test]
    fn max_is_configurable() {
        let mut s = ReviewSettings::default();
        s.rules.insert(
            ID.into(),
            RuleSetting {
                max_length: Some(100),
                ..RuleSetting::default()
            },
        );
        let out = lint_with(
            "CREATE TABLE a (id bigint PRIMARY KEY, v varchar(255));",
            Dialect::Postgres,
            None,
            &s,
        );
        assert_eq!(out.findings.iter().filter(|f| f.rule == ID).count(), 1);
    }

    #[test]
    fn mysql_row_width() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY, a varchar(1000), b varchar(1000), c varchar(1000), d varchar(1000), e varchar(1000), f varchar(1000), g varchar(1000), h varchar(1000), i varchar(1000), j varchar(1000), k varchar(1000), l varchar(1000), m varchar(1000), n varchar(1000), o varchar(1000), p varchar(1000), q varchar(1000)) ENGINE=InnoDB;";
        assert_eq!(lines_mysql(sql, ID), [1]);
        assert!(lines(sql, ID).is_empty());
    }
}
