//! `bytegate health`: the container HEALTHCHECK. The image has no curl (and a
//! distroless one would have no shell either), so the binary probes itself.

use clap::Args;
use std::process::ExitCode;
use std::time::Duration;

/// `bytegate health`.
#[derive(Args, Debug)]
pub(super) struct HealthArgs {
    /// Port of the running `bytegate serve` (the same BB_PORT it reads).
    #[arg(long, env = "BB_PORT", default_value_t = 5678)]
    port: u16,
    /// Host to probe.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Route to probe: `/health` (alive) or `/readyz` (ready for traffic).
    #[arg(long, default_value = "/health")]
    path: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

/// GETs the route: exit 0 on 200, 1 on any other answer or none.
pub(super) fn run(args: &HealthArgs) -> ExitCode {
    let url = format!("http://{}:{}{}", args.host, args.port, args.path);
    let probe = async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(args.timeout))
            .build()?;
        client.get(&url).send().await
    };
    let answer = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(probe),
        Err(e) => {
            eprintln!("bytegate: cannot start the async runtime: {e}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    };
    match answer {
        Ok(resp) if resp.status().is_success() => {
            println!("{url}: {}", resp.status());
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            eprintln!("{url}: {}", resp.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            ExitCode::FAILURE
        }
    }
}
