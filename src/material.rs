//! Test support: where the shared test material (`shared/`: upstream corpora,
//! RULES.md) is, and what a test does when it is not there.
//!
//! The folder is `$BYTEGATE_SHARED_DIR`, else `../shared` beside the crate.
//! When it (or the file asked for) is missing, a test skips with a printed
//! "skipped: …" line, unless `BYTEGATE_REQUIRE_MATERIAL=1` (CI sets it): then
//! it fails, so CI can never pass by not looking.

use std::path::{Path, PathBuf};

/// Env var naming the shared material folder.
pub const SHARED_DIR_VAR: &str = "BYTEGATE_SHARED_DIR";
/// Env var that makes missing material a test failure (`1`).
pub const REQUIRE_VAR: &str = "BYTEGATE_REQUIRE_MATERIAL";

/// What a test gets for a path under the shared folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// The file or folder exists here.
    Found(PathBuf),
    /// Missing, and allowed to be: the test prints this and returns.
    Skip(String),
    /// Missing, and required: the test fails with this message.
    Fail(String),
}

/// Locates `relative` (e.g. `upstream/corpus/lemmy`) under the shared folder;
/// `lookup` reads environment variables, `manifest_dir` is the crate's folder.
pub fn locate(
    relative: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    manifest_dir: &Path,
) -> Material {
    let (root, from) = match lookup(SHARED_DIR_VAR).filter(|v| !v.is_empty()) {
        Some(dir) => (PathBuf::from(dir), SHARED_DIR_VAR),
        None => (manifest_dir.join("../shared"), "the default ../shared"),
    };
    let path = root.join(relative);
    if path.exists() {
        return Material::Found(path);
    }
    let what = format!(
        "test material {} is missing ({} from {from})",
        path.display(),
        root.display()
    );
    if lookup(REQUIRE_VAR).is_some_and(|v| v.trim() == "1") {
        Material::Fail(format!(
            "{what}; {REQUIRE_VAR}=1 makes that an error: set {SHARED_DIR_VAR} to the shared/ folder (.ci/run finds it beside the checkout or beside the repository it was cloned from)"
        ))
    } else {
        Material::Skip(format!(
            "skipped: {what}; set {SHARED_DIR_VAR} to run this test"
        ))
    }
}

/// The path of `relative` under the shared folder, from this process's
/// environment. `None` (after printing why) when it is missing and not
/// required; panics with a clear message when it is required.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let lookup = |name: &str| std::env::var(name).ok();
    match locate(relative, &lookup, Path::new(env!("CARGO_MANIFEST_DIR"))) {
        Material::Found(path) => Some(path),
        Material::Skip(message) => {
            println!("{message}");
            None
        }
        Material::Fail(message) => panic!("{message}"),
    }
}

/// Every file below `dir` (recursively) that `keep` accepts, sorted: how
/// the tests walk a corpus. An unreadable folder adds nothing.
pub fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, keep, out);
            } else if keep(&path) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, keep, &mut out);
    out.sort();
    out
}

/// Every `.sql` file below `dir`, sorted.
pub fn sql_files_under(dir: &Path) -> Vec<PathBuf> {
    files_under(dir, &|p| p.extension().is_some_and(|e| e == "sql"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_env_var_wins_over_the_folder_beside_the_crate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("upstream/x")).unwrap();
        let root = dir.path().to_str().unwrap();
        let got = locate(
            "upstream/x",
            &env(&[(SHARED_DIR_VAR, root)]),
            Path::new("/nonexistent"),
        );
        assert_eq!(got, Material::Found(dir.path().join("upstream/x")));
        // Without it, ../shared beside the manifest folder.
        let crate_dir = dir.path().join("crate");
        std::fs::create_dir_all(&crate_dir).unwrap();
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        std::fs::write(dir.path().join("shared/RULES.md"), "x").unwrap();
        let got = locate("RULES.md", &env(&[]), &crate_dir);
        assert_eq!(
            got,
            Material::Found(crate_dir.join("../shared").join("RULES.md"))
        );
    }

    #[test]
    fn missing_material_skips_unless_required_then_fails() {
        let nowhere = Path::new("/nonexistent/crate");
        match locate("upstream/corpus/lemmy", &env(&[]), nowhere) {
            Material::Skip(m) => {
                assert!(m.starts_with("skipped: "), "{m}");
                assert!(m.contains("/nonexistent/crate/../shared/upstream/corpus/lemmy"));
            }
            other => panic!("expected a skip, got {other:?}"),
        }
        match locate("RULES.md", &env(&[(REQUIRE_VAR, "1")]), nowhere) {
            Material::Fail(m) => {
                assert!(m.contains(REQUIRE_VAR) && m.contains(SHARED_DIR_VAR), "{m}");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        // Only `1` requires it.
        assert!(matches!(
            locate("RULES.md", &env(&[(REQUIRE_VAR, "0")]), nowhere),
            Material::Skip(_)
        ));
    }
}
