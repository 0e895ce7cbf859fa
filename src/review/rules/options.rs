//! Rule options resolved from the `review` settings, and the settings' own
//! problems (unknown rule ids, bad patterns and templates).

use super::{
    custom, is_known_rule, max_sql_size, naming_snake_case, naming_template, text_type_limit,
};
use crate::review::settings::{ReviewSettings, RuleSetting};
use regex::Regex;
use std::collections::BTreeMap;

/// Problems in the `review` settings: unknown rule ids, bad regexes. The
/// linter itself tolerates them (bad patterns are skipped, the default naming
/// pattern is used), so config loading should call this and refuse.
pub fn validate_settings(settings: &ReviewSettings) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, setting) in &settings.rules {
        if !is_known_rule(id) && !settings.custom.iter().any(|c| &c.name == id) {
            problems.push(format!("review.rules: unknown rule `{id}`"));
        }
        if let Some(p) = &setting.pattern
            && let Err(e) = Regex::new(p)
        {
            problems.push(format!(
                "review.rules.{id}.pattern: `{p}` does not compile: {e}"
            ));
        }
    }
    for (id, setting) in &settings.rules {
        if let Some(t) = &setting.template {
            problems.extend(
                naming_template::unknown_tokens(t).into_iter().map(|tok| {
                    format!("review.rules.{id}.template: unknown token `{tok}` in `{t}`")
                }),
            );
        }
    }
    problems.extend(custom::validate(&settings.custom));
    problems
}

/// Rule options resolved from the settings.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// `naming-snake-case` pattern (a configured pattern that does not
    /// compile, which config validation refuses, falls back to the default).
    pub naming_pattern: NamePattern,
    /// `naming-snake-case` maximum length in bytes.
    pub naming_max_length: usize,
    /// `text-type-limit` maximum (var)char length.
    pub text_max_length: u64,
    /// `max-sql-size` limit in bytes.
    pub max_sql_bytes: u64,
    /// `review.max_file_bytes`: above it a file is not reviewed (`file-too-large`).
    pub max_file_bytes: u64,
    /// Every rule's settings, for the options of the policy rules
    /// ([`Options::max`], [`Options::list`], [`Options::template`]).
    rules: BTreeMap<String, RuleSetting>,
}

/// The default naming pattern: lower snake_case.
pub const DEFAULT_NAMING_PATTERN: &str = "^[a-z][a-z0-9]*(_[a-z0-9]+)*$";

/// A `naming-snake-case` pattern: the default, matched by hand (a review
/// without a configured pattern compiles no regex, and so never runs, nor
/// maps into memory, the regex compiler), or a configured one.
#[derive(Debug, Clone)]
pub(crate) enum NamePattern {
    /// [`DEFAULT_NAMING_PATTERN`].
    SnakeCase,
    /// A configured pattern.
    Configured(Regex),
}

impl NamePattern {
    /// Whether `name` matches.
    pub fn is_match(&self, name: &str) -> bool {
        match self {
            NamePattern::SnakeCase => is_snake_case(name),
            NamePattern::Configured(re) => re.is_match(name),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        match self {
            NamePattern::SnakeCase => DEFAULT_NAMING_PATTERN,
            NamePattern::Configured(re) => re.as_str(),
        }
    }
}

/// [`DEFAULT_NAMING_PATTERN`] by hand: a lowercase letter, then lowercase
/// letters, digits and single underscores, not ending with one.
fn is_snake_case(name: &str) -> bool {
    let b = name.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last() != Some(&b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        && !b.windows(2).any(|w| w == b"__")
}

impl Options {
    pub(super) fn from_settings(settings: &ReviewSettings) -> Options {
        let rule = |id: &str| settings.rules.get(id);
        let naming = rule(naming_snake_case::RULE.id);
        let naming_pattern = naming
            .and_then(|s| s.pattern.as_deref())
            .and_then(|p| Regex::new(p).ok())
            .map_or(NamePattern::SnakeCase, NamePattern::Configured);
        Options {
            naming_pattern,
            naming_max_length: naming.and_then(|s| s.max_length).map_or(63, |n| n as usize),
            text_max_length: rule(text_type_limit::RULE.id)
                .and_then(|s| s.max_length)
                .map_or(1024, u64::from),
            max_sql_bytes: rule(max_sql_size::RULE.id)
                .and_then(|s| s.max_bytes)
                .unwrap_or(2 * 1024 * 1024),
            max_file_bytes: settings.max_file_bytes(),
            rules: settings.rules.clone(),
        }
    }

    /// Rule `id`'s `max` option, or `default`.
    pub fn max(&self, id: &str, default: u64) -> u64 {
        self.rules.get(id).and_then(|s| s.max).unwrap_or(default)
    }

    /// Rule `id`'s `max_length` option, or `default`.
    pub fn max_length(&self, id: &str, default: u64) -> u64 {
        self.rules
            .get(id)
            .and_then(|s| s.max_length)
            .map_or(default, u64::from)
    }

    /// Rule `id`'s `list` option, lowercased, or `default`.
    pub fn list(&self, id: &str, default: &[&str]) -> Vec<String> {
        match self.rules.get(id).and_then(|s| s.list.as_ref()) {
            Some(l) => l.iter().map(|x| x.trim().to_lowercase()).collect(),
            None => default.iter().map(|x| x.to_string()).collect(),
        }
    }

    /// Rule `id`'s `template` option, or `default`.
    pub fn template<'a>(&'a self, id: &str, default: &'a str) -> &'a str {
        self.rules
            .get(id)
            .and_then(|s| s.template.as_deref())
            .unwrap_or(default)
    }

    /// Rule `id`'s `pattern` option compiled, or `default` (a pattern that
    /// does not compile is reported by [`validate_settings`]; the default is used).
    pub fn pattern(&self, id: &str, default: &str) -> Option<Regex> {
        self.rules
            .get(id)
            .and_then(|s| s.pattern.as_deref())
            .and_then(|p| Regex::new(p).ok())
            .or_else(|| Regex::new(default).ok())
    }
}

#[cfg(test)]
mod name_pattern_tests {
    use super::{DEFAULT_NAMING_PATTERN, is_snake_case};

    #[test]
    fn snake_case_by_hand_matches_the_default_regex() {
        let re = regex::Regex::new(DEFAULT_NAMING_PATTERN).expect("default pattern compiles");
        let names = [
            "",
            "a",
            "ab",
            "a1",
            "a_b",
            "a_1",
            "a__b",
            "_a",
            "a_",
            "1a",
            "A",
            "aB",
            "a_b_c",
            "a1_b2_c3",
            "users",
            "user_id",
            "é",
            "aé",
            "a-b",
            "a b",
            "a\n",
            "z9_9z",
            "a_b_",
            "__",
            "_",
            "snake_Case",
        ];
        for name in names {
            assert_eq!(is_snake_case(name), re.is_match(name), "{name:?}");
        }
    }
}
