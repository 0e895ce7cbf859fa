//! Custom pattern rules from `review.custom`: regexes matched on a statement's
//! text with comments stripped and whitespace folded to single spaces,
//! case-insensitive unless the pattern says otherwise (`(?-i)`), limited to
//! the environments listed (none listed: every environment).

use super::model::Dialect;
use super::settings::CustomRule;
use regex::{Regex, RegexBuilder};

/// Compiled regexes larger than this are refused (a config mistake, not a rule).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A custom rule with its patterns compiled.
#[derive(Debug, Clone)]
pub struct CompiledCustomRule {
    /// The rule as configured.
    pub rule: CustomRule,
    /// The patterns that compiled (bad ones are reported by [`validate`]).
    pub patterns: Vec<Regex>,
}

impl CompiledCustomRule {
    /// Compiles the rule's patterns, skipping those that do not compile.
    pub fn new(rule: &CustomRule) -> CompiledCustomRule {
        CompiledCustomRule {
            rule: rule.clone(),
            patterns: rule
                .patterns
                .iter()
                .filter_map(|p| compile(p).ok())
                .collect(),
        }
    }

    /// True when the rule applies in `environment` (`None`: no environment
    /// given, so only rules without an environment list apply).
    pub fn applies_in(&self, environment: Option<&str>) -> bool {
        self.rule.environments.is_empty()
            || environment.is_some_and(|e| self.rule.environments.iter().any(|x| x == e))
    }

    /// True when any pattern matches the normalized statement text.
    pub fn matches(&self, normalized: &str) -> bool {
        self.patterns.iter().any(|p| p.is_match(normalized))
    }
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Problems with the custom rules (bad regexes, empty names or patterns).
pub fn validate(rules: &[CustomRule]) -> Vec<String> {
    let mut problems = Vec::new();
    for r in rules {
        if r.name.trim().is_empty() {
            problems.push("review.custom: a rule has an empty name".to_string());
        }
        if r.patterns.is_empty() {
            problems.push(format!("review.custom `{}`: no patterns", r.name));
        }
        for p in &r.patterns {
            if let Err(e) = compile(p) {
                problems.push(format!(
                    "review.custom `{}`: pattern `{p}` does not compile: {e}",
                    r.name
                ));
            }
        }
    }
    problems
}

/// The statement text the patterns see: comments removed, every run of
/// whitespace outside string literals folded to one space, trimmed.
/// Strings, quoted identifiers and dollar-quoted bodies are kept verbatim.
///
/// Works on bytes: every delimiter is ASCII, so slicing at them never splits
/// a UTF-8 character, and a 50 MB statement needs no per-character copy.
pub fn normalize_text(sql: &str, dialect: Dialect) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut pending_space = false;
    // Start of the run of ordinary text not yet copied to `out`.
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let skip_to = if c.is_ascii_whitespace() {
            Some(i + 1)
        } else if (c == b'-' && next == Some(b'-')) || (c == b'#' && dialect == Dialect::Mysql) {
            Some(memchr_newline(b, i))
        } else if c == b'/' && next == Some(b'*') {
            Some(block_comment_end(b, i))
        } else {
            None
        };
        if let Some(end) = skip_to {
            pending_space = true;
            i = end;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        let end = if c == b'\'' || c == b'"' || c == b'`' {
            quoted_end(b, i, c, dialect)
        } else if c == b'$' && dialect == Dialect::Postgres {
            dollar_tag(b, i).map_or(i + 1, |tag_len| dollar_end(b, i, tag_len))
        } else {
            // Ordinary text up to the next byte that may start something else.
            let mut j = i + 1;
            while j < b.len()
                && !matches!(b[j], b'\'' | b'"' | b'`' | b'$' | b'-' | b'#' | b'/')
                && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            j
        };
        out.push_str(sql.get(i..end).unwrap_or(""));
        i = end;
    }
    out
}

/// Index of the newline ending a line comment started at `start` (or the end).
fn memchr_newline(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| start + p)
}

/// End (exclusive) of a block comment starting at `start`. PostgreSQL block
/// comments nest; MySQL's do not, and nesting there is vanishingly rare, so
/// one loop serves both.
fn block_comment_end(b: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth = depth.saturating_sub(1);
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// End (exclusive) of a quoted literal starting at `start`; doubled quotes
/// (and MySQL backslash escapes) stay inside.
fn quoted_end(b: &[u8], start: usize, q: u8, dialect: Dialect) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && dialect == Dialect::Mysql && q != b'`' {
            i += 2;
        } else if c == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Length of a `$tag$` opener at `start`, when there is one.
fn dollar_tag(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == b'$' {
            return Some(i + 1 - start);
        }
        // Tags are identifiers (non-ASCII letters allowed), not starting with a digit.
        if !(c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80)
            || (i == start + 1 && c.is_ascii_digit())
        {
            return None;
        }
        i += 1;
    }
    None
}

/// End (exclusive) of a dollar-quoted body whose opener is `tag_len` long.
fn dollar_end(b: &[u8], start: usize, tag_len: usize) -> usize {
    let tag = &b[start..start + tag_len];
    let mut i = start + tag_len;
    while i + tag_len <= b.len() {
        if &b[i..i + tag_len] == tag {
            return i + tag_len;
        }
        i += 1;
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::finding::Severity;

    fn rule(envs: &[&str], pattern: &str) -> CompiledCustomRule {
        CompiledCustomRule::new(&CustomRule {
            name: "r".into(),
            severity: Severity::Error,
            environments: envs.iter().map(|e| e.to_string()).collect(),
            patterns: vec![pattern.into()],
            message: "m".into(),
        })
    }

    #[test]
    fn strips_comments_and_folds_whitespace() {
        let sql = "DELETE  -- remove\n  FROM /* old */ users\n\tWHERE id = 1";
        assert_eq!(
            normalize_text(sql, Dialect::Postgres),
            "DELETE FROM users WHERE id = 1"
        );
        assert_eq!(
            normalize_text("  -- lead\n DELETE FROM x", Dialect::Postgres),
            "DELETE FROM x"
        );
    }

    #[test]
    fn keeps_strings_and_dollar_bodies() {
        let sql = "SELECT 'a  -- not a comment', $f$ x  /* y */ $f$";
        assert_eq!(normalize_text(sql, Dialect::Postgres), sql);
        assert_eq!(
            normalize_text("SELECT 1 # c\n, 2", Dialect::Mysql),
            "SELECT 1 , 2"
        );
    }

    #[test]
    fn keeps_non_ascii_and_odd_dashes_and_slashes() {
        assert_eq!(
            normalize_text(
                "UPDATE t SET a = 'é'  ,  b = 1 - 2 / 3 WHERE ñ = $1",
                Dialect::Postgres
            ),
            "UPDATE t SET a = 'é' , b = 1 - 2 / 3 WHERE ñ = $1"
        );
        assert_eq!(
            normalize_text("SELECT 'unterminated", Dialect::Postgres),
            "SELECT 'unterminated"
        );
        assert_eq!(
            normalize_text("SELECT $x$ open", Dialect::Postgres),
            "SELECT $x$ open"
        );
        assert_eq!(
            normalize_text("SELECT 1 /* open", Dialect::Postgres),
            "SELECT 1"
        );
    }

    proptest::proptest! {
        #[test]
        fn normalize_never_panics(s in "\\PC{0,60}", mysql in proptest::bool::ANY) {
            let d = if mysql { Dialect::Mysql } else { Dialect::Postgres };
            let _ = normalize_text(&s, d);
        }
    }

    #[test]
    fn matching_is_case_insensitive_and_scoped() {
        let r = rule(&["production"], r"\bTRUNCATE\b");
        assert!(r.matches("truncate table x"));
        assert!(!r.matches("SELECT truncated FROM x"));
        assert!(r.applies_in(Some("production")));
        assert!(!r.applies_in(Some("development")));
        assert!(!r.applies_in(None));
        assert!(rule(&[], "x").applies_in(None));
    }

    #[test]
    fn pattern_can_opt_out_of_case_insensitivity() {
        assert!(!rule(&[], r"(?-i)\bTRUNCATE\b").matches("truncate x"));
    }

    #[test]
    fn validate_reports_bad_regex() {
        let bad = CustomRule {
            name: "bad".into(),
            severity: Severity::Warning,
            environments: vec![],
            patterns: vec!["(".into()],
            message: "m".into(),
        };
        let problems = validate(&[bad]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("bad"));
    }
}
