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
    /// `naming-snake-case` pattern (the default one compiles, so `None` never
    /// happens in practice).
    pub naming_pattern: Option<Regex>,
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

impl Options {
    pub(super) fn from_settings(settings: &ReviewSettings) -> Options {
        let rule = |id: &str| settings.rules.get(id);
        let naming = rule(naming_snake_case::RULE.id);
        let naming_pattern = naming
            .and_then(|s| s.pattern.as_deref())
            .and_then(|p| Regex::new(p).ok())
            .or_else(|| Regex::new(DEFAULT_NAMING_PATTERN).ok());
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
