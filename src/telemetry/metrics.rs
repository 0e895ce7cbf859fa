//! Prometheus metrics: one [`Metrics`] per process (held by `AppState` and
//! the flow's context), exposed at `GET /metrics` in the OpenMetrics text
//! format, which Prometheus scrapes natively.
//!
//! Counters and histograms are recorded where things happen (one call per
//! site); the queue depth is read from the jobs table at scrape time, and
//! the target gauges are written by the slow target collector
//! (`deploy::check::collect`). With several replicas each process counts
//! its own work; Prometheus sums them per series.
//!
//! The names are the contract with `deploy/grafana/bytegate.json`
//! (`tests/metrics.rs` checks the dashboard uses only names exposed here).

use crate::review::finding::RiskLevel;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long a scrape waits for the meta database (queue depth).
const SCRAPE_DB_TIMEOUT: Duration = Duration::from_secs(2);

/// `forge`, `event`, `result` of a webhook delivery.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// `github` or `gitlab`.
    pub forge: String,
    /// The forge's event header (`pull_request`, `Merge Request Hook`, ...).
    pub event: String,
    /// What bytegate answered: `queued`, `coalesced`, `ignored`, `duplicate`, ...
    pub result: String,
}

/// Labels naming only a forge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ForgeLabels {
    /// `github` or `gitlab`.
    pub forge: String,
}

/// A forge API exchange.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ForgeCallLabels {
    /// `github` or `gitlab`.
    pub forge: String,
    /// bytegate's operation name (`checks/create`, `notes/create`, ...).
    pub operation: String,
    /// HTTP status, or `error` when no answer came.
    pub status: String,
}

/// A forge operation (retries).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ForgeOpLabels {
    /// `github` or `gitlab`.
    pub forge: String,
    /// bytegate's operation name.
    pub operation: String,
}

/// A job run.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    /// The job's kind (`event`, ...).
    pub kind: String,
    /// `done`, `retry`, `failed` or `lease_lost`.
    pub outcome: String,
}

/// A review's overall risk.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RiskLabels {
    /// `low`, `moderate`, `high`, ...
    pub risk: String,
}

/// A finding's rule.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    /// Rule id (or a custom rule's name).
    pub rule: String,
    /// `error`, `warning` or `info`.
    pub severity: String,
}

/// Labels naming an environment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EnvLabels {
    /// Environment name from config.
    pub environment: String,
}

/// A deployment of one database.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeployLabels {
    /// Environment name from config.
    pub environment: String,
    /// `succeeded`, `failed` or `stopped`.
    pub result: String,
}

/// One configured target database.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
    /// Environment name from config.
    pub environment: String,
    /// Database name from config.
    pub database: String,
}

/// An attempt to deliver a notification.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// The receiver's name from config.
    pub receiver: String,
    /// Its body format (`json`, `slack`; `unknown` once it is no longer configured).
    pub format: String,
    /// `delivered`, `retrying` or `gave_up`.
    pub result: String,
}

/// How a deployment of one database ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployResult {
    /// Every pending migration applied.
    Succeeded,
    /// Refused or failed.
    Failed,
    /// Stopped at a statement boundary (lost lease); another worker goes on.
    Stopped,
}

impl DeployResult {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployResult::Succeeded => "succeeded",
            DeployResult::Failed => "failed",
            DeployResult::Stopped => "stopped",
        }
    }
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every series bytegate exposes.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    webhooks: Family<WebhookLabels, Counter>,
    signature_failures: Family<ForgeLabels, Counter>,
    queue_depth: Gauge,
    meta_db_up: Gauge,
    jobs: HistogramFamily<JobLabels>,
    reviews: Family<RiskLabels, Counter>,
    findings: Family<RuleLabels, Counter>,
    approval_cycle: HistogramFamily<EnvLabels>,
    deployments: Family<DeployLabels, Counter>,
    deployment_duration: HistogramFamily<DeployLabels>,
    forge_calls: Family<ForgeCallLabels, Counter>,
    forge_retries: Family<ForgeOpLabels, Counter>,
    rate_limit_remaining: Family<ForgeLabels, Gauge>,
    target_up: Family<TargetLabels, Gauge>,
    target_tables: Family<TargetLabels, Gauge>,
    target_size: Family<TargetLabels, Gauge>,
    notifications: Family<NotificationLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn job_histogram() -> Histogram {
    // 50 ms … ~100 s.
    Histogram::new(exponential_buckets(0.05, 2.0, 12))
}

fn deploy_histogram() -> Histogram {
    // 100 ms … ~33 min.
    Histogram::new(exponential_buckets(0.1, 3.0, 10))
}

fn approval_histogram() -> Histogram {
    // 5 min … 2 weeks: approvals take people.
    Histogram::new([
        300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 604800.0,
        1209600.0,
    ])
}

impl Metrics {
    /// A fresh registry with every series registered (at zero).
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("bytegate");
        let m = Metrics {
            webhooks: Family::default(),
            signature_failures: Family::default(),
            queue_depth: Gauge::default(),
            meta_db_up: Gauge::default(),
            jobs: Family::new_with_constructor(job_histogram),
            reviews: Family::default(),
            findings: Family::default(),
            approval_cycle: Family::new_with_constructor(approval_histogram),
            deployments: Family::default(),
            deployment_duration: Family::new_with_constructor(deploy_histogram),
            forge_calls: Family::default(),
            forge_retries: Family::default(),
            rate_limit_remaining: Family::default(),
            target_up: Family::default(),
            target_tables: Family::default(),
            target_size: Family::default(),
            notifications: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "webhooks_received",
            "Webhook deliveries by forge, event and what bytegate answered",
            m.webhooks.clone(),
        );
        registry.register(
            "webhook_signature_failures",
            "Deliveries refused for a bad or missing signature or token",
            m.signature_failures.clone(),
        );
        registry.register(
            "jobs_queue_depth",
            "Jobs queued or running in the meta database (read at scrape)",
            m.queue_depth.clone(),
        );
        registry.register(
            "meta_database_up",
            "Whether the meta database answered the last scrape in time",
            m.meta_db_up.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "Time a worker spent running a job, by kind and outcome",
            m.jobs.clone(),
        );
        registry.register(
            "reviews",
            "Completed reviews of a pull request head, by overall risk",
            m.reviews.clone(),
        );
        registry.register(
            "review_findings",
            "Findings reported by reviews, by rule and severity",
            m.findings.clone(),
        );
        registry.register(
            "approval_cycle_seconds",
            "From a change request's first sight (opened) to its environment's approval policy being satisfied",
            m.approval_cycle.clone(),
        );
        registry.register(
            "deployments",
            "Deployments of one database, by environment and result",
            m.deployments.clone(),
        );
        registry.register(
            "deployment_duration_seconds",
            "Duration of a deployment of one database, by environment and result",
            m.deployment_duration.clone(),
        );
        registry.register(
            "forge_api_calls",
            "Forge API exchanges by forge, operation and HTTP status (error: no answer)",
            m.forge_calls.clone(),
        );
        registry.register(
            "forge_retries",
            "Forge API requests sent again after a transient failure or rate limit",
            m.forge_retries.clone(),
        );
        registry.register(
            "forge_rate_limit_remaining",
            "Requests left in the forge's rate-limit window, from its last answer",
            m.rate_limit_remaining.clone(),
        );
        registry.register(
            "target_up",
            "Whether the target database answered the last collection",
            m.target_up.clone(),
        );
        registry.register(
            "target_tables",
            "User tables in the target database (last collection)",
            m.target_tables.clone(),
        );
        registry.register(
            "target_database_size_bytes",
            "Size of the target database in bytes (last collection)",
            m.target_size.clone(),
        );
        registry.register(
            "notification_delivery_attempts",
            "Notification delivery attempts by receiver, format and result (delivered, retrying, gave_up)",
            m.notifications.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The exposition text (OpenMetrics, ending in `# EOF`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would be a bug.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }

    /// A webhook delivery was answered with `result`.
    pub fn webhook(&self, forge: &str, event: &str, result: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                forge: forge.to_string(),
                event: event.to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    /// A delivery failed authentication (its answer is also counted as a
    /// webhook with result `bad_signature`).
    pub fn signature_failure(&self, forge: &str) {
        self.signature_failures
            .get_or_create(&ForgeLabels {
                forge: forge.to_string(),
            })
            .inc();
    }

    /// A worker finished running a job.
    pub fn job(&self, kind: &str, outcome: &str, took: Duration) {
        self.jobs
            .get_or_create(&JobLabels {
                kind: kind.to_string(),
                outcome: outcome.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A pull request head was reviewed: its risk and each finding's rule.
    pub fn review<'a>(
        &self,
        risk: RiskLevel,
        findings: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        self.reviews
            .get_or_create(&RiskLabels {
                risk: risk.as_str().to_string(),
            })
            .inc();
        for (rule, severity) in findings {
            self.findings
                .get_or_create(&RuleLabels {
                    rule: rule.to_string(),
                    severity: severity.to_string(),
                })
                .inc();
        }
    }

    /// An environment's approval policy became satisfied `took` after the change was opened.
    pub fn approval_satisfied(&self, environment: &str, took: Duration) {
        self.approval_cycle
            .get_or_create(&EnvLabels {
                environment: environment.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// A deployment of one database ended.
    pub fn deployment(&self, environment: &str, result: DeployResult, took: Duration) {
        let labels = DeployLabels {
            environment: environment.to_string(),
            result: result.as_str().to_string(),
        };
        self.deployments.get_or_create(&labels).inc();
        self.deployment_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// One forge exchange: its status (`None`: no answer) and, from its
    /// headers, the rate limit left (GitHub's `x-ratelimit-remaining`,
    /// GitLab's `RateLimit-Remaining`).
    pub fn forge_call(
        &self,
        forge: &str,
        operation: &str,
        status: Option<u16>,
        headers: Option<&http::HeaderMap>,
    ) {
        self.forge_calls
            .get_or_create(&ForgeCallLabels {
                forge: forge.to_string(),
                operation: operation.to_string(),
                status: status.map_or_else(|| "error".to_string(), |s| s.to_string()),
            })
            .inc();
        if let Some(remaining) = headers.and_then(rate_limit_remaining) {
            self.rate_limit_remaining
                .get_or_create(&ForgeLabels {
                    forge: forge.to_string(),
                })
                .set(remaining);
        }
    }

    /// A forge request is sent again.
    pub fn forge_retry(&self, forge: &str, operation: &str) {
        self.forge_retries
            .get_or_create(&ForgeOpLabels {
                forge: forge.to_ascii_lowercase(),
                operation: operation.to_string(),
            })
            .inc();
    }

    /// One attempt to deliver a notification to `receiver` ended as `result`.
    pub fn notification(&self, receiver: &str, format: &str, result: &str) {
        self.notifications
            .get_or_create(&NotificationLabels {
                receiver: receiver.to_string(),
                format: format.to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    /// The last collection of a target's gauges: `None` when it was unreachable.
    pub fn target(&self, environment: &str, database: &str, stats: Option<(i64, i64)>) {
        let labels = TargetLabels {
            environment: environment.to_string(),
            database: database.to_string(),
        };
        self.target_up
            .get_or_create(&labels)
            .set(i64::from(stats.is_some()));
        if let Some((tables, bytes)) = stats {
            self.target_tables.get_or_create(&labels).set(tables);
            self.target_size.get_or_create(&labels).set(bytes);
        }
    }

    /// Reads the gauges kept in the meta database (queue depth), waiting at
    /// most [`SCRAPE_DB_TIMEOUT`]; on failure `meta_database_up` turns 0 and
    /// the depth keeps its last value.
    pub async fn refresh(&self, db: &sqlx::PgPool) {
        match tokio::time::timeout(SCRAPE_DB_TIMEOUT, crate::store::queue_depth(db)).await {
            Ok(Ok(depth)) => {
                self.queue_depth.set(depth);
                self.meta_db_up.set(1);
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: queue depth unavailable");
                self.meta_db_up.set(0);
            }
            Err(_) => {
                tracing::warn!("metrics: queue depth timed out");
                self.meta_db_up.set(0);
            }
        }
    }
}

/// The rate-limit header of a forge answer: GitHub's `x-ratelimit-remaining`
/// or GitLab's `RateLimit-Remaining` (header names are case-insensitive).
pub fn rate_limit_remaining(headers: &http::HeaderMap) -> Option<i64> {
    ["x-ratelimit-remaining", "ratelimit-remaining"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_of_both_forges_are_read() {
        let mut h = http::HeaderMap::new();
        assert_eq!(rate_limit_remaining(&h), None);
        h.insert("RateLimit-Remaining", http::HeaderValue::from_static("17"));
        assert_eq!(rate_limit_remaining(&h), Some(17));
        h.insert(
            "x-ratelimit-remaining",
            http::HeaderValue::from_static("4999"),
        );
        assert_eq!(rate_limit_remaining(&h), Some(4999));
        h.insert("x-ratelimit-remaining", http::HeaderValue::from_static("x"));
        assert_eq!(rate_limit_remaining(&h), None);
    }

    #[test]
    fn counters_appear_with_their_labels() {
        let m = Metrics::new();
        m.webhook("github", "pull_request", "queued");
        m.deployment(
            "staging",
            DeployResult::Succeeded,
            Duration::from_millis(250),
        );
        let text = m.encode();
        assert!(
            text.contains(
                r#"bytegate_webhooks_received_total{forge="github",event="pull_request",result="queued"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"bytegate_deployment_duration_seconds_count{environment="staging",result="succeeded"} 1"#
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
