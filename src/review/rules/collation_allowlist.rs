//! `collation-allowlist`: only allowed collations (Bytebase's
//! `system.collation.allowlist`).

use super::clauses::{Clauses, string_value};
use super::prelude::*;
use sqlparser::tokenizer::Token;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "collation-allowlist",
    default_severity: Severity::Off,
    description: "COLLATE / LC_COLLATE / MySQL COLLATE= naming a collation not in `list` (default: `C`, `POSIX`, `default`, `und-x-icu`, `utf8mb4_0900_ai_ci`)",
    why: "Team policy: a collation decides sort order and equality; mixing them makes indexes unusable for some queries and results differ between columns and environments.",
    instead: "Use an allowed collation, or add this one to `review.rules.collation-allowlist.list`.",
    dialects: ALL,
    check: Check::Statement(check),
};

const DEFAULT: &[&str] = &["c", "posix", "default", "und-x-icu", "utf8mb4_0900_ai_ci"];

/// The value after token `i` (a name or a string, skipping `=`).
pub(super) fn value_after(c: &Clauses, i: usize) -> Option<(String, Option<Span>)> {
    let v = if matches!(c.tok(i + 1), Some(Token::Eq)) {
        i + 2
    } else {
        i + 1
    };
    let text = match c.tok(v)? {
        Token::Word(w) => w.value.clone(),
        t => string_value(t)?.to_string(),
    };
    Some((text, c.span(v)))
}

/// The values after each of the keywords `kws`.
pub(super) fn values_after(c: &Clauses, kws: &[&str]) -> Vec<(String, Option<Span>)> {
    (0..c.len())
        .filter(|&i| kws.iter().any(|k| c.is_kw(i, k)))
        .filter_map(|i| value_after(c, i))
        .collect()
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    let lower = cx.stmt.text.to_ascii_lowercase();
    if !lower.contains("collat") {
        return;
    }
    let allowed = cx.opts.list(RULE.id, DEFAULT);
    let c = Clauses::of(cx);
    for (name, span) in values_after(&c, &["COLLATE", "LC_COLLATE"]) {
        if !allowed.contains(&name.to_lowercase()) {
            out.push(cx.hit(span, format!("Collation `{name}` is not allowed.")));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "collation-allowlist";

    #[test]
    fn flags_other_collations() {
        let sql = "CREATE TABLE a (id bigint PRIMARY KEY,\n  name text COLLATE \"de_DE\",\n  code text COLLATE \"C\");\nCREATE COLLATION german (provider = icu, locale = 'de');";
        assert_off_by_default(sql, ID);
        assert_eq!(lines_on(sql, ID), [2]);
    }
}
