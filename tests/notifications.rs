//! Outgoing notifications end to end: a pull request's life through the flow
//! (real meta and target PostgreSQL, the fake GitHub) queues `notify` jobs;
//! the notifications lane delivers them to receivers served by this test
//! process, signed, retried on the test's clock, every attempt recorded.

mod support;

use bytegate::clock::Clock;
use bytegate::event::{CommentAction, CommentEvent, Event, PrRef};
use bytegate::jobs::{self, EventJobHandler, RunOutcome, WorkerSettings};
use bytegate::notify::NotifyJobHandler;
use bytegate::store::jobs::{self as queue, JobState, NewJob};
use bytegate::store::notifications::{self, AttemptStatus};
use bytegate::store::testdb::TestDb;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Harness, REPO, pr_payload, pull_request_event};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "3333333333333333333333333333333333333333";
const AT: &str = "2019-05-15T15:20:33Z";
const PR: u64 = 2;
const M1: &str = "schema/migrations/001_users.sql";
const M1_SQL: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";
const SECRET: &str = "receiver-secret";

/// What a receiver answers to one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    /// Never answers (the client's timeout ends the attempt).
    Hang,
}

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An HTTP receiver in this process: answers from its script (then 200).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl Receiver {
    async fn start(script: &[Reply]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let r = Receiver {
            url,
            got: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
        };
        let state = r.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: http::HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push(Got {
                        headers,
                        body: body.to_vec(),
                    });
                    let reply = state.script.lock().unwrap().pop_front();
                    match reply.unwrap_or(Reply::Status(200)) {
                        Reply::Status(s) => http::StatusCode::from_u16(s).unwrap(),
                        Reply::Hang => {
                            std::future::pending::<()>().await;
                            http::StatusCode::OK
                        }
                    }
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// `(event, environment)` of every request, in order.
    fn events(&self) -> Vec<(String, Option<String>)> {
        self.got()
            .iter()
            .map(|g| {
                let v = g.json();
                let event = v["event"]
                    .as_str()
                    .map(str::to_string)
                    // Slack bodies name the event in their context line.
                    .unwrap_or_else(|| {
                        let ctx = v["blocks"][1]["elements"][0]["text"].as_str().unwrap();
                        ctx.split('`').nth(1).unwrap().to_string()
                    });
                (event, v["environment"].as_str().map(str::to_string))
            })
            .collect()
    }
}

/// A URL nothing listens on (connections are refused).
async fn refusing_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/hook")
}

/// `notifications:` with `webhooks` (YAML list items, indented 4).
fn notifications(settings: &str, webhooks: &str) -> String {
    format!("notifications:\n{settings}  webhooks:\n{webhooks}")
}

fn json_hook(name: &str, url: &str, events: &str) -> String {
    format!(
        "    - name: {name}\n      url: {url}\n      format: json\n      secret: {SECRET}\n      events: {events}\n"
    )
}

/// development (no approvals, a real database), staging (one approval by
/// the dba `dana`, a real database) and production (one approval, never
/// given), plus `notify` config.
struct Setup {
    h: Harness,
    dev: TestDb,
    _stg: TestDb,
}

async fn setup(notify: &str) -> Setup {
    let (dev, stg) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    let extra = format!(
        "roles:\n  dba:\n    users: [dana]\nenvironments:\n  - name: development\n{}  - name: staging\n    approvals: 1\n    roles: [dba]\n{}  - name: production\n    approvals: 1\n    roles: [dba]\n{notify}",
        support::database_yaml("dev-main", &dev),
        support::database_yaml("stg-main", &stg),
    );
    let h = Harness::app_with(&extra).await;
    h.github.set_pr_files(REPO, PR, &[(M1, "added", None)]);
    h.github.put_file(REPO, HEAD, M1, M1_SQL);
    h.github.put_file(REPO, MERGE, M1, M1_SQL);
    Setup { h, dev, _stg: stg }
}

fn opened() -> Event {
    pull_request_event(&pr_payload("pull_request.opened", HEAD, AT))
}

fn merged() -> Event {
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = MERGE.into();
    pull_request_event(&p)
}

fn pr_ref() -> PrRef {
    let Event::PullRequest(e) = opened() else {
        unreachable!()
    };
    e.pr
}

/// `dana` comments `/bytebase approve staging`.
fn approval() -> Event {
    let body = "/bytebase approve staging".to_string();
    Event::Comment(CommentEvent {
        pr: pr_ref(),
        author: "dana".into(),
        sender: "dana".into(),
        body,
        comment_id: 9001,
        action: CommentAction::Created,
        at: chrono::Utc::now(),
    })
}

/// Opened → approved for staging → merged (development and staging deploy).
async fn full_flow(h: &Harness) {
    h.handle(&opened()).await.unwrap();
    h.github
        .add_comment(REPO, PR, "dana", "/bytebase approve staging");
    h.handle(&approval()).await.unwrap();
    h.handle(&merged()).await.unwrap();
    let states: Vec<(String,)> =
        sqlx::query_as("SELECT state FROM rollout_stages ORDER BY position")
            .fetch_all(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(
        states,
        [
            ("succeeded".into(),),
            ("succeeded".into(),),
            ("waiting".into(),)
        ],
        "development and staging deployed"
    );
}

/// The notifications lane's worker settings on the harness clock.
fn lane(h: &Harness, backoff: Duration) -> WorkerSettings {
    WorkerSettings {
        clock: h.clock.clone(),
        lease: Duration::from_secs(60),
        poll: Duration::from_millis(20),
        backoff_base: backoff,
        backoff_max: backoff,
    }
}

fn notifier(h: &Harness) -> NotifyJobHandler {
    NotifyJobHandler::new(
        h.db.pool.clone(),
        h.ctx.config.clone(),
        h.clock.clone(),
        h.ctx.metrics.clone(),
    )
    .unwrap()
}

/// `bytegate_notification_delivery_attempts_total` of a receiver (JSON
/// format) and result, as `/metrics` exposes it.
fn attempts_counted(h: &Harness, receiver: &str, result: &str) -> Option<f64> {
    let m = support::prom_text::parse(&h.ctx.metrics.encode()).unwrap();
    m.value(
        "bytegate_notification_delivery_attempts_total",
        &[
            ("receiver", receiver),
            ("format", "json"),
            ("result", result),
        ],
    )
}

fn hmac_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn ev(event: &str, env: Option<&str>) -> (String, Option<String>) {
    (event.to_string(), env.map(str::to_string))
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[tokio::test]
async fn a_receiver_gets_a_signed_json_for_each_event_of_a_pr_flow() {
    let all = Receiver::start(&[]).await;
    let s = setup(&notifications("", &json_hook("audit-bot", &all.url, "[]"))).await;
    let h = &s.h;
    full_flow(h).await;
    // Nothing is sent on the flow's path: all of it waits in the queue.
    assert!(all.got().is_empty());
    let outcomes = jobs::drain(&h.db.pool, &notifier(h), &lane(h, Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 8, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, RunOutcome::Done(_))));

    let expected = vec![
        ev("change.created", None),
        ev("approval.required", Some("staging")),
        ev("approval.required", Some("production")),
        ev("approval.granted", Some("staging")),
        ev("deploy.started", Some("development")),
        ev("deploy.succeeded", Some("development")),
        ev("deploy.started", Some("staging")),
        ev("deploy.succeeded", Some("staging")),
    ];
    assert_eq!(sorted(all.events()), sorted(expected));

    let got = all.got();
    let mut deliveries = Vec::new();
    for g in &got {
        // The signature is HMAC-SHA256 of the exact body under the secret.
        let sig = g.header("x-bytegate-signature").expect("signed");
        assert_eq!(sig, format!("sha256={}", hmac_hex(&g.body)));
        assert_eq!(g.header("content-type"), Some("application/json"));
        let body = g.json();
        assert_eq!(g.header("x-bytegate-event"), body["event"].as_str());
        assert_eq!(g.header("x-bytegate-attempt"), Some("1"));
        deliveries.push(g.header("x-bytegate-delivery").unwrap().to_string());
        assert_eq!(body["version"], 1);
        assert_eq!(body["project"], "TEST");
        assert_eq!(body["repo"]["forge"], "github");
        assert_eq!(body["repo"]["name"], REPO);
        assert_eq!(body["change"]["number"], PR);
        let url = body["change"]["url"].as_str().unwrap();
        assert!(url.ends_with("/Codertocat/Hello-World/pull/2"), "{url}");
        assert!(body["change"]["title"].is_string(), "{body}");
        let at: chrono::DateTime<chrono::Utc> =
            body["occurred_at"].as_str().unwrap().parse().unwrap();
        assert!(at <= h.clock.now());
        match body["event"].as_str().unwrap() {
            "change.created" => {
                assert_eq!(body["result"], "success");
                assert_eq!(body["details"]["head_sha"], HEAD);
                assert!(body["details"]["risk"].is_string());
            }
            "approval.required" => {
                assert_eq!(body["result"], "pending");
                assert_eq!(body["details"]["required"], 1);
            }
            "approval.granted" => {
                assert_eq!(body["actor"], "dana");
                assert_eq!(body["result"], "approved");
            }
            "deploy.started" => assert_eq!(body["result"], "started"),
            "deploy.succeeded" => {
                assert_eq!(body["result"], "succeeded");
                assert_eq!(body["details"]["databases"][0]["applied"][0], "1");
                assert!(body["error"].is_null());
            }
            other => panic!("unexpected event {other}"),
        }
    }
    deliveries.sort();
    deliveries.dedup();
    assert_eq!(deliveries.len(), 8, "a delivery id per notification");

    let attempts = notifications::attempts(&h.db.pool).await.unwrap();
    assert_eq!(attempts.len(), 8);
    assert!(attempts.iter().all(|a| a.status == AttemptStatus::Delivered
        && a.http_status == Some(200)
        && a.receiver == "audit-bot"
        && a.attempt == 1));
}

#[tokio::test]
async fn event_filters_and_the_slack_format_are_respected() {
    let slack = Receiver::start(&[]).await;
    let approvals = Receiver::start(&[]).await;
    let hooks = format!(
        "    - name: chat\n      url: {}\n      format: slack\n      events: [deploy.succeeded, deploy.failed]\n{}",
        slack.url,
        json_hook("approvers", &approvals.url, "[approval.*]")
    );
    let s = setup(&notifications("", &hooks)).await;
    let h = &s.h;
    full_flow(h).await;
    jobs::drain(&h.db.pool, &notifier(h), &lane(h, Duration::ZERO))
        .await
        .unwrap();

    assert_eq!(
        sorted(approvals.events()),
        sorted(vec![
            ev("approval.required", Some("staging")),
            ev("approval.required", Some("production")),
            ev("approval.granted", Some("staging")),
        ])
    );
    assert_eq!(
        sorted(slack.events()),
        sorted(vec![
            ev("deploy.succeeded", None),
            ev("deploy.succeeded", None),
        ]),
        "Slack bodies carry no environment field, only text"
    );
    for g in slack.got() {
        // No secret configured: unsigned; the body is an incoming-webhook message.
        assert_eq!(g.header("x-bytegate-signature"), None);
        let v = g.json();
        let obj = v.as_object().unwrap();
        assert_eq!(
            obj.keys().map(String::as_str).collect::<Vec<_>>(),
            ["blocks", "text"]
        );
        let text = v["text"].as_str().unwrap();
        assert!(text.contains("|Codertocat/Hello-World#2>*"), "{text}");
        assert!(
            text.contains(":white_check_mark: Deployed to `development`")
                || text.contains(":white_check_mark: Deployed to `staging`"),
            "{text}"
        );
        assert_eq!(v["blocks"][0]["type"], "section");
        assert_eq!(v["blocks"][0]["text"]["type"], "mrkdwn");
        assert_eq!(v["blocks"][0]["text"]["text"], text);
        assert_eq!(v["blocks"][1]["type"], "context");
    }
    // Nothing was queued for events no receiver wants.
    let (queued,): (i64,) = sqlx::query_as("SELECT count(*) FROM jobs WHERE kind = 'notify'")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(queued, 5);
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_notification_exactly_once() {
    let flaky = Receiver::start(&[Reply::Status(500), Reply::Status(503)]).await;
    let s = setup(&notifications(
        "  max_attempts: 5\n",
        &json_hook("flaky", &flaky.url, "[change.created]"),
    ))
    .await;
    let h = &s.h;
    h.handle(&opened()).await.unwrap();
    let (notify, settings) = (notifier(h), lane(h, Duration::from_secs(60)));
    let drain = || jobs::drain(&h.db.pool, &notify, &settings);

    assert!(matches!(
        drain().await.unwrap().as_slice(),
        [RunOutcome::Retrying(_)]
    ));
    // The retry is due a minute later (plus up to 20% jitter) on the clock.
    assert_eq!(drain().await.unwrap(), []);
    h.clock.advance(Duration::from_secs(59));
    assert_eq!(drain().await.unwrap(), []);
    h.clock.advance(Duration::from_secs(14));
    assert!(matches!(
        drain().await.unwrap().as_slice(),
        [RunOutcome::Retrying(_)]
    ));
    h.clock.advance(Duration::from_secs(73));
    assert!(matches!(
        drain().await.unwrap().as_slice(),
        [RunOutcome::Done(_)]
    ));
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(drain().await.unwrap(), [], "delivered: never sent again");

    let got = flaky.got();
    assert_eq!(got.len(), 3);
    // One notification: the same delivery id and bytes on every attempt.
    let ids: Vec<_> = got
        .iter()
        .map(|g| g.header("x-bytegate-delivery"))
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0] && i.is_some()));
    assert!(got.iter().all(|g| g.body == got[0].body));
    let numbers: Vec<_> = got.iter().map(|g| g.header("x-bytegate-attempt")).collect();
    assert_eq!(numbers, [Some("1"), Some("2"), Some("3")]);

    let attempts = notifications::attempts(&h.db.pool).await.unwrap();
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.status, a.http_status))
        .collect();
    assert_eq!(
        seen,
        [
            (1, AttemptStatus::Retrying, Some(500)),
            (2, AttemptStatus::Retrying, Some(503)),
            (3, AttemptStatus::Delivered, Some(200)),
        ]
    );
    assert!(attempts.iter().all(|a| a.event == "change.created"));
    assert!(
        attempts[1].at > attempts[0].at,
        "attempt times come from the clock"
    );
    let job = queue::list(&h.db.pool).await.unwrap();
    let job = job.iter().find(|j| j.kind == "notify").unwrap();
    assert_eq!((job.state, job.attempts), (JobState::Done, 3));

    // The same attempts in /metrics.
    assert_eq!(attempts_counted(h, "flaky", "retrying"), Some(2.0));
    assert_eq!(attempts_counted(h, "flaky", "delivered"), Some(1.0));
    assert_eq!(attempts_counted(h, "flaky", "gave_up"), None);
}

#[tokio::test]
async fn a_receiver_is_given_up_after_its_attempts_or_at_a_refusal() {
    let down = Receiver::start(&[Reply::Status(502); 10]).await;
    let gone = Receiver::start(&[Reply::Status(410)]).await;
    let hooks = format!(
        "{}{}",
        json_hook("down", &down.url, "[change.created]"),
        json_hook("gone", &gone.url, "[change.created]")
    );
    let s = setup(&notifications("  max_attempts: 3\n", &hooks)).await;
    let h = &s.h;
    h.handle(&opened()).await.unwrap();
    let (notify, settings) = (notifier(h), lane(h, Duration::from_secs(10)));
    for _ in 0..4 {
        jobs::drain(&h.db.pool, &notify, &settings).await.unwrap();
        h.clock.advance(Duration::from_secs(13));
    }
    assert_eq!(down.got().len(), 3, "max_attempts");
    assert_eq!(gone.got().len(), 1, "a 4xx is not retried");
    let attempts = notifications::attempts(&h.db.pool).await.unwrap();
    let of = |r: &str| {
        attempts
            .iter()
            .filter(|a| a.receiver == r)
            .map(|a| a.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("down"),
        [
            AttemptStatus::Retrying,
            AttemptStatus::Retrying,
            AttemptStatus::GaveUp
        ]
    );
    assert_eq!(of("gone"), [AttemptStatus::GaveUp]);
    assert_eq!(attempts_counted(h, "down", "retrying"), Some(2.0));
    assert_eq!(attempts_counted(h, "down", "gave_up"), Some(1.0));
    assert_eq!(attempts_counted(h, "gone", "gave_up"), Some(1.0));
    assert_eq!(attempts_counted(h, "gone", "delivered"), None);
    let failed = queue::list(&h.db.pool)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "notify" && j.state == JobState::Failed)
        .count();
    assert_eq!(failed, 2);
}

#[tokio::test]
async fn a_dead_receiver_never_delays_a_deploy() {
    let hanging = Receiver::start(&[Reply::Hang; 10]).await;
    let refused = refusing_url().await;
    let hooks = format!(
        "{}{}",
        json_hook("hangs", &hanging.url, "[]"),
        json_hook("refuses", &refused, "[]")
    );
    // A receiver may take a minute to answer.
    let s = setup(&notifications("  timeout: 60s\n", &hooks)).await;
    let h = &s.h;
    h.handle(&opened()).await.unwrap();

    // Notification workers are busy with the receivers while the merge runs.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = jobs::spawn_workers(
        2,
        h.db.pool.clone(),
        Arc::new(notifier(h)),
        lane(h, Duration::from_secs(60)),
        Arc::new(tokio::sync::Notify::new()),
        stopped,
    );
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let refused_once = !notifications::attempts(&h.db.pool)
            .await
            .unwrap()
            .is_empty();
        if hanging.got().len() == 2 && refused_once {
            break;
        }
        assert!(
            Instant::now() < until,
            "the workers never reached the receivers"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The merge goes through the job queue's work lane, as in production.
    let started = Instant::now();
    queue::enqueue(
        &h.db.pool,
        None,
        &NewJob {
            kind: bytegate::webhook::EVENT_JOB.into(),
            payload: serde_json::to_value(merged()).unwrap(),
            coalesce_key: None,
            max_attempts: 3,
        },
    )
    .await
    .unwrap();
    let events = EventJobHandler { ctx: h.ctx.clone() };
    let outcomes = jobs::drain(&h.db.pool, &events, &lane(h, Duration::ZERO))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        matches!(outcomes.as_slice(), [RunOutcome::Done(_)]),
        "{outcomes:?}"
    );
    let (exists,): (bool,) = sqlx::query_as("SELECT to_regclass('users') IS NOT NULL")
        .fetch_one(&s.dev.pool)
        .await
        .unwrap();
    assert!(exists, "development is deployed");
    assert!(
        took < Duration::from_secs(30),
        "the deploy took {took:?}: it waited on a receiver"
    );

    // Meanwhile the hanging receiver still holds both workers (no answer, no
    // row yet), and the refused one was recorded and waits for its retry.
    let jobs_now = queue::list(&h.db.pool).await.unwrap();
    assert!(
        jobs_now
            .iter()
            .any(|j| j.kind == "notify" && j.state == JobState::Running),
        "{jobs_now:?}"
    );
    let attempts = notifications::attempts(&h.db.pool).await.unwrap();
    assert!(
        attempts.iter().all(|a| a.receiver == "refuses"),
        "{attempts:?}"
    );
    assert!(!attempts.is_empty());
    for a in &attempts {
        assert_eq!(a.status, AttemptStatus::Retrying);
        assert_eq!(a.http_status, None);
        let error = a.error.as_deref().unwrap_or_default();
        assert!(error.contains("error sending request"), "{error}");
        assert!(
            !error.contains(&refused),
            "the URL is never recorded: {error}"
        );
    }
    assert_eq!(hanging.got().len(), 2, "both workers still wait on it");
    // Deploy notifications were queued behind them, not sent on the deploy's path.
    let (deploys,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM jobs WHERE kind = 'notify' AND payload->'notice'->>'event' LIKE 'deploy.%'",
    )
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(
        deploys, 4,
        "started + succeeded for development, to two receivers"
    );
    let _ = stop.send(true);
    drop(workers);
}

/// PR `number` adds `added` and is merged as `merge_sha` (the merge commit
/// holds every migration in `all`).
async fn merge_pr(h: &Harness, number: u64, merge_sha: &str, added: &str, all: &[(&str, &str)]) {
    h.github
        .set_pr_files(REPO, number, &[(added, "added", None)]);
    for (path, sql) in all {
        h.github.put_file(REPO, merge_sha, path, sql);
    }
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["number"] = number.into();
    p["pull_request"]["number"] = number.into();
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = merge_sha.into();
    h.handle(&pull_request_event(&p)).await.unwrap();
}

#[tokio::test]
async fn drift_a_failed_deploy_and_a_rollback_are_notified() {
    let incidents = Receiver::start(&[]).await;
    let hooks = json_hook(
        "incidents",
        &incidents.url,
        "[deploy.failed, rollback.*, drift.detected]",
    );
    let s = setup(&notifications("", &hooks)).await;
    let h = &s.h;
    merge_pr(h, 2, MERGE, M1, &[(M1, M1_SQL)]).await;
    // Someone changes development by hand; the next PR's SQL is broken.
    sqlx::raw_sql("CREATE TABLE hand_made (id int);")
        .execute(&s.dev.pool)
        .await
        .unwrap();
    let m2 = "schema/migrations/002_orders.sql";
    let broken = "CREATE TABLE orders (id bigint PRIMARY KEY, total no_such_type);\n";
    merge_pr(h, 3, &"4".repeat(40), m2, &[(M1, M1_SQL), (m2, broken)]).await;
    let pr2 = PrRef {
        number: 2,
        ..pr_ref()
    };
    let reply = bytegate::flow::rollout::command(
        &h.ctx,
        &pr2,
        "development",
        "dana",
        bytegate::flow::rollout::RolloutCommand::Rollback,
    )
    .await
    .unwrap()
    .text;
    assert!(reply.starts_with("Rolled back `development`"), "{reply}");

    jobs::drain(&h.db.pool, &notifier(h), &lane(h, Duration::ZERO))
        .await
        .unwrap();
    let got: Vec<Value> = incidents.got().iter().map(Got::json).collect();
    let events: Vec<(&str, i64)> = got
        .iter()
        .map(|v| {
            (
                v["event"].as_str().unwrap(),
                v["change"]["number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sorted(events),
        sorted(vec![
            ("drift.detected", 3),
            ("deploy.failed", 3),
            ("rollback.succeeded", 2),
        ])
    );
    let of = |e: &str| got.iter().find(|v| v["event"] == e).unwrap();
    let drift = of("drift.detected");
    assert_eq!(drift["environment"], "development");
    assert_eq!(drift["result"], "drift");
    assert_eq!(drift["details"]["database"], "dev-main");
    let diff = drift["details"]["diff"].as_str().unwrap();
    assert!(diff.contains("hand_made"), "{diff}");
    let failed = of("deploy.failed");
    assert_eq!(failed["result"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("no_such_type"), "{error}");
    let rollback = of("rollback.succeeded");
    assert_eq!(rollback["actor"], "dana");
    assert_eq!(rollback["result"], "succeeded");
    assert_eq!(rollback["environment"], "development");
}
