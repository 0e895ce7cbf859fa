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
pub fn normalize_text(sql: &str, dialect: Dialect) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut pending_space = false;
    let push_space = |out: &mut String, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            pending_space = true;
            i += 1;
        } else if (c == '-' && next == Some('-')) || (c == '#' && dialect == Dialect::Mysql) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            pending_space = true;
        } else if c == '/' && next == Some('*') {
            // PostgreSQL block comments nest; MySQL's do not, and nesting there
            // is vanishingly rare, so one loop serves both.
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth = depth.saturating_sub(1);
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            pending_space = true;
        } else if c == '\'' || c == '"' || c == '`' {
            push_space(&mut out, &mut pending_space);
            let end = quoted_end(&chars, i, c, dialect);
            out.extend(&chars[i..end]);
            i = end;
        } else if c == '$' && dialect == Dialect::Postgres {
            push_space(&mut out, &mut pending_space);
            match dollar_tag(&chars, i) {
                Some(tag_len) => {
                    let end = dollar_end(&chars, i, tag_len);
                    out.extend(&chars[i..end]);
                    i = end;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            push_space(&mut out, &mut pending_space);
            out.push(c);
            i += 1;
        }
    }
    out
}

/// End (exclusive) of a quoted literal starting at `start`; doubled quotes
/// (and MySQL backslash escapes) stay inside.
fn quoted_end(chars: &[char], start: usize, q: char, dialect: Dialect) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && dialect == Dialect::Mysql && q != '`' {
            i += 2;
        } else if c == q {
            if chars.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    chars.len()
}

/// Length of a `$tag$` opener at `start`, when there is one.
fn dollar_tag(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '$' {
            return Some(i + 1 - start);
        }
        if !(c.is_alphanumeric() || c == '_') || (i == start + 1 && c.is_ascii_digit()) {
            return None;
        }
        i += 1;
    }
    None
}

/// End (exclusive) of a dollar-quoted body whose opener is `tag_len` long.
fn dollar_end(chars: &[char], start: usize, tag_len: usize) -> usize {
    let tag = &chars[start..start + tag_len];
    let mut i = start + tag_len;
    while i + tag_len <= chars.len() {
        if chars[i..i + tag_len] == *tag {
            return i + tag_len;
        }
        i += 1;
    }
    chars.len()
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
