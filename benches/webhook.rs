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

use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut lat: Vec<Duration>, errors: usize, wall: Duration) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
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

struct Bodies {
    template: serde_json::Value,
    next: std::sync::atomic::AtomicU64,
}

impl Bodies {
    fn make(&self) -> (String, Vec<u8>, String) {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut p = self.template.clone();
        p["pull_request"]["head"]["sha"] = format!("{n:040x}").into();
        let body = serde_json::to_vec(&p).unwrap_or_default();
        let sig = sign_github(SECRET.as_bytes(), &body);
        (format!("bench-{n}"), body, sig)
    }
}

async fn send(client: &reqwest::Client, url: &str, bodies: &Bodies) -> Result<Duration, ()> {
    let (id, body, sig) = bodies.make();
    let start = Instant::now();
    let resp = client
        .post(url)
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sig)
        .body(body)
        .send()
        .await
        .map_err(|_| ())?;
    let ok = resp.status().as_u16() == 202;
    let _ = resp.bytes().await;
    if ok { Ok(start.elapsed()) } else { Err(()) }
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

async fn wait_healthy(port: u16) {
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/health")).await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("bytegate serve did not come up");
}

async fn acknowledgement() {
    let db = TestDb::migrated()
        .await
        .expect("a PostgreSQL for the meta database");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bytegate.yaml");
    std::fs::write(
        &config,
        format!(
            "project: {{key: B, name: Bench}}\nserver: {{workers: 0}}\n\
             forges:\n  github:\n    webhook_secret: {SECRET}\n    token: unused\n"
        ),
    )
    .expect("write config");
    let port = bytegate::store::embedded::free_port().expect("port");
    let exe = env!("CARGO_MANIFEST_DIR").to_string() + "/target/release/bytegate";
    let mut server = Command::new(&exe)
        .args(["serve", "--bind", "127.0.0.1", "--config"])
        .arg(&config)
        .env("PG_URL", db.url())
        .env("BB_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{exe}: {e} (run `cargo build --release` first)"));
    wait_healthy(port).await;
    let url = format!("http://127.0.0.1:{port}/webhooks/github");
    let bodies = Arc::new(Bodies {
        template: support::payload("pull_request.opened"),
        next: Default::default(),
    });
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
        .fetch_one(&db.pool)
        .await
        .unwrap_or((0,));
    println!("jobs enqueued durably: {jobs}");
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(acknowledgement());
}
