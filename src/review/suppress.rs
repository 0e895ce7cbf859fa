//! Suppression comments.
//!
//! - `-- bytegate-ignore RULE[, RULE…] [-- reason]` on the line(s) directly
//!   above a statement, or at the end of the statement's last line, silences
//!   those rules for that statement.
//! - `-- bytegate-ignore-file RULE[, RULE…] [-- reason]` among the comments
//!   before the first statement silences them for the whole file.
//!
//! Each named rule remembers whether it silenced anything: an ignore that did
//! nothing, or names no rule bytegate knows, becomes an `unknown-ignore`
//! finding (the anchors' most-filed bugs are ignores that silently did too
//! much or nothing: sbdchd/squawk#833, #974).

use super::finding::{Position, Span};
use super::model::{Comment, Statement};

/// Whether a directive covers one statement or the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `bytegate-ignore`: the statement it is attached to.
    Statement,
    /// `bytegate-ignore-file`: every statement of the file.
    File,
}

/// One rule named by a directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredRule {
    /// The rule id or custom rule name as written.
    pub name: String,
    /// True once it silenced a finding.
    pub used: bool,
}

/// A parsed `bytegate-ignore` / `bytegate-ignore-file` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Statement or file.
    pub scope: Scope,
    /// The rules named, in order.
    pub rules: Vec<IgnoredRule>,
    /// The text after a second `--`, when given.
    pub reason: Option<String>,
    /// Where the comment is.
    pub span: Span,
}

impl Directive {
    /// Marks `rule` used and returns true when this directive names it.
    pub fn take(&mut self, rule: &str) -> bool {
        let mut hit = false;
        for r in &mut self.rules {
            if r.name == rule {
                r.used = true;
                hit = true;
            }
        }
        hit
    }
}

/// Parses a comment as a directive; `None` when it is an ordinary comment.
pub fn parse_directive(comment: &Comment) -> Option<Directive> {
    let body = comment.text.trim();
    let rest = body.strip_prefix("bytegate-ignore")?;
    let (scope, rest) = match rest.strip_prefix("-file") {
        Some(r) => (Scope::File, r),
        None => (Scope::Statement, rest),
    };
    // `bytegate-ignored` or `bytegate-ignore-filex` are not directives.
    if !(rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == ',')) {
        return None;
    }
    let (names, reason) = match rest.split_once("--") {
        Some((n, r)) => (n, Some(r.trim().to_string()).filter(|r| !r.is_empty())),
        None => (rest, None),
    };
    let rules = names
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(|n| IgnoredRule {
            name: n.to_string(),
            used: false,
        })
        .collect();
    let start = Position {
        line: comment.line,
        column: comment.column,
    };
    let end_col = comment
        .column
        .saturating_add(u32::try_from(comment.text.chars().count()).unwrap_or(u32::MAX))
        .saturating_add(1);
    Some(Directive {
        scope,
        rules,
        reason,
        span: Span {
            start,
            end: Position {
                line: comment.end_line,
                column: end_col,
            },
        },
    })
}

/// The directives around `stmts[i]`: `.0` the statement-scoped ones attached
/// to it (comments on the lines directly above it, as a contiguous block not
/// reaching back to the previous statement's last line, and the comment after
/// its last line); `.1` directives among its leading comments that apply to
/// nothing (detached by a blank line or code, or `bytegate-ignore-file`
/// outside the file header), so they can be reported instead of lost.
pub fn statement_directives(stmts: &[Statement], i: usize) -> (Vec<Directive>, Vec<Directive>) {
    let Some(stmt) = stmts.get(i) else {
        return (Vec::new(), Vec::new());
    };
    let prev_end = i
        .checked_sub(1)
        .and_then(|p| stmts.get(p))
        .map(|p| p.span.end.line)
        .unwrap_or(0);
    let mut attached = Vec::new();
    let mut detached = Vec::new();
    let mut next_line = stmt.span.start.line;
    let mut in_block = true;
    for c in stmt.leading_comments.iter().rev() {
        // A blank line or code in between detaches the comment.
        if in_block
            && ((c.end_line + 1 != next_line && c.end_line != next_line) || c.line <= prev_end)
        {
            in_block = false;
        }
        // The previous statement's trailing comment is that statement's.
        if c.line <= prev_end
            && i.checked_sub(1)
                .and_then(|p| stmts.get(p))
                .is_some_and(|p| p.trailing_comment.as_deref() == Some(c))
        {
            continue;
        }
        next_line = c.line;
        let Some(d) = parse_directive(c) else {
            continue;
        };
        match d.scope {
            Scope::Statement if in_block => attached.push(d),
            // The header's file directives are read by `file_directives`.
            Scope::File if i == 0 => {}
            _ => detached.push(d),
        }
    }
    if let Some(c) = &stmt.trailing_comment
        && let Some(d) = parse_directive(c)
    {
        match d.scope {
            Scope::Statement => attached.push(d),
            Scope::File => detached.push(d),
        }
    }
    (attached, detached)
}

/// The file-scoped directives among the header comments.
pub fn file_directives(header: &[Comment]) -> Vec<Directive> {
    header
        .iter()
        .filter_map(parse_directive)
        .filter(|d| d.scope == Scope::File)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(line: u32, text: &str) -> Comment {
        Comment {
            line,
            column: 1,
            end_line: line,
            text: text.to_string(),
            block: false,
        }
    }

    #[test]
    fn parses_rules_and_reason() {
        let d = parse_directive(&comment(
            3,
            " bytegate-ignore drop-table, drop-column -- table is unused since v2",
        ))
        .unwrap();
        assert_eq!(d.scope, Scope::Statement);
        let names: Vec<_> = d.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["drop-table", "drop-column"]);
        assert_eq!(d.reason.as_deref(), Some("table is unused since v2"));
        assert_eq!(d.span.start.line, 3);
    }

    #[test]
    fn file_scope_and_non_directives() {
        let d = parse_directive(&comment(1, " bytegate-ignore-file prefer-bigint")).unwrap();
        assert_eq!(d.scope, Scope::File);
        assert_eq!(d.rules.len(), 1);
        assert!(parse_directive(&comment(1, " just a comment")).is_none());
        assert!(parse_directive(&comment(1, " bytegate-ignored drop-table")).is_none());
        assert!(parse_directive(&comment(1, " see bytegate-ignore drop-table")).is_none());
    }

    #[test]
    fn take_marks_used() {
        let mut d = parse_directive(&comment(1, "bytegate-ignore a b")).unwrap();
        assert!(d.take("b"));
        assert!(!d.take("c"));
        assert!(!d.rules[0].used);
        assert!(d.rules[1].used);
    }
}
