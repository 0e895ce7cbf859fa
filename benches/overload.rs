//! bytegate under more than it can take (issue 11, items 1–3): open-loop
//! offered load past capacity, stalled clients, and bursts of large unsigned
//! bodies, against a release `bytegate serve` (web-only) on a fresh meta
//! database. Figures: acknowledgement latency, 503s shed, errors, the
//! server's RSS (VmRSS, peak VmHWM) and CPU per acknowledgement in bytegate
//! and in its PostgreSQL backends.
//!
//! `cargo build --release && cargo bench --bench overload [-- rates|slow|burst ...]`
//! (all three by default). `BENCH_SECS` sets the seconds per offered rate
//! (default 10), `BENCH_RATES` the rates (default `100,200,500,1000`),
//! `BENCH_STALLED` the stalled connections (default 1100).

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

mod load;

use load::{Bodies, Server, mib, ms, percentile};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// What happened to one offered delivery.
enum Outcome {
    Acked(Duration),
    Shed(Duration),
    Failed,
}

/// Offers `rate` deliveries a second for `secs` seconds on a fixed schedule,
/// whatever the answers take (open loop), and prints what came back.
async fn offered(server: &Server, bodies: &Arc<Bodies>, rate: u32, secs: u64) {
    let (client, url) = (client(), server.url("/webhooks/github"));
    let pid = server.pid();
    load::reset_peak(pid);
    let (cpu0, pg0) = (load::cpu_time(pid), server.postgres_cpu().await);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..(u64::from(rate) * secs) {
        tick.tick().await;
        let (c, u, b) = (client.clone(), url.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            match load::post(&c, &u, &b).await {
                Ok((202, took)) => Outcome::Acked(took),
                Ok((503, took)) => Outcome::Shed(took),
                _ => Outcome::Failed,
            }
        }));
    }
    let (mut acked, mut shed, mut failed) = (Vec::new(), Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok(Outcome::Acked(d)) => acked.push(d),
            Ok(Outcome::Shed(d)) => shed.push(d),
            _ => failed += 1,
        }
    }
    let wall = start.elapsed();
    let (cpu, pg) = (
        load::cpu_time(pid).saturating_sub(cpu0),
        server.postgres_cpu().await.since(&pg0),
    );
    acked.sort();
    shed.sort();
    let per_ack = |d: Duration| ms(d) / acked.len().max(1) as f64;
    println!(
        "offered {rate:>5}/s x {secs} s: acked={:<6} ({:>4.0}/s) p50={:.1} ms p99={:.1} ms max={:.1} ms | shed 503={:<5} (max {:.1} ms) errors={failed} | RSS peak {:.1} MiB, end {:.1} MiB | CPU/ack bytegate {:.2} ms, postgres {:.2} ms",
        acked.len(),
        acked.len() as f64 / wall.as_secs_f64(),
        ms(percentile(&acked, 0.50)),
        ms(percentile(&acked, 0.99)),
        ms(acked.last().copied().unwrap_or_default()),
        shed.len(),
        ms(shed.last().copied().unwrap_or_default()),
        mib(load::status_kib(pid, "VmHWM")),
        mib(load::status_kib(pid, "VmRSS")),
        per_ack(cpu),
        per_ack(pg),
    );
}

async fn rates() {
    let server = Server::start("workers: 0").await;
    let bodies = Arc::new(Bodies::new(support::payload("pull_request.opened")));
    let secs = env_or("BENCH_SECS", 10u64);
    let rates = std::env::var("BENCH_RATES").unwrap_or_else(|_| "100,200,500,1000".into());
    println!(
        "--- offered load (open loop), server pid {} ---",
        server.pid()
    );
    // Warm-up: connections, prepared statements, page cache.
    offered(&server, &bodies, 100, 2).await;
    for rate in rates.split(',').filter_map(|r| r.trim().parse().ok()) {
        offered(&server, &bodies, rate, secs).await;
    }
}

/// Headers announcing a body, 10 bytes of it, then silence: how long from
/// the connection until the server drops it (None: the guard ran out first).
async fn stall(port: u16) -> Option<Duration> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    // From here: a connect may wait out SYN retries when the accept queue is full.
    let start = Instant::now();
    let head = "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n\
                X-GitHub-Delivery: stall\r\nContent-Length: 1000\r\n\r\n0123456789";
    let _ = s.write_all(head.as_bytes()).await;
    let mut buf = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .ok()?;
    Some(start.elapsed())
}

/// One `GET /health` on a new connection: its status and how long it took.
async fn probe(port: u16) -> (u16, Duration) {
    let start = Instant::now();
    let answer = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let _ = s
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out)
            .get(9..12)
            .and_then(|c| c.parse().ok())
    };
    let code = tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    (code, start.elapsed())
}

async fn slow_clients() {
    let n = env_or("BENCH_STALLED", 1100usize);
    let server = Server::start("workers: 0").await;
    let bodies = Bodies::new(support::payload("pull_request.opened"));
    let (port, client, url) = (server.port, client(), server.url("/webhooks/github"));
    println!(
        "--- {n} stalled connections (server settings: {}) ---",
        server.settings
    );
    let start = Instant::now();
    let stalled: Vec<_> = (0..n).map(|_| tokio::spawn(stall(port))).collect();
    // While they stall: a probe and a signed delivery every 250 ms.
    let (mut health, mut deliveries) = (Vec::new(), Vec::new());
    while start.elapsed() < Duration::from_secs(40) {
        health.push(probe(port).await);
        deliveries.push(load::post(&client, &url, &bodies).await.ok());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut dropped: Vec<Duration> = Vec::new();
    let mut kept = 0;
    for t in stalled {
        match t.await {
            Ok(Some(d)) => dropped.push(d),
            _ => kept += 1,
        }
    }
    dropped.sort();
    let at_once = dropped
        .iter()
        .filter(|d| **d < Duration::from_secs(1))
        .count();
    println!(
        "stalled: dropped {} (of them {at_once} within 1 s: refused past the limit), median {:.1} s, last {:.1} s; still open after 120 s: {kept}",
        dropped.len(),
        percentile(&dropped, 0.5).as_secs_f64(),
        dropped.last().copied().unwrap_or_default().as_secs_f64(),
    );
    let ok = health.iter().filter(|(c, _)| *c == 200).count();
    let mut took: Vec<Duration> = health.iter().map(|(_, d)| *d).collect();
    took.sort();
    println!(
        "/health meanwhile: {ok}/{} answered 200, others {:?}; latency p50 {:.1} ms, max {:.1} ms",
        health.len(),
        health
            .iter()
            .filter(|(c, _)| *c != 200)
            .map(|(c, _)| *c)
            .collect::<std::collections::BTreeSet<_>>(),
        ms(percentile(&took, 0.5)),
        ms(took.last().copied().unwrap_or_default()),
    );
    let acked = deliveries
        .iter()
        .filter(|d| matches!(d, Some((202, _))))
        .count();
    println!(
        "signed deliveries meanwhile: {acked}/{} acknowledged",
        deliveries.len()
    );
}

/// `n` unsigned posts of `mib` MiB at once: answers, RSS peak, RSS after.
async fn burst(server: &Server, n: usize, size_mib: usize) {
    let pid = server.pid();
    let body = axum::body::Bytes::from(vec![b' '; size_mib << 20]);
    let (client, url) = (client(), server.url("/webhooks/github"));
    let before = load::status_kib(pid, "VmRSS");
    load::reset_peak(pid);
    let posts: Vec<_> = (0..n)
        .map(|i| {
            let (c, u, b) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                c.post(u)
                    .header("X-GitHub-Event", "push")
                    .header("X-GitHub-Delivery", format!("burst-{i}"))
                    .body(b)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for p in posts {
        *codes.entry(p.await.unwrap_or(0)).or_default() += 1;
    }
    let peak = load::status_kib(pid, "VmHWM");
    let right_after = load::status_kib(pid, "VmRSS");
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "{n} x {size_mib} MiB unsigned at once: answers {codes:?} | RSS before {:.1} MiB, peak {:.1} MiB, right after {:.1} MiB, 5 s later {:.1} MiB",
        mib(before),
        mib(peak),
        mib(right_after),
        mib(load::status_kib(pid, "VmRSS")),
    );
}

async fn bursts() {
    let server = Server::start("workers: 0").await;
    println!(
        "--- bursts of large unsigned bodies (default body budget 64 MiB), server pid {} ---",
        server.pid()
    );
    burst(&server, 40, 24).await;
    burst(&server, 40, 24).await;
    burst(&server, 200, 1).await;
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if wants("rates") {
            rates().await;
        }
        if wants("burst") {
            bursts().await;
        }
        if wants("slow") {
            slow_clients().await;
        }
    });
}
