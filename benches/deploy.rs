//! Deploy overhead: bytegate's PostgreSQL executor against `psql -f` on the
//! same server (300 migrations, 5 statements each). Needs `psql` on PATH and
//! the test PostgreSQL (`TEST_DATABASE_URL`), like the tests.
//!
//! `cargo bench --bench deploy`

use bytegate::deploy::postgres::PostgresTarget;
use bytegate::deploy::{self, DeployOptions, Target};
use bytegate::review::model::Dialect;
use bytegate::store::testdb::TestDb;

#[tokio::main]
async fn main() {
    deploy_overhead_against_psql().await;
}

/// Deploy overhead: the executor against `psql -1 -f` on the same server.
async fn deploy_overhead_against_psql() {
    const FILES: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 1..=FILES {
        let sql = format!(
            "CREATE TABLE t{i} (id bigint PRIMARY KEY, a text NOT NULL, b int, c timestamptz DEFAULT now());\n\
             CREATE INDEX t{i}_b_idx ON t{i} (b);\n\
             INSERT INTO t{i} (id, a, b) SELECT g, 'row ' || g, g % 7 FROM generate_series(1, 50) g;\n\
             ALTER TABLE t{i} ADD COLUMN d jsonb;\n\
             COMMENT ON TABLE t{i} IS 'benchmark table {i}';\n"
        );
        let name = format!("{i:04}_t{i}.sql");
        std::fs::write(dir.path().join(&name), &sql).unwrap();
        files.push((format!("schema/migrations/{name}"), sql.into_bytes()));
    }
    let psql = |url: String, args: Vec<String>| {
        let out = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url])
            .args(args)
            .output()
            .expect("psql on PATH");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let ours = TestDb::empty().await.unwrap();
    let t = std::time::Instant::now();
    let set = deploy::plan(&files, Dialect::Postgres).unwrap();
    let planned = t.elapsed();
    let r = PostgresTarget::new("bench", &ours.url())
        .deploy(&set, &DeployOptions::default())
        .await
        .unwrap();
    let executor = t.elapsed();
    assert_eq!(r.applied.len(), FILES);

    let per_file = TestDb::empty().await.unwrap();
    let t = std::time::Instant::now();
    for i in 1..=FILES {
        let f = dir.path().join(format!("{i:04}_t{i}.sql"));
        psql(
            per_file.url(),
            vec!["-1".into(), "-f".into(), f.display().to_string()],
        );
    }
    let psql_per_file = t.elapsed();

    let one = TestDb::empty().await.unwrap();
    let all: String = files
        .iter()
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    let all_path = dir.path().join("all.sql");
    std::fs::write(&all_path, all).unwrap();
    let t = std::time::Instant::now();
    psql(
        one.url(),
        vec!["-1".into(), "-f".into(), all_path.display().to_string()],
    );
    let psql_one = t.elapsed();

    // The same transaction per file as the executor, in one psql process.
    let wrapped = TestDb::empty().await.unwrap();
    let all: String = files
        .iter()
        .map(|(_, b)| format!("BEGIN;\n{}COMMIT;\n", String::from_utf8_lossy(b)))
        .collect();
    let wrapped_path = dir.path().join("wrapped.sql");
    std::fs::write(&wrapped_path, all).unwrap();
    let t = std::time::Instant::now();
    psql(
        wrapped.url(),
        vec!["-f".into(), wrapped_path.display().to_string()],
    );
    let psql_wrapped = t.elapsed();

    println!("{FILES} migrations, 5 statements each, same server:");
    println!("  psql -f, one process, BEGIN … COMMIT per file: {psql_wrapped:.2?}");
    println!(
        "  bytegate executor: {executor:.2?} (of which plan/parse {planned:.2?}; a transaction, history row and timeouts per file, one advisory lock)"
    );
    println!("  psql -1 -f, one process per file: {psql_per_file:.2?}");
    println!("  psql -1 -f, all files concatenated (one transaction): {psql_one:.2?}");
    println!(
        "  ratio executor / psql per file: {:.2}; / psql transaction per file: {:.2}; / psql all-in-one: {:.2}",
        executor.as_secs_f64() / psql_per_file.as_secs_f64(),
        executor.as_secs_f64() / psql_wrapped.as_secs_f64(),
        executor.as_secs_f64() / psql_one.as_secs_f64()
    );
}
