//! Review throughput: `cargo bench --bench review`.
//!
//! Reads every `.sql` file of a corpus once (default: ../shared/upstream/corpus/lemmy,
//! else fixtures/review; override with BYTEGATE_BENCH_CORPUS), then times
//! `review::review` over the whole set N times (BYTEGATE_BENCH_RUNS, default 10)
//! after one warm-up run. Prints statements/s and MB/s for the best and the
//! median run, plus the parse-only time, so the rules' share is visible.

use bytegate::cli::review::collect_sql_files;
use bytegate::review::model::Dialect;
use bytegate::review::parse::parse_source;
use bytegate::review::risk::{RiskContext, RiskFile, assess};
use bytegate::review::rules::{LintFile, LintInput, lint};
use bytegate::review::settings::{ReviewSettings, RiskSettings};
use bytegate::review::{FileChange, ReviewInput, ReviewOptions, parse_bytes, review};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn corpus() -> PathBuf {
    if let Ok(dir) = std::env::var("BYTEGATE_BENCH_CORPUS") {
        return PathBuf::from(dir);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lemmy = root.join("../shared/upstream/corpus/lemmy");
    if lemmy.is_dir() {
        lemmy
    } else {
        root.join("fixtures/review")
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let runs: usize = std::env::var("BYTEGATE_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(10);
    let dir = corpus();
    let files = match collect_sql_files(std::slice::from_ref(&dir)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let inputs: Vec<ReviewInput> = files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read(p).ok()?;
            Some(ReviewInput {
                path: p.display().to_string(),
                text,
                change: FileChange::Added,
            })
        })
        .collect();
    let bytes: usize = inputs.iter().map(|i| i.text.len()).sum();
    let settings = ReviewSettings::default();
    let risk = RiskSettings::default();
    let opts = ReviewOptions {
        dialect: Dialect::Postgres,
        environment: None,
        settings: &settings,
        risk: &risk,
        lock_timeout_configured: false,
        base_versions: Vec::new(),
    };

    // Warm-up (page cache, allocator), and the counts.
    let report = review(&inputs, &opts);
    let statements = report.statement_count();
    let findings: usize = report.files.iter().map(|f| f.findings.len()).sum();

    let mut full = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let r = review(&inputs, &opts);
        full.push(start.elapsed());
        std::hint::black_box(r);
    }
    let mut parse_only = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        for input in &inputs {
            std::hint::black_box(parse_bytes(&input.text, Dialect::Postgres));
        }
        parse_only.push(start.elapsed());
    }

    // Stage costs: lint and risk over pre-parsed files.
    let parsed: Vec<_> = inputs
        .iter()
        .map(|i| parse_source(&String::from_utf8_lossy(&i.text), Dialect::Postgres))
        .collect();
    let lint_files: Vec<LintFile<'_>> = inputs
        .iter()
        .zip(&parsed)
        .map(|(i, p)| LintFile {
            path: &i.path,
            size_bytes: i.text.len() as u64,
            statements: &p.statements,
            change: FileChange::Added,
            header_comments: &p.header_comments,
        })
        .collect();
    let lint_input = LintInput {
        files: &lint_files,
        dialect: Dialect::Postgres,
        environment: None,
        settings: &settings,
        lock_timeout_configured: false,
        base_versions: &[],
    };
    let risk_files: Vec<RiskFile<'_>> = inputs
        .iter()
        .zip(&parsed)
        .map(|(i, p)| RiskFile {
            path: &i.path,
            statements: &p.statements,
            in_change: true,
        })
        .collect();
    let ctx = RiskContext {
        environment: None,
        settings: &risk,
    };
    let mut lint_times = Vec::with_capacity(runs);
    let mut risk_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        std::hint::black_box(lint(&lint_input));
        lint_times.push(start.elapsed());
        let start = Instant::now();
        std::hint::black_box(assess(&risk_files, &ctx));
        risk_times.push(start.elapsed());
    }
    let lint_med = median(&mut lint_times);
    let risk_med = median(&mut risk_times);

    let best = full.iter().min().copied().unwrap_or_default();
    let med = median(&mut full);
    let parse_best = parse_only.iter().min().copied().unwrap_or_default();
    let parse_med = median(&mut parse_only);
    let mb = bytes as f64 / 1_000_000.0;
    let rate = |d: Duration| {
        let s = d.as_secs_f64().max(1e-9);
        (statements as f64 / s, mb / s)
    };
    let (best_sps, best_mbps) = rate(best);
    let (med_sps, med_mbps) = rate(med);
    println!("review throughput");
    println!("  corpus      {}", dir.display());
    println!(
        "  input       {} files, {} statements, {:.2} MB, {} findings",
        inputs.len(),
        statements,
        mb,
        findings
    );
    println!("  runs        {runs} (after 1 warm-up)");
    println!(
        "  review      best {:>8.2} ms  {:>10.0} statements/s  {:>6.2} MB/s",
        best.as_secs_f64() * 1e3,
        best_sps,
        best_mbps
    );
    println!(
        "              median {:>6.2} ms  {:>10.0} statements/s  {:>6.2} MB/s",
        med.as_secs_f64() * 1e3,
        med_sps,
        med_mbps
    );
    println!(
        "  parse only  best {:>8.2} ms, median {:.2} ms ({:.0}% of review)",
        parse_best.as_secs_f64() * 1e3,
        parse_med.as_secs_f64() * 1e3,
        100.0 * parse_med.as_secs_f64() / med.as_secs_f64().max(1e-9)
    );
    println!(
        "  stages      lint median {:.2} ms, risk median {:.2} ms (single-threaded, pre-parsed)",
        lint_med.as_secs_f64() * 1e3,
        risk_med.as_secs_f64() * 1e3
    );
}
