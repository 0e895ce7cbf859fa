//! Test helpers: lint SQL text through the real parser and the real driver.

use super::{FileFindings, LintFile, LintInput, lint};
use crate::review::FileChange;
use crate::review::model::Dialect;
use crate::review::parse::parse_source;
use crate::review::settings::ReviewSettings;

/// Lints several files (path, sql, change) with full control.
pub(crate) fn lint_files_with(
    files: &[(&str, &str, FileChange)],
    dialect: Dialect,
    environment: Option<&str>,
    settings: &ReviewSettings,
    lock_timeout_configured: bool,
    base_versions: &[String],
) -> Vec<FileFindings> {
    let parsed: Vec<_> = files
        .iter()
        .map(|(_, sql, _)| parse_source(sql, dialect))
        .collect();
    let lint_files: Vec<LintFile<'_>> = files
        .iter()
        .zip(&parsed)
        .map(|((path, sql, change), p)| LintFile {
            path,
            size_bytes: sql.len() as u64,
            statements: &p.statements,
            change: change.clone(),
            header_comments: &p.header_comments,
        })
        .collect();
    lint(&LintInput {
        files: &lint_files,
        dialect,
        environment,
        settings,
        lock_timeout_configured,
        base_versions,
    })
}

/// Lints one added file.
pub(crate) fn lint_with(
    sql: &str,
    dialect: Dialect,
    environment: Option<&str>,
    settings: &ReviewSettings,
) -> FileFindings {
    lint_files_with(
        &[("001_test.sql", sql, FileChange::Added)],
        dialect,
        environment,
        settings,
        false,
        &[],
    )
    .into_iter()
    .next()
    .unwrap()
}

/// Every finding of a PostgreSQL file with default settings, as (rule, line).
pub(crate) fn lint_errors(sql: &str) -> Vec<(String, u32)> {
    lint_with(sql, Dialect::Postgres, None, &ReviewSettings::default())
        .findings
        .into_iter()
        .map(|f| (f.rule, f.span.start.line))
        .collect()
}

/// Asserts a PostgreSQL file has no findings at all.
pub(crate) fn lint_ok(sql: &str) {
    let errors = lint_errors(sql);
    assert!(errors.is_empty(), "expected no findings, got {errors:?}");
}

/// Lines where `rule` fires in a PostgreSQL file (default settings).
pub(crate) fn lines(sql: &str, rule: &str) -> Vec<u32> {
    lines_in(sql, rule, Dialect::Postgres)
}

/// Lines where `rule` fires in a MySQL file (default settings).
pub(crate) fn lines_mysql(sql: &str, rule: &str) -> Vec<u32> {
    lines_in(sql, rule, Dialect::Mysql)
}

fn lines_in(sql: &str, rule: &str, dialect: Dialect) -> Vec<u32> {
    let findings = lint_with(sql, dialect, None, &ReviewSettings::default()).findings;
    // A statement the parser did not understand would make a "rule stays
    // silent" test pass for the wrong reason.
    if rule != "parse-error" {
        let unparsed: Vec<_> = findings
            .iter()
            .filter(|f| f.rule == "parse-error")
            .collect();
        assert!(
            unparsed.is_empty(),
            "test SQL does not parse ({dialect}): {unparsed:?}"
        );
    }
    findings
        .into_iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.span.start.line)
        .collect()
}

#[test]
#[ignore]
fn dump_statements() {
    let sql = std::env::var("DUMP_SQL").unwrap_or_default();
    let dialect = if std::env::var("DUMP_MYSQL").is_ok() {
        Dialect::Mysql
    } else {
        Dialect::Postgres
    };
    for s in parse_source(&sql, dialect).statements {
        println!("{:#?}", s.kind);
    }
}

#[test]
#[ignore]
fn dump_findings() {
    let sql =
        std::fs::read_to_string(std::env::var("DUMP_FILE").unwrap_or_default()).unwrap_or_default();
    let dialect = if std::env::var("DUMP_MYSQL").is_ok() {
        Dialect::Mysql
    } else {
        Dialect::Postgres
    };
    for f in lint_with(&sql, dialect, None, &ReviewSettings::default()).findings {
        println!(
            "{}:{} {} {}",
            f.span.start.line, f.span.start.column, f.rule, f.message
        );
    }
}

/// Lines where `rule` fires with `setting` for it (its severity `warning`
/// unless the setting says otherwise): for rules that are off by default.
pub(crate) fn lines_on_with(
    sql: &str,
    rule: &str,
    dialect: Dialect,
    mut setting: crate::review::settings::RuleSetting,
) -> Vec<u32> {
    use crate::review::finding::Severity;
    setting.severity = setting.severity.or(Some(Severity::Warning));
    let mut settings = ReviewSettings::default();
    settings.rules.insert(rule.to_string(), setting);
    let findings = lint_with(sql, dialect, None, &settings).findings;
    let unparsed: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "parse-error")
        .collect();
    assert!(unparsed.is_empty(), "test SQL does not parse: {unparsed:?}");
    findings
        .into_iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.span.start.line)
        .collect()
}

/// Lines where an off-by-default `rule` fires in a PostgreSQL file once
/// switched on (default options).
pub(crate) fn lines_on(sql: &str, rule: &str) -> Vec<u32> {
    lines_on_with(sql, rule, Dialect::Postgres, Default::default())
}

/// Asserts `rule` is off by default: `sql` (on which it fires when switched
/// on) gives no finding of it.
pub(crate) fn assert_off_by_default(sql: &str, rule: &str) {
    assert!(
        !lines_on(sql, rule).is_empty(),
        "{rule} does not fire on {sql}"
    );
    assert!(lines(sql, rule).is_empty(), "{rule} is on by default");
}
