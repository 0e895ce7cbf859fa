//! Tests of `risk`.

use super::*;
use crate::review::finding::{Position, Span};
use crate::review::model::{
    CreateIndex, CreateTable, Delete, Drop, IndexColumn, StatementSource, Truncate,
};

fn stmt(kind: StatementKind, line: u32) -> Statement {
    let at = Position { line, column: 1 };
    Statement {
        kind,
        span: Span { start: at, end: at },
        text: String::new(),
        byte_range: 0..0,
        index: 0,
        source: StatementSource::Parsed,
        leading_comments: Vec::new(),
        trailing_comment: None,
    }
}

fn create_table(name: &str) -> StatementKind {
    StatementKind::CreateTable(CreateTable {
        name: ObjectName::simple(name),
        ..CreateTable::default()
    })
}

fn create_index(table: &str, concurrently: bool) -> StatementKind {
    StatementKind::CreateIndex(CreateIndex {
        name: None,
        table: ObjectName::simple(table),
        columns: vec![IndexColumn {
            column: None,
            expr: "a".into(),
        }],
        unique: false,
        concurrently,
        if_not_exists: false,
        using: None,
        partial: false,
    })
}

fn drop_table(name: &str) -> StatementKind {
    StatementKind::Drop(Drop {
        object: ObjectKind::Table,
        names: vec![ObjectName::simple(name)],
        if_exists: false,
        cascade: false,
        concurrently: false,
        table: None,
    })
}

fn delete(table: &str, has_where: bool) -> StatementKind {
    StatementKind::Delete(Delete {
        tables: vec![ObjectName::simple(table)],
        has_where,
        filter: None,
    })
}

fn run(
    statements: &[Statement],
    env: Option<&str>,
    settings: &RiskSettings,
) -> (Vec<FileRisk>, RiskReport) {
    let files = [RiskFile {
        path: "m/001.sql",
        statements,
        in_change: true,
    }];
    assess(
        &files,
        &RiskContext {
            environment: env,
            settings,
        },
    )
}

fn level_of(kind: StatementKind) -> RiskLevel {
    run(&[stmt(kind, 1)], None, &RiskSettings::default())
        .1
        .level
}

#[test]
fn destructive_statements_are_high_with_a_reason_at_their_line() {
    let (files, report) = run(
        &[stmt(create_table("a"), 1), stmt(drop_table("old"), 7)],
        None,
        &RiskSettings::default(),
    );
    assert_eq!(report.level, RiskLevel::High);
    assert_eq!(report.reasons.len(), 1);
    assert_eq!(report.reasons[0].rule, "drop-table");
    assert_eq!(
        (report.reasons[0].path.as_str(), report.reasons[0].line),
        ("m/001.sql", 7)
    );
    assert_eq!(files[0].statements[0].level, RiskLevel::Low);
    assert_eq!(files[0].statements[1].class, "drop-table");
    let truncate = StatementKind::Truncate(Truncate {
        tables: vec![ObjectName::simple("x")],
        cascade: false,
    });
    assert_eq!(level_of(truncate), RiskLevel::High);
}

#[test]
fn delete_without_where_is_high_with_where_medium() {
    assert_eq!(level_of(delete("x", false)), RiskLevel::High);
    assert_eq!(level_of(delete("x", true)), RiskLevel::Medium);
}

#[test]
fn blocking_index_build_is_medium_only_on_an_existing_table() {
    assert_eq!(level_of(create_index("orders", false)), RiskLevel::Medium);
    assert_eq!(level_of(create_index("orders", true)), RiskLevel::Low);
    let (_, report) = run(
        &[
            stmt(create_table("prefs"), 1),
            stmt(create_index("prefs", false), 5),
        ],
        None,
        &RiskSettings::default(),
    );
    assert_eq!(report.level, RiskLevel::Low);
}

#[test]
fn tables_of_unchanged_files_are_existing_and_those_files_are_not_assessed() {
    let old = [stmt(create_table("prefs"), 1), stmt(drop_table("x"), 2)];
    let new = [stmt(create_index("prefs", false), 1)];
    let files = [
        RiskFile {
            path: "001.sql",
            statements: &old,
            in_change: false,
        },
        RiskFile {
            path: "002.sql",
            statements: &new,
            in_change: true,
        },
    ];
    let settings = RiskSettings::default();
    let (per_file, report) = assess(
        &files,
        &RiskContext {
            environment: None,
            settings: &settings,
        },
    );
    assert_eq!(report.level, RiskLevel::Medium);
    assert!(per_file[0].statements.is_empty());
    assert_eq!(report.reasons[0].path, "002.sql");
}

#[test]
fn any_ddl_in_production_is_high_but_not_in_development() {
    let statements = [stmt(create_table("prefs"), 1)];
    let settings = RiskSettings::default();
    let (_, prod) = run(&statements, Some("production"), &settings);
    assert_eq!(prod.level, RiskLevel::High);
    assert_eq!(prod.reasons[0].rule, "production-ddl");
    let (_, dev) = run(&statements, Some("development"), &settings);
    assert_eq!(dev.level, RiskLevel::Low);
    // DML is not a schema change.
    let (_, dml) = run(&[stmt(delete("x", true), 1)], Some("production"), &settings);
    assert_eq!(dml.level, RiskLevel::Medium);
}

#[test]
fn unparsed_statements_are_classified_from_their_keywords() {
    let unparsed = |lexical| StatementKind::Unparsed { lexical };
    assert_eq!(level_of(unparsed(LexicalClass::DropTable)), RiskLevel::High);
    assert_eq!(
        level_of(unparsed(LexicalClass::AlterTableDropColumn)),
        RiskLevel::High
    );
    assert_eq!(
        level_of(unparsed(LexicalClass::AlterTable)),
        RiskLevel::Medium
    );
    assert_eq!(level_of(unparsed(LexicalClass::Other)), RiskLevel::Low);
    assert_eq!(statement_class(&unparsed(LexicalClass::Other)), "unparsed");
    let drop_view = StatementKind::Drop(Drop {
        object: ObjectKind::View,
        names: vec![ObjectName::simple("v")],
        if_exists: false,
        cascade: false,
        concurrently: false,
        table: None,
    });
    assert_eq!(statement_class(&drop_view), "drop-view");
    let drop_domain = StatementKind::Drop(Drop {
        object: ObjectKind::Other("AGGREGATE".into()),
        names: vec![ObjectName::simple("a")],
        if_exists: false,
        cascade: false,
        concurrently: false,
        table: None,
    });
    assert_eq!(statement_class(&drop_domain), "drop-aggregate");
}

#[test]
fn configured_rules_override_first_match_wins() {
    let rule = |level, statement: &str, environment: Option<&str>| RiskRule {
        level,
        environment: environment.map(str::to_string),
        statement: Some(statement.to_string()),
        table: None,
        min_rows: None,
        reason: Some(format!("{statement} says {level}")),
    };
    let settings = RiskSettings {
        rules: vec![
            rule(RiskLevel::Low, "drop-table", Some("development")),
            rule(RiskLevel::Medium, "drop-table", None),
            rule(RiskLevel::High, "drop-table", None),
        ],
        ..RiskSettings::default()
    };
    let statements = [stmt(drop_table("scratch"), 3)];
    let (_, dev) = run(&statements, Some("development"), &settings);
    assert_eq!(dev.level, RiskLevel::Low);
    let (_, staging) = run(&statements, Some("staging"), &settings);
    assert_eq!(staging.level, RiskLevel::Medium);
    assert_eq!(staging.reasons[0].rule, "risk-rule-2");
    assert_eq!(staging.reasons[0].message, "drop-table says medium");
}

#[test]
fn a_row_estimate_above_the_threshold_makes_a_change_medium() {
    let mut settings = RiskSettings::default();
    settings.table_rows.insert("orders".to_string(), 5_000_000);
    settings.table_rows.insert("small".to_string(), 10);
    let alter = |t: &str| {
        StatementKind::AlterTable(crate::review::model::AlterTable {
            name: ObjectName::simple(t),
            if_exists: false,
            only: false,
            actions: vec![AlterAction::Other {
                description: "OWNER TO".into(),
            }],
            algorithm: None,
            lock: None,
        })
    };
    let (_, big) = run(&[stmt(alter("orders"), 1)], None, &settings);
    assert_eq!(big.level, RiskLevel::Medium);
    assert_eq!(big.reasons[0].rule, "large-table");
    let (_, small) = run(&[stmt(alter("small"), 1)], None, &settings);
    assert_eq!(small.level, RiskLevel::Low);
}
