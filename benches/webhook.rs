//! Webhook acknowledgement latency and throughput with durable enqueue
//! (`benches/pr_flow.rs` measures PR event → completed check run).
//!
//! `cargo bench --bench webhook` (needs TEST_DATABASE_URL or local PostgreSQL
//! binaries). The server runs as a separate `bytegate serve` process (release
//! build, web-only: `server.workers: 0`); this binary is the load generator on
//! loopback. Each request is a real signed `pull_request.opened` delivery with
//! a distinct delivery id and head sha, so each one stores a delivery and
//! enqueues a job in one transaction.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[allow(dead_code)]
mod load;

use load::{Bodies, Server, ms, percentile};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn report(name: &str, mut lat: Vec<Duration>, errors: usize, wall: Duration) {
    lat.sort();
    println!(
        "{name:<28} n={:<6} errors={errors:<4} rate={:>7.0} req/s  p50={:.2} ms  p90={:.2} ms  p99={:.2} ms  max={:.2} ms",
        lat.len(),
        lat.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.90)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().copied().unwrap_or_default()),
    );
}

async fn send(client: &reqwest::Client, url: &str, bodies: &Bodies) -> Result<Duration, ()> {
    match load::post(client, url, bodies).await {
        Ok((202, took)) => Ok(took),
        _ => Err(()),
    }
}
/// Open loop: requests start on a fixed schedule whatever the latency.
async fn fixed_rate(
    client: &reqwest::Client,
    url: &str,
    bodies: Arc<Bodies>,
    rate: u32,
    secs: u64,
) {
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..(rate as u64 * secs) {
        tick.tick().await;
        let (c, u, b) = (client.clone(), url.to_string(), bodies.clone());
        tasks.push(tokio::spawn(async move { send(&c, &u, &b).await }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok(Ok(d)) => lat.push(d),
            _ => errors += 1,
        }
    }
    report(
        &format!("fixed {rate} req/s, {secs} s"),
        lat,
        errors,
        start.elapsed(),
    );
}

/// Closed loop: `conns` clients send back to back (saturation throughput).
async fn saturate(
    client: &reqwest::Client,
    url: &str,
    bodies: Arc<Bodies>,
    conns: usize,
    secs: u64,
) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (c, u, b) = (client.clone(), url.to_string(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                match send(&c, &u, &b).await {
                    Ok(d) => lat.push(d),
                    Err(()) => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((l, e)) = t.await {
            lat.extend(l);
            errors += e;
        }
    }
    report(
        &format!("saturation, {conns} connections"),
        lat,
        errors,
        start.elapsed(),
    );
}

async fn acknowledgement() {
    let server = Server::start("workers: 0").await;
    let url = server.url("/webhooks/github");
    let bodies = Arc::new(Bodies::new(support::payload("pull_request.opened")));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    // Warm-up: connections, prepared statements, page cache.
    fixed_rate(&client, &url, bodies.clone(), 200, 2).await;
    println!("--- webhook acknowledgement (durable enqueue) ---");
    fixed_rate(&client, &url, bodies.clone(), 500, 10).await;
    saturate(&client, &url, bodies.clone(), 32, 10).await;
    let (jobs,): (i64,) = sqlx::query_as("SELECT count(*) FROM jobs")
        .fetch_one(&server.db.pool)
        .await
        .unwrap_or((0,));
    println!("jobs enqueued durably: {jobs}");
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(acknowledgement());
}
