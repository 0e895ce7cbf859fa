//! `bytegate.yaml`: typed configuration, `${ENV_VAR}` expansion and validation.
//!
//! Loading happens in three steps (see [`load`]): YAML text → a YAML value
//! with every string's `${VAR}` expanded → typed structs (unknown keys are
//! rejected) → cross-field validation. Every error names the key path.

mod dashboard;
mod duration;
mod load;
mod notifications;
mod secret;
mod suffixes;
mod validate;
mod window;

pub use dashboard::DashboardSettings;
pub use duration::HumanDuration;
pub use load::ConfigError;
pub use notifications::{NoticeKind, NotificationFormat, NotificationWebhook, Notifications};
pub use secret::Secret;
pub use suffixes::{FileKind, MigrationSuffixes, SuffixTarget};
pub use window::{DeployWindow, Weekday};

use crate::review::settings::{ReviewSettings, RiskSettings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Project identity and repository layout.
    pub project: Project,
    /// Service tuning (workers, limits).
    #[serde(default)]
    pub server: ServerSettings,
    /// GitHub and/or GitLab connection settings.
    #[serde(default)]
    pub forges: Forges,
    /// Named roles (e.g. `dba`, `owner`): the users and teams that hold them.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Environments in rollout order.
    #[serde(default)]
    pub environments: Vec<Environment>,
    /// Review rule severities and custom rules.
    #[serde(default)]
    pub review: ReviewSettings,
    /// Risk classification settings.
    #[serde(default)]
    pub risk: RiskSettings,
    /// Outgoing notifications.
    #[serde(default)]
    pub notifications: Notifications,
    /// Where logical backups go.
    #[serde(default)]
    pub backups: BackupStorage,
    /// The REST API and its probes.
    #[serde(default)]
    pub api: ApiSettings,
    /// The dry run with a lock report (`/bytebase plan`, or every push).
    #[serde(default)]
    pub dry_run: Option<DryRunSettings>,
    /// The web dashboard's sign-in (session lifetime, Secure cookies).
    #[serde(default)]
    pub dashboard: DashboardSettings,
}

/// `dry_run:`: where the PR's migrations are tried before merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRunSettings {
    /// The environment whose database's schema is copied.
    pub environment: String,
    /// Its database (default: its first PostgreSQL database).
    #[serde(default)]
    pub database: Option<String>,
    /// A database on a scratch PostgreSQL server whose role may `CREATE
    /// DATABASE`: each dry run makes (and drops) a database there. Never the
    /// target's own server in production.
    pub scratch_url: Secret,
    /// Also on every push (otherwise only on `/bytebase plan`).
    #[serde(default)]
    pub on_push: bool,
}

impl Config {
    /// Reads, expands (`${VAR}` from the process environment) and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        load::load_file(path, &|name| std::env::var(name).ok())
    }

    /// Parses config text; `lookup` resolves `${VAR}` references. `origin` names the
    /// source in error messages.
    pub fn from_yaml(
        text: &str,
        origin: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        load::load_str(text, origin, lookup)
    }

    /// The environment with this name.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }
}

/// `project:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Short key, used in audit records (e.g. `SHOP`).
    pub key: String,
    /// Human name.
    pub name: String,
    /// Folder of the migrations in the repository.
    #[serde(default = "default_migrations_dir")]
    pub migrations_dir: String,
    /// Which files are migrations, by suffix, and in which dialect
    /// (`.sql.postgres: postgres`, `.sql.sqlite: ignore`); `.sql` always is.
    #[serde(default, skip_serializing_if = "suffixes_empty")]
    pub migration_suffixes: MigrationSuffixes,
    /// Prefix of comment commands.
    #[serde(default = "default_command_prefix")]
    pub command_prefix: String,
}

fn suffixes_empty(s: &MigrationSuffixes) -> bool {
    s.0.is_empty()
}

fn default_migrations_dir() -> String {
    "schema/migrations".to_string()
}

fn default_command_prefix() -> String {
    "/bytebase".to_string()
}

/// `server:`: how the service runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Job workers in this process; 0 makes a web-only replica that stores
    /// deliveries for other replicas' workers.
    pub workers: usize,
    /// Largest accepted webhook body (GitHub payloads never exceed 25 MB).
    pub max_body_bytes: usize,
    /// Attempts before a job is marked failed.
    pub job_max_attempts: i32,
    /// How long a claimed job stays leased before another worker may take it.
    pub job_lease: HumanDuration,
    /// How long a client may take to send a request's headers; a client that
    /// stalls longer is disconnected.
    pub header_read_timeout: HumanDuration,
    /// How long a client may take to send a request's body; a client that
    /// stalls longer gets 408 and is disconnected.
    pub body_read_timeout: HumanDuration,
    /// Open connections served at once; past it a new connection is answered
    /// 503 with Retry-After and closed (keep it under the open-file limit).
    pub max_connections: usize,
    /// Webhook body bytes held in memory at once across all connections,
    /// before the signature check; a delivery past it is answered 503 with
    /// Retry-After instead of waiting.
    pub body_budget_bytes: usize,
    /// Authenticated webhook deliveries being parsed and stored at once;
    /// past it a delivery is answered 503 with Retry-After at once instead of
    /// queueing for the database (the forge redelivers it later).
    pub max_in_flight: usize,
    /// How often `serve` checks every target database for the per-target
    /// gauges of `/metrics` (up, tables, size); `0s` turns it off.
    pub target_stats_interval: HumanDuration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            workers: 2,
            max_body_bytes: 25 * 1024 * 1024,
            job_max_attempts: 5,
            job_lease: HumanDuration::from_secs(300),
            header_read_timeout: HumanDuration::from_secs(10),
            body_read_timeout: HumanDuration::from_secs(30),
            max_connections: 1024,
            body_budget_bytes: 64 * 1024 * 1024,
            max_in_flight: 32,
            target_stats_interval: HumanDuration::from_secs(300),
        }
    }
}

/// `forges:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forges {
    /// GitHub.com or GitHub Enterprise Server.
    #[serde(default)]
    pub github: Option<GithubForge>,
    /// GitLab.com or self-managed GitLab.
    #[serde(default)]
    pub gitlab: Option<GitlabForge>,
}

/// `forges.github:`. Authenticate as a GitHub App (`app_id` + private key; check
/// runs need an App) or with a `token` (commit statuses instead of check runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubForge {
    /// REST API base: `https://api.github.com`, or `https://HOST/api/v3` for GHES.
    #[serde(default = "default_github_api")]
    pub api_url: String,
    /// Secret of the webhook (HMAC-SHA256 of each delivery).
    pub webhook_secret: Secret,
    /// GitHub App id.
    #[serde(default)]
    pub app_id: Option<u64>,
    /// GitHub App private key (PEM text).
    #[serde(default)]
    pub private_key: Option<Secret>,
    /// GitHub App private key file (PEM).
    #[serde(default)]
    pub private_key_path: Option<String>,
    /// Personal or fine-grained access token (instead of an App).
    #[serde(default)]
    pub token: Option<Secret>,
}

fn default_github_api() -> String {
    "https://api.github.com".to_string()
}

/// `forges.gitlab:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabForge {
    /// GitLab base URL (`https://gitlab.com` or self-managed).
    #[serde(default = "default_gitlab_url")]
    pub url: String,
    /// The `X-Gitlab-Token` every webhook must carry.
    pub webhook_token: Secret,
    /// API token (project or personal access token, `api` scope).
    #[serde(default)]
    pub token: Option<Secret>,
    /// Also open a diff discussion on each offending line (resolved when the
    /// finding disappears on a later push). Off: findings are in the note only.
    #[serde(default)]
    pub line_discussions: bool,
}

fn default_gitlab_url() -> String {
    "https://gitlab.com".to_string()
}

/// `roles.NAME:`: who holds the role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Role {
    /// Forge user logins.
    pub users: Vec<String>,
    /// Teams (`org/team-slug` on GitHub, group paths on GitLab).
    pub teams: Vec<String>,
}

/// One environment of the rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Unique name (`development`, `staging`, `production`).
    pub name: String,
    /// Approvals required before deploying here.
    #[serde(default)]
    pub approvals: u32,
    /// Roles that must each be present among the approvers.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether users with write permission on the repository count as approvers
    /// (otherwise only users holding a configured role count).
    #[serde(default)]
    pub allow_write_permission: bool,
    /// Approvals older than the last migration change stop counting.
    #[serde(default = "yes")]
    pub stale_reset: bool,
    /// Extra approvals required when the change is high risk.
    #[serde(default)]
    pub high_risk_extra_approvals: u32,
    /// Whether the approval check requires this environment before merge.
    #[serde(default = "yes")]
    pub required_before_merge: bool,
    /// When deploys may run; absent means always.
    #[serde(default)]
    pub deploy_window: Option<DeployWindow>,
    /// Backups taken before deploys.
    #[serde(default)]
    pub backup: Backup,
    /// `lock_timeout` set for every migration transaction.
    #[serde(default)]
    pub lock_timeout: Option<HumanDuration>,
    /// `statement_timeout` set for every migration transaction.
    #[serde(default)]
    pub statement_timeout: Option<HumanDuration>,
    /// Apply a pending migration whose version is lower than the latest
    /// applied one instead of refusing the deploy.
    #[serde(default)]
    pub allow_out_of_order: bool,
    /// Target databases.
    #[serde(default)]
    pub databases: Vec<Database>,
}

fn yes() -> bool {
    true
}

/// `environments[].backup:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    /// Whether this environment's databases are backed up: scheduled logical
    /// backups (`pg_dump`) and, before each `UPDATE`/`DELETE`, a copy of the
    /// rows it touches into `bytegate_backup` on the target (same transaction).
    pub enabled: bool,
    /// Days a backup is kept.
    pub retention_days: u32,
    /// How often a logical backup (`pg_dump`) of each database is taken:
    /// `daily`, `weekly`, `hourly`, a duration such as `12h`, or `off`.
    pub schedule: BackupSchedule,
    /// Most rows one statement's backup may hold; a statement touching more
    /// is not backed up (then `when_impossible` decides).
    pub max_rows: u64,
    /// What happens to a statement that cannot be backed up.
    pub when_impossible: WhenImpossible,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            enabled: true,
            retention_days: 7,
            schedule: BackupSchedule::DAILY,
            max_rows: 100_000,
            when_impossible: WhenImpossible::Proceed,
        }
    }
}

/// How often scheduled backups run; `None` inside: never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSchedule(pub Option<std::time::Duration>);

impl BackupSchedule {
    /// Once a day (the seed's default).
    pub const DAILY: BackupSchedule = BackupSchedule(Some(std::time::Duration::from_secs(86_400)));
}

impl std::str::FromStr for BackupSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let d = match s.trim() {
            "off" | "never" => return Ok(BackupSchedule(None)),
            "hourly" => 3_600,
            "daily" => 86_400,
            "weekly" => 7 * 86_400,
            other => {
                let d = other
                    .parse::<HumanDuration>()
                    .map_err(|e| format!("{e}; or one of daily, weekly, hourly, off"))?;
                if d.0 < std::time::Duration::from_secs(60) {
                    return Err(format!("`{other}` is too often for backups (at least 1m)"));
                }
                return Ok(BackupSchedule(Some(d.0)));
            }
        };
        Ok(BackupSchedule(Some(std::time::Duration::from_secs(d))))
    }
}

impl Serialize for BackupSchedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_str("off"),
            Some(d) => s.serialize_str(&HumanDuration(d).to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for BackupSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `backups:`: where logical backups are written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupStorage {
    /// Folder for dump files; unset: `backups/` under the data directory
    /// (`BYTEBASE_DATA_DIR`).
    pub dir: Option<String>,
    /// A command run after each backup with the file's path as its one
    /// argument (off-machine copies: `aws s3 cp`, `rclone`, ...). Its
    /// failure is logged and recorded; the backup is kept.
    pub hook: Option<String>,
}

/// What a deploy does with an `UPDATE`/`DELETE` it cannot back up (no
/// `WHERE`, not a plain single-table statement, over `max_rows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhenImpossible {
    /// The migration fails (nothing of it is applied).
    Refuse,
    /// It runs without a backup (the deploy comment says so; no rollback for it).
    Proceed,
}

/// A database engine bytegate can deploy to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

/// `environments[].databases[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Name shown in reports.
    pub name: String,
    /// Engine.
    pub engine: Engine,
    /// Connection URL (a secret: never logged).
    pub url: Secret,
}

/// `api:`: the REST API (`/api/v1`, bearer tokens from `bytegate token`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// `/health`, `/readyz` and `/metrics` answer without a token (probes and
    /// scrapers usually carry none); `false` requires a read token there too.
    pub open_probes: bool,
    /// How long `GET /api/v1/targets` waits for each target's check (they
    /// run concurrently, so this bounds the whole request).
    pub targets_timeout: HumanDuration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            open_probes: true,
            targets_timeout: HumanDuration::from_secs(5),
        }
    }
}
