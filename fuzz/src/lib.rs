//! What each fuzz target does with one input: bytes in, a panic on a bug.
//!
//! The targets in `fuzz_targets/` and the regression test
//! (`tests/fuzz_regressions.rs`, which includes this file) call the same
//! functions, so a kept input replays exactly as it was found. Everything here
//! goes through bytegate's public API; this file depends on nothing else.

use bytegate::command::{self, Command};
use bytegate::config::Config;
use bytegate::event::Event;
use bytegate::review::model::Dialect;
use bytegate::review::settings::{ReviewSettings, RiskSettings};
use bytegate::review::{self as engine, FileChange, ReviewInput, ReviewOptions};
use bytegate::webhook::{self as hooks, Parser};

/// Which forge a webhook input is for, and how its body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// GitHub, `application/json`.
    Github,
    /// GitHub, `application/x-www-form-urlencoded` (`payload=` field).
    GithubForm,
    /// GitLab (always JSON).
    Gitlab,
}

/// A webhook input: the first line is `FORGE EVENT` (FORGE is `github`,
/// `github-form` or `gitlab`; anything else reads as `github`), the rest the
/// delivery's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookInput<'a> {
    /// The forge and encoding.
    pub source: Source,
    /// The event header (`X-GitHub-Event` / `X-Gitlab-Event`).
    pub event: String,
    /// The raw body.
    pub body: &'a [u8],
}

/// Splits a webhook input into its header line and body.
pub fn webhook_input(data: &[u8]) -> WebhookInput<'_> {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let head = String::from_utf8_lossy(head);
    let (forge, event) = head.split_once(' ').unwrap_or((&head, ""));
    let source = match forge {
        "gitlab" => Source::Gitlab,
        "github-form" => Source::GithubForm,
        _ => Source::Github,
    };
    WebhookInput {
        source,
        event: event.to_string(),
        body,
    }
}

/// Webhook parsing: body → payload → forge-neutral event, as the endpoints
/// do after authentication. An event must survive the job queue's JSON.
pub fn webhook(data: &[u8]) {
    let input = webhook_input(data);
    let (parse, form): (Parser, bool) = match input.source {
        Source::Github => (hooks::github::parse, false),
        Source::GithubForm => (hooks::github::parse, true),
        Source::Gitlab => (hooks::gitlab::parse, false),
    };
    let decoded;
    let body = if form {
        match hooks::form_payload(input.body) {
            Some(p) => {
                decoded = p;
                decoded.as_bytes()
            }
            None => return,
        }
    } else {
        input.body
    };
    let parsed = match hooks::parse_delivery(&input.event, body, parse) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    if let Some(event) = parsed.event {
        let _ = event.coalesce_key();
        let job = serde_json::to_value(&event).expect("an event serializes");
        let back: Event = serde_json::from_value(job).expect("a queued event deserializes");
        assert_eq!(back, event, "an event changes through the job queue");
    }
}

/// The comment-command parser, over any comment text, with the resolution
/// against configured environments that the flow does next.
pub fn command(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in command::parse_comment(&text, "/bytebase") {
        match line.result {
            Ok(cmd) => {
                let _ = cmd.name().usage("/bytebase");
                if let Err(e) = Command::resolve(cmd, &["staging", "production"]) {
                    let _ = e.to_string();
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// The config loader over any YAML text. `${VAR}` references of even-length
/// names resolve (to a value with YAML in it), odd-length ones are unset.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lookup = |name: &str| name.len().is_multiple_of(2).then(|| format!("{name}: [x"));
    match Config::from_yaml(&text, "fuzz", &lookup) {
        Ok(config) => {
            for env in &config.environments {
                assert!(config.environment(&env.name).is_some());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The review engine (parse, rules, risk) over any SQL text. The first byte
/// picks the dialect by its low bit (`p`: PostgreSQL, `m`: MySQL); the rest is
/// a new migration after one earlier file. A stage that panicked (an
/// `internal-error` finding) is a bug.
pub fn review(data: &[u8]) {
    let Some((&first, sql)) = data.split_first() else {
        return;
    };
    let dialect = if first & 1 == 0 {
        Dialect::Postgres
    } else {
        Dialect::Mysql
    };
    let inputs = [
        ReviewInput {
            path: "migrations/001_base.sql".to_string(),
            text: b"CREATE TABLE t (id bigint PRIMARY KEY, name text);\n".to_vec(),
            change: FileChange::Unchanged,
        },
        ReviewInput {
            path: "migrations/002_fuzz.sql".to_string(),
            text: sql.to_vec(),
            change: FileChange::Added,
        },
    ];
    let settings = ReviewSettings::default();
    let risk = RiskSettings::default();
    let opts = ReviewOptions {
        dialect,
        environment: Some("production"),
        settings: &settings,
        risk: &risk,
        lock_timeout_configured: false,
        base_versions: vec!["001".to_string()],
    };
    let report = engine::review(&inputs, &opts);
    for file in &report.files {
        for f in &file.findings {
            assert_ne!(
                f.rule,
                engine::INTERNAL_ERROR_RULE,
                "{}: {}",
                file.path,
                f.message
            );
        }
    }
    let _ = report.to_json();
}
