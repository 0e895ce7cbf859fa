//! "Test Connection": every configured target database is connected to and
//! asked for its version, whether the connection is encrypted, whether the
//! history table and the deploy lock are usable, and its size, without
//! changing anything (the advisory lock is taken and released at once).
//!
//! Each engine answers through [`super::Target::check`]; this module runs
//! the checks of a config (concurrently, each under a timeout), shapes the
//! result for `bytegate targets check` and `GET /api/v1/targets`
//! ([`check_targets`]), and feeds the per-target gauges of `/metrics` on a
//! slow schedule ([`run_collector`]).

use super::{DeployError, target_for};
use crate::clock::Clock;
use crate::config::{Config, Database, Engine, Environment};
use crate::telemetry::metrics::Metrics;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// How long one target's check may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What an engine's check found on a reachable database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Probe {
    /// The server's version string (`15.20 (Debian …)`).
    pub server_version: String,
    /// Whether this connection is encrypted (TLS).
    pub tls: bool,
    /// The history table's state.
    pub history: HistoryState,
    /// The deploy lock's state.
    pub lock: LockState,
    /// User tables (outside the system schemas and bytegate's own).
    pub tables: i64,
    /// The database's size in bytes.
    pub size_bytes: i64,
}

/// Whether deploys can record their history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HistoryState {
    /// The table exists; `writable` says whether this user may record in it.
    Present {
        /// Rows in it.
        rows: i64,
        /// INSERT and UPDATE granted.
        writable: bool,
    },
    /// Not created yet (the first deploy creates it); `creatable` says
    /// whether this user may.
    Absent {
        /// CREATE on the database (or on an existing `bytegate` schema).
        creatable: bool,
    },
}

impl HistoryState {
    /// Whether a deploy can use (or create) the table.
    pub fn usable(self) -> bool {
        matches!(
            self,
            HistoryState::Present { writable: true, .. } | HistoryState::Absent { creatable: true }
        )
    }

    /// The state in a few words (the CLI's table, the dashboard).
    pub fn describe(self) -> String {
        match self {
            HistoryState::Present {
                rows,
                writable: true,
            } => format!("ok ({rows} rows)"),
            HistoryState::Present {
                writable: false, ..
            } => "read-only".to_string(),
            HistoryState::Absent { creatable: true } => "absent (creatable)".to_string(),
            HistoryState::Absent { creatable: false } => "absent, cannot create".to_string(),
        }
    }
}

/// The deploy lock, as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LockState {
    /// Taken and released at once: deploys can take it.
    Free,
    /// Held by a running deploy right now (usable, but busy).
    Held,
}

impl LockState {
    /// `free` or `held`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockState::Free => "free",
            LockState::Held => "held",
        }
    }
}

/// A target's verdict, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Reachable, history table and lock usable.
    Ok,
    /// Reachable, but something a deploy needs is not usable.
    Failed,
    /// No connection (refused, timed out, TLS or authentication failed).
    Unreachable,
    /// Its engine has no check yet.
    Unsupported,
}

impl CheckStatus {
    fn label(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Failed => "FAILED",
            CheckStatus::Unreachable => "UNREACHABLE",
            CheckStatus::Unsupported => "UNSUPPORTED",
        }
    }
}

/// One target's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TargetStatus {
    /// Environment name.
    pub environment: String,
    /// Database name.
    pub database: String,
    /// Engine.
    pub engine: Engine,
    /// The verdict.
    pub status: CheckStatus,
    /// Connected, and the history table and the lock are usable.
    pub ok: bool,
    /// A connection was made.
    pub reachable: bool,
    /// What the check found (absent when it did not get that far).
    #[serde(flatten)]
    #[schema(schema_with = probe_fields)]
    pub probe: Option<Probe>,
    /// How long the check took, in milliseconds.
    pub elapsed_ms: u64,
    /// Why it is not ok.
    pub error: Option<String>,
}

/// The flattened [`Probe`] of a [`TargetStatus`]: its properties, none
/// required (they are all there when the target was reached, none otherwise).
fn probe_fields() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::PartialSchema;
    use utoipa::openapi::{RefOr, schema::Schema};
    let mut schema = Probe::schema();
    if let RefOr::T(Schema::Object(object)) = &mut schema {
        object.required.clear();
        object.description = Some(
            "What the check found: all there when the target was reached, none otherwise.".into(),
        );
    }
    schema
}

/// Every checked target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TargetsReport {
    /// Every target is ok.
    pub ok: bool,
    /// In config order.
    pub targets: Vec<TargetStatus>,
}

/// Why no check ran.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The named environment is not configured.
    #[error("there is no environment `{0}`")]
    UnknownEnvironment(String),
}

/// Checks every database of `environment` (all environments when `None`),
/// concurrently, each under `timeout`. The result of
/// `bytegate targets check` and of `GET /api/v1/targets`.
pub async fn check_targets(
    config: &Config,
    environment: Option<&str>,
    timeout: Duration,
) -> Result<TargetsReport, CheckError> {
    let envs: Vec<&Environment> = match environment {
        Some(name) => vec![
            config
                .environment(name)
                .ok_or_else(|| CheckError::UnknownEnvironment(name.to_string()))?,
        ],
        None => config.environments.iter().collect(),
    };
    let checks = envs.iter().flat_map(|env| {
        env.databases
            .iter()
            .map(move |db| check_one(env, db, timeout))
    });
    let targets = futures::future::join_all(checks).await;
    Ok(TargetsReport {
        ok: targets.iter().all(|t| t.ok),
        targets,
    })
}

async fn check_one(env: &Environment, db: &Database, timeout: Duration) -> TargetStatus {
    let started = Instant::now();
    let outcome = match target_for(db) {
        Ok(target) => match tokio::time::timeout(timeout, target.check()).await {
            Ok(result) => result,
            Err(_) => Err(DeployError::Connect {
                target: db.name.clone(),
                message: format!("no answer within {}s", timeout.as_secs_f64()),
            }),
        },
        Err(e) => Err(e),
    };
    let (status, probe, error) = match outcome {
        Ok(p) if p.history.usable() => (CheckStatus::Ok, Some(p), None),
        Ok(p) => {
            let error = format!("history table {}", p.history.describe());
            (CheckStatus::Failed, Some(p), Some(error))
        }
        Err(e @ DeployError::Connect { .. }) => {
            (CheckStatus::Unreachable, None, Some(e.to_string()))
        }
        Err(e @ DeployError::Unsupported { .. }) => {
            (CheckStatus::Unsupported, None, Some(e.to_string()))
        }
        Err(e) => (CheckStatus::Failed, None, Some(e.to_string())),
    };
    TargetStatus {
        environment: env.name.clone(),
        database: db.name.clone(),
        engine: db.engine,
        status,
        ok: status == CheckStatus::Ok,
        reachable: matches!(status, CheckStatus::Ok | CheckStatus::Failed),
        probe,
        elapsed_ms: started.elapsed().as_millis() as u64,
        error,
    }
}

/// The human table of `bytegate targets check`, then one line per error.
pub fn render_table(report: &TargetsReport) -> String {
    let header = [
        "ENVIRONMENT",
        "DATABASE",
        "ENGINE",
        "STATUS",
        "VERSION",
        "TLS",
        "HISTORY",
        "LOCK",
        "TABLES",
        "SIZE",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for t in &report.targets {
        let p = t.probe.as_ref();
        let dash = || "-".to_string();
        rows.push(vec![
            t.environment.clone(),
            t.database.clone(),
            format!("{:?}", t.engine).to_lowercase(),
            t.status.label().to_string(),
            p.map_or_else(dash, |p| short_version(&p.server_version)),
            p.map_or_else(dash, |p| if p.tls { "yes" } else { "no" }.to_string()),
            p.map_or_else(dash, |p| p.history.describe()),
            p.map_or_else(dash, |p| p.lock.as_str().to_string()),
            p.map_or_else(dash, |p| p.tables.to_string()),
            p.map_or_else(dash, |p| human_bytes(p.size_bytes)),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    for t in &report.targets {
        if let Some(e) = &t.error {
            out.push_str(&format!("{}/{}: {e}\n", t.environment, t.database));
        }
    }
    out
}

/// The version number, without the build description.
fn short_version(v: &str) -> String {
    v.split_whitespace().next().unwrap_or(v).to_string()
}

fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Checks every target and writes the per-target gauges
/// (`bytegate_target_up`, `_tables`, `_database_size_bytes`).
pub async fn collect(config: &Config, metrics: &Metrics, timeout: Duration) -> TargetsReport {
    let report = match check_targets(config, None, timeout).await {
        Ok(r) => r,
        // Only a named environment can be unknown.
        Err(_) => TargetsReport {
            ok: true,
            targets: Vec::new(),
        },
    };
    for t in &report.targets {
        let stats = t.probe.as_ref().map(|p| (p.tables, p.size_bytes));
        metrics.target(&t.environment, &t.database, stats);
    }
    report
}

/// When the next collection is due, by the injected clock.
#[derive(Debug, Clone)]
pub struct Schedule {
    every: Duration,
    next: Option<DateTime<Utc>>,
}

impl Schedule {
    /// Every `every`, the first one at once.
    pub fn every(every: Duration) -> Schedule {
        Schedule { every, next: None }
    }

    /// True (and the next one scheduled) when a collection is due at `now`.
    pub fn due(&mut self, now: DateTime<Utc>) -> bool {
        if self.next.is_some_and(|next| now < next) {
            return false;
        }
        let every = chrono::Duration::from_std(self.every).unwrap_or(chrono::Duration::MAX);
        self.next = Some(
            now.checked_add_signed(every)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        );
        true
    }
}

/// Starts [`run_collector`] per `server.target_stats_interval` (none when it
/// is zero or there are no targets), looking at the clock every few seconds.
pub fn spawn_collector(
    config: &Arc<Config>,
    metrics: &Arc<Metrics>,
    clock: &Arc<dyn Clock>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let every = config.server.target_stats_interval.0;
    let any = config.environments.iter().any(|e| !e.databases.is_empty());
    (!every.is_zero() && any).then(|| {
        tokio::spawn(run_collector(
            config.clone(),
            metrics.clone(),
            clock.clone(),
            Schedule::every(every),
            COLLECTOR_TICK.min(every),
            stopped,
        ))
    })
}

/// How often the collector looks at the clock.
const COLLECTOR_TICK: Duration = Duration::from_secs(5);

/// Collects the target gauges whenever `schedule` says so by `clock`,
/// looking every `tick`, until `stopped` turns true.
pub async fn run_collector(
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    mut schedule: Schedule,
    tick: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stopped.borrow() {
            return;
        }
        if schedule.due(clock.now()) {
            let report = collect(&config, &metrics, DEFAULT_TIMEOUT).await;
            let down = report.targets.iter().filter(|t| !t.reachable).count();
            if down > 0 {
                tracing::warn!(down, "target collection: some databases are unreachable");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stopped.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn the_schedule_follows_the_clock() {
        let clock = ManualClock::default();
        let mut s = Schedule::every(Duration::from_secs(300));
        assert!(s.due(clock.now()), "the first collection is at once");
        assert!(!s.due(clock.now()));
        clock.advance(Duration::from_secs(299));
        assert!(!s.due(clock.now()));
        clock.advance(Duration::from_secs(1));
        assert!(s.due(clock.now()));
        assert!(!s.due(clock.now()));
    }

    #[test]
    fn the_table_aligns_and_lists_errors() {
        let ok = TargetStatus {
            environment: "staging".into(),
            database: "main".into(),
            engine: Engine::Postgres,
            status: CheckStatus::Ok,
            ok: true,
            reachable: true,
            probe: Some(Probe {
                server_version: "15.20 (Debian 15.20-0+deb12u1)".into(),
                tls: true,
                history: HistoryState::Present {
                    rows: 3,
                    writable: true,
                },
                lock: LockState::Free,
                tables: 4,
                size_bytes: 8 * 1024 * 1024,
            }),
            elapsed_ms: 12,
            error: None,
        };
        let down = TargetStatus {
            environment: "production".into(),
            database: "main".into(),
            status: CheckStatus::Unreachable,
            ok: false,
            reachable: false,
            probe: None,
            error: Some("cannot connect".into()),
            ..ok.clone()
        };
        let table = render_table(&TargetsReport {
            ok: false,
            targets: vec![ok, down],
        });
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("ENVIRONMENT  DATABASE"), "{table}");
        assert!(
            lines[1].contains("ok") && lines[1].contains("15.20 ") && lines[1].contains("8.0 MB"),
            "{table}"
        );
        assert!(lines[2].contains("UNREACHABLE"), "{table}");
        assert_eq!(lines[3], "production/main: cannot connect");
    }
}
