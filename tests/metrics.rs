//! `GET /metrics`: the exposition parses strictly (tests/support/prom_text.rs),
//! the counters move when a signed delivery is processed end to end against
//! the fake GitHub, a merge deploy and an approval put samples in their
//! histograms, and the Grafana dashboard asks only for series bytegate exposes.

mod support;

use bytegate::event::{CommentAction, CommentEvent, Event};
use bytegate::jobs::{self, EventJobHandler, RunOutcome};
use bytegate::server::AppState;
use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use std::time::Duration;
use support::prom_text::{self, Exposition};
use support::{Harness, REPO, pr_payload, pull_request_event};

const SECRET: &str = "It's a Secret to Everybody";
const SHA: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "3333333333333333333333333333333333333333";
const MIGRATION: &str = "schema/migrations/002_drop_users.sql";
const AT: &str = "2019-05-15T15:20:33Z";

/// Serves the harness's flow context (its metrics too) on a free port.
async fn serve(h: &Harness) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut state = AppState::new(h.db.pool.clone(), h.ctx.config.clone());
    state.metrics = h.ctx.metrics.clone();
    tokio::spawn(bytegate::server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (base, stop)
}

async fn deliver(base: &str, id: &str, body: &[u8], secret: &str) -> u16 {
    deliver_event(base, "pull_request", id, body, secret).await
}

async fn deliver_event(base: &str, event: &str, id: &str, body: &[u8], secret: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/webhooks/github"))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sign_github(secret.as_bytes(), body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Scrapes `/metrics` and parses it strictly.
async fn scrape(base: &str) -> Exposition {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = r.text().await.unwrap();
    prom_text::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[tokio::test]
async fn a_processed_webhook_moves_the_counters() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, 2, &[(MIGRATION, "added", None)]);
    h.github.put_file(
        REPO,
        SHA,
        MIGRATION,
        "CREATE TABLE a (id bigint PRIMARY KEY);\nDROP TABLE users;\n",
    );
    // One flaky answer carrying GitHub's rate-limit header: a retry, a 502
    // call, and the remaining rate limit.
    h.github.fail_next_with(
        "pulls/list-files",
        502,
        &[("x-ratelimit-remaining", "4321")],
        "flaky",
        1,
    );
    let (base, _stop) = serve(&h).await;

    let before = scrape(&base).await;
    assert_eq!(before.sum("bytegate_webhooks_received_total"), 0.0);
    assert_eq!(before.value("bytegate_jobs_queue_depth", &[]), Some(0.0));

    let opened = serde_json::to_vec(&pr_payload("pull_request.opened", SHA, AT)).unwrap();
    assert_eq!(deliver(&base, "d-1", &opened, SECRET).await, 202);
    assert_eq!(deliver(&base, "d-1", &opened, SECRET).await, 200);
    assert_eq!(deliver(&base, "d-x", &opened, "wrong secret").await, 401);
    // Unauthenticated senders cannot mint label values.
    let made_up = "made-up-event-4f2a";
    assert_eq!(
        deliver_event(&base, made_up, "d-y", &opened, "wrong secret").await,
        401
    );

    let queued = scrape(&base).await;
    assert_eq!(queued.value("bytegate_jobs_queue_depth", &[]), Some(1.0));
    assert_eq!(queued.value("bytegate_meta_database_up", &[]), Some(1.0));

    let handler = EventJobHandler { ctx: h.ctx.clone() };
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    assert!(
        matches!(outcomes.as_slice(), [RunOutcome::Done(_)]),
        "{outcomes:?}"
    );

    let m = scrape(&base).await;
    let webhook = |result: &str| {
        m.value(
            "bytegate_webhooks_received_total",
            &[
                ("forge", "github"),
                ("event", "pull_request"),
                ("result", result),
            ],
        )
    };
    assert_eq!(webhook("queued"), Some(1.0));
    assert_eq!(webhook("duplicate"), Some(1.0));
    assert_eq!(webhook("bad_signature"), Some(1.0));
    assert_eq!(
        m.value(
            "bytegate_webhooks_received_total",
            &[("event", "other"), ("result", "bad_signature")]
        ),
        Some(1.0)
    );
    assert!(
        m.samples()
            .all(|s| !s.labels.values().any(|v| v == made_up))
    );
    assert_eq!(
        m.value(
            "bytegate_webhook_signature_failures_total",
            &[("forge", "github")]
        ),
        Some(2.0)
    );
    assert_eq!(m.value("bytegate_jobs_queue_depth", &[]), Some(0.0));
    assert_eq!(
        m.value(
            "bytegate_job_duration_seconds_count",
            &[("kind", "event"), ("outcome", "done")]
        ),
        Some(1.0)
    );
    assert_eq!(m.sum("bytegate_reviews_total"), 1.0);
    assert_eq!(
        m.value(
            "bytegate_review_findings_total",
            &[("rule", "no-drop-table"), ("severity", "error")]
        ),
        Some(1.0)
    );
    let call = |op: &str, status: &str| {
        m.value(
            "bytegate_forge_api_calls_total",
            &[("forge", "github"), ("operation", op), ("status", status)],
        )
    };
    assert_eq!(call("pulls/list-files", "502"), Some(1.0));
    assert_eq!(call("pulls/list-files", "200"), Some(1.0));
    assert!(
        call("checks/create", "201").unwrap_or(0.0) + call("checks/create", "200").unwrap_or(0.0)
            >= 1.0
    );
    assert_eq!(
        m.value(
            "bytegate_forge_retries_total",
            &[("forge", "github"), ("operation", "pulls/list-files")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.value(
            "bytegate_forge_rate_limit_remaining",
            &[("forge", "github")]
        ),
        Some(4321.0)
    );
}

#[tokio::test]
async fn a_merge_deploy_and_an_approval_put_samples_in_the_histograms() {
    let (dev, stg) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    let envs = format!(
        "roles:\n  dba:\n    users: [dana]\nenvironments:\n  - name: development\n{}  - name: staging\n    approvals: 1\n    roles: [dba]\n{}  - name: production\n    approvals: 1\n    roles: [dba]\n",
        support::database_yaml("dev-main", &dev),
        support::database_yaml("stg-main", &stg),
    );
    let h = Harness::app_with(&envs).await;
    let m1 = "schema/migrations/001_users.sql";
    h.github.set_pr_files(REPO, 2, &[(m1, "added", None)]);
    h.github.put_file(
        REPO,
        MERGE,
        m1,
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    );
    let mut p = pr_payload("pull_request.opened", SHA, AT);
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = MERGE.into();
    let merged = pull_request_event(&p);
    h.handle(&merged).await.unwrap();
    let (base, _stop) = serve(&h).await;

    let m = scrape(&base).await;
    let deployed = |env: &str, what: &str| {
        m.value(
            &format!("bytegate_deployment{what}"),
            &[("environment", env), ("result", "succeeded")],
        )
    };
    assert_eq!(deployed("development", "s_total"), Some(1.0));
    assert_eq!(
        deployed("development", "_duration_seconds_count"),
        Some(1.0)
    );
    assert_eq!(
        deployed("staging", "s_total"),
        None,
        "staging waits for approval"
    );

    // The DBA approves staging: the policy is satisfied (one cycle-time
    // sample, an hour after the change was first seen) and staging deploys.
    h.clock.advance(Duration::from_secs(3600));
    let Event::PullRequest(pr) = &merged else {
        unreachable!()
    };
    let body = "/bytebase approve staging".to_string();
    let id = h.github.add_comment(REPO, 2, "dana", &body);
    h.handle(&Event::Comment(CommentEvent {
        pr: pr.pr.clone(),
        author: "dana".into(),
        sender: "dana".into(),
        body,
        comment_id: id,
        action: CommentAction::Created,
        at: chrono::Utc::now(),
    }))
    .await
    .unwrap();

    let m = scrape(&base).await;
    assert_eq!(
        m.value(
            "bytegate_deployment_duration_seconds_count",
            &[("environment", "staging"), ("result", "succeeded")]
        ),
        Some(1.0)
    );
    let cycle = |what: &str| {
        m.value(
            &format!("bytegate_approval_cycle_seconds{what}"),
            &[("environment", "staging")],
        )
    };
    assert_eq!(cycle("_count"), Some(1.0));
    let took = cycle("_sum").unwrap();
    assert!((3500.0..3700.0).contains(&took), "about an hour: {took}");
}

/// Every `bytegate_*` series the dashboard's queries name is one bytegate
/// exposes (a renamed metric breaks this test, not a dashboard panel).
#[tokio::test]
async fn the_grafana_dashboard_uses_only_exposed_metric_names() {
    // A family shows in the exposition once it has a series: one of each.
    let metrics = every_series();
    let exposition = prom_text::parse(&metrics.encode()).unwrap();
    let exposed = exposition.series_names();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/bytegate.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{} queries", exprs.len());
    let name = regex::Regex::new(r"bytegate_[a-z0-9_]+").unwrap();
    let mut used = std::collections::BTreeSet::new();
    for expr in &exprs {
        let names: Vec<&str> = name.find_iter(expr).map(|m| m.as_str()).collect();
        assert!(
            !names.is_empty(),
            "a query without a bytegate metric: {expr}"
        );
        for n in names {
            assert!(
                exposed.contains(n),
                "{n} (in `{expr}`) is not exposed; exposed: {exposed:?}"
            );
            used.insert(n.to_string());
        }
    }
    // And every family is on the dashboard somewhere.
    for family in exposition.families.keys() {
        assert!(
            used.iter().any(|u| u.starts_with(family.as_str())),
            "{family} is not on the dashboard"
        );
    }
}

/// A registry with a sample in every family bytegate registers.
fn every_series() -> bytegate::telemetry::metrics::Metrics {
    use bytegate::telemetry::metrics::{DeployResult, Metrics};
    let m = Metrics::new();
    let d = Duration::from_secs(1);
    m.webhook("github", "pull_request", "queued");
    m.signature_failure("github");
    m.job("event", "done", d);
    m.review(Default::default(), [("no-drop-table", "error")]);
    m.approval_satisfied("staging", d);
    m.deployment("staging", DeployResult::Succeeded, d);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-ratelimit-remaining", http::HeaderValue::from_static("1"));
    m.forge_call("github", "pulls/get", Some(200), Some(&headers));
    m.forge_retry("github", "pulls/get");
    m.target("staging", "main", Some((3, 8192)));
    m.notification("chat", "slack", "delivered");
    m
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_exprs(i, out)),
        _ => {}
    }
}

#[test]
fn the_strict_parser_refuses_what_is_out_of_place() {
    use prom_text::parse;
    assert!(parse("# TYPE a counter\na_total 1\n# EOF\n").is_ok());
    assert!(parse("# TYPE a counter\na_total 1\n").is_err(), "no EOF");
    assert!(parse("# TYPE a counter\na 1\n# EOF\n").is_err(), "suffix");
    assert!(parse("# TYPE a counter\na_total{x=\"1\",x=\"2\"} 1\n# EOF\n").is_err());
    assert!(parse("# TYPE a counter\na_total{x=1} 1\n# EOF\n").is_err());
    assert!(parse("# TYPE a counter\na_total -1\n# EOF\n").is_err());
    assert!(parse("# TYPE a gauge\n# TYPE b gauge\n# TYPE a gauge\n# EOF\n").is_err());
    assert!(parse("# random comment\n# EOF\n").is_err());
    assert!(parse("# TYPE a gauge\na 1\n# EOF\nb 1\n").is_err());
    let v = parse("# TYPE a counter\na_total{x=\"q\\\"u,o}te\"} 2\n# EOF\n").unwrap();
    assert_eq!(v.value("a_total", &[("x", "q\"u,o}te")]), Some(2.0));
    let h = "# TYPE h histogram\nh_sum 1\nh_count 2\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\n# EOF\n";
    assert!(parse(h).is_ok());
    let miscounted = h.replace("h_count 2", "h_count 3");
    assert!(parse(&miscounted).is_err());
    let not_cumulative = h.replace("le=\"1.0\"} 1", "le=\"1.0\"} 5");
    assert!(parse(&not_cumulative).is_err());
}
