//! Parser coverage over Bytebase's MySQL SQL-advisor test cases
//! (fixtures/review/mysql/bytebase, valid MySQL 8): every statement must be
//! parsed by sqlparser or understood by a bytegate recognizer. A MySQL project
//! must never see `parse-error` on valid MySQL.
//!
//! Run: `cargo test --test mysql_corpus -- --nocapture`

use bytegate::review::model::{Dialect, StatementSource};
use bytegate::review::parse::parse_file;
use std::path::Path;

#[test]
fn bytebase_mysql_cases_all_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/review/mysql/bytebase");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .expect("fixtures/review/mysql/bytebase is part of the repository")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let (mut total, mut parsed, mut recognized) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable fixture");
        for stmt in parse_file(&text, Dialect::Mysql) {
            total += 1;
            match &stmt.source {
                StatementSource::Parsed => parsed += 1,
                StatementSource::Recognized => recognized += 1,
                StatementSource::Unparsed { error } => failures.push(format!(
                    "{}:{}: {} | {}",
                    file.file_name().unwrap_or_default().to_string_lossy(),
                    stmt.span.start.line,
                    error.message,
                    stmt.text.replace('\n', " ")
                )),
            }
        }
    }
    println!(
        "mysql coverage: {} of {total} statements (sqlparser {parsed}, recognizers {recognized}) over {} files",
        parsed + recognized,
        files.len()
    );
    assert!(
        total >= 400,
        "only {total} statements under {}",
        root.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} statements unparsed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
