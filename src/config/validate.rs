//! Cross-field checks that types alone cannot express. Each failure is
//! (key path, message).

use super::Config;
use std::collections::BTreeMap;

type Invalid = (String, String);

pub(super) fn validate(c: &Config) -> Result<(), Invalid> {
    if let Some(d) = &c.dry_run {
        let Some(env) = c.environment(&d.environment) else {
            return Err((
                "dry_run.environment".into(),
                format!("unknown environment `{}`", d.environment),
            ));
        };
        if let Some(db) = &d.database
            && !env.databases.iter().any(|x| &x.name == db)
        {
            return Err((
                "dry_run.database".into(),
                format!("environment `{}` has no database `{db}`", env.name),
            ));
        }
    }
    if c.project.migrations_dir.trim().is_empty() {
        return Err(("project.migrations_dir".into(), "must not be empty".into()));
    }
    if let Err(e) = c.project.migration_suffixes.validate() {
        return Err(("project.migration_suffixes".into(), e));
    }
    if c.project.command_prefix.trim().is_empty() || c.project.command_prefix.contains(' ') {
        return Err((
            "project.command_prefix".into(),
            "must be one word such as `/bytebase`".into(),
        ));
    }
    super::notifications::validate(&c.notifications)?;
    if c.server.max_in_flight == 0 {
        return Err((
            "server.max_in_flight".into(),
            "must be at least 1 (every delivery would be refused)".into(),
        ));
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, env) in c.environments.iter().enumerate() {
        let at = |k: &str| format!("environments[{i}].{k}");
        if env.name.trim().is_empty() {
            return Err((at("name"), "must not be empty".into()));
        }
        if let Some(first) = seen.insert(env.name.as_str(), i) {
            return Err((
                at("name"),
                format!(
                    "duplicate environment `{}` (first defined at environments[{first}])",
                    env.name
                ),
            ));
        }
        for (j, role) in env.roles.iter().enumerate() {
            if !c.roles.contains_key(role) {
                return Err((
                    at(&format!("roles[{j}]")),
                    format!("unknown role `{role}` (defined roles: {})", names(&c.roles)),
                ));
            }
        }
        if (env.roles.len() as u32) > env.approvals {
            return Err((
                at("approvals"),
                format!(
                    "requires {} approval(s) but {} distinct roles must be present; raise approvals to at least {}",
                    env.approvals,
                    env.roles.len(),
                    env.roles.len()
                ),
            ));
        }
        if let Some(w) = &env.deploy_window {
            if w.days.is_empty() {
                return Err((
                    at("deploy_window.days"),
                    "must name at least one day".into(),
                ));
            }
            if w.start == w.end {
                return Err((
                    at("deploy_window.end"),
                    "equals start: the window would never open (omit deploy_window for always open)"
                        .into(),
                ));
            }
        }
        for (j, db) in env.databases.iter().enumerate() {
            if db.url.expose().trim().is_empty() {
                return Err((
                    at(&format!("databases[{j}].url")),
                    "must not be empty".into(),
                ));
            }
        }
    }
    for (name, role) in &c.roles {
        if role.users.is_empty() && role.teams.is_empty() {
            return Err((format!("roles.{name}"), "names no users or teams".into()));
        }
    }
    let env_known = |name: &str| c.environments.iter().any(|e| e.name == name);
    if c.review.max_file_bytes == Some(0) {
        return Err((
            "review.max_file_bytes".into(),
            "must be at least 1 (every file would be refused)".into(),
        ));
    }
    for (id, setting) in &c.review.rules {
        if id == crate::review::FILE_TOO_LARGE_RULE {
            return Err((
                format!("review.rules.{id}"),
                "always an error and not configurable; set review.max_file_bytes instead".into(),
            ));
        }
        if !crate::review::rules::is_known_rule(id) {
            return Err((
                format!("review.rules.{id}"),
                match closest_rule(id) {
                    Some(near) => format!("unknown rule `{id}`; did you mean `{near}`?"),
                    None => format!("unknown rule `{id}`"),
                },
            ));
        }
        for env in setting.environments.keys() {
            if !env_known(env) {
                return Err((
                    format!("review.rules.{id}.environments.{env}"),
                    format!("unknown environment `{env}`"),
                ));
            }
        }
        if let Some(p) = &setting.pattern {
            regex::Regex::new(p).map_err(|e| {
                (
                    format!("review.rules.{id}.pattern"),
                    format!("invalid regex: {e}"),
                )
            })?;
        }
    }
    for (i, rule) in c.review.custom.iter().enumerate() {
        let at = |k: &str| format!("review.custom[{i}].{k}");
        if rule.patterns.is_empty() {
            return Err((at("patterns"), "must list at least one regex".into()));
        }
        for (j, p) in rule.patterns.iter().enumerate() {
            regex::Regex::new(p)
                .map_err(|e| (at(&format!("patterns[{j}]")), format!("invalid regex: {e}")))?;
        }
        for (j, env) in rule.environments.iter().enumerate() {
            if !env_known(env) {
                return Err((
                    at(&format!("environments[{j}]")),
                    format!("unknown environment `{env}`"),
                ));
            }
        }
    }
    for (i, env) in c.risk.production_environments.iter().enumerate() {
        // The default names `production`; only explicit lists are checked.
        if !env_known(env) && !c.environments.is_empty() && env != "production" {
            return Err((
                format!("risk.production_environments[{i}]"),
                format!("unknown environment `{env}`"),
            ));
        }
    }
    if let Some(gh) = &c.forges.github {
        let app = gh.app_id.is_some();
        let key = gh.private_key.is_some() || gh.private_key_path.is_some();
        if app != key {
            return Err((
                "forges.github".into(),
                "a GitHub App needs both app_id and private_key (or private_key_path)".into(),
            ));
        }
        if !app && gh.token.is_none() {
            return Err((
                "forges.github".into(),
                "set app_id + private_key (GitHub App, check runs) or token (commit statuses)"
                    .into(),
            ));
        }
    }
    Ok(())
}

fn names(roles: &BTreeMap<String, super::Role>) -> String {
    if roles.is_empty() {
        "none".to_string()
    } else {
        roles.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// The known rule id nearest to a misspelt one (edit distance ≤ 3).
fn closest_rule(id: &str) -> Option<&'static str> {
    crate::review::rules::registry()
        .iter()
        .map(|r| (edit_distance(id, r.id), r.id))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, r)| r)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
