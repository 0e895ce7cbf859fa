//! The command line: `serve`, `review`, `config check`, `migrate`, `audit`,
//! `repair`, `backup`, `health`, `targets check`, `token`.

mod audit;
mod backup;
mod git_change;
mod health;
mod migrations;
mod repair;
pub mod review;
mod review_error;
mod review_inputs;
mod targets;
mod token;

use crate::config::Config;
use crate::server::AppState;
use crate::store::embedded::EmbeddedPostgres;
use crate::telemetry::{self, LogFormat};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// How often `serve` looks for backups due and expired ones.
const BACKUP_TICK: std::time::Duration = std::time::Duration::from_secs(300);

/// Exit status when the command could not do its job (bad arguments, config, I/O).
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "bytegate",
    version,
    about = "Database CI/CD in pull requests: SQL review, approvals and deploys",
    long_about = "bytegate reviews pull requests (GitHub) and merge requests (GitLab) that change \
                  schema migrations, counts approvals against each environment's policy, and on \
                  merge applies the change environment by environment, keeping an audit trail.\n\n\
                  Start with `bytegate serve --config bytegate.yaml`; check a config with \
                  `bytegate config check bytegate.yaml`; lint migrations locally with \
                  `bytegate review schema/migrations`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the webhook service (HTTP server + job workers).
    Serve(ServeArgs),
    /// Review migration files and print findings and risk (exit 1 on errors).
    Review(review::ReviewArgs),
    /// Inspect configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Apply the meta-database schema and exit.
    Migrate(MetaDbArgs),
    /// Verify or export the audit trail.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Decide about migrations that reached a branch without a pull request.
    Migrations {
        #[command(subcommand)]
        command: migrations::MigrationsCommand,
    },
    /// Record an operator's decision about a dirty target database (a
    /// non-transactional migration that did not run to its end), so deploys
    /// to it proceed again.
    Repair(repair::RepairArgs),
    /// Logical backups of the target databases: create, list, restore, clean.
    Backup {
        #[command(subcommand)]
        command: backup::BackupCommand,
    },
    /// Check the configured target databases ("Test Connection").
    Targets {
        #[command(subcommand)]
        command: targets::TargetsCommand,
    },
    /// Probe a running `bytegate serve` (exit 0 when `/health` answers 200):
    /// the container HEALTHCHECK.
    Health(health::HealthArgs),
    /// API tokens for the REST API and the dashboard: create, list, revoke.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate a bytegate.yaml (exit 2 and name the key when it is wrong).
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

/// Where the meta database is.
#[derive(Args, Debug, Clone)]
struct MetaDbArgs {
    /// PostgreSQL URL of the meta database. Unset: an embedded PostgreSQL is
    /// started under the data directory with this machine's PostgreSQL binaries.
    #[arg(long, env = "PG_URL", hide_env_values = true)]
    pg_url: Option<String>,
    /// Data directory (embedded meta database, backups).
    #[arg(long, env = "BYTEBASE_DATA_DIR", default_value = "./bytegate-data")]
    data_dir: PathBuf,
    /// Verbose (debug) logs. BB_DEBUG takes the usual spellings: 1/0,
    /// yes/no, on/off, true/false.
    #[arg(
        long,
        env = "BB_DEBUG",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    debug: bool,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Configuration file.
    #[arg(long, short, env = "BB_CONFIG", default_value = "bytegate.yaml")]
    config: PathBuf,
    /// Port to listen on.
    #[arg(long, env = "BB_PORT", default_value_t = 5678)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: String,
    /// The URL people and forges reach bytegate at (links in comments and checks).
    #[arg(long, env = "BB_EXTERNAL_URL")]
    external_url: Option<String>,
    #[command(flatten)]
    meta: MetaDbArgs,
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Review(args) => review::run(&args),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => config_check(&file),
        Command::Serve(args) => block_on(serve(args)),
        Command::Migrate(args) => block_on(migrate(args)),
        Command::Audit { command } => audit::run(command),
        Command::Migrations { command } => migrations::run(command),
        Command::Repair(args) => block_on(repair::run(args)),
        Command::Backup { command } => block_on(backup::run(command)),
        Command::Health(args) => health::run(&args),
        Command::Targets { command } => targets::run(command),
        Command::Token { command } => block_on(token::run(command)),
    }
}

/// Runs a command's future on a fresh runtime: exit 0, or 2 with its message.
pub(super) fn block_on(f: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    block_on_code(async { f.await.map(|()| ExitCode::SUCCESS) })
}

/// Runs a command's future on a fresh runtime: its exit code, or 2 with its message.
pub(super) fn block_on_code(
    f: impl std::future::Future<Output = Result<ExitCode, String>>,
) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bytegate: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match rt.block_on(f) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("bytegate: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn config_check(file: &Path) -> ExitCode {
    match Config::load(file) {
        Ok(c) => {
            let envs: Vec<&str> = c.environments.iter().map(|e| e.name.as_str()).collect();
            println!(
                "{}: ok (project {}, environments: {}, roles: {}, custom rules: {})",
                file.display(),
                c.project.key,
                if envs.is_empty() {
                    "none".to_string()
                } else {
                    envs.join(" → ")
                },
                c.roles.len(),
                c.review.custom.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The meta database for this run: the given URL, or an embedded cluster.
async fn meta_database(args: &MetaDbArgs) -> Result<(String, Option<EmbeddedPostgres>), String> {
    match &args.pg_url {
        Some(url) if !url.is_empty() => {
            tracing::info!(database = %crate::store::redact_url(url), "using the meta database from PG_URL");
            Ok((url.clone(), None))
        }
        _ => {
            let pg = EmbeddedPostgres::start(&args.data_dir)
                .await
                .map_err(|e| e.to_string())?;
            Ok((pg.url(), Some(pg)))
        }
    }
}

/// Runs `f` on a pool of the meta database (the embedded one is started
/// and stopped around it); `migrate` first applies the schema.
async fn with_meta_db<T, F, Fut>(args: &MetaDbArgs, migrate: bool, f: F) -> Result<T, String>
where
    F: FnOnce(sqlx::PgPool) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let (url, embedded) = meta_database(args).await?;
    let result = async {
        let pool = crate::store::connect(&url)
            .await
            .map_err(|e| e.to_string())?;
        if migrate {
            crate::store::migrate(&pool)
                .await
                .map_err(|e| e.to_string())?;
        }
        let r = f(pool.clone()).await;
        pool.close().await;
        r
    }
    .await;
    if let Some(pg) = embedded
        && let Err(e) = pg.stop().await
    {
        tracing::warn!(error = %e, "stopping the embedded PostgreSQL failed");
    }
    result
}

/// The environment and database a command names; the database may be left
/// out when the environment has exactly one.
fn database_of<'c>(
    config: &'c Config,
    file: &Path,
    environment: &str,
    database: Option<&str>,
) -> Result<(&'c crate::config::Environment, &'c crate::config::Database), String> {
    let env = config.environment(environment).ok_or_else(|| {
        format!(
            "there is no environment `{environment}` in {}",
            file.display()
        )
    })?;
    let db = match (database, env.databases.as_slice()) {
        (Some(name), dbs) => dbs
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| format!("environment `{environment}` has no database `{name}`"))?,
        (None, [only]) => only,
        (None, dbs) => {
            let names: Vec<&str> = dbs.iter().map(|d| d.name.as_str()).collect();
            return Err(format!(
                "environment `{environment}` has {} databases ({}): name one",
                dbs.len(),
                names.join(", ")
            ));
        }
    };
    Ok((env, db))
}

async fn migrate(args: MetaDbArgs) -> Result<(), String> {
    telemetry::init(args.log_format, args.debug);
    with_meta_db(&args, true, |_| async { Ok(()) }).await?;
    println!("meta database schema is up to date");
    Ok(())
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    telemetry::init(args.meta.log_format, args.meta.debug);
    let config = Config::load(&args.config).map_err(|e| e.to_string())?;
    if let Some(gh) = &config.forges.github
        && gh.webhook_secret.expose().is_empty()
    {
        tracing::warn!("forges.github.webhook_secret is empty: GitHub deliveries will be refused");
    }
    let (url, embedded) = meta_database(&args.meta).await?;
    let result = run_server(&args, config, &url).await;
    if let Some(pg) = embedded
        && let Err(e) = pg.stop().await
    {
        tracing::warn!(error = %e, "stopping the embedded PostgreSQL failed");
    }
    result
}

/// The workers of the notifications lane (`notifications.workers`), on
/// replicas that run jobs and only when receivers are configured; their
/// retries back off by `notifications.retry_base`/`retry_max`.
fn spawn_notifiers(
    pool: &sqlx::PgPool,
    config: &Arc<Config>,
    clock: &Arc<dyn crate::clock::Clock>,
    settings: &crate::jobs::WorkerSettings,
    state: &AppState,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let n = &config.notifications;
    if config.server.workers == 0 || n.webhooks.is_empty() {
        return Ok(Vec::new());
    }
    let handler = crate::notify::NotifyJobHandler::new(
        pool.clone(),
        config.clone(),
        clock.clone(),
        state.metrics.clone(),
    )
    .map_err(|e| e.to_string())?;
    let settings = crate::jobs::WorkerSettings {
        backoff_base: n.retry_base.0,
        backoff_max: n.retry_max.0,
        ..settings.clone()
    };
    Ok(crate::jobs::spawn_workers(
        n.workers,
        pool.clone(),
        Arc::new(handler),
        settings,
        state.wake.clone(),
        stopped.clone(),
    ))
}

async fn run_server(args: &ServeArgs, config: Config, url: &str) -> Result<(), String> {
    let pool = crate::store::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    crate::store::migrate(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let metrics = Arc::new(crate::telemetry::metrics::Metrics::new());
    let forges =
        crate::forge::ForgeSet::from_config(&config, &metrics).map_err(|e| e.to_string())?;
    let addr = format!("{}:{}", args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, external_url = ?args.external_url, "bytegate listening");
    let config = Arc::new(config);
    let handler = Arc::new(crate::jobs::EventJobHandler {
        ctx: crate::flow::FlowContext {
            db: pool.clone(),
            config: config.clone(),
            forges,
            external_url: args.external_url.clone(),
            guard: crate::flow::guard::CommandGuard::default(),
            clock: Arc::new(crate::clock::SystemClock),
            metrics: metrics.clone(),
        },
    });
    // The API's actions run through the same engine as the workers.
    let mut state = AppState::new(pool.clone(), config.clone()).with_flow(handler.ctx.clone());
    state.metrics = metrics;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Rollouts waiting for a deploy window are re-checked every minute
    // (not on web-only replicas: they run no jobs).
    let ticker = (config.server.workers > 0).then(|| {
        tokio::spawn(crate::flow::rollout::window_ticker(
            handler.ctx.clone(),
            std::time::Duration::from_secs(60),
            stopped.clone(),
        ))
    });
    // Scheduled backups and the cleaner of expired ones (same replicas).
    let backups = (config.server.workers > 0).then(|| {
        tokio::spawn(crate::backup::schedule::run(
            pool.clone(),
            config.clone(),
            crate::backup::BackupSettings::resolve(&config.backups, &args.meta.data_dir),
            handler.ctx.clock.clone(),
            BACKUP_TICK,
            stopped.clone(),
        ))
    });
    // Per-target gauges for /metrics, on their own slow schedule (every replica).
    let target_stats = crate::deploy::check::spawn_collector(
        &config,
        &state.metrics,
        &handler.ctx.clock,
        stopped.clone(),
    );
    let settings = crate::jobs::WorkerSettings {
        clock: handler.ctx.clock.clone(),
        lease: config.server.job_lease.0,
        ..Default::default()
    };
    let workers = crate::jobs::spawn_workers(
        config.server.workers,
        pool.clone(),
        handler.clone(),
        settings.clone(),
        state.wake.clone(),
        stopped.clone(),
    );
    let notifiers = spawn_notifiers(
        &pool,
        &config,
        &handler.ctx.clock,
        &settings,
        &state,
        &stopped,
    )?;
    let mut server_stopped = stopped.clone();
    let served = crate::server::serve(listener, state, async move {
        let _ = server_stopped.changed().await;
    });
    tokio::pin!(served);
    let served = tokio::select! {
        r = &mut served => r,
        _ = crate::server::shutdown_signal() => {
            let _ = stop.send(true);
            served.await
        }
    };
    let _ = stop.send(true);
    // Workers finish the job in hand; its lease covers a crash here.
    for w in workers.into_iter().chain(notifiers) {
        let _ = w.await;
    }
    for t in [ticker, backups, target_stats].into_iter().flatten() {
        let _ = t.await;
    }
    pool.close().await;
    served.map_err(|e| format!("server error: {e}"))
}
