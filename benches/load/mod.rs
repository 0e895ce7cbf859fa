//! What the webhook benches share: a release `bytegate serve` process on a
//! fresh meta database, signed deliveries, percentiles and figures read from
//! /proc (RSS, CPU time).

use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The webhook secret every bench server is configured with.
pub const SECRET: &str = "bench-secret";

/// A `bytegate serve` process (web-only unless the settings say otherwise),
/// killed on drop. The binary is `target/release/bytegate`, or `BYTEGATE_BIN`
/// (to compare builds); the environment is passed through (`MALLOC_ARENA_MAX`
/// and other allocator settings reach the server).
pub struct Server {
    /// Its meta database.
    pub db: TestDb,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its `server:` settings.
    pub settings: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a server with these `server:` settings (a YAML flow mapping
    /// body, e.g. `workers: 0, max_in_flight: 32`; `BENCH_SERVER` replaces
    /// them) and waits until it is healthy.
    pub async fn start(settings: &str) -> Server {
        let settings = std::env::var("BENCH_SERVER").unwrap_or_else(|_| settings.to_string());
        let db = TestDb::migrated()
            .await
            .expect("a PostgreSQL for the meta database");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("bytegate.yaml");
        std::fs::write(
            &config,
            format!(
                "project: {{key: B, name: Bench}}\nserver: {{{settings}}}\n\
                 forges:\n  github:\n    webhook_secret: {SECRET}\n    token: unused\n"
            ),
        )
        .expect("write config");
        let port = bytegate::store::embedded::free_port().expect("port");
        let exe = std::env::var("BYTEGATE_BIN").unwrap_or_else(|_| {
            env!("CARGO_MANIFEST_DIR").to_string() + "/target/release/bytegate"
        });
        let child = Command::new(&exe)
            .args(["serve", "--bind", "127.0.0.1", "--config"])
            .arg(&config)
            .env("PG_URL", db.url())
            .env("BB_PORT", port.to_string())
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{exe}: {e} (run `cargo build --release` first)"));
        let server = Server {
            db,
            port,
            settings,
            child,
            _dir: dir,
        };
        server.wait_healthy().await;
        server
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_healthy(&self) {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(self.url("/health")).await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("bytegate serve did not come up");
    }

    /// CPU time of the PostgreSQL backends serving this server's database.
    pub async fn postgres_cpu(&self) -> CpuSnapshot {
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap_or_default();
        CpuSnapshot(
            pids.into_iter()
                .filter_map(|p| u32::try_from(p).ok())
                .map(|p| (p, cpu_time(p)))
                .collect(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time per process at one moment.
pub struct CpuSnapshot(Vec<(u32, Duration)>);

impl CpuSnapshot {
    /// CPU used between `earlier` and this snapshot (processes that appeared
    /// since count from zero).
    pub fn since(&self, earlier: &CpuSnapshot) -> Duration {
        self.0
            .iter()
            .map(|(pid, now)| {
                let before = earlier
                    .0
                    .iter()
                    .find(|(p, _)| p == pid)
                    .map_or(Duration::ZERO, |(_, t)| *t);
                now.saturating_sub(before)
            })
            .sum()
    }
}

/// User + system CPU time of a process (`/proc/PID/stat`, clock ticks of
/// 10 ms, the Linux default).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces: state is field 3,
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Resets the process's peak RSS (`VmHWM`) to its current RSS, so the next
/// reading is the peak of what follows.
pub fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// MiB from KiB, for printing.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The `p` quantile of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Signed `pull_request.opened` deliveries, each with its own delivery id and
/// head sha (so each stores a delivery and enqueues a job).
pub struct Bodies {
    template: serde_json::Value,
    next: std::sync::atomic::AtomicU64,
}

impl Bodies {
    /// Deliveries made from GitHub's own `pull_request.opened` example.
    pub fn new(template: serde_json::Value) -> Bodies {
        Bodies {
            template,
            next: Default::default(),
        }
    }

    /// The next delivery: (delivery id, body, signature).
    pub fn make(&self) -> (String, Vec<u8>, String) {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut p = self.template.clone();
        p["pull_request"]["head"]["sha"] = format!("{n:040x}").into();
        let body = serde_json::to_vec(&p).unwrap_or_default();
        let sig = sign_github(SECRET.as_bytes(), &body);
        (format!("bench-{n}"), body, sig)
    }
}

/// Posts the next delivery: its status and how long the answer took.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    bodies: &Bodies,
) -> Result<(u16, Duration), ()> {
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
    let code = resp.status().as_u16();
    let _ = resp.bytes().await;
    Ok((code, start.elapsed()))
}
