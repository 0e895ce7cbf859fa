//! Test support shared by integration tests: a fake GitHub (`fake_github`),
//! GitHub's request contract (`contract`), the real webhook payload examples,
//! and a harness that wires the flow to a fresh meta database and the fake.
#![allow(dead_code)]

pub mod contract;
pub mod dashboard;
pub mod fake_github;
pub mod prom_text;
pub mod serve;
pub mod targets;

use bytegate::clock::ManualClock;
use bytegate::config::Config;
use bytegate::event::Event;
use bytegate::flow::{self, FlowContext, FlowError};
use bytegate::forge::github::GithubForge;
use bytegate::forge::{ForgeSet, RetryPolicy};
use bytegate::store::testdb::TestDb;
use fake_github::FakeGithub;
use serde_json::Value;
use std::sync::Arc;

/// The repository of the upstream payload examples.
pub const REPO: &str = "Codertocat/Hello-World";
/// The GitHub App id the tests configure.
pub const APP_ID: u64 = 4242;

/// Path of the test-only GitHub App key.
/// Workers that poll every 20 ms and retry at once (tests drive the queue;
/// nothing waits on backoff).
pub fn fast_workers() -> bytegate::jobs::WorkerSettings {
    bytegate::jobs::WorkerSettings {
        clock: Arc::new(bytegate::clock::SystemClock),
        lease: std::time::Duration::from_secs(30),
        poll: std::time::Duration::from_millis(20),
        backoff_base: std::time::Duration::ZERO,
        backoff_max: std::time::Duration::ZERO,
    }
}

pub fn app_key_path() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github/test-app-key.pem"
    )
    .to_string()
}

/// An upstream webhook payload example (`pull_request.opened`, ...), unchanged.
pub fn payload(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/github/upstream/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// A `pull_request` payload with the head commit, time and action rewritten.
pub fn pr_payload(name: &str, head_sha: &str, updated_at: &str) -> Value {
    let mut p = payload(name);
    p["pull_request"]["head"]["sha"] = Value::from(head_sha);
    p["pull_request"]["updated_at"] = Value::from(updated_at);
    p
}

/// The typed event a `pull_request` delivery becomes: the webhook layer's own
/// parser, so the tests feed the flow exactly what production would.
pub fn pull_request_event(p: &Value) -> Event {
    bytegate::webhook::github::parse("pull_request", p)
        .expect("a pull_request payload")
        .event
        .expect("an action the flow acts on")
}

/// The base commit of the upstream payloads.
pub fn base_sha() -> String {
    payload("pull_request.opened")["pull_request"]["base"]["sha"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Config text for the tests: GitHub App on the fake, two environments, and a
/// custom rule (`no-drop-table`, error) so findings do not depend on the
/// built-in rule set. `extra` is appended (more top-level sections).
pub fn config_yaml(api_url: &str, auth: &str, extra: &str) -> String {
    format!(
        r#"project:
  key: TEST
  name: Test
  migrations_dir: schema/migrations
forges:
  github:
    api_url: {api_url}
    webhook_secret: "It's a Secret to Everybody"
{auth}
review:
  custom:
    - name: no-drop-table
      severity: error
      patterns: ["DROP TABLE"]
      message: Dropping a table loses its data.
    - name: no-truncate-in-production
      severity: warning
      environments: [production]
      patterns: ["TRUNCATE"]
      message: TRUNCATE in production.
{extra}"#
    )
}

/// The auth block of a GitHub App on the fake.
pub fn app_auth() -> String {
    format!(
        "    app_id: {APP_ID}\n    private_key_path: {}\n",
        app_key_path()
    )
}

/// One environment's `databases:` block naming a test database.
pub fn database_yaml(name: &str, target: &TestDb) -> String {
    format!(
        "    databases:\n      - name: {name}\n        engine: postgres\n        url: \"{}\"\n",
        target.url()
    )
}

/// Environments without databases.
pub const TWO_ENVIRONMENTS: &str = "environments:\n  - name: staging\n  - name: production\n";

/// A meta database, a fake GitHub and a flow context wired together.
pub struct Harness {
    /// The test's meta database.
    pub db: TestDb,
    /// The fake GitHub.
    pub github: FakeGithub,
    /// What the worker would pass to the flow.
    pub ctx: FlowContext,
    /// The flow's clock: tests move it instead of sleeping.
    pub clock: Arc<ManualClock>,
}

impl Harness {
    /// A GitHub App setup with two environments.
    pub async fn app() -> Harness {
        Harness::app_with(TWO_ENVIRONMENTS).await
    }

    /// A GitHub App setup with extra config sections.
    pub async fn app_with(extra: &str) -> Harness {
        let github = FakeGithub::start().await;
        let yaml = config_yaml(&github.url, &app_auth(), extra);
        Harness::build(github, &yaml).await
    }

    /// A personal-token setup (commit statuses instead of check runs).
    pub async fn token() -> Harness {
        let github = FakeGithub::start_with_token("ghp_test_token").await;
        let yaml = config_yaml(&github.url, "    token: ghp_test_token\n", TWO_ENVIRONMENTS);
        Harness::build(github, &yaml).await
    }

    async fn build(github: FakeGithub, yaml: &str) -> Harness {
        let config = Config::from_yaml(yaml, "test config", &|_| None).unwrap();
        let gh = config.forges.github.as_ref().unwrap();
        let metrics = Arc::new(bytegate::telemetry::metrics::Metrics::new());
        let forge = GithubForge::from_config(gh, RetryPolicy::fast())
            .unwrap()
            .observed_by(metrics.clone());
        let db = TestDb::migrated().await.unwrap();
        let clock = Arc::new(ManualClock::default());
        let ctx = FlowContext {
            db: db.pool.clone(),
            config: Arc::new(config),
            forges: ForgeSet::new().with(Arc::new(forge)),
            external_url: Some("https://bytegate.example.com".to_string()),
            guard: bytegate::flow::guard::CommandGuard::new(clock.clone()),
            clock: clock.clone(),
            metrics,
        };
        Harness {
            db,
            github,
            ctx,
            clock,
        }
    }

    /// A restarted process: a new GitHub client from the same config, so
    /// no installation, token or team answer is remembered.
    pub fn restart_forge(&mut self) {
        let gh = self.ctx.config.forges.github.as_ref().unwrap();
        let forge = GithubForge::from_config(gh, RetryPolicy::fast()).unwrap();
        self.ctx.forges = ForgeSet::new().with(Arc::new(forge));
    }

    /// Runs the flow for one event.
    pub async fn handle(&self, event: &Event) -> Result<(), FlowError> {
        flow::handle_event(&self.ctx, event).await
    }

    /// Rows in a meta-database table.
    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&self.db.pool)
                .await
                .unwrap();
        n
    }

    /// Audit actions recorded, in order.
    pub async fn audit_actions(&self) -> Vec<String> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT action FROM audit_log ORDER BY id")
            .fetch_all(&self.db.pool)
            .await
            .unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }
}
