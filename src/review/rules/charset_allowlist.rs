//! `charset-allowlist`: only allowed encodings / character sets (Bytebase's
//! `system.charset.allowlist`).

use super::clauses::Clauses;
use super::collation_allowlist::{value_after, values_after};
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "charset-allowlist",
    default_severity: Severity::Off,
    description: "ENCODING (CREATE DATABASE) / MySQL CHARACTER SET, CHARSET naming a character set not in `list` (default: `utf8`, `utf8mb4`)",
    why: "Team policy: a non-UTF-8 database or column refuses or mangles text the application accepts, and converting later rewrites everything.",
    instead: "Use UTF-8 (`UTF8`, MySQL `utf8mb4`), or add the character set to `review.rules.charset-allowlist.list`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT: &[&str] = &["utf8", "utf-8", "utf8mb4"];

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let lower = cx.stmt.text.to_ascii_lowercase();
    if !(lower.contains("encoding") || lower.contains("charset") || lower.contains("character")) {
        return;
    }
    let allowed = cx.opts.list(RULE.id, DEFAULT);
    let c = Clauses::of(cx);
    let mut values = values_after(&c, &["ENCODING", "CHARSET"]);
    // `CHARACTER SET x`: the value after SET.
    values.extend(
        (1..c.len())
            .filter(|&i| c.is_kw(i, "SET") && c.is_kw(i - 1, "CHARACTER"))
            .filter_map(|i| value_after(&c, i)),
    );
    for (name, span) in values {
        if !allowed.contains(&name.to_lowercase()) {
            out.push(cx.hit(span, format!("Character set `{name}` is not allowed.")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::model::Dialect;
    use crate::review::rules::test_utils::*;
    use crate::review::settings::RuleSetting;

    const ID: &str = "charset-allowlist";

    #[test]
    fn flags_other_encodings() {
        let sql = "CREATE DATABASE a ENCODING 'LATIN1';\nCREATE DATABASE b ENCODING 'UTF8';";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [1]);
    }

    #[test]
    fn mysql_character_sets() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY, n varchar(10) CHARACTER SET latin1) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\nCREATE TABLE b (id bigint PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARACTER SET = latin1;";
        assert_eq!(
            lines_on_with(sql, ID, Dialect::Mysql, RuleSetting::default()),
            [1, 2]
        );
    }
}
