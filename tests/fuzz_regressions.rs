//! The fuzz corpus kept in fuzz/regressions/TARGET (seeds and every input a
//! fuzz run found), replayed through the fuzz targets' own entry points, and
//! the webhook inputs through the real server as signed deliveries: no panic,
//! and an answer that is a clean status, never a 5xx. See fuzz/README.md.

#[path = "../fuzz/src/lib.rs"]
mod entries;

use bytegate::config::Config;
use bytegate::server::AppState;
use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use entries::Source;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every kept input of a target, by file name.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no inputs", dir.display());
    files
}

/// Feeds every input to `entry`; fails naming each input that panicked.
fn replay(target: &str, entry: fn(&[u8])) {
    let failed: Vec<String> = corpus(target)
        .into_iter()
        .filter_map(|(path, bytes)| {
            std::panic::catch_unwind(|| entry(&bytes))
                .is_err()
                .then(|| path.display().to_string())
        })
        .collect();
    assert!(failed.is_empty(), "panicked on: {failed:#?}");
}

#[test]
fn webhook_inputs_parse_without_panic() {
    replay("webhook", entries::webhook);
}

#[test]
fn command_inputs_parse_without_panic() {
    replay("command", entries::command);
}

#[test]
fn config_inputs_load_without_panic() {
    replay("config", entries::config);
}

#[test]
fn review_inputs_review_without_internal_errors() {
    replay("review", entries::review);
}

const SECRET: &str = "fuzz-secret";
const GITLAB_TOKEN: &str = "fuzz-token";

fn config() -> Arc<Config> {
    let yaml = format!(
        "project: {{key: T, name: Test}}\n\
         forges:\n  github:\n    webhook_secret: {SECRET}\n    token: t\n  \
         gitlab:\n    webhook_token: {GITLAB_TOKEN}\n    token: t\n"
    );
    Arc::new(Config::from_yaml(&yaml, "test", &|_| None).unwrap())
}

#[tokio::test]
async fn webhook_inputs_get_a_clean_answer_from_the_server() {
    let db = TestDb::migrated().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bytegate::server::serve(
        listener,
        AppState::new(db.pool.clone(), config()),
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let mut sent = 0;
    for (i, (path, bytes)) in corpus("webhook").into_iter().enumerate() {
        let input = entries::webhook_input(&bytes);
        // An event name no HTTP header can carry never reaches the server.
        if http::HeaderValue::from_str(&input.event).is_err() {
            continue;
        }
        let id = format!("fuzz-{i}");
        let req = match input.source {
            Source::Github | Source::GithubForm => client
                .post(format!("http://{addr}/webhooks/github"))
                .header("X-GitHub-Event", &input.event)
                .header("X-GitHub-Delivery", &id)
                .header(
                    "X-Hub-Signature-256",
                    sign_github(SECRET.as_bytes(), input.body),
                )
                .header(
                    "Content-Type",
                    if input.source == Source::GithubForm {
                        "application/x-www-form-urlencoded"
                    } else {
                        "application/json"
                    },
                ),
            Source::Gitlab => client
                .post(format!("http://{addr}/webhooks/gitlab"))
                .header("X-Gitlab-Event", &input.event)
                .header("X-Gitlab-Token", GITLAB_TOKEN)
                .header("X-Gitlab-Event-UUID", &id)
                .header("Content-Type", "application/json"),
        };
        let resp = req.body(input.body.to_vec()).send().await.unwrap();
        let code = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_else(|e| {
            panic!("{}: answer is not JSON: {e}", path.display());
        });
        assert!(
            matches!(code, 200 | 202 | 400),
            "{}: {code} {body}",
            path.display()
        );
        assert!(body["status"].is_string(), "{}: {body}", path.display());
        sent += 1;
    }
    assert!(sent > 0, "no input reached the server");
    let health = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200, "the server is still well");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
