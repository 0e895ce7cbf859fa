//! Lints the Lemmy corpus (up.sql files as one added set) and prints counts
//! per rule: a tool for spotting false positives, not an assertion on them.
//! Run: `cargo test --lib review::rules::corpus -- --ignored --nocapture`

use super::*;
use crate::review::parse::parse_source;
use std::collections::BTreeMap;

#[test]
#[ignore]
fn lemmy_rule_counts() {
    let Some(root) = crate::material::shared("upstream/corpus/lemmy") else {
        return;
    };
    let paths =
        crate::material::files_under(&root, &|p| p.file_name().is_some_and(|n| n == "up.sql"));
    let texts: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let t = std::fs::read(p).unwrap_or_default();
            (
                p.display().to_string(),
                String::from_utf8_lossy(&t).into_owned(),
            )
        })
        .collect();
    let parsed: Vec<_> = texts
        .iter()
        .map(|(_, t)| parse_source(t, Dialect::Postgres))
        .collect();
    let files: Vec<LintFile<'_>> = texts
        .iter()
        .zip(&parsed)
        .map(|((p, t), f)| LintFile {
            path: p,
            size_bytes: t.len() as u64,
            statements: &f.statements,
            change: FileChange::Added,
            header_comments: &f.header_comments,
        })
        .collect();
    let settings = ReviewSettings::default();
    let out = lint(&LintInput {
        files: &files,
        dialect: Dialect::Postgres,
        environment: None,
        settings: &settings,
        lock_timeout_configured: false,
        base_versions: &[],
    });
    let mut counts: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
    for f in &out {
        for x in &f.findings {
            let e = counts.entry(x.rule.as_str()).or_default();
            e.0 += 1;
            if e.1.len() < 3 {
                let short = f.path.rsplit('/').nth(1).unwrap_or("");
                e.1.push(format!("{short}:{} {}", x.span.start.line, x.message));
            }
        }
    }
    for (rule, (n, samples)) in &counts {
        println!("{rule}: {n}");
        for s in samples {
            println!("    {s}");
        }
    }
}
