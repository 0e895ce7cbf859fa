//! `comment-max-length`: long COMMENT ON texts (Bytebase's
//! `system.comment.length`).

use super::clauses::{Clauses, string_value};
use super::prelude::*;

pub(super) const RULE: RuleInfo = RuleInfo {
    id: "comment-max-length",
    default_severity: Severity::Off,
    description: "COMMENT ON … IS '…' longer than `max_length` characters (default 64)",
    why: "Team policy: object comments feed catalogs and generated docs that show one short line; long prose belongs in the docs.",
    instead: "Shorten the comment, or raise `review.rules.comment-max-length.max_length`.",
    dialects: PG,
    check: Check::Statement(check),
};

const DEFAULT_MAX: u64 = 64;

/// The text of a `COMMENT ON … IS '…'` statement.
pub(super) fn comment_text(cx: &StmtCtx<'_>) -> Option<(String, Option<Span>)> {
    let c = Clauses::of(cx);
    let is = (0..c.len())
        .rev()
        .find(|&i| c.depth(i) == 0 && c.is_kw(i, "IS"))?;
    let text = c.tok(is + 1).and_then(string_value)?;
    Some((text.to_string(), c.span(is + 1)))
}

fn check(cx: &StmtCtx<'_>, out: &mut Vec<Hit>) {
    if !matches!(cx.stmt.kind, StatementKind::Comment { .. }) {
        return;
    }
    let max = cx.opts.max_length(RULE.id, DEFAULT_MAX);
    if let Some((text, span)) = comment_text(cx) {
        let n = text.chars().count() as u64;
        if n > max {
            out.push(cx.hit(
                span,
                format!("The comment has {n} characters (at most {max})."),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::review::rules::test_utils::*;

    const ID: &str = "comment-max-length";

    #[test]
    fn flags_long_comments() {
        let long = "x".repeat(65);
        let sql =
            format!("COMMENT ON TABLE users IS '{long}';\nCOMMENT ON COLUMN users.id IS 'key';");
        assert_off_by_default(&sql, ID);
        assert_eq!(lines_on(&sql, ID), [1]);
    }
}
