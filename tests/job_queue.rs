//! The job queue on a real meta database: retries with backoff, failure with
//! the last error, lease expiry after a worker dies, and no double claims;
//! coalescing over pending work only, leases that keep expiring, panicking
//! handlers and dead workers, and merge jobs that give up (issue 10, hole 7).

mod support;

use bytegate::clock::{Clock, ManualClock};
use bytegate::event::{CommentAction, CommentEvent, Event};
use bytegate::jobs::{
    self, EventJobHandler, JobError, JobHandler, RunOutcome, WorkerError, WorkerSettings,
};
use bytegate::server::AppState;
use bytegate::store::jobs::{self as queue, Enqueued, Job, JobState, NewJob};
use bytegate::store::testdb::TestDb as Target;
use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Harness, REPO, pr_payload, pull_request_event};

fn job(key: Option<&str>, max_attempts: i32) -> NewJob {
    NewJob {
        kind: "test".into(),
        payload: serde_json::json!({}),
        coalesce_key: key.map(str::to_string),
        max_attempts,
    }
}

/// Fails the first `fail_first` attempts of every job, counts runs per job.
#[derive(Default)]
struct Scripted {
    fail_first: i32,
    retryable: bool,
    runs: Mutex<HashMap<i64, i32>>,
}

impl JobHandler for Scripted {
    fn handle<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            *self.runs.lock().unwrap().entry(job.id).or_default() += 1;
            if job.attempts <= self.fail_first {
                Err(JobError {
                    message: format!("GitHub answered 502 (attempt {})", job.attempts),
                    retryable: self.retryable,
                    retry_after: None,
                })
            } else {
                Ok(())
            }
        })
    }
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let db = TestDb::migrated().await.unwrap();
    queue::enqueue(&db.pool, None, &job(None, 5)).await.unwrap();
    let h = Scripted {
        fail_first: 2,
        retryable: true,
        ..Default::default()
    };
    let outcomes = jobs::drain(&db.pool, &h, &support::fast_workers())
        .await
        .unwrap();
    assert!(matches!(
        outcomes.as_slice(),
        [
            RunOutcome::Retrying(_),
            RunOutcome::Retrying(_),
            RunOutcome::Done(_)
        ]
    ));
    let rows = queue::list(&db.pool).await.unwrap();
    assert_eq!((rows[0].state, rows[0].attempts), (JobState::Done, 3));
    assert_eq!(rows[0].last_error, None);
}

#[tokio::test]
async fn exhausted_attempts_fail_with_the_last_error() {
    let db = TestDb::migrated().await.unwrap();
    queue::enqueue(&db.pool, None, &job(None, 3)).await.unwrap();
    let h = Scripted {
        fail_first: 99,
        retryable: true,
        ..Default::default()
    };
    jobs::drain(&db.pool, &h, &support::fast_workers())
        .await
        .unwrap();
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!((row.state, row.attempts), (JobState::Failed, 3));
    assert_eq!(
        row.last_error.as_deref(),
        Some("GitHub answered 502 (attempt 3)")
    );
}

#[tokio::test]
async fn permanent_failures_are_not_retried() {
    let db = TestDb::migrated().await.unwrap();
    queue::enqueue(&db.pool, None, &job(None, 5)).await.unwrap();
    let h = Scripted {
        fail_first: 99,
        retryable: false,
        ..Default::default()
    };
    let outcomes = jobs::drain(&db.pool, &h, &support::fast_workers())
        .await
        .unwrap();
    assert!(matches!(outcomes.as_slice(), [RunOutcome::Failed(_)]));
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!((row.state, row.attempts), (JobState::Failed, 1));
}

#[tokio::test]
async fn retries_wait_for_their_backoff() {
    let db = TestDb::migrated().await.unwrap();
    queue::enqueue(&db.pool, None, &job(None, 5)).await.unwrap();
    let h = Scripted {
        fail_first: 1,
        retryable: true,
        ..Default::default()
    };
    let clock = Arc::new(ManualClock::default());
    let slow = WorkerSettings {
        clock: clock.clone(),
        backoff_base: Duration::from_secs(60),
        backoff_max: Duration::from_secs(60),
        ..support::fast_workers()
    };
    let outcomes = jobs::drain(&db.pool, &h, &slow).await.unwrap();
    // One failed attempt; the retry is due after a minute (plus up to 20% jitter).
    assert!(matches!(outcomes.as_slice(), [RunOutcome::Retrying(_)]));
    clock.advance(Duration::from_secs(59));
    assert_eq!(jobs::drain(&db.pool, &h, &slow).await.unwrap(), vec![]);
    clock.advance(Duration::from_secs(14));
    let outcomes = jobs::drain(&db.pool, &h, &slow).await.unwrap();
    assert!(matches!(outcomes.as_slice(), [RunOutcome::Done(_)]));
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!((row.state, row.attempts), (JobState::Done, 2));
}

#[tokio::test]
async fn a_dead_workers_job_is_completed_by_another_after_its_lease() {
    let db = TestDb::migrated().await.unwrap();
    queue::enqueue(&db.pool, None, &job(None, 5)).await.unwrap();
    let clock = Arc::new(ManualClock::default());
    let settings = WorkerSettings {
        clock: clock.clone(),
        ..support::fast_workers()
    };
    let lease = Duration::from_secs(300);
    // A worker claims and dies without finishing.
    let claimed = queue::claim(&db.pool, "doomed", lease, clock.now())
        .await
        .unwrap()
        .unwrap();
    let h = Scripted::default();
    // While the lease holds, nobody else gets it.
    assert_eq!(
        jobs::run_one(&db.pool, &h, "survivor", &settings)
            .await
            .unwrap(),
        RunOutcome::Idle
    );
    clock.advance(lease - Duration::from_secs(1));
    assert_eq!(
        jobs::run_one(&db.pool, &h, "survivor", &settings)
            .await
            .unwrap(),
        RunOutcome::Idle,
        "the lease has a second left"
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        jobs::run_one(&db.pool, &h, "survivor", &settings)
            .await
            .unwrap(),
        RunOutcome::Done(claimed.id)
    );
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!(
        (row.state, row.attempts, row.locked_by.as_deref()),
        (JobState::Done, 2, Some("survivor"))
    );
    // The dead worker's late completion does not count.
    assert!(
        !queue::complete(&db.pool, claimed.id, "doomed", clock.now())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn concurrent_workers_run_each_job_exactly_once() {
    let db = TestDb::migrated().await.unwrap();
    for _ in 0..40 {
        queue::enqueue(&db.pool, None, &job(None, 5)).await.unwrap();
    }
    let h = Arc::new(Scripted::default());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let workers = jobs::spawn_workers(
        4,
        db.pool.clone(),
        h.clone(),
        support::fast_workers(),
        Arc::new(tokio::sync::Notify::new()),
        shutdown,
    );
    for _ in 0..200 {
        let rows = queue::list(&db.pool).await.unwrap();
        if rows.iter().all(|r| r.state == JobState::Done) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let runs = h.runs.lock().unwrap();
    assert_eq!(runs.len(), 40);
    assert!(runs.values().all(|&n| n == 1), "{runs:?}");
}

#[tokio::test]
async fn equal_work_coalesces() {
    let db = TestDb::migrated().await.unwrap();
    let a = queue::enqueue(&db.pool, None, &job(Some("k"), 5))
        .await
        .unwrap();
    let b = queue::enqueue(&db.pool, None, &job(Some("k"), 5))
        .await
        .unwrap();
    assert!(matches!(a, Enqueued::Queued(_)));
    assert_eq!(b, Enqueued::Coalesced);
}

/// Records which jobs were given up on.
#[derive(Default)]
struct GivesUp {
    given_up: Mutex<Vec<(i64, String)>>,
}

impl JobHandler for GivesUp {
    fn handle<'a>(&'a self, _job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async { Err(JobError::permanent("bad input")) })
    }

    fn gave_up<'a>(&'a self, job: &'a Job, error: &'a JobError) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.given_up
                .lock()
                .unwrap()
                .push((job.id, error.message.clone()));
        })
    }
}

#[tokio::test]
async fn the_handler_hears_once_when_a_job_is_given_up() {
    let db = TestDb::migrated().await.unwrap();
    let Enqueued::Queued(id) = queue::enqueue(&db.pool, None, &job(None, 5)).await.unwrap() else {
        panic!("not queued")
    };
    let h = GivesUp::default();
    jobs::drain(&db.pool, &h, &support::fast_workers())
        .await
        .unwrap();
    assert_eq!(
        *h.given_up.lock().unwrap(),
        vec![(id, "bad input".to_string())]
    );
}

// ---- issue 10, hole 7 ------------------------------------------------------

#[tokio::test]
async fn a_key_whose_job_is_done_or_failed_queues_new_work_and_pending_work_still_coalesces() {
    let db = TestDb::migrated().await.unwrap();
    let Enqueued::Queued(first) = queue::enqueue(&db.pool, None, &job(Some("k"), 1))
        .await
        .unwrap()
    else {
        panic!("not queued")
    };
    // Queued: equal work joins it.
    assert_eq!(
        queue::enqueue(&db.pool, None, &job(Some("k"), 1))
            .await
            .unwrap(),
        Enqueued::Coalesced
    );
    // Running: still joins it.
    let claimed = queue::claim(&db.pool, "w", Duration::from_secs(30), chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, first);
    assert_eq!(
        queue::enqueue(&db.pool, None, &job(Some("k"), 1))
            .await
            .unwrap(),
        Enqueued::Coalesced
    );
    // Failed for good: the key queues new work.
    queue::fail(&db.pool, first, "w", "boom", None, chrono::Utc::now())
        .await
        .unwrap();
    let Enqueued::Queued(second) = queue::enqueue(&db.pool, None, &job(Some("k"), 1))
        .await
        .unwrap()
    else {
        panic!("a failed job swallowed new work")
    };
    // Done: the key queues new work too.
    jobs::drain(&db.pool, &Scripted::default(), &support::fast_workers())
        .await
        .unwrap();
    assert!(matches!(
        queue::enqueue(&db.pool, None, &job(Some("k"), 1))
            .await
            .unwrap(),
        Enqueued::Queued(_)
    ));
    let states: Vec<(i64, JobState)> = queue::list(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r.state))
        .collect();
    assert_eq!(states[0], (first, JobState::Failed));
    assert_eq!(states[1], (second, JobState::Done));
    assert_eq!(states[2].1, JobState::Queued);
}

const SECRET: &str = "It's a Secret to Everybody";
const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MIGRATION: &str = "schema/migrations/002_drop_users.sql";

async fn serve(h: &Harness) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/github", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(h.db.pool.clone(), h.ctx.config.clone());
    tokio::spawn(bytegate::server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (url, stop)
}

async fn deliver(url: &str, id: &str, body: &serde_json::Value) -> u16 {
    let body = serde_json::to_vec(body).unwrap();
    reqwest::Client::new()
        .post(url)
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sign_github(SECRET.as_bytes(), &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_reopen_at_the_same_head_after_the_review_is_done_is_reviewed_again() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, 2, &[(MIGRATION, "added", None)]);
    h.github
        .put_file(REPO, HEAD, MIGRATION, "DROP TABLE users;\n");
    let (url, _stop) = serve(&h).await;
    let handler = EventJobHandler { ctx: h.ctx.clone() };

    let opened = pr_payload("pull_request.opened", HEAD, "2019-05-15T15:20:33Z");
    assert_eq!(deliver(&url, "d-open", &opened).await, 202);
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    assert!(
        matches!(outcomes.as_slice(), [RunOutcome::Done(_)]),
        "{outcomes:?}"
    );
    let published_first = check_writes(&h);

    // Closed, then reopened at the same head: the same coalesce key as the
    // first review, whose job is done.
    let mut closed = pr_payload("pull_request.opened", HEAD, "2019-05-15T15:30:00Z");
    closed["action"] = "closed".into();
    closed["pull_request"]["state"] = "closed".into();
    assert_eq!(deliver(&url, "d-close", &closed).await, 202);
    let mut reopened = pr_payload("pull_request.opened", HEAD, "2019-05-15T15:40:00Z");
    reopened["action"] = "reopened".into();
    assert_eq!(deliver(&url, "d-reopen", &reopened).await, 202);
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 2, "close and reopen both ran: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(o, RunOutcome::Done(_))),
        "{outcomes:?}"
    );

    // The check on the head was published again (the same run, re-completed)
    // and a second review result and audit entry were stored.
    let published = check_writes(&h);
    assert!(
        published > published_first,
        "{published} > {published_first}"
    );
    let runs = h.github.sql_review_runs_on(HEAD);
    assert_eq!(runs.len(), 1, "{runs:#?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
    let completed = h
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "review.completed")
        .count();
    assert_eq!(completed, 2);
    // One result per environment (staging, production) per review.
    let (results,): (i64,) = sqlx::query_as("SELECT count(*) FROM review_results")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(results, 4);
    let (state,): (String,) = sqlx::query_as("SELECT state FROM change_requests")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "open");
    // Still one sticky comment.
    assert_eq!(h.github.comments(REPO, 2).len(), 1);
}

/// Check-run writes the fake GitHub answered (created or updated).
fn check_writes(h: &Harness) -> usize {
    h.github.requests_of("checks/create").len() + h.github.requests_of("checks/update").len()
}

/// Never returns: the worker hangs (or its process died) in the middle of it.
/// Says on `started` whenever a run begins.
struct Hangs {
    started: tokio::sync::mpsc::UnboundedSender<i32>,
    given_up: Mutex<Vec<(i64, String)>>,
}

impl JobHandler for Hangs {
    fn handle<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let _ = self.started.send(job.attempts);
            futures::future::pending().await
        })
    }

    fn gave_up<'a>(&'a self, job: &'a Job, error: &'a JobError) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.given_up
                .lock()
                .unwrap()
                .push((job.id, error.message.clone()));
        })
    }
}

#[tokio::test]
async fn a_job_whose_lease_keeps_expiring_fails_for_good_after_max_attempts() {
    let db = TestDb::migrated().await.unwrap();
    let Enqueued::Queued(id) = queue::enqueue(&db.pool, None, &job(None, 3)).await.unwrap() else {
        panic!("not queued")
    };
    let (tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let h = Arc::new(Hangs {
        started: tx,
        given_up: Mutex::new(Vec::new()),
    });
    let clock = Arc::new(ManualClock::default());
    let settings = WorkerSettings {
        clock: clock.clone(),
        ..support::fast_workers()
    };
    for attempt in 1..=3 {
        let (pool, h2, s2) = (db.pool.clone(), h.clone(), settings.clone());
        let worker = tokio::spawn(async move {
            jobs::run_one(&pool, h2.as_ref(), &format!("w{attempt}"), &s2).await
        });
        assert_eq!(started.recv().await, Some(attempt));
        // The process dies mid-job, and its lease runs out.
        worker.abort();
        clock.advance(settings.lease + Duration::from_secs(1));
    }
    // No attempt is left: the next claim gives the job up instead of running
    // it a fourth time (a guard, not a clock: the old code hangs here).
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        jobs::run_one(&db.pool, h.as_ref(), "w4", &settings),
    )
    .await
    .expect("the job ran again instead of being given up")
    .unwrap();
    assert_eq!(outcome, RunOutcome::Failed(id));
    assert!(
        started.try_recv().is_err(),
        "the handler never runs a fourth time"
    );
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!(
        (row.state, row.attempts, row.lease_expiries),
        (JobState::Failed, 3, 3)
    );
    let error = row.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("lease expired 3 times"), "{error}");
    let given_up = h.given_up.lock().unwrap().clone();
    assert_eq!(given_up.len(), 1, "{given_up:?}");
    assert_eq!(given_up[0].0, id);
    assert!(given_up[0].1.contains("lease expired 3 times"));
    // Nothing is left to run.
    assert_eq!(
        jobs::run_one(&db.pool, h.as_ref(), "w5", &support::fast_workers())
            .await
            .unwrap(),
        RunOutcome::Idle
    );
}

/// Panics on the jobs whose payload says so; counts the others.
#[derive(Default)]
struct Panics {
    ran: Mutex<Vec<i64>>,
}

impl JobHandler for Panics {
    fn handle<'a>(&'a self, job: &'a Job) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            if job.payload["panic"] == true {
                panic!("handler bug on job {}", job.id);
            }
            self.ran.lock().unwrap().push(job.id);
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_panicking_handler_is_a_failed_attempt_and_later_jobs_still_run() {
    let db = TestDb::migrated().await.unwrap();
    let mut bad = job(None, 2);
    bad.payload = serde_json::json!({ "panic": true });
    let Enqueued::Queued(bad_id) = queue::enqueue(&db.pool, None, &bad).await.unwrap() else {
        panic!("not queued")
    };
    let mut later = Vec::new();
    for _ in 0..3 {
        let Enqueued::Queued(id) = queue::enqueue(&db.pool, None, &job(None, 2)).await.unwrap()
        else {
            panic!("not queued")
        };
        later.push(id);
    }
    let h = Arc::new(Panics::default());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    // One worker: if the panic killed it, nothing else would run.
    let workers = jobs::spawn_workers(
        1,
        db.pool.clone(),
        h.clone(),
        support::fast_workers(),
        Arc::new(tokio::sync::Notify::new()),
        shutdown,
    );
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = queue::list(&db.pool).await.unwrap();
        if rows
            .iter()
            .all(|r| matches!(r.state, JobState::Done | JobState::Failed))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let bad_row = rows.iter().find(|r| r.id == bad_id).unwrap();
    assert_eq!(
        (bad_row.state, bad_row.attempts),
        (JobState::Failed, 2),
        "{rows:?}"
    );
    let error = bad_row.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("panicked") && error.contains("handler bug"),
        "{error}"
    );
    assert_eq!(*h.ran.lock().unwrap(), later);
}

#[tokio::test]
async fn a_worker_task_that_dies_is_restarted() {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let (running, mut is_running) = tokio::sync::mpsc::unbounded_channel();
    let starts = Arc::new(Mutex::new(0));
    let counted = starts.clone();
    let stopped = shutdown.clone();
    let supervisor = jobs::supervise("test-worker".into(), shutdown, move || {
        let n = {
            let mut s = counted.lock().unwrap();
            *s += 1;
            *s
        };
        let (running, mut stopped) = (running.clone(), stopped.clone());
        async move {
            match n {
                1 => panic!("the worker loop died"),
                2 => Err(WorkerError::Queue(bytegate::store::StoreError::Query(
                    sqlx::Error::PoolTimedOut,
                ))),
                _ => {
                    let _ = running.send(n);
                    let _ = stopped.wait_for(|s| *s).await;
                    Ok(())
                }
            }
        }
    });
    // Restarted after the panic and after the error: the third start runs.
    assert_eq!(is_running.recv().await, Some(3));
    stop.send(true).unwrap();
    supervisor.await.unwrap();
    assert_eq!(*starts.lock().unwrap(), 3);
}

const MERGE: &str = "3333333333333333333333333333333333333333";
const M1: &str = "schema/migrations/001_users.sql";
const M1_SQL: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";

fn merged_event() -> Event {
    let mut p = pr_payload("pull_request.opened", HEAD, "2019-05-15T15:20:33Z");
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = MERGE.into();
    pull_request_event(&p)
}

async fn table_exists(url: &str, name: &str) -> bool {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    e
}

#[tokio::test]
async fn a_merge_job_that_fails_for_good_says_so_once_on_the_pr_and_in_the_audit_trail() {
    let dev = Target::empty().await.unwrap();
    let envs = format!(
        "roles:\n  dba:\n    users: [dana]\nenvironments:\n  - name: development\n    databases:\n      - name: dev-main\n        engine: postgres\n        url: \"{}\"\n  - name: staging\n    approvals: 1\n    roles: [dba]\n  - name: production\n",
        dev.url()
    );
    let h = Harness::app_with(&envs).await;
    h.github.set_pr_files(REPO, 2, &[(M1, "added", None)]);
    h.github.put_file(REPO, MERGE, M1, M1_SQL);
    h.github.set_permission(REPO, "dana", "write");
    // GitHub cannot list the PR's files for longer than the job's attempts last.
    h.github.fail_next("pulls/list-files", 502, 1000);
    let event = merged_event();
    let Enqueued::Queued(id) = queue::enqueue(
        &h.db.pool,
        None,
        &NewJob {
            kind: bytegate::webhook::EVENT_JOB.into(),
            payload: serde_json::to_value(&event).unwrap(),
            coalesce_key: event.coalesce_key(),
            max_attempts: 2,
        },
    )
    .await
    .unwrap() else {
        panic!("not queued")
    };
    let handler = EventJobHandler { ctx: h.ctx.clone() };
    let outcomes = jobs::drain(&h.db.pool, &handler, &support::fast_workers())
        .await
        .unwrap();
    assert_eq!(
        outcomes.last(),
        Some(&RunOutcome::Failed(id)),
        "{outcomes:?}"
    );
    assert!(!table_exists(&dev.url(), "users").await, "nothing deployed");

    let comments = h.github.comments(REPO, 2);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = &comments[0].body;
    assert!(body.contains("could not start the deploy"), "{body}");
    assert!(body.contains("after 2 attempts"), "{body}");
    assert!(body.contains("`/bytebase deploy development`"), "{body}");
    assert!(body.contains(&format!("`job-{id}`")), "{body}");
    // No internal error text on the PR.
    assert!(
        !body.contains("502") && !body.contains("injected"),
        "{body}"
    );
    let audit: Vec<(String, serde_json::Value)> =
        sqlx::query_as("SELECT action, detail FROM audit_log WHERE action = 'rollout.gave_up'")
            .fetch_all(&h.db.pool)
            .await
            .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].1["job"], id);
    assert_eq!(audit[0].1["attempts"], 2);

    // GitHub recovers; the command the comment names starts the rollout.
    h.github.recover("pulls/list-files");
    h.github.set_pull(
        REPO,
        2,
        support::fake_github::Pull {
            head_sha: HEAD.into(),
            base_sha: support::base_sha(),
            head_repo: REPO.into(),
        },
    );
    let Event::PullRequest(pr) = &event else {
        unreachable!()
    };
    h.handle(&Event::Comment(CommentEvent {
        pr: pr.pr.clone(),
        author: "dana".into(),
        sender: "dana".into(),
        body: "/bytebase deploy development".into(),
        comment_id: 7001,
        action: CommentAction::Created,
        at: chrono::Utc::now(),
    }))
    .await
    .unwrap();
    assert!(
        table_exists(&dev.url(), "users").await,
        "development applied on retry"
    );
}
