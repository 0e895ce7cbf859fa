//! Reading the YAML, expanding `${VAR}`, and turning failures into errors that
//! name the key path (and the line, where the YAML library knows it).

use super::Config;
use serde_norway::Value;
use std::path::Path;

/// Why a configuration could not be used. Every variant names where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {source}")]
    Read {
        /// File name.
        origin: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("{origin}{}: invalid YAML: {message}", line_suffix(*line))]
    Syntax {
        /// File name.
        origin: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What the parser said.
        message: String,
    },
    /// A `${VAR}` names an unset environment variable.
    #[error("{origin}: {key}: environment variable `{var}` is not set")]
    MissingEnv {
        /// File name.
        origin: String,
        /// Key path of the string.
        key: String,
        /// The variable.
        var: String,
    },
    /// A key is unknown, missing, of the wrong type, or fails validation.
    #[error("{origin}{}: {key}: {message}", line_suffix(*line))]
    Invalid {
        /// File name.
        origin: String,
        /// Key path (`environments[1].name`).
        key: String,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong and what would work.
        message: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

pub(super) fn load_file(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        origin: origin.clone(),
        source,
    })?;
    load_str(&text, &origin, lookup)
}

pub(super) fn load_str(
    text: &str,
    origin: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut value: Value = serde_norway::from_str(text).map_err(|e| ConfigError::Syntax {
        origin: origin.to_string(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    expand_value(&mut value, &mut String::new(), lookup).map_err(|(key, var)| {
        ConfigError::MissingEnv {
            origin: origin.to_string(),
            key,
            var,
        }
    })?;
    let config: Config = serde_path_to_error::deserialize(value).map_err(|e| {
        let key = display_path(&e.path().to_string());
        let message = e.inner().to_string();
        ConfigError::Invalid {
            origin: origin.to_string(),
            line: line_of_typed_error(text, &key),
            key,
            message,
        }
    })?;
    super::validate::validate(&config).map_err(|(key, message)| ConfigError::Invalid {
        origin: origin.to_string(),
        key,
        line: None,
        message,
    })?;
    Ok(config)
}

/// serde_path_to_error prints the root as `.`; say so in words.
fn display_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        "(top level)".to_string()
    } else {
        path.to_string()
    }
}

/// The typed pass runs on the expanded value, which has no positions; running
/// it again on the raw text finds the line of the same error (expansion never
/// changes the shape, so the first error is the same one).
fn line_of_typed_error(text: &str, key: &str) -> Option<usize> {
    let de = serde_norway::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, Config>(de) {
        Err(e) if display_path(&e.path().to_string()) == key => {
            e.inner().location().map(|l| l.line())
        }
        _ => None,
    }
}

/// Expands `${VAR}` and `${VAR:-default}` in every string; `$${` is a literal `${`.
/// On a missing variable returns (key path, variable).
fn expand_value(
    value: &mut Value,
    path: &mut String,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match value {
        Value::String(s) => {
            if s.contains('$') {
                *s = expand_str(s, lookup).map_err(|var| (path.clone(), var))?;
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                expand_value(item, path, lookup)?;
                path.truncate(len);
            }
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let len = path.len();
                let name = match k {
                    Value::String(s) => s.clone(),
                    other => serde_norway::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name);
                expand_value(v, path, lookup)?;
                path.truncate(len);
            }
        }
        Value::Tagged(t) => expand_value(&mut t.value, path, lookup)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// Expands one string; Err carries the missing variable's name.
pub fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                // No closing brace: not a reference, keep it as written.
                out.push_str(after);
                return Ok(out);
            };
            let inner = &tail[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match (lookup(name), default) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(name.to_string()),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SECRET" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_references_defaults_and_escapes() {
        assert_eq!(expand_str("a-${SECRET}-b", &env).unwrap(), "a-s3cret-b");
        assert_eq!(expand_str("${NOPE:-x}", &env).unwrap(), "x");
        assert_eq!(expand_str("$${SECRET}", &env).unwrap(), "${SECRET}");
        assert_eq!(expand_str("cost $5", &env).unwrap(), "cost $5");
        assert_eq!(expand_str("${EMPTY}", &env).unwrap(), "");
        assert_eq!(expand_str("x ${NOPE} y", &env).unwrap_err(), "NOPE");
    }
}

#[cfg(test)]
mod backup_schedule_tests {
    use crate::config::{BackupSchedule, Config};
    use std::time::Duration;

    fn schedule(s: &str) -> Result<BackupSchedule, String> {
        let yaml = format!(
            "project: {{ key: K, name: N }}\nenvironments:\n  - name: dev\n    backup: {{ schedule: \"{s}\" }}\n"
        );
        Config::from_yaml(&yaml, "t", &|_| None)
            .map(|c| c.environments[0].backup.schedule)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn schedules_take_words_and_durations_and_refuse_nonsense() {
        let h = |n: u64| BackupSchedule(Some(Duration::from_secs(n * 3600)));
        assert_eq!(schedule("daily"), Ok(h(24)));
        assert_eq!(schedule("weekly"), Ok(h(24 * 7)));
        assert_eq!(schedule("12h"), Ok(h(12)));
        assert_eq!(schedule("off"), Ok(BackupSchedule(None)));
        assert!(schedule("5s").unwrap_err().contains("too often"));
        assert!(
            schedule("fortnightly")
                .unwrap_err()
                .contains("daily, weekly")
        );
        // Unset: the seed's daily.
        let c = Config::from_yaml(
            "project: { key: K, name: N }\nenvironments:\n  - name: dev\n",
            "t",
            &|_| None,
        )
        .unwrap();
        assert_eq!(c.environments[0].backup.schedule, BackupSchedule::DAILY);
    }
}
