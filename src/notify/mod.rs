//! Outgoing notifications: what happened (a [`Notice`]), who wants it (the
//! receivers of `notifications.webhooks`), and its delivery.
//!
//! Emitting an event inserts one `notify` job per receiver that wants it into
//! the durable job queue, in the transaction that records the event in the
//! audit trail ([`crate::flow::notices`]). Delivery ([`deliver`]) runs in the
//! queue's own notifications lane ([`crate::store::jobs::Lane`]): a receiver
//! that is slow or dead holds only notification workers, never a review or a
//! deploy. Each attempt is recorded (`notification_attempts`); failures are
//! retried with exponential backoff on the injected clock and given up after
//! `notifications.max_attempts`.
//!
//! Here: the event kinds, the payload (its shape is documented in README and
//! read by other tools: change it only by adding fields) and the enqueue.

pub mod body;
pub mod deliver;
mod details;

pub use deliver::NotifyJobHandler;

pub use crate::config::NoticeKind;
use crate::config::{Config, NotificationWebhook};
use crate::store::StoreError;
use crate::store::audit::AuditAction;
use crate::store::jobs::{self, NOTIFY_JOB, NewJob};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;

impl NoticeKind {
    /// The notification an audit entry makes, if any: the one table of which
    /// recorded state changes notify.
    pub fn of(action: AuditAction, detail: &Value) -> Option<NoticeKind> {
        Some(match action {
            // Only the first review of a PR (checked where it is emitted).
            AuditAction::ReviewCompleted => NoticeKind::ChangeCreated,
            AuditAction::ApprovalDecided if detail["satisfied"] == Value::Bool(false) => {
                NoticeKind::ApprovalRequired
            }
            AuditAction::ApprovalGranted => NoticeKind::ApprovalGranted,
            AuditAction::StageStarted => NoticeKind::DeployStarted,
            AuditAction::StageSucceeded => NoticeKind::DeploySucceeded,
            AuditAction::StageFailed => NoticeKind::DeployFailed,
            AuditAction::StageRolledBack => NoticeKind::RollbackSucceeded,
            AuditAction::RollbackFailed => NoticeKind::RollbackFailed,
            AuditAction::DriftDetected => NoticeKind::DriftDetected,
            _ => return None,
        })
    }
}

/// The version of [`Notice`]'s shape.
pub const NOTICE_VERSION: u32 = 1;

/// One event, as every receiver gets it (the `json` body; `slack` is made from it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Shape version ([`NOTICE_VERSION`]).
    pub version: u32,
    /// The event's id: the same for every receiver of this event.
    pub id: String,
    /// What happened.
    pub event: NoticeKind,
    /// When bytegate recorded it.
    pub occurred_at: DateTime<Utc>,
    /// `project.key`.
    pub project: String,
    /// Who did it (a forge login, or `bytegate`).
    pub actor: String,
    /// The repository.
    pub repo: Option<NoticeRepo>,
    /// The pull/merge request.
    pub change: Option<NoticeChange>,
    /// The environment concerned.
    pub environment: Option<String>,
    /// The outcome in one word (see README).
    pub result: String,
    /// What went wrong, for failures (what the pull request shows).
    pub error: Option<String>,
    /// Event-specific fields (see README).
    pub details: Value,
}

/// [`Notice::repo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeRepo {
    /// `github` or `gitlab`.
    pub forge: String,
    /// `owner/name` (GitLab: the project path).
    pub name: String,
}

/// [`Notice::change`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeChange {
    /// PR number (GitLab: MR iid).
    pub number: i64,
    /// Title, when bytegate has seen the PR.
    pub title: Option<String>,
    /// Author login, when bytegate has seen the PR.
    pub author: Option<String>,
    /// The PR's web page.
    pub url: Option<String>,
}

impl Notice {
    /// The notice of `kind` about what `entry` records (`change` holds the
    /// PR's title and author when known), at `now`.
    pub fn from_audit(
        config: &Config,
        kind: NoticeKind,
        entry: &crate::store::audit::AuditEntry<'_>,
        change: Option<(String, String)>,
        now: DateTime<Utc>,
    ) -> Notice {
        let repo = match (entry.forge, entry.repo) {
            (Some(forge), Some(name)) => Some(NoticeRepo {
                forge: forge.to_string(),
                name: name.to_string(),
            }),
            _ => None,
        };
        let change = entry.number.map(|number| {
            let (title, author) = change.unzip();
            NoticeChange {
                number,
                title,
                author,
                url: repo
                    .as_ref()
                    .and_then(|r| change_url(config, &r.forge, &r.name, number)),
            }
        });
        let d = details::of(kind, &entry.detail);
        Notice {
            version: NOTICE_VERSION,
            id: random_id(),
            event: kind,
            occurred_at: now,
            project: config.project.key.clone(),
            actor: entry.actor.to_string(),
            repo,
            change,
            environment: entry.environment.map(str::to_string),
            result: d.result,
            error: d.error,
            details: d.details,
        }
    }
}

/// The web page of PR `number` of `repo`, from the forge's configured URL.
pub fn change_url(config: &Config, forge: &str, repo: &str, number: i64) -> Option<String> {
    match forge {
        "github" => {
            let api = config.forges.github.as_ref()?.api_url.trim_end_matches('/');
            let web = if api == "https://api.github.com" {
                "https://github.com"
            } else {
                api.strip_suffix("/api/v3").unwrap_or(api)
            };
            Some(format!("{web}/{repo}/pull/{number}"))
        }
        "gitlab" => {
            let web = config.forges.gitlab.as_ref()?.url.trim_end_matches('/');
            Some(format!("{web}/{repo}/-/merge_requests/{number}"))
        }
        _ => None,
    }
}

/// 32 random hex digits.
fn random_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A `notify` job's payload: one notice for one receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyJob {
    /// The receiver's name (its URL and secret are read from the config at
    /// delivery, never stored).
    pub receiver: String,
    /// This delivery's id (`X-Bytegate-Delivery`), the same for every attempt.
    pub delivery: String,
    /// The event.
    pub notice: Notice,
}

/// Queues `notice` for each of `receivers` on `conn` (the caller's
/// transaction); returns the job ids.
pub async fn enqueue(
    conn: &mut PgConnection,
    receivers: &[&NotificationWebhook],
    notice: &Notice,
    max_attempts: i32,
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(receivers.len());
    for r in receivers {
        let job = NotifyJob {
            receiver: r.name(),
            delivery: random_id(),
            notice: notice.clone(),
        };
        let new = NewJob {
            kind: NOTIFY_JOB.to_string(),
            // Cannot fail (string keys only); a null payload would be given
            // up by the worker as undecodable, never sent.
            payload: serde_json::to_value(&job).unwrap_or(Value::Null),
            coalesce_key: None,
            max_attempts,
        };
        if let jobs::Enqueued::Queued(id) = jobs::enqueue(&mut *conn, None, &new).await? {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audit_actions_map_to_their_events() {
        let of = |a, d: Value| NoticeKind::of(a, &d);
        assert_eq!(
            of(AuditAction::StageFailed, json!({})),
            Some(NoticeKind::DeployFailed)
        );
        assert_eq!(
            of(AuditAction::ApprovalDecided, json!({"satisfied": false})),
            Some(NoticeKind::ApprovalRequired)
        );
        assert_eq!(
            of(AuditAction::ApprovalDecided, json!({"satisfied": true})),
            None
        );
        assert_eq!(of(AuditAction::DeployApplied, json!({})), None);
        // Every kind is made by some action.
        let made: Vec<NoticeKind> = AuditAction::ALL
            .iter()
            .filter_map(|a| of(*a, json!({"satisfied": false})))
            .collect();
        for k in NoticeKind::ALL {
            assert!(made.contains(k), "{k} is never emitted");
        }
    }

    #[test]
    fn change_urls_follow_the_configured_forge() {
        let yaml = |forges: &str| {
            crate::config::Config::from_yaml(
                &format!("project: {{key: K, name: N}}\nforges:\n{forges}"),
                "t",
                &|_| None,
            )
            .unwrap()
        };
        let gh = yaml("  github: {webhook_secret: s, token: t}\n");
        assert_eq!(
            change_url(&gh, "github", "acme/shop", 7).as_deref(),
            Some("https://github.com/acme/shop/pull/7")
        );
        let ghes = yaml(
            "  github: {api_url: 'https://ghe.example.com/api/v3', webhook_secret: s, token: t}\n",
        );
        assert_eq!(
            change_url(&ghes, "github", "acme/shop", 7).as_deref(),
            Some("https://ghe.example.com/acme/shop/pull/7")
        );
        let gl = yaml("  gitlab: {url: 'https://gitlab.example.com/', webhook_token: w}\n");
        assert_eq!(
            change_url(&gl, "gitlab", "group/sub/app", 3).as_deref(),
            Some("https://gitlab.example.com/group/sub/app/-/merge_requests/3")
        );
        assert_eq!(change_url(&gl, "github", "a/b", 1), None);
    }
}
