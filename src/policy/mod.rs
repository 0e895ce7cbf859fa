//! The approval policy: pure, forge-neutral. Given the environments'
//! policies, who holds which role, the PR author, every approval and
//! cancellation with its time, the time the migrations last changed and the
//! risk, decide per environment whether the policy holds, which approvals
//! count, which roles are still missing and which approvals were discarded
//! and why (DESIGN.md, "Approval rules").
//!
//! Rules, in the order they are applied to each environment:
//! 1. Only records that name the environment, or name none (all
//!    environments), matter. Each user's latest record wins: a later
//!    CHANGES_REQUESTED, DISMISSED or `revoke` cancels an earlier approval.
//! 2. The PR author never counts.
//! 3. With `stale_reset` (the default), approvals older than the last
//!    migration change do not count.
//! 4. Only users holding a configured role count, or, where the environment
//!    allows it, users with write permission on the repository.
//! 5. The environment needs `approvals` counted approvals (plus
//!    `high_risk_extra_approvals` when its risk is high), and each of its
//!    `roles` must be held by at least one counted approver.

use crate::config::{Environment, Role};
use crate::review::finding::RiskLevel;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

/// Where an approval (or its cancellation) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A pull-request review with this forge id.
    Review(u64),
    /// A comment command in the comment with this forge id.
    Comment(u64),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Review(_) => f.write_str("review"),
            Source::Comment(_) => f.write_str("comment"),
        }
    }
}

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vote {
    /// An APPROVED review or `/bytebase approve`.
    Approve,
    /// `/bytebase revoke`.
    Revoke,
    /// A CHANGES_REQUESTED review.
    ChangesRequested,
    /// A dismissed review.
    Dismissed,
}

/// One approval or cancellation by one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// User login (compared case-insensitively, as forges do).
    pub user: String,
    /// The environment it is about; `None`: every environment.
    pub environment: Option<String>,
    /// Approve or cancel.
    pub vote: Vote,
    /// When it was given.
    pub at: DateTime<Utc>,
    /// Where it came from.
    pub source: Source,
    /// Digest of the reviewed migration bytes it was given for (`None`:
    /// unknown, e.g. a review of a commit bytegate never reviewed).
    pub digest: Option<String>,
}

/// Why an approval does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscardReason {
    /// Given before the migrations last changed.
    Stale {
        /// When the migrations changed.
        changed_at: DateTime<Utc>,
    },
    /// Given for other migration bytes than the current head's.
    StaleContent,
    /// Given by the PR author.
    Author,
    /// The user holds no role for this environment (and write permission does not count here).
    NoRole,
    /// Withdrawn with `revoke`.
    Revoked,
    /// Cancelled by a later CHANGES_REQUESTED review.
    ChangesRequested,
    /// Cancelled because the review was dismissed.
    Dismissed,
}

impl fmt::Display for DiscardReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscardReason::Stale { changed_at } => write!(
                f,
                "stale: given before the migrations changed at {}",
                changed_at.format("%Y-%m-%d %H:%M UTC")
            ),
            DiscardReason::StaleContent => {
                f.write_str("stale: given for other migration content than the current head's")
            }
            DiscardReason::Author => f.write_str("the pull request's author cannot approve it"),
            DiscardReason::NoRole => f.write_str("holds no role that counts here"),
            DiscardReason::Revoked => f.write_str("revoked"),
            DiscardReason::ChangesRequested => f.write_str("cancelled by a later change request"),
            DiscardReason::Dismissed => f.write_str("review dismissed"),
        }
    }
}

/// An approval that counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Approver.
    pub user: String,
    /// The approver's roles (sorted).
    pub roles: Vec<String>,
    /// Counted only because of write permission on the repository.
    pub via_write_permission: bool,
    /// When it was given.
    pub at: DateTime<Utc>,
    /// Where it came from.
    pub source: Source,
}

/// An approval that does not count, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discarded {
    /// Approver.
    pub user: String,
    /// When the approval was given.
    pub at: DateTime<Utc>,
    /// Where the approval came from.
    pub source: Source,
    /// Why it does not count.
    pub reason: DiscardReason,
}

/// The decision for one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDecision {
    /// Environment name.
    pub environment: String,
    /// Whether the policy holds.
    pub satisfied: bool,
    /// Approvals required (high-risk extra included).
    pub required: u32,
    /// The high-risk extra included in `required`.
    pub high_risk_extra: u32,
    /// Approvals that count, oldest first.
    pub counted: Vec<Counted>,
    /// Required roles no counted approver holds (config order).
    pub missing_roles: Vec<String>,
    /// Approvals that do not count, oldest first.
    pub discarded: Vec<Discarded>,
    /// Whether the approval check waits for this environment before merge.
    pub required_before_merge: bool,
}

impl EnvDecision {
    /// Approvals still needed to reach the count (roles aside).
    pub fn missing_count(&self) -> u32 {
        self.required
            .saturating_sub(u32::try_from(self.counted.len()).unwrap_or(u32::MAX))
    }

    /// `production: 1/2 (missing: owner)`, or `development: 0/0 ✓`.
    pub fn summary_line(&self) -> String {
        let mut s = format!(
            "{}: {}/{}",
            self.environment,
            self.counted.len(),
            self.required
        );
        if self.satisfied {
            s.push_str(" ✓");
        } else if !self.missing_roles.is_empty() {
            s.push_str(&format!(" (missing: {})", self.missing_roles.join(", ")));
        }
        s
    }
}

/// The decision for every environment, in config order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Per environment.
    pub environments: Vec<EnvDecision>,
}

impl Decision {
    /// True when every environment required before merge is satisfied.
    pub fn mergeable(&self) -> bool {
        self.environments
            .iter()
            .filter(|e| e.required_before_merge)
            .all(|e| e.satisfied)
    }

    /// The decision for one environment.
    pub fn environment(&self, name: &str) -> Option<&EnvDecision> {
        self.environments.iter().find(|e| e.environment == name)
    }
}

/// Everything the policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// Environments in rollout order.
    pub environments: &'a [Environment],
    /// PR author login.
    pub author: &'a str,
    /// Approvals and cancellations, any order.
    pub records: &'a [Record],
    /// Resolved roles: lowercase login → role names.
    pub roles: &'a HashMap<String, BTreeSet<String>>,
    /// Lowercase logins with write permission on the repository (only
    /// consulted for environments that allow it).
    pub write_permission: &'a HashSet<String>,
    /// When the migrations last changed (approvals before it are stale),
    /// used only while no reviewed digest is known.
    pub migrations_changed_at: Option<DateTime<Utc>>,
    /// Digest of the reviewed migration bytes at the current head: approvals
    /// count only when given for exactly these bytes.
    pub current_digest: Option<&'a str>,
    /// Risk per environment name; environments missing here use `default_risk`.
    pub risk: &'a BTreeMap<String, RiskLevel>,
    /// Risk of environments not in `risk`.
    pub default_risk: RiskLevel,
}

/// The roles `login` holds: directly as a configured user, or through a team
/// in `teams` (the teams the user is known to belong to). Case-insensitive.
pub fn roles_of(
    roles: &BTreeMap<String, Role>,
    login: &str,
    teams: &BTreeSet<String>,
) -> BTreeSet<String> {
    roles
        .iter()
        .filter(|(_, role)| {
            role.users.iter().any(|u| u.eq_ignore_ascii_case(login))
                || role
                    .teams
                    .iter()
                    .any(|t| teams.contains(&t.to_ascii_lowercase()))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// What a user asks to do for an environment through a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Approve (`/bytebase approve`).
    Approve,
    /// Start or retry a stage of the rollout (`/bytebase deploy`, `rollback`).
    Deploy,
}

/// Why a user may act for an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The user holds a configured role.
    Role,
    /// The user has write permission and the environment lets that count.
    WritePermission,
}

/// Why a user may not act for an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoStanding {
    /// The PR's author never approves their own change.
    Author,
    /// No role, and write permission does not count here (or is absent).
    NoRole,
}

/// The one rule for "may `user` act for `env`": approving and deploying need
/// the same standing (rule 4: a role, or write permission where the
/// environment allows it). The author may never approve (rule 2); the author
/// may deploy with that standing, since a stage still runs only when others'
/// approvals satisfy its policy. `roles` are the user's resolved roles,
/// `has_write` whether they have write permission on the repository.
pub fn may_act(
    act: Act,
    env: &Environment,
    author: &str,
    user: &str,
    roles: &BTreeSet<String>,
    has_write: bool,
) -> Result<Standing, NoStanding> {
    if act == Act::Approve && user.eq_ignore_ascii_case(author) {
        return Err(NoStanding::Author);
    }
    if !roles.is_empty() {
        Ok(Standing::Role)
    } else if env.allow_write_permission && has_write {
        Ok(Standing::WritePermission)
    } else {
        Err(NoStanding::NoRole)
    }
}

/// Decides every environment.
pub fn decide(input: &PolicyInput<'_>) -> Decision {
    // Stable order: by time, then input order (a later record at the same time wins).
    let mut records: Vec<&Record> = input.records.iter().collect();
    records.sort_by_key(|r| r.at);
    Decision {
        environments: input
            .environments
            .iter()
            .map(|env| decide_env(input, env, &records))
            .collect(),
    }
}

fn applies(r: &Record, env: &str) -> bool {
    r.environment
        .as_deref()
        .is_none_or(|e| e.eq_ignore_ascii_case(env))
}

fn decide_env(input: &PolicyInput<'_>, env: &Environment, records: &[&Record]) -> EnvDecision {
    // Each user's latest record, and their latest approval before it.
    let mut latest: BTreeMap<String, (&Record, Option<&Record>)> = BTreeMap::new();
    for r in records.iter().copied().filter(|r| applies(r, &env.name)) {
        let key = r.user.to_ascii_lowercase();
        let previous_approval = latest.get(&key).and_then(|(last, prev)| {
            if last.vote == Vote::Approve {
                Some(*last)
            } else {
                *prev
            }
        });
        latest.insert(key, (r, previous_approval));
    }

    let mut counted = Vec::new();
    let mut discarded = Vec::new();
    let discard = |r: &Record, reason| Discarded {
        user: r.user.clone(),
        at: r.at,
        source: r.source,
        reason,
    };
    for (login, (last, previous_approval)) in &latest {
        let cancel = match last.vote {
            Vote::Approve => None,
            Vote::Revoke => Some(DiscardReason::Revoked),
            Vote::ChangesRequested => Some(DiscardReason::ChangesRequested),
            Vote::Dismissed => Some(DiscardReason::Dismissed),
        };
        if let Some(reason) = cancel {
            match previous_approval {
                Some(approval) => discarded.push(discard(approval, reason)),
                // A dismissed review is shown itself (often the approval it was);
                // other cancellations without an earlier approval discard nothing.
                None if last.vote == Vote::Dismissed => discarded.push(discard(last, reason)),
                None => {}
            }
            continue;
        }
        if login.eq_ignore_ascii_case(input.author) {
            discarded.push(discard(last, DiscardReason::Author));
            continue;
        }
        if env.stale_reset {
            // Bound to bytes: an approval counts for the content it was given
            // for, on any later head whose migrations are byte-identical.
            if let Some(current) = input.current_digest {
                if last.digest.as_deref() != Some(current) {
                    discarded.push(discard(last, DiscardReason::StaleContent));
                    continue;
                }
            } else if let Some(changed_at) = input.migrations_changed_at
                && last.at < changed_at
            {
                discarded.push(discard(last, DiscardReason::Stale { changed_at }));
                continue;
            }
        }
        let roles: Vec<String> = input
            .roles
            .get(login)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        let via_write = roles.is_empty()
            && env.allow_write_permission
            && input.write_permission.contains(login);
        if roles.is_empty() && !via_write {
            discarded.push(discard(last, DiscardReason::NoRole));
            continue;
        }
        counted.push(Counted {
            user: last.user.clone(),
            roles,
            via_write_permission: via_write,
            at: last.at,
            source: last.source,
        });
    }
    counted.sort_by(|a, b| (a.at, &a.user).cmp(&(b.at, &b.user)));
    discarded.sort_by(|a, b| (a.at, &a.user).cmp(&(b.at, &b.user)));

    let risk = input
        .risk
        .get(&env.name)
        .copied()
        .unwrap_or(input.default_risk);
    let high_risk_extra = if risk == RiskLevel::High {
        env.high_risk_extra_approvals
    } else {
        0
    };
    let required = env.approvals.saturating_add(high_risk_extra);
    let missing_roles: Vec<String> = env
        .roles
        .iter()
        .filter(|role| !counted.iter().any(|c| c.roles.contains(role)))
        .cloned()
        .collect();
    let enough = u32::try_from(counted.len()).unwrap_or(u32::MAX) >= required;
    EnvDecision {
        environment: env.name.clone(),
        satisfied: enough && missing_roles.is_empty(),
        required,
        high_risk_extra,
        counted,
        missing_roles,
        discarded,
        required_before_merge: env.required_before_merge,
    }
}

#[cfg(test)]
mod tests;
