//! Parser coverage over a real migration corpus (Lemmy's PostgreSQL
//! migrations): the share of statements that sqlparser parses or a bytegate
//! recognizer understands must stay at or above 99.5%.
//!
//! Run: `cargo test --test corpus_coverage -- --nocapture`

use bytegate::review::model::{Dialect, StatementSource};
use bytegate::review::parse::parse_file;

#[test]
fn lemmy_corpus_coverage() {
    // Absent material skips locally and fails in CI (BYTEGATE_REQUIRE_MATERIAL=1).
    let Some(root) = bytegate::material::shared("upstream/corpus/lemmy") else {
        return;
    };
    let files = bytegate::material::sql_files_under(&root);
    let (mut total, mut parsed, mut recognized) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    for file in &files {
        let bytes = std::fs::read(file).expect("readable corpus file");
        let text = String::from_utf8_lossy(&bytes);
        for stmt in parse_file(&text, Dialect::Postgres) {
            total += 1;
            match &stmt.source {
                StatementSource::Parsed => parsed += 1,
                StatementSource::Recognized => recognized += 1,
                StatementSource::Unparsed { error } => failures.push(format!(
                    "{}:{}: {} | {}",
                    file.strip_prefix(&root).unwrap_or(file).display(),
                    stmt.span.start.line,
                    error.message,
                    stmt.text
                        .chars()
                        .take(100)
                        .collect::<String>()
                        .replace('\n', " ")
                )),
            }
        }
    }
    assert!(total > 0, "no statements found under {}", root.display());
    let understood = parsed + recognized;
    let pct = 100.0 * understood as f64 / total as f64;
    println!(
        "parser coverage: {understood}/{total} statements = {pct:.2}% \
         (sqlparser {parsed}, recognizers {recognized}, unparsed {}) over {} files",
        failures.len(),
        files.len()
    );
    for f in failures.iter().take(50) {
        println!("  unparsed {f}");
    }
    assert!(pct >= 99.5, "coverage {pct:.2}% is below 99.5%");
}
