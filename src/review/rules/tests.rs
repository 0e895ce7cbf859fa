//! Tests of the rule registry and the lint driver.

use super::test_utils::*;
use super::*;
use crate::review::settings::{CustomRule, RuleSetting};

#[test]
fn every_kind_of_data_loss_has_its_rule() {
    for loss in crate::review::data_loss::DataLoss::ALL {
        assert!(is_known_rule(loss.rule_id()), "{loss:?}");
    }
}

#[test]
fn registry_ids_are_unique_kebab_case_and_documented() {
    let mut seen = std::collections::HashSet::new();
    for r in registry() {
        assert!(seen.insert(r.id), "duplicate id {}", r.id);
        assert!(
            r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{}",
            r.id
        );
        assert!(!r.description.is_empty() && !r.why.is_empty() && !r.instead.is_empty());
        assert!(!r.dialects.is_empty());
    }
    assert!(is_known_rule("table-require-pk"));
    assert!(is_known_rule("truncate-cascade"));
    assert!(!is_known_rule("no-such-rule"));
}

/// The repository's rule catalogue (RULES.md): compiled in, so it cannot be missing.
const RULES_MD: &str = include_str!("../../../RULES.md");

/// The text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in RULES.md.
fn rules_md_section(name: &str) -> &'static str {
    let start = format!("<!-- {name}:start -->\n");
    let end = format!("<!-- {name}:end -->");
    let from = RULES_MD
        .find(&start)
        .unwrap_or_else(|| panic!("RULES.md has no {start}"))
        + start.len();
    let to = RULES_MD[from..]
        .find(&end)
        .unwrap_or_else(|| panic!("RULES.md has no {end}"))
        + from;
    &RULES_MD[from..to]
}

/// RULES.md's catalogue is the registry's (id, default severity, dialects,
/// what it flags, why, instead). `BYTEGATE_WRITE_RULES_MD=1` rewrites it.
#[test]
fn rules_md_lists_every_rule() {
    let want = catalog_markdown();
    let have = rules_md_section("catalogue");
    if have == want {
        return;
    }
    if std::env::var_os("BYTEGATE_WRITE_RULES_MD").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("RULES.md");
        let section = |body: &str| format!("catalogue:start -->\n{body}<!-- catalogue:end");
        let text = RULES_MD.replacen(&section(have), &section(&want), 1);
        std::fs::write(&path, text).unwrap();
        return;
    }
    for r in registry() {
        assert!(
            have.contains(&format!("| `{}` |", r.id)),
            "RULES.md does not list `{}`: run BYTEGATE_WRITE_RULES_MD=1 cargo test --lib review::rules::tests::rules_md_lists_every_rule",
            r.id
        );
    }
    assert_eq!(
        have, want,
        "RULES.md's catalogue differs from the registry (same command rewrites it)"
    );
}

/// Every PostgreSQL rule of Bytebase's SQL review (its advisor's catalogue)
/// has a row in RULES.md's mapping, naming registered rules or saying why not.
#[test]
fn rules_md_maps_every_bytebase_postgres_rule() {
    const BYTEBASE_PG: &[&str] = &[
        "naming.table",
        "naming.column",
        "naming.index.pk",
        "naming.index.uk",
        "naming.index.fk",
        "naming.index.idx",
        "naming.fully-qualified",
        "statement.select.no-select-all",
        "statement.where.require.select",
        "statement.where.require.update-delete",
        "statement.where.no-leading-wildcard-like",
        "statement.where.disallow-functions-and-calculations",
        "statement.disallow-on-del-cascade",
        "statement.disallow-rm-tbl-cascade",
        "statement.disallow-commit",
        "statement.disallow-truncate",
        "statement.merge-alter-table",
        "statement.insert.row-limit",
        "statement.insert.must-specify-column",
        "statement.insert.disallow-order-by-rand",
        "statement.affected-row-limit",
        "statement.dml-dry-run",
        "statement.disallow-add-column-with-default",
        "statement.add-check-not-valid",
        "statement.add-foreign-key-not-valid",
        "statement.disallow-add-not-null",
        "statement.create-specify-schema",
        "statement.check-set-role-variable",
        "statement.disallow-mix-in-ddl",
        "statement.disallow-mix-in-dml",
        "statement.non-transactional",
        "statement.maximum-limit-value",
        "statement.object-owner-check",
        "statement.prior-backup-check",
        "table.require-pk",
        "table.no-foreign-key",
        "table.drop-naming-convention",
        "table.comment",
        "table.disallow-partition",
        "column.required",
        "column.no-null",
        "column.disallow-change-type",
        "column.type-disallow-list",
        "column.maximum-character-length",
        "column.require-default",
        "column.default-disallow-volatile",
        "column.comment",
        "schema.backward-compatibility",
        "index.no-duplicate-column",
        "index.key-number-limit",
        "index.total-number-limit",
        "index.primary-key-type-allowlist",
        "index.create-concurrently",
        "system.charset.allowlist",
        "system.collation.allowlist",
        "system.comment.length",
    ];
    let mut mapped = std::collections::HashMap::new();
    for line in rules_md_section("bytebase").lines().skip(2) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 3, "malformed mapping row: {line}");
        let ours: Vec<&str> = cells[1].split('`').skip(1).step_by(2).collect();
        for id in &ours {
            assert!(
                is_known_rule(id),
                "RULES.md maps {} to unknown rule `{id}`",
                cells[0]
            );
        }
        assert!(
            !ours.is_empty() || (cells[1] == "not applicable" && !cells[2].is_empty()),
            "{}: name a rule, or say `not applicable` and why",
            cells[0]
        );
        mapped.insert(cells[0].trim_matches('`'), ours);
    }
    for name in BYTEBASE_PG {
        assert!(
            mapped.contains_key(name),
            "RULES.md does not map Bytebase's `{name}`"
        );
    }
}

/// The issue's breadth goal: at least 75 rules, each with why and instead.
#[test]
fn registry_has_the_breadth_of_bytebases_catalogue() {
    assert!(registry().len() >= 75, "{} rules", registry().len());
}

/// A rule that is off runs only when a comment names it: an ignore naming
/// it is still judged by what it silences, not reported as unused.
#[test]
fn an_ignore_naming_an_off_rule_is_not_unused() {
    let out = lint_with(
        "-- bytegate-ignore select-star -- ad-hoc check\nSELECT * FROM users WHERE id = 1;",
        Dialect::Postgres,
        None,
        &ReviewSettings::default(),
    );
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let stray = lint_with(
        "-- bytegate-ignore select-star\nSELECT id FROM users WHERE id = 1;",
        Dialect::Postgres,
        None,
        &ReviewSettings::default(),
    );
    assert_eq!(
        stray
            .findings
            .iter()
            .map(|f| f.rule.as_str())
            .collect::<Vec<_>>(),
        ["unknown-ignore"]
    );
}

#[test]
fn catalog_markdown_lists_every_rule() {
    let md = catalog_markdown();
    assert_eq!(md.lines().count(), registry().len() + 2);
    assert!(md.contains("| `table-require-pk` | error | postgres, mysql |"));
}

#[test]
fn registry_has_the_seed_rules_with_their_severities() {
    let sev = |id| rule_info(id).map(|r| r.default_severity);
    assert_eq!(sev("table-require-pk"), Some(Severity::Error));
    assert_eq!(sev("pk-no-null"), Some(Severity::Error));
    assert_eq!(sev("fk-require-index"), Some(Severity::Warning));
    assert_eq!(sev("naming-snake-case"), Some(Severity::Warning));
    assert_eq!(sev("text-type-limit"), Some(Severity::Warning));
}

fn settings_with(id: &str, setting: RuleSetting) -> ReviewSettings {
    let mut s = ReviewSettings::default();
    s.rules.insert(id.to_string(), setting);
    s
}

#[test]
fn severity_resolution_env_over_rule_over_default() {
    let sql = "DROP TABLE users;";
    let mut envs = std::collections::BTreeMap::new();
    envs.insert("development".to_string(), Severity::Info);
    let s = settings_with(
        "drop-table",
        RuleSetting {
            severity: Some(Severity::Warning),
            environments: envs,
            ..RuleSetting::default()
        },
    );
    let sev = |env| {
        lint_with(sql, Dialect::Postgres, env, &s)
            .findings
            .iter()
            .find(|f| f.rule == "drop-table")
            .map(|f| f.severity)
    };
    assert_eq!(sev(Some("development")), Some(Severity::Info));
    assert_eq!(sev(Some("production")), Some(Severity::Warning));
    assert_eq!(sev(None), Some(Severity::Warning));
    let default = lint_with(sql, Dialect::Postgres, None, &ReviewSettings::default());
    let f = default
        .findings
        .iter()
        .find(|f| f.rule == "drop-table")
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.help.as_deref().unwrap().contains("Instead:"));
}

#[test]
fn off_drops_the_finding_without_counting_it() {
    let s = settings_with(
        "drop-table",
        RuleSetting {
            severity: Some(Severity::Off),
            ..RuleSetting::default()
        },
    );
    let out = lint_with("DROP TABLE users;", Dialect::Postgres, None, &s);
    assert!(out.findings.iter().all(|f| f.rule != "drop-table"));
    assert_eq!(out.suppressed, 0);
}

#[test]
fn require_lock_timeout_is_info_when_the_environment_sets_one() {
    let sql = "ALTER TABLE users ADD COLUMN note text;";
    let sev = |configured| {
        lint_files_with(
            &[("001_a.sql", sql, FileChange::Added)],
            Dialect::Postgres,
            None,
            &ReviewSettings::default(),
            configured,
            &[],
        )[0]
        .findings
        .iter()
        .find(|f| f.rule == "require-lock-timeout")
        .map(|f| f.severity)
    };
    assert_eq!(sev(false), Some(Severity::Warning));
    assert_eq!(sev(true), Some(Severity::Info));
}

fn seed_custom() -> ReviewSettings {
    ReviewSettings {
        rules: Default::default(),
        max_file_bytes: None,
        custom: vec![
            CustomRule {
                name: "no_truncate_in_prod".into(),
                severity: Severity::Error,
                environments: vec!["production".into()],
                patterns: vec![r"\bTRUNCATE\b".into()],
                message: "TRUNCATE is not allowed in production.".into(),
            },
            CustomRule {
                name: "require_soft_delete".into(),
                severity: Severity::Warning,
                environments: vec![],
                patterns: vec![r"^\s*DELETE\s+FROM\b".into()],
                message: "Prefer a soft delete.".into(),
            },
        ],
    }
}

fn custom_hits(sql: &str, env: Option<&str>) -> Vec<(String, Severity, u32)> {
    lint_with(sql, Dialect::Postgres, env, &seed_custom())
        .findings
        .into_iter()
        .filter(|f| f.rule.contains('_'))
        .map(|f| (f.rule, f.severity, f.span.start.line))
        .collect()
}

#[test]
fn seed_truncate_custom_rule_fires_only_in_production() {
    let sql = "SELECT 1;\nTRUNCATE TABLE sessions;";
    assert_eq!(
        custom_hits(sql, Some("production")),
        [("no_truncate_in_prod".to_string(), Severity::Error, 2)]
    );
    assert!(custom_hits(sql, Some("development")).is_empty());
    assert!(custom_hits(sql, None).is_empty());
}

#[test]
fn seed_soft_delete_custom_rule_in_every_environment() {
    let sql = "/* cleanup */ delete\n  from sessions where id = 1;\nUPDATE t SET deleted_at = now() WHERE id = 1;";
    for env in [Some("development"), Some("production"), None] {
        assert_eq!(
            custom_hits(sql, env),
            [("require_soft_delete".to_string(), Severity::Warning, 1)]
        );
    }
}

#[test]
fn custom_patterns_ignore_comments() {
    let sql = "-- TRUNCATE is banned\nSELECT 1 /* truncate */;";
    assert!(custom_hits(sql, Some("production")).is_empty());
}

#[test]
fn validate_settings_reports_unknown_ids_and_bad_patterns() {
    let mut s = seed_custom();
    s.rules
        .insert("no_truncate_in_prod".into(), RuleSetting::default());
    assert!(validate_settings(&s).is_empty());
    s.rules.insert("nope".into(), RuleSetting::default());
    s.rules.insert(
        "naming-snake-case".into(),
        RuleSetting {
            pattern: Some("(".into()),
            ..RuleSetting::default()
        },
    );
    assert_eq!(validate_settings(&s).len(), 2);
}

#[test]
fn validate_settings_reports_unknown_template_tokens() {
    let mut s = ReviewSettings::default();
    s.rules.insert(
        "naming-index-template".into(),
        RuleSetting {
            template: Some("idx_{{table}}_{{columns}}".into()),
            ..RuleSetting::default()
        },
    );
    assert_eq!(
        validate_settings(&s),
        [
            "review.rules.naming-index-template.template: unknown token `{{columns}}` in `idx_{{table}}_{{columns}}`"
        ]
    );
    s.rules.get_mut("naming-index-template").unwrap().template =
        Some("{{table}}_{{column_list}}_idx".into());
    assert!(validate_settings(&s).is_empty());
}

#[test]
fn seed_guide_user_preferences_without_pk() {
    let sql = "CREATE TABLE user_preferences (\n  user_id bigint NOT NULL REFERENCES users (id),\n  theme varchar(20) NOT NULL DEFAULT 'light'\n);\nCREATE INDEX idx_user_preferences_user_id ON user_preferences (user_id);";
    // The missing key, and the lock the FK takes on existing `users`; the FK
    // is indexed, and the index is on a new table.
    assert_eq!(
        lint_errors(sql),
        [
            ("table-require-pk".to_string(), 1),
            ("fk-lock-referenced-table".to_string(), 2)
        ]
    );
}

#[test]
fn seed_guide_user_preferences_with_pk_and_index_is_clean() {
    let sql = "CREATE TABLE user_preferences (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  user_id bigint NOT NULL REFERENCES users (id),\n  theme varchar(20) NOT NULL DEFAULT 'light',\n  created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX idx_user_preferences_user_id ON user_preferences (user_id);";
    // Clean but for the lock its foreign key takes on existing `users`.
    assert_eq!(
        lint_errors(sql),
        [("fk-lock-referenced-table".to_string(), 3)]
    );
    lint_ok(&format!(
        "CREATE TABLE users (id bigint PRIMARY KEY);\n{sql}"
    ));
}

#[test]
fn seed_guide_delete_with_and_without_where() {
    assert_eq!(
        lint_errors("DELETE FROM x;"),
        [("dml-require-where".to_string(), 1)]
    );
    lint_ok("DELETE FROM x WHERE id = 1;");
}

#[test]
fn findings_carry_configured_severity_help_and_position() {
    let out = lint_with(
        "SELECT 1;\n  DROP TABLE users;",
        Dialect::Postgres,
        None,
        &ReviewSettings::default(),
    );
    let f = out
        .findings
        .iter()
        .find(|f| f.rule == "drop-table")
        .unwrap();
    assert_eq!((f.span.start.line, f.span.start.column), (2, 14));
    assert!(f.message.contains("users"));
}

const FRAGMENTS: &[&str] = &[
    "CREATE TABLE t (id int PRIMARY KEY, a text NULL REFERENCES p (id));",
    "ALTER TABLE t ADD COLUMN b bigserial NOT NULL DEFAULT random();",
    "ALTER TABLE t DROP CONSTRAINT t_pkey CASCADE;",
    "CREATE INDEX CONCURRENTLY i ON t (a, a);",
    "DROP INDEX i;",
    "BEGIN;",
    "COMMIT;",
    "-- bytegate-ignore drop-table, nope -- why\n",
    "-- bytegate-ignore-file truncate\n",
    "/* bytegate-ignore */",
    "TRUNCATE t CASCADE;",
    "DELETE FROM t;",
    "UPDATE t SET a = 1, a = 2;",
    "SET lock_timeout = '1s';",
    "VACUUM FULL t;",
    "ALTER TABLE t VALIDATE CONSTRAINT c;",
    "$$",
    "'",
    "(((",
    ";",
    "\n",
    "ALTER TABLE t RENAME TO u;",
    "INSERT INTO t VALUES (1);",
];

proptest::proptest! {
    #[test]
    fn lint_never_panics_on_mixed_fragments(
        picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..24),
        noise in "[ -~\\n]{0,40}",
        mysql in proptest::bool::ANY,
    ) {
        let mut sql: String = picks.iter().map(|&i| FRAGMENTS[i]).collect::<Vec<_>>().join(" ");
        sql.push_str(&noise);
        let dialect = if mysql { Dialect::Mysql } else { Dialect::Postgres };
        let out = lint_with(&sql, dialect, Some("production"), &seed_custom());
        proptest::prop_assert_eq!(out.suppressed, out.suppressions.len());
    }
}

fn render(out: &FileFindings) -> String {
    let mut s: String = out
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}:{} {} {}: {}\n",
                f.span.start.line, f.span.start.column, f.severity, f.rule, f.message
            )
        })
        .collect();
    s.push_str(&format!("suppressed: {}\n", out.suppressed));
    s
}

#[test]
fn snapshot_postgres_kitchen_sink() {
    let sql = "\
-- bytegate-ignore-file prefer-identity
CREATE TABLE \"Events\" (
  id serial PRIMARY KEY,
  payload json,
  at timestamp,
  code char(2),
  owner_id bigint REFERENCES users (id)
);
ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
CREATE INDEX users_tenant ON users (tenant_id);
-- bytegate-ignore drop-column -- unused since v3
ALTER TABLE users DROP COLUMN legacy;
DELETE FROM sessions;
BEGIN;
TRUNCATE audit CASCADE;
";
    let out = lint_with(sql, Dialect::Postgres, Some("production"), &seed_custom());
    insta::assert_snapshot!(render(&out));
}

#[test]
fn snapshot_mysql_kitchen_sink() {
    let sql = "\
CREATE TABLE logs (id int AUTO_INCREMENT, msg varchar(2000)) ENGINE=MyISAM;
ALTER TABLE users ADD COLUMN age int NOT NULL;
ALTER TABLE users CHANGE name full_name varchar(100), ALGORITHM=INPLACE, LOCK=NONE;
UPDATE users SET age = 1, age = 2;
INSERT INTO users VALUES (1, 'a');
";
    let out = lint_with(sql, Dialect::Mysql, None, &ReviewSettings::default());
    insta::assert_snapshot!(render(&out));
}

#[test]
fn unchanged_files_are_context_only() {
    let out = lint_files_with(
        &[
            (
                "001_a.sql",
                "CREATE TABLE a (x int);",
                FileChange::Unchanged,
            ),
            ("002_b.sql", "DROP TABLE a;", FileChange::Added),
        ],
        Dialect::Postgres,
        None,
        &ReviewSettings::default(),
        false,
        &[],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].path, "002_b.sql");
    assert!(out[0].findings.iter().any(|f| f.rule == "drop-table"));
}

#[test]
fn a_later_file_sees_tables_an_earlier_one_created() {
    // Given out of order on purpose: lint follows version order.
    let out = lint_files_with(
        &[
            (
                "002_b.sql",
                "CREATE INDEX a_x_idx ON a (x);",
                FileChange::Added,
            ),
            (
                "001_a.sql",
                "CREATE TABLE a (id bigint PRIMARY KEY, x bigint);",
                FileChange::Added,
            ),
        ],
        Dialect::Postgres,
        None,
        &ReviewSettings::default(),
        false,
        &[],
    );
    assert_eq!(out[0].path, "002_b.sql");
    assert!(out[0].findings.is_empty(), "{:?}", out[0].findings);
}
