//! One very large migration: 50 MB (1.09 M statements) through the parser,
//! which reads it in tokenizer windows. Prints the wall time.
//!
//! `cargo bench --bench parse_large`

use bytegate::review::model::Dialect;
use bytegate::review::parse::parse_source;
use std::time::Instant;

fn main() {
    let stmt = "UPDATE t SET a = a + 1 WHERE id = 42; /* ; */\n";
    let count = 50_000_000 / stmt.len();
    let sql = stmt.repeat(count);
    let start = Instant::now();
    let parsed = parse_source(&sql, Dialect::Postgres);
    let took = start.elapsed();
    assert_eq!(parsed.statements.len(), count, "every statement is found");
    println!("50 MB, {count} statements, parsed in {took:.2?}");
}
