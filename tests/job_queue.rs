//! The job queue on a real meta database: retries with backoff, failure with
//! the last error, lease expiry after a worker dies, and no double claims.

use bytegate::jobs::{self, JobError, JobHandler, RunOutcome, WorkerSettings};
use bytegate::store::jobs::{self as queue, Enqueued, Job, NewJob};
use bytegate::store::testdb::TestDb;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn fast() -> WorkerSettings {
    WorkerSettings {
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        backoff_base: Duration::ZERO,
        backoff_max: Duration::ZERO,
    }
}

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
    let outcomes = jobs::drain(&db.pool, &h, &fast()).await.unwrap();
    assert!(matches!(
        outcomes.as_slice(),
        [
            RunOutcome::Retrying(_),
            RunOutcome::Retrying(_),
            RunOutcome::Done(_)
        ]
    ));
    let rows = queue::list(&db.pool).await.unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("done", 3));
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
    jobs::drain(&db.pool, &h, &fast()).await.unwrap();
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 3));
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
    let outcomes = jobs::drain(&db.pool, &h, &fast()).await.unwrap();
    assert!(matches!(outcomes.as_slice(), [RunOutcome::Failed(_)]));
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 1));
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
    let slow = WorkerSettings {
        backoff_base: Duration::from_secs(60),
        backoff_max: Duration::from_secs(60),
        ..fast()
    };
    let outcomes = jobs::drain(&db.pool, &h, &slow).await.unwrap();
    // One failed attempt; the retry is not due for a minute.
    assert!(matches!(outcomes.as_slice(), [RunOutcome::Retrying(_)]));
    let (due_in,): (f64,) =
        sqlx::query_as("SELECT extract(epoch FROM run_after - now())::float8 FROM jobs")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!((55.0..=75.0).contains(&due_in), "due in {due_in}s");
}

#[tokio::test]
async fn a_dead_workers_job_is_completed_by_another_after_its_lease() {
    let db = TestDb::migrated().await.unwrap();
    queue::enqueue(&db.pool, None, &job(None, 5)).await.unwrap();
    // A worker claims with a short lease and dies without finishing.
    let claimed = queue::claim(&db.pool, "doomed", Duration::from_millis(300))
        .await
        .unwrap()
        .unwrap();
    let h = Scripted::default();
    // While the lease holds, nobody else gets it.
    assert_eq!(
        jobs::run_one(&db.pool, &h, "survivor", &fast())
            .await
            .unwrap(),
        RunOutcome::Idle
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        jobs::run_one(&db.pool, &h, "survivor", &fast())
            .await
            .unwrap(),
        RunOutcome::Done(claimed.id)
    );
    let row = &queue::list(&db.pool).await.unwrap()[0];
    assert_eq!(
        (row.state.as_str(), row.attempts, row.locked_by.as_deref()),
        ("done", 2, Some("survivor"))
    );
    // The dead worker's late completion does not count.
    assert!(
        !queue::complete(&db.pool, claimed.id, "doomed")
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
        fast(),
        Arc::new(tokio::sync::Notify::new()),
        shutdown,
    );
    for _ in 0..200 {
        let rows = queue::list(&db.pool).await.unwrap();
        if rows.iter().all(|r| r.state == "done") {
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
    jobs::drain(&db.pool, &h, &fast()).await.unwrap();
    assert_eq!(
        *h.given_up.lock().unwrap(),
        vec![(id, "bad input".to_string())]
    );
}
