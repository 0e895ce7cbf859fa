//! The GitHub pull-request flow end to end below the job queue: real payload
//! examples → `flow::handle_event` → bytegate's octocrab client → a fake
//! GitHub that checks every request against GitHub's schemas; a real meta
//! database per test.

mod support;

use serde_json::Value;
use support::contract;
use support::{Harness, REPO, base_sha, pr_payload, pull_request_event};

const SHA_A: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const SHA_B: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const T1: &str = "2019-05-15T15:20:33Z";
const T2: &str = "2019-05-15T15:25:00Z";
const PR: u64 = 2;
const MIGRATION: &str = "schema/migrations/002_drop_users.sql";
const DROP_AT_LINE_3: &str = "CREATE TABLE audit (id bigint PRIMARY KEY);\n\nDROP TABLE users;\n";

fn opened(sha: &str, at: &str) -> bytegate::event::Event {
    pull_request_event(&pr_payload("pull_request.opened", sha, at))
}

fn synchronize(sha: &str, at: &str) -> bytegate::event::Event {
    pull_request_event(&pr_payload("pull_request.synchronize", sha, at))
}

fn annotations_of(h: &Harness, sha: &str) -> Vec<Value> {
    let runs = h.github.sql_review_runs_on(sha);
    assert_eq!(runs.len(), 1, "one check run on {sha}: {runs:#?}");
    runs[0].annotations.clone()
}

#[tokio::test]
async fn opened_pr_with_a_violation_gets_a_failing_check_and_one_comment() {
    let h = Harness::app().await;
    h.github.set_pr_files(
        REPO,
        PR,
        &[(MIGRATION, "added", None), ("README.md", "modified", None)],
    );
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let runs = h.github.sql_review_runs_on(SHA_A);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.name, "bytegate/sql-review");
    assert_eq!(run.status, "completed");
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert!(
        run.title.as_deref().unwrap().contains("error"),
        "{:?}",
        run.title
    );
    let drop: Vec<&Value> = run
        .annotations
        .iter()
        .filter(|a| a["title"] == "no-drop-table")
        .collect();
    assert_eq!(drop.len(), 1, "{:#?}", run.annotations);
    assert_eq!(drop[0]["path"], MIGRATION);
    assert_eq!(drop[0]["start_line"], 3);
    assert_eq!(drop[0]["annotation_level"], "failure");

    let comments = h.github.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    let body = &comments[0].body;
    assert!(body.starts_with("<!-- bytegate:sql-review -->"));
    assert!(body.contains("no-drop-table") && body.contains(SHA_A));
    assert!(body.contains("<!-- bytegate:approvals:start -->"));

    assert_eq!(h.count("change_requests").await, 1);
    assert_eq!(h.count("review_results").await, 2, "one per environment");
    let actions = h.audit_actions().await;
    for a in ["review.started", "comment.created", "review.completed"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    assert_eq!(
        h.github.tokens_minted(),
        1,
        "the installation token is cached"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn second_push_edits_the_same_comment_and_checks_the_new_sha() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github
        .put_file(REPO, SHA_B, MIGRATION, "DROP TABLE users;\n");

    h.handle(&opened(SHA_A, T1)).await.unwrap();
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();

    let comments = h.github.comments(REPO, PR);
    assert_eq!(comments.len(), 1, "never a second comment");
    assert_eq!(comments[0].edits, 1);
    assert!(comments[0].body.contains(SHA_B));
    assert_eq!(h.github.sql_review_runs_on(SHA_A).len(), 1);
    let b = annotations_of(&h, SHA_B);
    assert!(
        b.iter()
            .any(|a| a["title"] == "no-drop-table" && a["start_line"] == 1)
    );

    // A redelivery of the same push: same check run completed again, comment untouched.
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();
    assert_eq!(h.github.sql_review_runs_on(SHA_B).len(), 1);
    assert_eq!(
        h.github.comments(REPO, PR)[0].edits,
        1,
        "unchanged text is not re-sent"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn pr_without_migrations_gets_no_comment() {
    let h = Harness::app().await;
    h.github.set_pr_files(
        REPO,
        PR,
        &[
            ("README.md", "modified", None),
            ("schema/notes.sql", "added", None),
        ],
    );

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    assert!(h.github.comments(REPO, PR).is_empty());
    assert!(h.github.sql_review_runs().is_empty());
    assert!(h.github.requests_of("issues/list-comments").is_empty());
    h.github.assert_clean();
}

#[tokio::test]
async fn more_than_50_findings_are_sent_in_batches_of_at_most_50() {
    let h = Harness::app().await;
    let sql: String = (0..120).map(|i| format!("DROP TABLE t{i};\n")).collect();
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, &sql);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let run = &h.github.sql_review_runs_on(SHA_A)[0];
    let n = run.annotations.len();
    assert!(
        run.annotation_batches.len() >= 3,
        "{:?}",
        run.annotation_batches
    );
    assert_eq!(run.annotation_batches.len(), n.div_ceil(50));
    assert!(run.annotation_batches.iter().all(|&b| b <= 50));
    assert_eq!(run.annotation_batches.iter().sum::<usize>(), n);
    let lines: Vec<u64> = run
        .annotations
        .iter()
        .filter(|a| a["title"] == "no-drop-table")
        .map(|a| a["start_line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, (1..=120).collect::<Vec<u64>>());
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    h.github.assert_clean();
}

#[tokio::test]
async fn github_502_then_201_is_retried_and_posted_once() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_next("checks/create", 502, 1);
    h.github.fail_next("issues/create-comment", 502, 1);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let statuses: Vec<u16> = h
        .github
        .requests_of("issues/create-comment")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [502, 201]);
    assert_eq!(h.github.comments(REPO, PR).len(), 1);
    assert_eq!(h.github.sql_review_runs().len(), 1);
    assert_eq!(
        h.github.sql_review_runs()[0].conclusion.as_deref(),
        Some("failure")
    );
    h.github.assert_clean();
}

/// Issue 11 item 5: GitHub creates the check run but the answer is lost
/// (502); the retry must not leave a second, forever in-progress run.
#[tokio::test]
async fn a_check_run_created_despite_a_502_is_adopted_not_doubled() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_after_next("checks/create", 502);

    // The job, and a redelivery of it, as the queue would run them.
    let _ = h.handle(&opened(SHA_A, T1)).await;
    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let runs = h.github.sql_review_runs_on(SHA_A);
    assert_eq!(runs.len(), 1, "one sql-review run on the sha: {runs:#?}");
    assert_eq!(runs[0].status, "completed");
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
    h.github.assert_clean();
}

/// Issue 11 item 5: runs an earlier crash left in progress are taken over
/// (the newest) or completed as superseded (the others); none stays open.
#[tokio::test]
async fn stray_in_progress_check_runs_are_taken_over_or_completed() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    let older = h.github.add_check_run(REPO, SHA_A, "bytegate/sql-review");
    let newer = h.github.add_check_run(REPO, SHA_A, "bytegate/sql-review");

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let runs = h.github.sql_review_runs_on(SHA_A);
    assert_eq!(runs.len(), 2, "no third run: {runs:#?}");
    assert!(runs.iter().all(|r| r.status == "completed"), "{runs:#?}");
    let by_id = |id: u64| runs.iter().find(|r| r.id == id).unwrap();
    assert_eq!(by_id(newer).conclusion.as_deref(), Some("failure"));
    assert_eq!(by_id(older).conclusion.as_deref(), Some("neutral"));
    assert_eq!(by_id(older).title.as_deref(), Some("Superseded"));
    h.github.assert_clean();
}

#[tokio::test]
async fn persistent_server_errors_fail_the_job_as_retryable() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_next("pulls/list-files", 503, 4);

    let err = h.handle(&opened(SHA_A, T1)).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    h.github.assert_clean();
}

#[tokio::test]
async fn a_rejected_request_fails_the_job_permanently() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_next("issues/list-comments", 403, 1);

    let err = h.handle(&opened(SHA_A, T1)).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("403"), "{err}");
    h.github.assert_clean();
}

#[tokio::test]
async fn late_job_for_an_old_sha_does_not_overwrite_newer_results() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.put_file(
        REPO,
        SHA_B,
        MIGRATION,
        "CREATE TABLE ok (id bigint PRIMARY KEY);\n",
    );

    // The newer push is handled first; the job for the older one finishes late.
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();
    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let comments = h.github.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    assert_eq!(
        comments[0].edits, 0,
        "the old result must not edit the comment"
    );
    assert!(comments[0].body.contains(SHA_B) && !comments[0].body.contains(SHA_A));
    // The old commit still gets its own completed check.
    assert_eq!(
        h.github.sql_review_runs_on(SHA_A)[0].conclusion.as_deref(),
        Some("failure")
    );
    let (head,): (String,) = sqlx::query_as("SELECT head_sha FROM change_requests")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(head, SHA_B);
    assert!(
        h.audit_actions()
            .await
            .iter()
            .any(|a| a == "review.superseded")
    );
    h.github.assert_clean();
}

/// What a review of the PR left behind: (connection attempts to its target,
/// the comment, the stored fork flag).
async fn review_pr_with_a_watched_target(from_fork: bool) -> (usize, String, bool) {
    // A "target database" that counts every connection attempt.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = target.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = connections.clone();
    let watcher = tokio::spawn(async move {
        while target.accept().await.is_ok() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    // A dry run on every push, with its scratch server watched too.
    let envs = format!(
        "environments:\n  - name: production\n    databases:\n      - name: main\n        engine: postgres\n        url: postgres://u:p@127.0.0.1:{port}/app\n\
         dry_run: {{ environment: production, scratch_url: \"postgres://u:p@127.0.0.1:{port}/scratch\", on_push: true }}\n"
    );
    let h = Harness::app_with(&envs).await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    let mut p = pr_payload("pull_request.opened", SHA_A, T1);
    if from_fork {
        p["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World".into();
    }
    h.handle(&pull_request_event(&p)).await.unwrap();

    watcher.abort();
    assert_eq!(
        h.github.sql_review_runs_on(SHA_A)[0].conclusion.as_deref(),
        Some("failure"),
        "reviewed either way"
    );
    let comments = h.github.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    let (is_fork,): (bool,) = sqlx::query_as("SELECT is_fork FROM change_requests")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    h.github.assert_clean();
    (
        connections.load(std::sync::atomic::Ordering::SeqCst),
        comments[0].body.clone(),
        is_fork,
    )
}

const FORK_NOTE: &str =
    "This pull request comes from a fork: it was reviewed statically; no database was contacted.";

#[tokio::test]
async fn fork_pr_is_reviewed_without_touching_any_database() {
    let (connections, body, is_fork) = review_pr_with_a_watched_target(true).await;
    assert_eq!(connections, 0, "a fork's review contacted a database");
    assert!(is_fork, "the PR was not recognised as a fork");
    assert!(body.contains(FORK_NOTE), "{body}");
    assert!(
        body.contains("### Dry run\n\nNot run for pull requests from forks."),
        "{body}"
    );

    // The same PR from the repository itself, with the same config, does
    // reach the (watched) scratch server: the fork was told apart, and what
    // kept the fork's SQL off every database was that, not the config.
    let (connections, body, is_fork) = review_pr_with_a_watched_target(false).await;
    assert!(connections > 0, "the dry run was not attempted");
    assert!(!is_fork);
    assert!(!body.contains(FORK_NOTE), "{body}");
    assert!(body.contains("Could not run (ref `"), "{body}");
}

#[tokio::test]
async fn repository_config_is_read_from_the_base_commit_only() {
    let h = Harness::app().await;
    let base = base_sha();
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github
        .put_file(REPO, SHA_A, MIGRATION, "CREATE INDEX idx ON t (c);\n");
    // The base adds a rule; the head tries to move the migrations folder away.
    h.github.put_file(
        REPO,
        &base,
        ".bytegate.yaml",
        "review:\n  custom:\n    - {name: no-plain-index, severity: warning, patterns: ['CREATE INDEX'], message: Use CONCURRENTLY.}\n",
    );
    h.github
        .put_file(REPO, SHA_A, ".bytegate.yaml", "migrations_dir: nowhere\n");

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let a = annotations_of(&h, SHA_A);
    assert!(a.iter().any(|x| x["title"] == "no-plain-index"), "{a:#?}");
    let config_reads: Vec<String> = h
        .github
        .requests_of("repos/get-content")
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.contains(".bytegate.yaml"))
        .collect();
    assert_eq!(
        config_reads,
        [format!("/repos/{REPO}/contents/.bytegate.yaml?ref={base}")]
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn findings_that_differ_by_environment_are_reported_per_environment() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github
        .put_file(REPO, SHA_A, MIGRATION, "TRUNCATE sessions;\n");

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let a = annotations_of(&h, SHA_A);
    let t: Vec<&Value> = a
        .iter()
        .filter(|x| x["title"] == "no-truncate-in-production")
        .collect();
    assert_eq!(t.len(), 1);
    assert!(
        t[0]["message"]
            .as_str()
            .unwrap()
            .ends_with("(environments: production)")
    );
    let body = &h.github.comments(REPO, PR)[0].body;
    assert!(
        body.contains(
            "| warning | 1 | `no-truncate-in-production` | TRUNCATE in production. | production |"
        ),
        "{body}"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn removed_and_renamed_migrations_are_findings() {
    let h = Harness::app().await;
    let base = base_sha();
    for f in ["001_init.sql", "002_users.sql", "003_orders.sql"] {
        h.github.put_file(
            REPO,
            &base,
            &format!("schema/migrations/{f}"),
            "SELECT 1;\n",
        );
    }
    h.github.set_pr_files(
        REPO,
        PR,
        &[
            ("schema/migrations/001_init.sql", "removed", None),
            (
                "schema/migrations/002_people.sql",
                "renamed",
                Some("schema/migrations/002_users.sql"),
            ),
        ],
    );
    h.github.put_file(
        REPO,
        SHA_A,
        "schema/migrations/002_people.sql",
        "SELECT 1;\n",
    );

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let body = &h.github.comments(REPO, PR)[0].body;
    assert_eq!(body.matches("`migration-edited`").count(), 2, "{body}");
    assert!(
        body.contains("(removed,")
            && body.contains("(renamed from schema/migrations/002_users.sql,")
    );
    assert_eq!(
        h.github.sql_review_runs_on(SHA_A)[0].conclusion.as_deref(),
        Some("failure")
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn token_mode_publishes_commit_statuses_and_findings_in_the_comment() {
    let h = Harness::token().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    assert!(
        h.github.sql_review_runs().is_empty(),
        "check runs need a GitHub App"
    );
    let states: Vec<(String, String)> = h
        .github
        .statuses_of("bytegate/sql-review")
        .iter()
        .map(|s| {
            (
                s["context"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("bytegate/sql-review".to_string(), "pending".to_string()),
            ("bytegate/sql-review".to_string(), "failure".to_string())
        ]
    );
    assert!(h.github.statuses().iter().all(|s| s["sha"] == SHA_A));
    let body = &h.github.comments(REPO, PR)[0].body;
    assert!(body.contains("| error | 3 | `no-drop-table` |"), "{body}");
    assert_eq!(h.github.tokens_minted(), 0);
    h.github.assert_clean();
}

#[tokio::test]
async fn closing_and_merging_are_recorded() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[("README.md", "modified", None)]);
    let mut p = pr_payload("pull_request.opened", SHA_A, T1);
    p["action"] = "closed".into();
    p["pull_request"]["merged"] = false.into();

    h.handle(&pull_request_event(&p)).await.unwrap();

    let state = || async {
        let row: (String, Option<String>) =
            sqlx::query_as("SELECT state, merge_sha FROM change_requests")
                .fetch_one(&h.db.pool)
                .await
                .unwrap();
        row
    };
    assert_eq!(state().await, ("closed".to_string(), None));
    assert_eq!(h.audit_actions().await, ["change_request.closed"]);
    assert!(
        h.github.requests().is_empty(),
        "closing needs no GitHub call"
    );

    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = SHA_B.into();
    h.handle(&pull_request_event(&p)).await.unwrap();
    assert_eq!(
        state().await,
        ("merged".to_string(), Some(SHA_B.to_string()))
    );
    assert!(
        h.audit_actions()
            .await
            .iter()
            .any(|a| a == "change_request.merged")
    );
    h.github.assert_clean();
}

#[test]
fn the_contract_validator_catches_what_github_would_reject() {
    let schema = contract::request_schema("checks/create").unwrap();
    let ok = serde_json::json!({"name": "n", "head_sha": "s", "status": "in_progress"});
    assert!(contract::validate(&ok, schema).is_empty());
    let annotations: Vec<Value> = (0..51)
        .map(|i| serde_json::json!({"path": "a", "start_line": i + 1, "end_line": i + 1, "annotation_level": "failure", "message": "m"}))
        .collect();
    let bad = serde_json::json!({
        "name": "n", "status": "done", "colour": 1,
        "output": {"title": "t", "summary": "x".repeat(65_536), "annotations": annotations}
    });
    let errs = contract::validate(&bad, schema).join("\n");
    for expected in [
        "missing required `head_sha`",
        "is not one of",
        "unknown property `colour`",
        "maxLength 65535",
        "maxItems 50",
    ] {
        assert!(errs.contains(expected), "{expected} not in:\n{errs}");
    }
    let update = contract::request_schema("checks/update").unwrap();
    let completed_without_conclusion = serde_json::json!({"status": "completed"});
    assert!(!contract::validate(&completed_without_conclusion, update).is_empty());
}

#[tokio::test]
async fn rate_limits_are_waited_out_in_line() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_next_with(
        "pulls/list-files",
        429,
        &[("retry-after", "0")],
        "slow down",
        1,
    );
    h.github.fail_next_with(
        "issues/create-comment",
        403,
        &[],
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        1,
    );

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let statuses = |op| -> Vec<u16> { h.github.requests_of(op).iter().map(|r| r.status).collect() };
    assert_eq!(statuses("pulls/list-files"), [429, 200]);
    assert_eq!(statuses("issues/create-comment"), [403, 201]);
    assert_eq!(h.github.comments(REPO, PR).len(), 1);
    h.github.assert_clean();
}

#[tokio::test]
async fn a_long_rate_limit_is_handed_to_the_job_queue_with_its_wait() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    let reset = (chrono::Utc::now().timestamp() + 3600).to_string();
    h.github.fail_next_with(
        "pulls/list-files",
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
        "API rate limit exceeded",
        1,
    );

    let err = h.handle(&opened(SHA_A, T1)).await.unwrap_err();

    assert!(err.is_retryable(), "{err}");
    let wait = err.retry_after().expect("the forge's wait is passed on");
    assert!(wait.as_secs() > 3500 && wait.as_secs() <= 3602, "{wait:?}");
    assert_eq!(
        h.github.requests_of("pulls/list-files").len(),
        1,
        "no in-line hour-long wait"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn installation_tokens_are_reused_until_shortly_before_expiry() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.put_file(REPO, SHA_B, MIGRATION, DROP_AT_LINE_3);

    h.handle(&opened(SHA_A, T1)).await.unwrap();
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();
    assert_eq!(h.github.tokens_minted(), 1);

    // A token that expires within the refresh margin is never used: a new one is minted.
    let h = Harness::app().await;
    h.github.set_token_lifetime(chrono::Duration::seconds(10));
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.handle(&opened(SHA_A, T1)).await.unwrap();
    let api_calls = h
        .github
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/repos/") && r.op != "apps/get-repo-installation")
        .count();
    assert_eq!(h.github.tokens_minted(), api_calls);
    h.github.assert_clean();
}

#[tokio::test]
async fn a_reinstalled_app_is_found_again_without_a_restart() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.put_file(REPO, SHA_B, MIGRATION, DROP_AT_LINE_3);
    h.handle(&opened(SHA_A, T1)).await.unwrap();

    // Uninstalled and installed again: the old token is revoked and the
    // old installation mints none; the next job asks GitHub again.
    h.github.reinstall(REPO, 77);
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();
    assert_eq!(h.github.sql_review_runs_on(SHA_B).len(), 1);
    assert_eq!(h.github.token_installations(), [1, 77]);
    assert_eq!(h.github.requests_of("apps/get-repo-installation").len(), 2);

    // Not installed at all: the job fails naming the lookup, and nothing is sent.
    h.github.uninstall(REPO);
    let sent = h.github.requests().len();
    let err = h
        .handle(&synchronize(SHA_A, "2019-05-15T15:30:00Z"))
        .await
        .expect_err("no installation reaches the repository");
    assert!(
        err.to_string()
            .contains("apps/get-repo-installation: not found"),
        "{err}"
    );
    let repo_calls = h.github.requests()[sent..]
        .iter()
        .filter(|r| r.status < 400 && r.op != "apps/get-repo-installation")
        .count();
    assert_eq!(repo_calls, 0, "{:#?}", h.github.requests());
    h.github.assert_clean();
}

#[tokio::test]
async fn concurrent_jobs_for_two_pushes_always_leave_the_newest_result() {
    let h = Harness::app().await;
    for number in 10..16u64 {
        h.github
            .set_pr_files(REPO, number, &[(MIGRATION, "added", None)]);
    }
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.put_file(
        REPO,
        SHA_B,
        MIGRATION,
        "CREATE TABLE ok (id bigint PRIMARY KEY);\n",
    );
    for number in 10..16u64 {
        let with_number = |name, sha, at| {
            let mut p = pr_payload(name, sha, at);
            p["pull_request"]["number"] = number.into();
            pull_request_event(&p)
        };
        let old = with_number("pull_request.opened", SHA_A, T1);
        let new = with_number("pull_request.synchronize", SHA_B, T2);
        let (a, b) = tokio::join!(h.handle(&old), h.handle(&new));
        a.unwrap();
        b.unwrap();
        let comments = h.github.comments(REPO, number);
        assert_eq!(comments.len(), 1, "PR {number}");
        assert!(
            comments[0].body.contains(SHA_B),
            "PR {number}: {}",
            comments[0].body
        );
    }
    h.github.assert_clean();
}

#[tokio::test]
async fn a_huge_review_stays_within_github_limits() {
    let h = Harness::app().await;
    let sql: String = (0..1500).map(|i| format!("DROP TABLE t{i};\n")).collect();
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, &sql);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    // The fake rejects any summary over 65,535 characters or batch over 50.
    let run = &h.github.sql_review_runs_on(SHA_A)[0];
    let summary = run.summary.as_deref().unwrap();
    assert!(summary.contains("truncated"), "the cut is announced");
    assert!(run.annotations.len() >= 1500);
    assert!(run.annotation_batches.iter().all(|&b| b <= 50));
    let body = &h.github.comments(REPO, PR)[0].body;
    assert!(body.chars().count() <= 65_536);
    assert!(body.contains("not shown here") && body.contains("<!-- bytegate:approvals:end -->"));
    h.github.assert_clean();
}

#[tokio::test]
async fn the_sticky_comment_is_found_among_many_pages_of_comments() {
    let h = Harness::app().await;
    for i in 0..120 {
        h.github
            .add_comment(REPO, PR, "someone", &format!("comment {i}"));
    }
    // Quoting the marker does not make a comment bytegate's.
    h.github.add_comment(
        REPO,
        PR,
        "someone",
        "> see <!-- bytegate:sql-review --> above",
    );
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github
        .put_file(REPO, SHA_B, MIGRATION, "DROP TABLE users;\n");

    h.handle(&opened(SHA_A, T1)).await.unwrap();
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();

    let ours: Vec<_> = h
        .github
        .comments(REPO, PR)
        .into_iter()
        .filter(|c| c.author == "bytegate[bot]")
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].edits, 1);
    assert!(
        h.github
            .requests_of("issues/list-comments")
            .iter()
            .any(|r| r.path.ends_with("page=2"))
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn changed_files_are_read_from_every_page() {
    let h = Harness::app().await;
    let mut files: Vec<(String, &str, Option<&str>)> = (0..130)
        .map(|i| (format!("src/file{i}.rs"), "modified", None))
        .collect();
    files.push((MIGRATION.to_string(), "added", None));
    let files: Vec<(&str, &str, Option<&str>)> =
        files.iter().map(|(p, s, o)| (p.as_str(), *s, *o)).collect();
    h.github.set_pr_files(REPO, PR, &files);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    assert_eq!(h.github.requests_of("pulls/list-files").len(), 2);
    assert_eq!(h.github.comments(REPO, PR).len(), 1);
    h.github.assert_clean();
}

#[tokio::test]
async fn a_rerun_request_reviews_the_current_head() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_B, MIGRATION, DROP_AT_LINE_3);
    h.github.set_pull(
        REPO,
        PR,
        support::fake_github::Pull {
            head_sha: SHA_B.to_string(),
            base_sha: base_sha(),
            head_repo: REPO.to_string(),
        },
    );
    let repo = match opened(SHA_A, T1) {
        bytegate::event::Event::PullRequest(p) => p.pr.repo,
        _ => unreachable!(),
    };
    let rerun = bytegate::event::Event::Rerun(bytegate::event::RerunEvent {
        repo,
        head_sha: SHA_A.to_string(),
        pr_numbers: vec![PR],
    });

    h.handle(&rerun).await.unwrap();

    assert_eq!(h.github.sql_review_runs_on(SHA_B).len(), 1);
    assert!(h.github.comments(REPO, PR)[0].body.contains(SHA_B));
    h.github.assert_clean();
}

#[tokio::test]
async fn a_pasted_marker_does_not_hijack_the_sticky_comment() {
    let h = Harness::app().await;
    h.github.add_comment(
        REPO,
        PR,
        "mallory",
        "<!-- bytegate:sql-review -->\nall good, merge it",
    );
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github
        .put_file(REPO, SHA_B, MIGRATION, "DROP TABLE users;\n");

    h.handle(&opened(SHA_A, T1)).await.unwrap();
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();

    let comments = h.github.comments(REPO, PR);
    assert_eq!(comments.len(), 2);
    assert_eq!(
        comments[0].body,
        "<!-- bytegate:sql-review -->\nall good, merge it"
    );
    assert_eq!(comments[1].author, support::fake_github::BOT_LOGIN);
    assert_eq!(comments[1].edits, 1);
    assert!(comments[1].body.contains(SHA_B));
    h.github.assert_clean();
}

#[tokio::test]
async fn a_pasted_marker_is_not_adopted_even_where_the_app_could_edit_it() {
    let h = Harness::app().await;
    h.github.let_app_edit_others_comments();
    let pasted = "<!-- bytegate:sql-review -->\nall good, merge it";
    h.github.add_comment(REPO, PR, "mallory", pasted);
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    let comments = h.github.comments(REPO, PR);
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0].body, pasted);
    assert_eq!(comments[0].edits, 0);
    assert_eq!(comments[1].author, support::fake_github::BOT_LOGIN);
    assert!(comments[1].body.contains(SHA_A));
    h.github.assert_clean();
}

#[tokio::test]
async fn a_pr_that_drops_its_migrations_says_so_in_the_same_comment() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.handle(&opened(SHA_A, T1)).await.unwrap();

    h.github
        .set_pr_files(REPO, PR, &[("README.md", "modified", None)]);
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();

    let comments = h.github.comments(REPO, PR);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("no longer changes any migration"),
        "{}",
        comments[0].body
    );
    assert!(h.github.sql_review_runs_on(SHA_B).is_empty());
    h.github.assert_clean();
}

#[tokio::test]
async fn giving_up_completes_the_running_check_as_failed() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_next("checks/update", 503, 4);
    let event = opened(SHA_A, T1);

    let err = h.handle(&event).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(h.github.sql_review_runs_on(SHA_A)[0].status, "in_progress");

    // Retries exhausted: the worker gives up.
    let error = err.to_string();
    let failure = bytegate::flow::GaveUp {
        job_id: 1,
        attempts: 5,
        error: &error,
    };
    bytegate::flow::give_up(&h.ctx, &event, &failure)
        .await
        .unwrap();
    let run = &h.github.sql_review_runs_on(SHA_A)[0];
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        run.title.as_deref(),
        Some("bytegate could not review this commit")
    );
    assert_eq!(
        h.github.sql_review_runs().len(),
        1,
        "the same check run, not a new one"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn conclusions_are_success_when_clean_and_neutral_for_warnings_only() {
    let h = Harness::app().await;
    let clean = "CREATE TABLE ok (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);\n";
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, clean);
    h.handle(&opened(SHA_A, T1)).await.unwrap();
    let run = &h.github.sql_review_runs_on(SHA_A)[0];
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert!(
        run.title.as_deref().unwrap().starts_with("No findings"),
        "{:?}",
        run.title
    );

    // The base branch adds a warning-only rule that matches: neutral.
    h.github.put_file(
        REPO,
        &base_sha(),
        ".bytegate.yaml",
        "review:\n  custom:\n    - {name: table-needs-ticket, severity: warning, patterns: ['CREATE TABLE ok'], message: Link a ticket.}\n",
    );
    h.github.put_file(REPO, SHA_B, MIGRATION, clean);
    h.handle(&synchronize(SHA_B, T2)).await.unwrap();
    let run = &h.github.sql_review_runs_on(SHA_B)[0];
    assert_eq!(run.conclusion.as_deref(), Some("neutral"));
    assert!(
        run.title.as_deref().unwrap().starts_with("1 warning"),
        "{:?}",
        run.title
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn a_comment_created_before_a_502_is_not_posted_twice() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_after_next("issues/create-comment", 502);

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    assert_eq!(h.github.comments(REPO, PR).len(), 1);
    assert_eq!(h.github.requests_of("issues/create-comment").len(), 1);
    let (comment_id,): (Option<String>,) = sqlx::query_as("SELECT comment_id FROM change_requests")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(
        comment_id,
        Some(h.github.comments(REPO, PR)[0].id.to_string())
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn only_a_base_change_makes_an_edit_worth_a_review() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    let mut p = pr_payload("pull_request.opened", SHA_A, T1);
    p["action"] = "edited".into();
    p["changes"] = serde_json::json!({"title": {"from": "old title"}});

    h.handle(&pull_request_event(&p)).await.unwrap();
    assert!(
        h.github.requests().is_empty(),
        "a title edit needs no review"
    );

    p["changes"] =
        serde_json::json!({"base": {"ref": {"from": "develop"}, "sha": {"from": "0000"}}});
    h.handle(&pull_request_event(&p)).await.unwrap();
    assert_eq!(h.github.sql_review_runs_on(SHA_A).len(), 1);
    h.github.assert_clean();
}

#[tokio::test]
async fn a_reopened_pr_is_open_again_and_reviewed() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    let mut closed = pr_payload("pull_request.opened", SHA_A, T1);
    closed["action"] = "closed".into();
    h.handle(&pull_request_event(&closed)).await.unwrap();

    let reopened = pr_payload("pull_request.reopened", SHA_A, T2);
    h.handle(&pull_request_event(&reopened)).await.unwrap();

    let (state,): (String,) = sqlx::query_as("SELECT state FROM change_requests")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "open");
    assert!(
        h.audit_actions()
            .await
            .iter()
            .any(|a| a == "change_request.reopened")
    );
    assert_eq!(h.github.comments(REPO, PR).len(), 1);
    h.github.assert_clean();
}

#[tokio::test]
async fn more_than_1000_base_migrations_are_read_from_the_git_tree() {
    let h = Harness::app().await;
    let base = base_sha();
    for v in 1..=1100 {
        h.github.put_file(
            REPO,
            &base,
            &format!("schema/migrations/{v:04}_m.sql"),
            "SELECT 1;\n",
        );
    }
    // Sorts before the base's newest (1100), after the 1000th entry of the listing.
    let late = "schema/migrations/1050_late.sql";
    h.github.set_pr_files(REPO, PR, &[(late, "added", None)]);
    h.github.put_file(REPO, SHA_A, late, "SELECT 1;\n");

    h.handle(&opened(SHA_A, T1)).await.unwrap();

    assert_eq!(h.github.requests_of("git/get-tree").len(), 1);
    let a = annotations_of(&h, SHA_A);
    assert!(
        a.iter().any(|x| x["title"] == "migration-out-of-order"),
        "{a:#?}"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn a_rerun_without_pr_numbers_finds_the_fork_pr_by_its_head() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    let mut p = pr_payload("pull_request.opened", SHA_A, T1);
    p["pull_request"]["head"]["repo"]["full_name"] = "mallory/Hello-World".into();
    let event = pull_request_event(&p);
    h.handle(&event).await.unwrap();
    h.github.set_pull(
        REPO,
        PR,
        support::fake_github::Pull {
            head_sha: SHA_A.to_string(),
            base_sha: base_sha(),
            head_repo: "mallory/Hello-World".to_string(),
        },
    );
    let bytegate::event::Event::PullRequest(pr) = event else {
        unreachable!()
    };
    let rerun = bytegate::event::Event::Rerun(bytegate::event::RerunEvent {
        repo: pr.pr.repo,
        head_sha: SHA_A.to_string(),
        pr_numbers: vec![],
    });

    h.handle(&rerun).await.unwrap();

    assert_eq!(h.github.requests_of("pulls/get").len(), 1);
    let run = &h.github.sql_review_runs_on(SHA_A)[0];
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    h.github.assert_clean();
}

#[tokio::test]
async fn an_abandoned_review_shows_a_ref_not_the_internal_error() {
    let h = Harness::app().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, DROP_AT_LINE_3);
    h.github.fail_next("checks/update", 503, 4);
    let event = opened(SHA_A, T1);
    h.handle(&event).await.unwrap_err();

    let internal = "pool timed out while waiting for an open connection to db-internal.corp:5432";
    let failure = bytegate::flow::GaveUp {
        job_id: 1,
        attempts: 5,
        error: internal,
    };
    bytegate::flow::give_up(&h.ctx, &event, &failure)
        .await
        .unwrap();
    let run = &h.github.sql_review_runs_on(SHA_A)[0];
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let summary = run.summary.clone().unwrap_or_default();
    assert!(!summary.contains("db-internal"), "{summary}");
    let re = regex::Regex::new(r"ref `([0-9a-f]{8})`").unwrap();
    let reference = re
        .captures(&summary)
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("no ref in the check run: {summary}"));
    let (error,): (Option<String>,) = sqlx::query_as(
        "SELECT detail->>'error' FROM audit_log WHERE action = 'review.failed' AND detail->>'ref' = $1",
    )
    .bind(&reference)
    .fetch_one(&h.db.pool)
    .await
    .unwrap();
    assert_eq!(
        error.as_deref(),
        Some(internal),
        "the meta DB keeps it under the ref"
    );
}
