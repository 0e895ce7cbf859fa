//! Tests of `review`.

use super::*;
use proptest::prelude::*;

fn input(path: &str, text: &[u8]) -> ReviewInput {
    ReviewInput {
        path: path.to_string(),
        text: text.to_vec(),
        change: FileChange::Added,
    }
}

fn run(inputs: &[ReviewInput], env: Option<&str>) -> ReviewReport {
    let settings = ReviewSettings::default();
    let risk = RiskSettings::default();
    review(
        inputs,
        &ReviewOptions {
            dialect: Dialect::Postgres,
            environment: env,
            settings: &settings,
            risk: &risk,
            lock_timeout_configured: false,
            base_versions: Vec::new(),
        },
    )
}

#[test]
fn files_come_out_in_version_order() {
    let report = run(
        &[
            input("m/10_c.sql", b"SELECT 1;"),
            input("m/2_b.sql", b"SELECT 1;"),
            input("m/001_a.sql", b"SELECT 1;"),
        ],
        None,
    );
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["m/001_a.sql", "m/2_b.sql", "m/10_c.sql"]);
}

#[test]
fn a_down_section_is_the_rollback_not_part_of_the_migration() {
    let report = run(
        &[input(
            "m/3_t.sql",
            b"CREATE TABLE t (id bigint PRIMARY KEY);\n-- bytegate:down\nDROP TABLE t;\n",
        )],
        Some("production"),
    );
    assert_eq!(report.files[0].statements, 1);
    assert!(
        report.files[0]
            .findings
            .iter()
            .all(|f| f.rule != "drop-table"),
        "{:?}",
        report.files[0].findings
    );
}

#[test]
fn empty_input_is_low_risk_with_no_findings() {
    let report = run(&[], None);
    assert!(report.files.is_empty());
    assert_eq!(report.risk.level, RiskLevel::Low);
    assert!(!report.has_errors());
    assert_eq!(report.to_json()["summary"]["errors"], 0);
}

#[test]
fn destructive_change_is_high_risk_pointing_at_its_line() {
    let report = run(
        &[input(
            "m/002_drop.sql",
            b"SET lock_timeout = '5s';\n\nDROP TABLE old_orders;\n",
        )],
        None,
    );
    assert_eq!(report.risk.level, RiskLevel::High);
    let reason = &report.risk.reasons[0];
    assert_eq!((reason.rule.as_str(), reason.line), ("drop-table", 3));
    assert_eq!(report.files[0].statements, 2);
}

#[test]
fn non_utf8_bytes_are_replaced_not_rejected() {
    let report = run(
        &[input(
            "m/001.sql",
            b"DELETE FROM t\xff\xfe;\nDELETE FROM u WHERE id = 1;",
        )],
        None,
    );
    assert_eq!(report.files[0].statements, 2);
    assert_eq!(report.risk.level, RiskLevel::High);
}

#[test]
fn large_sets_parse_in_parallel_with_the_same_result_in_order() {
    let body = "CREATE TABLE t (id bigint PRIMARY KEY);\nDELETE FROM t WHERE id = 1;\n".repeat(200);
    let inputs: Vec<ReviewInput> = (0..40)
        .map(|i| input(&format!("m/{i:03}_x.sql"), body.as_bytes()))
        .collect();
    assert!(inputs.iter().map(|i| i.text.len() as u64).sum::<u64>() > PARALLEL_PARSE_BYTES);
    let sources: Vec<Source<'_>> = inputs
        .iter()
        .map(|i| Source {
            path: &i.path,
            text: Mutex::new(Cow::Owned(i.text.clone())),
            len: i.text.len() as u64,
            change: &i.change,
        })
        .collect();
    let parsed = parse_all(&sources, Dialect::Postgres, u64::MAX);
    assert_eq!(parsed.len(), 40);
    for (file, errors) in &parsed {
        assert!(errors.is_empty());
        assert_eq!(file.statements, parse::parse_file(&body, Dialect::Postgres));
    }
    assert_eq!(parsed[0].0.statements.len(), 400);
    // Each file's bytes went once it was parsed.
    for s in &sources {
        assert!(s.text.lock().unwrap().is_empty());
    }
}

#[test]
fn review_by_value_gives_the_same_report() {
    let inputs = vec![
        input("m/002_b.sql", b"ALTER TABLE t ADD COLUMN c int NOT NULL;"),
        input("m/001_a.sql", b"CREATE TABLE t (id serial PRIMARY KEY);"),
    ];
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
    let borrowed = review(&inputs, &opts);
    assert!(!borrowed.files.iter().all(|f| f.findings.is_empty()));
    assert_eq!(review_owned(inputs, &opts), borrowed);
}

fn capped(max: u64) -> ReviewSettings {
    ReviewSettings {
        max_file_bytes: Some(max),
        ..ReviewSettings::default()
    }
}

fn run_with(inputs: &[ReviewInput], settings: &ReviewSettings) -> ReviewReport {
    let risk = RiskSettings::default();
    review(
        inputs,
        &ReviewOptions {
            dialect: Dialect::Postgres,
            environment: Some("development"),
            settings,
            risk: &risk,
            lock_timeout_configured: false,
            base_versions: Vec::new(),
        },
    )
}

#[test]
fn a_file_above_the_cap_is_not_parsed_high_risk_and_not_deployable() {
    let sql = b"CREATE TABLE t (id bigint PRIMARY KEY);\nDROP TABLE t;\n";
    let settings = capped(sql.len() as u64 - 1);
    let report = run_with(
        &[
            input("m/001_small.sql", b"SELECT 1;"),
            input("m/002_big.sql", sql),
        ],
        &settings,
    );
    let big = &report.files[1];
    assert_eq!(big.path, "m/002_big.sql");
    assert!(big.too_large());
    assert_eq!(big.statements, 0, "the file must not be parsed");
    let rules: Vec<&str> = big.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, [FILE_TOO_LARGE_RULE]);
    assert_eq!(big.findings[0].severity, Severity::Error);
    assert_eq!(big.risk.level, RiskLevel::High);
    assert_eq!(report.risk.level, RiskLevel::High);
    assert_eq!(report.risk.reasons[0].rule, FILE_TOO_LARGE_RULE);
    assert!(report.has_errors());
    assert!(report.has_too_large_files());
    assert!(file_too_large(sql.len() as u64, &settings));
    // The small file beside it is reviewed as usual.
    assert!(!report.files[0].too_large());
    assert_eq!(report.files[0].statements, 1);
}

#[test]
fn a_file_at_the_cap_is_reviewed_normally() {
    let sql = b"DROP TABLE t;";
    let settings = capped(sql.len() as u64);
    let report = run_with(&[input("m/001.sql", sql)], &settings);
    assert!(!report.has_too_large_files());
    assert!(!file_too_large(sql.len() as u64, &settings));
    assert_eq!(report.files[0].statements, 1);
    assert!(
        report.files[0]
            .findings
            .iter()
            .any(|f| f.rule == "drop-table")
    );
    let default = ReviewSettings::default();
    assert!(!file_too_large(settings::DEFAULT_MAX_FILE_BYTES, &default));
    assert!(file_too_large(
        settings::DEFAULT_MAX_FILE_BYTES + 1,
        &default
    ));
}

#[test]
fn files_the_change_does_not_apply_get_no_size_finding() {
    let settings = capped(4);
    let mut old = input("m/001.sql", b"CREATE TABLE t (id bigint PRIMARY KEY);");
    old.change = FileChange::Unchanged;
    let mut gone = input("m/002.sql", b"CREATE TABLE u (id bigint PRIMARY KEY);");
    gone.change = FileChange::Removed;
    let report = run_with(&[old, gone], &settings);
    assert!(!report.has_too_large_files());
    assert_eq!(report.risk.level, RiskLevel::Low);
}

#[test]
fn a_repository_config_can_lower_the_cap_but_never_raise_it() {
    use crate::flow::repo_config::RepoConfig;
    let server = capped(1000);
    let raise = RepoConfig::parse("review:\n  max_file_bytes: 100000000\n").unwrap();
    assert_eq!(raise.merged_review(&server).max_file_bytes(), 1000);
    let lower = RepoConfig::parse("review:\n  max_file_bytes: 10\n").unwrap();
    assert_eq!(lower.merged_review(&server).max_file_bytes(), 10);
    // Against the default cap, too.
    let merged = raise.merged_review(&ReviewSettings::default());
    assert_eq!(merged.max_file_bytes(), settings::DEFAULT_MAX_FILE_BYTES);
    // And a repository cannot switch the finding off.
    let off = RepoConfig::parse(
        "review:\n  rules:\n    file-too-large: {severity: off}\n    max-sql-size: {severity: off}\n",
    )
    .unwrap();
    let merged = off.merged_review(&capped(4));
    let report = run_with(&[input("m/001.sql", b"SELECT 1;")], &merged);
    assert!(report.has_too_large_files());
    assert!(report.has_errors());
}

fn assert_sane(report: &ReviewReport, files: usize) {
    assert_eq!(report.files.len(), files);
    let mut counted = Summary::default();
    for f in &report.files {
        counted.suppressed += f.suppressed;
        for x in &f.findings {
            assert_ne!(x.rule, INTERNAL_ERROR_RULE, "{}: {}", f.path, x.message);
            assert!(x.span.start.line >= 1, "{x:?}");
            match x.severity {
                Severity::Error => counted.errors += 1,
                Severity::Warning => counted.warnings += 1,
                Severity::Info => counted.infos += 1,
                Severity::Off => panic!("an `off` finding was reported"),
            }
        }
        assert!(f.risk.level <= report.risk.level);
    }
    assert_eq!(counted, report.summary);
    // Every renderer copes with whatever came out.
    for format in [
        report::Format::Text,
        report::Format::Json,
        report::Format::Sarif,
        report::Format::Github,
        report::Format::Gitlab,
    ] {
        assert!(!format.render(report).is_empty());
    }
}

/// Pieces SQL is made of, including the ones that trip up splitters:
/// quotes, dollar quotes, comments, nesting, non-ASCII.
const PIECES: &[&str] = &[
    "CREATE TABLE ",
    "ALTER TABLE ",
    "DROP TABLE ",
    "CREATE INDEX CONCURRENTLY ",
    "ON ",
    "t",
    "users",
    "(",
    ")",
    ",",
    ";",
    " ",
    "\n",
    "id bigint PRIMARY KEY",
    "NOT NULL",
    "DEFAULT ",
    "now()",
    "'",
    "''",
    "\"",
    "$$",
    "$tag$",
    "--",
    "/*",
    "*/",
    "E'\\'",
    "DELETE FROM ",
    "UPDATE ",
    "SET ",
    "WHERE ",
    "= 1",
    "BEGIN",
    "COMMIT",
    "TRUNCATE ",
    "DO ",
    "REFERENCES ",
    "CHECK (",
    "NOT VALID",
    "-- bytegate-ignore ",
    "drop-table",
    "é",
    "\u{0}",
    "\u{feff}",
    "`",
    "#",
    "\\",
    "ADD COLUMN ",
    "TYPE ",
    "varchar(99999999999999999999)",
    "RENAME TO ",
];

fn sql_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..80).prop_map(|v| v.concat())
}

const SEED: &str = "SET lock_timeout = '5s';\nCREATE TABLE user_preferences (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  user_id bigint NOT NULL REFERENCES users (id),\n  theme varchar(20) DEFAULT 'light'\n);\nCREATE INDEX idx_user_preferences_user_id ON user_preferences (user_id);\nALTER TABLE users ADD COLUMN note text, ALTER COLUMN age TYPE bigint;\nDO $$ BEGIN PERFORM 1; END $$;\n-- bytegate-ignore drop-table\nDROP TABLE old;\nDELETE FROM x WHERE id = 1;\n";

/// The seed migration with byte-level edits: inserts, deletions, overwrites.
fn mutated_seed() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0..SEED.len(), any::<u8>(), 0..3u8), 0..12).prop_map(|edits| {
        let mut bytes = SEED.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let at = at.min(bytes.len());
            match op {
                0 => bytes.insert(at, byte),
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ if at < bytes.len() => bytes[at] = byte,
                _ => bytes.push(byte),
            }
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_sql_never_panics(a in sql_soup(), b in sql_soup()) {
        let report = run(&[input("m/002_b.sql", b.as_bytes()), input("m/001_a.sql", a.as_bytes())], Some("production"));
        assert_sane(&report, 2);
    }

    #[test]
    fn mutated_migrations_never_panic(bytes in mutated_seed()) {
        let report = run(&[input("m/001.sql", &bytes)], None);
        assert_sane(&report, 1);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let report = run(&[input("m/001.sql", &bytes)], Some("development"));
        assert_sane(&report, 1);
    }
}
