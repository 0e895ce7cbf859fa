//! `notifications:`: outgoing webhooks, which events each receiver wants,
//! and how deliveries are retried. Delivery itself is [`crate::notify`].

use super::{HumanDuration, Secret};
use crate::text_enum::text_enum;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

text_enum! {
    /// An event receivers can subscribe to (`notifications.webhooks[].events`).
    pub enum NoticeKind {
        /// A pull request's migrations were reviewed for the first time.
        ChangeCreated = "change.created",
        /// An environment needs approvals it does not have (first review, or
        /// approvals went stale).
        ApprovalRequired = "approval.required",
        /// Someone approved (a review or a comment command).
        ApprovalGranted = "approval.granted",
        /// A rollout stage started deploying to an environment.
        DeployStarted = "deploy.started",
        /// A stage deployed every database of its environment.
        DeploySucceeded = "deploy.succeeded",
        /// A stage failed or was refused; the rollout stops.
        DeployFailed = "deploy.failed",
        /// An environment's deploy was rolled back.
        RollbackSucceeded = "rollback.succeeded",
        /// A rollback failed on a database.
        RollbackFailed = "rollback.failed",
        /// A target's schema changed outside bytegate since its last deploy.
        DriftDetected = "drift.detected",
    }
}

impl<'de> Deserialize<'de> for NoticeKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NoticeKind::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event `{s}`")))
    }
}

/// `notifications:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notifications {
    /// Outgoing webhooks.
    pub webhooks: Vec<NotificationWebhook>,
    /// Delivery attempts of one notification to one receiver before it is
    /// given up (the last attempt's row says `gave_up`).
    pub max_attempts: i32,
    /// Delay before the first retry; doubles per attempt (up to 20% jitter).
    pub retry_base: HumanDuration,
    /// Longest delay between two attempts.
    pub retry_max: HumanDuration,
    /// How long a receiver may take to answer one attempt.
    pub timeout: HumanDuration,
    /// Delivery workers per process (their own queue lane: a slow receiver
    /// never holds a worker a review or deploy needs).
    pub workers: usize,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            webhooks: Vec::new(),
            max_attempts: 8,
            retry_base: HumanDuration::from_secs(30),
            retry_max: HumanDuration::from_secs(3600),
            timeout: HumanDuration::from_secs(10),
            workers: 1,
        }
    }
}

impl Notifications {
    /// The receivers that want `kind`, in config order.
    pub fn receivers_for(&self, kind: NoticeKind) -> Vec<&NotificationWebhook> {
        self.webhooks.iter().filter(|w| w.wants(kind)).collect()
    }

    /// The receiver named `name`.
    pub fn receiver(&self, name: &str) -> Option<&NotificationWebhook> {
        self.webhooks.iter().find(|w| w.name() == name)
    }
}

/// One outgoing webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationWebhook {
    /// Names the receiver in delivery records and logs (default:
    /// `webhook-` and 8 hex digits of the URL's sha256, so reordering the
    /// list never sends a queued notification to another receiver).
    #[serde(default)]
    pub name: Option<String>,
    /// Where to POST (a secret: may embed a token).
    pub url: Secret,
    /// Events to send (empty: all); `deploy.*` names a group.
    #[serde(default)]
    pub events: Vec<String>,
    /// Body shape: `json` (bytegate's event, signed) or `slack` (an
    /// incoming-webhook message).
    #[serde(default)]
    pub format: NotificationFormat,
    /// Key of the `X-Bytegate-Signature` HMAC-SHA256 of the body (required
    /// for `json`; write it as `${ENV_VAR}`).
    #[serde(default)]
    pub secret: Option<Secret>,
}

impl NotificationWebhook {
    /// The receiver's name (see [`NotificationWebhook::name`]).
    pub fn name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let digest = Sha256::digest(self.url.expose().as_bytes());
                format!("webhook-{}", &hex::encode(digest)[..8])
            }
        }
    }

    /// Whether this receiver wants `kind`.
    pub fn wants(&self, kind: NoticeKind) -> bool {
        self.events.is_empty() || self.events.iter().any(|p| pattern_matches(p, kind))
    }
}

/// `deploy.succeeded` matches itself; `deploy.*` every `deploy.` event; `*` all.
fn pattern_matches(pattern: &str, kind: NoticeKind) -> bool {
    let name = kind.as_str();
    match pattern.strip_suffix('*') {
        Some(prefix) => (prefix.is_empty() || prefix.ends_with('.')) && name.starts_with(prefix),
        None => pattern == name,
    }
}

/// A receiver's body shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotificationFormat {
    /// bytegate's event JSON (see README), signed with the receiver's secret.
    #[default]
    Json,
    /// A Slack incoming-webhook message (`text` and `blocks`).
    Slack,
}

impl NotificationFormat {
    /// Its name in config (and in metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationFormat::Json => "json",
            NotificationFormat::Slack => "slack",
        }
    }
}

/// Cross-field checks of `notifications:` (key path, message).
pub(super) fn validate(n: &Notifications) -> Result<(), (String, String)> {
    let key = |k: &str| format!("notifications.{k}");
    if n.max_attempts < 1 {
        return Err((key("max_attempts"), "must be at least 1".into()));
    }
    if n.timeout.0.is_zero() {
        return Err((key("timeout"), "must be more than 0".into()));
    }
    if n.retry_max.0 < n.retry_base.0 {
        return Err((key("retry_max"), "must not be less than retry_base".into()));
    }
    if n.workers == 0 && !n.webhooks.is_empty() {
        return Err((
            key("workers"),
            "must be at least 1 when webhooks are configured (nothing would be delivered)".into(),
        ));
    }
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, w) in n.webhooks.iter().enumerate() {
        let at = |k: &str| key(&format!("webhooks[{i}].{k}"));
        let url = w.url.expose().trim();
        // The URL is a secret: the message never repeats it.
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err((at("url"), "must be an http:// or https:// URL".into()));
        }
        if reqwest::Url::parse(url).is_err() {
            return Err((at("url"), "is not a valid URL".into()));
        }
        if let Some(name) = &w.name
            && (name.trim().is_empty() || name.len() > 100)
        {
            return Err((at("name"), "must be 1 to 100 characters".into()));
        }
        if let Some(first) = names.insert(w.name(), i) {
            return Err((
                at("name"),
                format!(
                    "duplicate receiver `{}` (first at notifications.webhooks[{first}])",
                    w.name()
                ),
            ));
        }
        for (j, p) in w.events.iter().enumerate() {
            if !NoticeKind::ALL.iter().any(|k| pattern_matches(p, *k)) {
                let known: Vec<&str> = NoticeKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err((
                    at(&format!("events[{j}]")),
                    format!("unknown event `{p}` (known: {})", known.join(", ")),
                ));
            }
        }
        match &w.secret {
            Some(s) if s.expose().is_empty() => {
                return Err((at("secret"), "must not be empty".into()));
            }
            None if w.format == NotificationFormat::Json => {
                return Err((
                    at("secret"),
                    "a `json` receiver needs a secret to sign its deliveries (e.g. `${BYTEGATE_NOTIFY_SECRET}`)".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(events: &[&str]) -> NotificationWebhook {
        NotificationWebhook {
            name: None,
            url: Secret::new("https://hooks.example.com/T0/B0/secret-token"),
            events: events.iter().map(|e| e.to_string()).collect(),
            format: NotificationFormat::Slack,
            secret: None,
        }
    }

    #[test]
    fn events_filter_by_name_and_group() {
        assert!(hook(&[]).wants(NoticeKind::DriftDetected));
        let deploys = hook(&["deploy.*", "approval.required"]);
        assert!(deploys.wants(NoticeKind::DeployFailed));
        assert!(deploys.wants(NoticeKind::DeployStarted));
        assert!(deploys.wants(NoticeKind::ApprovalRequired));
        assert!(!deploys.wants(NoticeKind::ApprovalGranted));
        assert!(!deploys.wants(NoticeKind::RollbackFailed));
        assert!(hook(&["*"]).wants(NoticeKind::ChangeCreated));
        assert!(!hook(&["deploy*"]).wants(NoticeKind::DeployFailed));
    }

    #[test]
    fn the_default_name_is_stable_and_does_not_show_the_url() {
        let name = hook(&[]).name();
        assert!(name.starts_with("webhook-") && name.len() == 16, "{name}");
        assert!(!name.contains("secret-token"));
        assert_eq!(name, hook(&["deploy.*"]).name());
    }

    #[test]
    fn secrets_come_from_the_environment_and_are_never_printed() {
        let yaml = "project: {key: K, name: N}\nnotifications:\n  webhooks:\n    - url: ${HOOK_URL}\n      secret: ${HOOK_SECRET}\n      events: [deploy.*]\n";
        let env = |k: &str| match k {
            "HOOK_URL" => Some("https://hooks.example.com/T/B/tok3n".to_string()),
            "HOOK_SECRET" => Some("s3cr3t-value".to_string()),
            _ => None,
        };
        let c = crate::config::Config::from_yaml(yaml, "t", &env).unwrap();
        let hook = &c.notifications.webhooks[0];
        assert_eq!(hook.secret.as_ref().unwrap().expose(), "s3cr3t-value");
        assert_eq!(hook.format, NotificationFormat::Json);
        let shown = format!("{c:?} {}", serde_json::to_string(&c).unwrap());
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("tok3n"),
            "{shown}"
        );
    }

    #[test]
    fn invalid_receivers_are_refused_without_echoing_the_url() {
        let mut n = Notifications {
            webhooks: vec![hook(&["deploy.finished"])],
            ..Notifications::default()
        };
        let (key, msg) = validate(&n).unwrap_err();
        assert_eq!(key, "notifications.webhooks[0].events[0]");
        assert!(msg.contains("unknown event `deploy.finished`"), "{msg}");

        n.webhooks = vec![hook(&[])];
        n.webhooks[0].format = NotificationFormat::Json;
        let (key, _) = validate(&n).unwrap_err();
        assert_eq!(key, "notifications.webhooks[0].secret");

        n.webhooks = vec![hook(&[]), hook(&[])];
        let (key, msg) = validate(&n).unwrap_err();
        assert_eq!(key, "notifications.webhooks[1].name");
        assert!(msg.contains("duplicate"), "{msg}");

        n.webhooks = vec![hook(&[])];
        n.webhooks[0].url = Secret::new("ftp://token@example.com");
        let (key, msg) = validate(&n).unwrap_err();
        assert_eq!(key, "notifications.webhooks[0].url");
        assert!(!msg.contains("token"), "{msg}");

        n.webhooks = vec![hook(&["deploy.*"])];
        assert!(validate(&n).is_ok());
    }
}
