//! PR event → completed check run, against the fake GitHub on loopback and a
//! real meta database: the time `flow::handle_event` takes for a push (list
//! files, read each migration, review it for every environment, complete the
//! check run, edit the sticky comment, store results and audit entries).
//!
//! `cargo bench --bench pr_flow` (uses the test PostgreSQL, like the tests).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::{Harness, REPO, pr_payload, pull_request_event};

const FILES: usize = 3;
const STATEMENTS_PER_FILE: usize = 20;
const SEQUENTIAL_RUNS: usize = 200;
const CONCURRENT_PRS: u64 = 16;
const CONCURRENT_ROUNDS: usize = 10;

fn migration(i: usize) -> String {
    (0..STATEMENTS_PER_FILE)
        .map(|s| match s % 4 {
            0 => format!("CREATE TABLE t{i}_{s} (id bigint PRIMARY KEY, name text NOT NULL);\n"),
            1 => format!("ALTER TABLE t{i}_{} ADD COLUMN note text;\n", s - 1),
            2 => format!(
                "CREATE INDEX CONCURRENTLY i{i}_{s} ON t{i}_{} (name);\n",
                s - 2
            ),
            _ => format!("UPDATE t{i}_{} SET note = 'x';\n", s - 3),
        })
        .collect()
}

fn sha(n: usize) -> String {
    format!("{n:040x}")
}

fn at(n: usize) -> String {
    (chrono::DateTime::<chrono::Utc>::UNIX_EPOCH + chrono::Duration::seconds(n as i64 + 1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>, wall: Duration) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
        samples.len(),
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.9)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap()),
        samples.len() as f64 / wall.as_secs_f64()
    );
}

fn setup(h: &Harness, number: u64, runs: usize) {
    let paths: Vec<String> = (0..FILES)
        .map(|i| format!("schema/migrations/{:03}_change.sql", i + 10))
        .collect();
    let files: Vec<(&str, &str, Option<&str>)> =
        paths.iter().map(|p| (p.as_str(), "added", None)).collect();
    h.github.set_pr_files(REPO, number, &files);
    for run in 0..runs {
        for (i, p) in paths.iter().enumerate() {
            h.github.put_file(REPO, &sha(run), p, &migration(i));
        }
    }
}

fn event(number: u64, run: usize) -> bytegate::event::Event {
    let name = if run == 0 {
        "pull_request.opened"
    } else {
        "pull_request.synchronize"
    };
    let mut p = pr_payload(name, &sha(run), &at(run));
    p["pull_request"]["number"] = number.into();
    pull_request_event(&p)
}

#[tokio::main]
async fn main() {
    let h = Harness::app().await;
    println!(
        "PR flow: {FILES} migration files x {STATEMENTS_PER_FILE} statements, 2 environments, GitHub App on the fake (loopback)\n"
    );
    println!("| scenario | events | p50 ms | p90 ms | p99 ms | max ms | events/s |");
    println!("|---|---|---|---|---|---|---|");

    // One PR, one push after another: each a new head, a new check run, an edited comment.
    setup(&h, 1, SEQUENTIAL_RUNS);
    let mut samples = Vec::with_capacity(SEQUENTIAL_RUNS);
    let start = Instant::now();
    for run in 0..SEQUENTIAL_RUNS {
        let t = Instant::now();
        h.handle(&event(1, run)).await.unwrap();
        samples.push(t.elapsed());
    }
    report("sequential pushes, 1 PR", samples, start.elapsed());

    // Many PRs at once (as N workers would run them).
    for n in 0..CONCURRENT_PRS {
        setup(&h, 100 + n, CONCURRENT_ROUNDS);
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    for round in 0..CONCURRENT_ROUNDS {
        let jobs = (0..CONCURRENT_PRS).map(|n| {
            let h = &h;
            async move {
                let t = Instant::now();
                h.handle(&event(100 + n, round)).await.unwrap();
                t.elapsed()
            }
        });
        samples.extend(futures::future::join_all(jobs).await);
    }
    report(
        &format!("{CONCURRENT_PRS} PRs concurrently"),
        samples,
        start.elapsed(),
    );
    h.github.assert_clean();
}
