//! `bytegate config check`: the example passes; each kind of mistake exits 2
//! and names the key path.

use std::path::Path;
use std::process::Command;

fn check(file: &str) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .current_dir(root)
        .args(["config", "check", file])
        .env_remove("BYTEGATE_TEST_SURELY_UNSET_VAR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_example_config_passes() {
    let (code, stdout, stderr) = check("fixtures/config/bytegate.yaml");
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stdout.contains("development → staging → production"),
        "{stdout}"
    );
}

#[test]
fn unknown_key_names_the_path_and_line() {
    let (code, _, stderr) = check("tests/fixtures/config/unknown-key.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown-key.yaml:7"), "{stderr}");
    assert!(
        stderr.contains("environments[0].aproval_timeout"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unknown field `aproval_timeout`"),
        "{stderr}"
    );
}

#[test]
fn missing_environment_variable_names_key_and_variable() {
    let (code, _, stderr) = check("tests/fixtures/config/missing-var.yaml");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("environments[0].databases[0].url"),
        "{stderr}"
    );
    assert!(
        stderr.contains("BYTEGATE_TEST_SURELY_UNSET_VAR"),
        "{stderr}"
    );
}

#[test]
fn duplicate_environment_is_rejected() {
    let (code, _, stderr) = check("tests/fixtures/config/duplicate-env.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("environments[2].name"), "{stderr}");
    assert!(
        stderr.contains("duplicate environment `staging`"),
        "{stderr}"
    );
}

#[test]
fn unknown_role_is_rejected() {
    let (code, _, stderr) = check("tests/fixtures/config/unknown-role.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("environments[0].roles[1]"), "{stderr}");
    assert!(stderr.contains("unknown role `owner`"), "{stderr}");
}

#[test]
fn bad_window_is_rejected() {
    let (code, _, stderr) = check("tests/fixtures/config/bad-window.yaml");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("environments[0].deploy_window.start"),
        "{stderr}"
    );
    assert!(stderr.contains("HH:MM"), "{stderr}");
}

#[test]
fn missing_required_field_is_rejected() {
    let (code, _, stderr) = check("tests/fixtures/config/missing-field.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("project"), "{stderr}");
    assert!(stderr.contains("missing field `key`"), "{stderr}");
}

#[test]
fn unreadable_file_exits_2() {
    let (code, _, stderr) = check("tests/fixtures/config/does-not-exist.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
}

#[test]
fn unknown_rule_id_is_rejected() {
    let (code, _, stderr) = check("tests/fixtures/config/unknown-rule.yaml");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("review.rules.table-requires-pk"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `table-require-pk`"),
        "{stderr}"
    );
}

#[test]
fn a_zero_file_size_cap_is_rejected() {
    let (code, _, stderr) = check("tests/fixtures/config/zero-max-file-bytes.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("review.max_file_bytes"), "{stderr}");
    assert!(stderr.contains("at least 1"), "{stderr}");
}

#[test]
fn the_file_too_large_rule_cannot_be_configured() {
    let (code, _, stderr) = check("tests/fixtures/config/file-too-large-configured.yaml");
    assert_eq!(code, 2);
    assert!(stderr.contains("review.rules.file-too-large"), "{stderr}");
    assert!(stderr.contains("review.max_file_bytes"), "{stderr}");
}
