//! The bytes a receiver gets: bytegate's event JSON, or a Slack message made
//! from it, and the headers that go with them.

use super::{Notice, NoticeKind};
use crate::config::NotificationFormat;
use serde_json::{Value, json};

/// The HMAC-SHA256 of the body under the receiver's secret: `sha256=<hex>`
/// (the scheme of GitHub's `X-Hub-Signature-256`).
pub const SIGNATURE_HEADER: &str = "X-Bytegate-Signature";
/// The delivery id, the same on every attempt: receivers deduplicate by it.
pub const DELIVERY_HEADER: &str = "X-Bytegate-Delivery";
/// The event name (`deploy.succeeded`).
pub const EVENT_HEADER: &str = "X-Bytegate-Event";
/// The attempt number, from 1.
pub const ATTEMPT_HEADER: &str = "X-Bytegate-Attempt";

/// The body of `notice` in `format`.
pub fn render(notice: &Notice, format: NotificationFormat) -> Vec<u8> {
    // Serializing these plain structs cannot fail (string keys only).
    match format {
        NotificationFormat::Json => serde_json::to_vec(notice).unwrap_or_default(),
        NotificationFormat::Slack => slack(notice).to_string().into_bytes(),
    }
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    crate::webhook::signature::sign_github(secret, body)
}

/// A Slack incoming-webhook message: `text` (notifications, fallbacks) and
/// `blocks` (a section with the headline and a context line).
fn slack(n: &Notice) -> Value {
    let env = n
        .environment
        .as_deref()
        .map(|e| format!("`{}`", escape(e)))
        .unwrap_or_else(|| "every environment".to_string());
    let error = n
        .error
        .as_deref()
        .map(|e| format!("\n```{}```", escape(&e.replace("```", "'''"))))
        .unwrap_or_default();
    let headline = match n.event {
        NoticeKind::ChangeCreated => format!(
            ":memo: New database change; review: *{}*, risk: *{}*",
            escape(&n.result),
            escape(n.details["risk"].as_str().unwrap_or("unknown"))
        ),
        NoticeKind::ApprovalRequired => format!(":hourglass: Approval required for {env}"),
        NoticeKind::ApprovalGranted => {
            format!(":+1: {} approved for {env}", escape(&n.actor))
        }
        NoticeKind::DeployStarted => format!(":rocket: Deploying to {env}"),
        NoticeKind::DeploySucceeded => format!(":white_check_mark: Deployed to {env}"),
        NoticeKind::DeployFailed => format!(":x: Deploy to {env} failed{error}"),
        NoticeKind::RollbackSucceeded => format!(":leftwards_arrow_with_hook: Rolled back {env}"),
        NoticeKind::RollbackFailed => format!(":x: Rollback of {env} failed{error}"),
        NoticeKind::DriftDetected => format!(
            ":warning: Schema drift on {env} (database `{}`): changed outside bytegate",
            escape(n.details["database"].as_str().unwrap_or("?"))
        ),
    };
    let subject = subject(n);
    let text = match &subject {
        Some(s) => format!("{s}\n{headline}"),
        None => headline,
    };
    let context = format!(
        "`{}` · by {} · {} · {}",
        n.event,
        escape(&n.actor),
        escape(&n.project),
        n.occurred_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    })
}

/// `*<url|repo#7>* title`: the change the notice is about.
fn subject(n: &Notice) -> Option<String> {
    let repo = n.repo.as_ref()?;
    let Some(change) = &n.change else {
        return Some(format!("*{}*", escape(&repo.name)));
    };
    let label = escape(&format!("{}#{}", repo.name, change.number));
    let link = match &change.url {
        // `|` and `>` end a Slack link: a URL from config never has them
        // unescaped, but make sure.
        Some(url) => format!("<{}|{label}>", url.replace('|', "%7C").replace('>', "%3E")),
        None => label,
    };
    let title = change
        .title
        .as_deref()
        .map(|t| format!(" {}", escape(t)))
        .unwrap_or_default();
    Some(format!("*{link}*{title}"))
}

/// Slack's mrkdwn escapes: text from pull requests (titles, logins) must not
/// make links or mentions.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::{NoticeChange, NoticeRepo};

    fn notice(kind: NoticeKind) -> Notice {
        Notice {
            version: 1,
            id: "e1".into(),
            event: kind,
            occurred_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            project: "SHOP".into(),
            actor: "dana".into(),
            repo: Some(NoticeRepo {
                forge: "github".into(),
                name: "acme/shop".into(),
            }),
            change: Some(NoticeChange {
                number: 7,
                title: Some("<!channel> drop <b>users</b>".into()),
                author: Some("olga".into()),
                url: Some("https://github.com/acme/shop/pull/7".into()),
            }),
            environment: Some("staging".into()),
            result: "failed".into(),
            error: Some("relation \"users\" does not exist".into()),
            details: json!({}),
        }
    }

    #[test]
    fn slack_messages_have_text_and_blocks_and_escape_pr_text() {
        let body = render(&notice(NoticeKind::DeployFailed), NotificationFormat::Slack);
        let v: Value = serde_json::from_slice(&body).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(
            text.starts_with("*<https://github.com/acme/shop/pull/7|acme/shop#7>*"),
            "{text}"
        );
        assert!(
            text.contains("&lt;!channel&gt; drop &lt;b&gt;users&lt;/b&gt;"),
            "{text}"
        );
        assert!(text.contains(":x: Deploy to `staging` failed"), "{text}");
        assert_eq!(v["blocks"][0]["text"]["text"], text);
        assert_eq!(v["blocks"][1]["type"], "context");
    }

    #[test]
    fn json_bodies_are_the_notice_and_signatures_verify() {
        let n = notice(NoticeKind::DeploySucceeded);
        let body = render(&n, NotificationFormat::Json);
        let back: Notice = serde_json::from_slice(&body).unwrap();
        assert_eq!(back, n);
        let sig = sign(b"k", &body);
        assert!(crate::webhook::signature::verify_github(
            b"k",
            &body,
            Some(&sig)
        ));
    }
}
