//! The approval decision of a change request, in one place: the stored
//! approvals, the people's roles and write permission (resolved through the
//! forge, cached by the guard), the review's risk, and the policy
//! ([`crate::policy`]) over them. The approval check, the comment commands
//! and the rollout's stage gate all ask here; this module calls none of them.

use super::guard::Person;
use super::{FlowContext, FlowError};
use crate::config::Config;
use crate::event::PrRef;
use crate::forge::{Forge, Permission};
use crate::policy::{self, Act, Decision, NoStanding, PolicyInput};
use crate::review::finding::RiskLevel;
use crate::store::approvals as records;
use crate::store::change_requests::ChangeRequest;
use crate::store::reviews;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write;

/// A change request's decision, ready to publish.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The change request as read.
    pub cr: ChangeRequest,
    /// The comment-command prefix (for the how-to line).
    pub command_prefix: String,
    /// The decision.
    pub decision: Decision,
}

/// Reads the stored approvals, resolves roles and decides every environment.
/// `None` when bytegate has not seen the PR.
pub async fn evaluate(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
) -> Result<Option<Evaluation>, FlowError> {
    let Some(cr) = super::find_change_request(ctx, pr).await? else {
        return Ok(None);
    };
    let rows = records::list(&ctx.db, cr.id).await?;
    let recs: Vec<policy::Record> = rows.iter().filter_map(|r| r.to_record()).collect();
    let users: BTreeSet<String> = recs.iter().map(|r| r.user.to_ascii_lowercase()).collect();
    let (roles, write) = resolve_people(ctx, forge, pr, &users).await?;
    let (risk, default_risk) = risk_of(ctx, &cr).await?;
    let decision = policy::decide(&PolicyInput {
        environments: &ctx.config.environments,
        author: &cr.author,
        records: &recs,
        roles: &roles,
        write_permission: &write,
        migrations_changed_at: cr.migrations_changed_at,
        current_digest: cr.migrations_digest.as_deref(),
        risk: &risk,
        default_risk,
    });
    Ok(Some(Evaluation {
        cr,
        command_prefix: ctx.config.project.command_prefix.clone(),
        decision,
    }))
}

/// Why `user` may not `act` for `environments` (empty: all), or `None` when
/// they may. The rule itself is the policy's ([`policy::may_act`]); this
/// resolves the user's roles and words the refusal.
pub async fn standing_refusal(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PrRef,
    user: &str,
    act: Act,
    environments: &[String],
) -> Result<Option<String>, FlowError> {
    let config = &ctx.config;
    let login = user.to_ascii_lowercase();
    let (roles, write) = resolve_people(ctx, forge, pr, &BTreeSet::from([login.clone()])).await?;
    let held = roles.get(&login).cloned().unwrap_or_default();
    let has_write = write.contains(&login);
    let mut refused: Vec<&str> = Vec::new();
    for env in config
        .environments
        .iter()
        .filter(|e| environments.is_empty() || environments.contains(&e.name))
    {
        match policy::may_act(act, env, &cr.author, user, &held, has_write) {
            Ok(_) => {}
            Err(NoStanding::Author) => {
                return Ok(Some(format!(
                    "you opened this pull request, and the author's approval never counts. Ask a reviewer {} to approve it.",
                    who_counts(config, environments)
                )));
            }
            Err(NoStanding::NoRole) => refused.push(env.name.as_str()),
        }
    }
    if refused.is_empty() {
        return Ok(None);
    }
    let mut why = format!(
        "you hold no role that counts for {}. Approvals count from {}.",
        refused
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", "),
        who_counts(config, environments)
    );
    if act == Act::Deploy && user.eq_ignore_ascii_case(&cr.author) {
        // The judgment call, said where it applies: an author with standing may
        // deploy (a stage still runs only once others' approvals satisfy it).
        why.push_str(" The author may deploy with that standing too, never without it.");
    }
    Ok(Some(why))
}

/// `holding the role `dba` or `owner`` (and write permission where allowed).
pub fn who_counts(config: &Config, environments: &[String]) -> String {
    let mut roles: Vec<&str> = config
        .environments
        .iter()
        .filter(|e| environments.is_empty() || environments.contains(&e.name))
        .flat_map(|e| e.roles.iter().map(String::as_str))
        .collect();
    if roles.is_empty() {
        roles = config.roles.keys().map(String::as_str).collect();
    }
    roles.sort_unstable();
    roles.dedup();
    let write = config
        .environments
        .iter()
        .filter(|e| environments.is_empty() || environments.contains(&e.name))
        .filter(|e| e.allow_write_permission)
        .map(|e| format!("`{}`", e.name))
        .collect::<Vec<_>>();
    let mut s = if roles.is_empty() {
        "holding a role configured under `roles:` (none is configured)".to_string()
    } else {
        let list: Vec<String> = roles.iter().map(|r| format!("`{r}`")).collect();
        format!("holding the role {}", list.join(" or "))
    };
    if !write.is_empty() {
        let _ = write!(s, " (or with write permission, for {})", write.join(", "));
    }
    s
}

/// Roles (config users, teams via the forge) and write permission of `users` (lowercase).
pub async fn resolve_people(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    users: &BTreeSet<String>,
) -> Result<(HashMap<String, BTreeSet<String>>, HashSet<String>), FlowError> {
    let config = &ctx.config;
    let teams: BTreeSet<String> = config
        .roles
        .values()
        .flat_map(|r| r.teams.iter().map(|t| t.to_ascii_lowercase()))
        .collect();
    let write_matters = config.environments.iter().any(|e| e.allow_write_permission);
    let mut roles = HashMap::new();
    let mut write = HashSet::new();
    for user in users {
        // Cached per repository and user for a short time: a flood of
        // commands costs a bounded number of forge lookups.
        if let Some(p) = ctx.guard.person(pr, user) {
            if p.write {
                write.insert(user.clone());
            }
            roles.insert(user.clone(), p.roles);
            continue;
        }
        let direct = policy::roles_of(&config.roles, user, &BTreeSet::new());
        let mut member_of = BTreeSet::new();
        for team in &teams {
            // Skip lookups that cannot add a role the user lacks.
            let adds = config.roles.iter().any(|(name, r)| {
                !direct.contains(name) && r.teams.iter().any(|t| t.eq_ignore_ascii_case(team))
            });
            if !adds {
                continue;
            }
            match forge.is_team_member(&pr.repo, team, user).await {
                Ok(true) => {
                    member_of.insert(team.clone());
                }
                Ok(false) => {}
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    // No permission to read teams, or a malformed team name:
                    // the user simply does not get that role.
                    tracing::warn!(team = %team, user = %user, error = %e, "team membership lookup failed");
                }
            }
        }
        let held = policy::roles_of(&config.roles, user, &member_of);
        let mut has_write = false;
        if held.is_empty() && write_matters {
            match forge.collaborator_permission(&pr.repo, user).await {
                Ok(p) if p >= Permission::Write => has_write = true,
                Ok(_) => {}
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(user = %user, error = %e, "permission lookup failed");
                }
            }
        }
        ctx.guard.remember(
            pr,
            user,
            Person {
                roles: held.clone(),
                write: has_write,
            },
        );
        if has_write {
            write.insert(user.clone());
        }
        roles.insert(user.clone(), held);
    }
    Ok((roles, write))
}

/// Risk per environment of the review of `sha` (the newest result per environment).
pub async fn risk_of(
    ctx: &FlowContext,
    cr: &ChangeRequest,
) -> Result<(BTreeMap<String, RiskLevel>, RiskLevel), FlowError> {
    let parse = |s: &str| match s {
        "high" => RiskLevel::High,
        "medium" => RiskLevel::Medium,
        _ => RiskLevel::Low,
    };
    let mut by_env = BTreeMap::new();
    let mut default = RiskLevel::Low;
    for r in reviews::for_sha(&ctx.db, cr.id, &cr.head_sha).await? {
        match r.environment {
            Some(env) => {
                by_env.insert(env, parse(&r.risk_level));
            }
            None => default = parse(&r.risk_level),
        }
    }
    Ok((by_env, default))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Backup, Environment};

    #[test]
    fn who_counts_names_roles_and_write_permission() {
        let env = |name: &str, roles: &[&str], write| Environment {
            name: name.into(),
            approvals: 1,
            roles: roles.iter().map(|s| s.to_string()).collect(),
            allow_write_permission: write,
            stale_reset: true,
            high_risk_extra_approvals: 0,
            required_before_merge: true,
            deploy_window: None,
            backup: Backup::default(),
            lock_timeout: None,
            statement_timeout: None,
            allow_out_of_order: false,
            databases: vec![],
        };
        let mut config = Config::from_yaml(
            "project: {key: T, name: T}\nroles: {dba: {users: [d]}, owner: {users: [o]}}\n",
            "t",
            &|_| None,
        )
        .unwrap();
        config.environments = vec![
            env("staging", &[], true),
            env("production", &["dba", "owner"], false),
        ];
        assert_eq!(
            who_counts(&config, &["production".into()]),
            "holding the role `dba` or `owner`"
        );
        assert_eq!(
            who_counts(&config, &["staging".into()]),
            "holding the role `dba` or `owner` (or with write permission, for `staging`)"
        );
    }
}
