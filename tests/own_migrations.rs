//! bytegate reviews its own meta-database migrations with its own engine (as
//! bors lints its migrations): none may carry an error-severity finding.
//! (Applying them to a real database is tests/meta_db.rs.)

use bytegate::review::model::Dialect;
use bytegate::review::settings::{ReviewSettings, RiskSettings};
use bytegate::review::{FileChange, ReviewInput, ReviewOptions, review};

#[test]
fn our_migrations_pass_our_own_review() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut inputs: Vec<ReviewInput> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .map(|p| ReviewInput {
            path: p.file_name().unwrap().to_string_lossy().into_owned(),
            text: std::fs::read(&p).unwrap(),
            change: FileChange::Added,
        })
        .collect();
    inputs.sort_by(|a, b| a.path.cmp(&b.path));
    assert!(!inputs.is_empty());
    let (settings, risk) = (ReviewSettings::default(), RiskSettings::default());
    let report = review(
        &inputs,
        &ReviewOptions {
            dialect: Dialect::Postgres,
            environment: None,
            settings: &settings,
            risk: &risk,
            lock_timeout_configured: false,
            base_versions: Vec::new(),
        },
    );
    let errors: Vec<String> = report
        .files
        .iter()
        .flat_map(|f| {
            f.findings
                .iter()
                .filter(|x| x.severity == bytegate::review::finding::Severity::Error)
                .map(move |x| format!("{}:{} {} {}", f.path, x.span.start.line, x.rule, x.message))
        })
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report.files.len(), inputs.len());
}
