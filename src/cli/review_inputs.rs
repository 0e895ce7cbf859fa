//! What `bytegate review` reads: the migration files under its paths (by the
//! suffix mapping), and which of them are the change and which are history.
//!
//! Without `--base` every file under PATH is new. With `--base REF` the files
//! git reports added, edited or renamed since the merge base are the change
//! (deleted ones are reviewed from their old text, as the pull-request flow
//! does), and the rest are history. Files under `--history` are always
//! history. History builds the schema model and gets no findings.

use super::git_change::{self, GitChange};
use super::review_error::ReviewCliError;
use crate::config::MigrationSuffixes;
use crate::review::{FileChange, version_key};
use std::path::{Path, PathBuf};

/// One file to review, before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Path as shown in reports.
    pub display: String,
    /// Where its bytes come from.
    pub source: Source,
    /// Change or history.
    pub change: FileChange,
}

/// Where a planned file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The file on disk.
    Disk(PathBuf),
    /// Already read (a deleted file's text at the merge base).
    Text(Vec<u8>),
}

impl Planned {
    /// The file's bytes.
    pub fn read(self) -> Result<(String, Vec<u8>, FileChange), ReviewCliError> {
        let text = match self.source {
            Source::Disk(path) => std::fs::read(&path).map_err(|source| ReviewCliError::Path {
                path: path.display().to_string(),
                source,
            })?,
            Source::Text(text) => text,
        };
        Ok((self.display, text, self.change))
    }
}

/// The change (`paths`, split by `base` when given) and the history.
pub fn plan(
    paths: &[PathBuf],
    history: &[PathBuf],
    base: Option<&str>,
    suffixes: &MigrationSuffixes,
) -> Result<Vec<Planned>, ReviewCliError> {
    let files = collect_migrations(paths, suffixes)?;
    let mut out: Vec<Planned> = match (base, paths.first()) {
        (Some(base), Some(first)) => {
            let change = git_change::since_merge_base(first, base)?;
            split_by_git(paths, files, &change, suffixes)?
        }
        _ => files
            .into_iter()
            .map(|f| Planned {
                display: display_path(&f),
                source: Source::Disk(f),
                change: FileChange::Added,
            })
            .collect(),
    };
    for f in collect_migrations(history, suffixes)? {
        let display = display_path(&f);
        // A file given both ways is the change's.
        if !out.iter().any(|p| p.display == display) {
            out.push(Planned {
                display,
                source: Source::Disk(f),
                change: FileChange::Unchanged,
            });
        }
    }
    Ok(out)
}

/// The given paths, canonical, beside how they were given.
fn roots(paths: &[PathBuf]) -> Vec<(PathBuf, &PathBuf)> {
    paths
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok().map(|c| (c, p)))
        .collect()
}

/// How an absolute path under one of the given paths is shown (as the
/// user's path plus the rest), or `None` when it is under none of them.
fn shown_under(roots: &[(PathBuf, &PathBuf)], abs: &Path) -> Option<String> {
    roots.iter().find_map(|(canonical, given)| {
        let rest = abs.strip_prefix(canonical).ok()?;
        Some(if rest.as_os_str().is_empty() {
            display_path(given)
        } else {
            display_path(&given.join(rest))
        })
    })
}

fn split_by_git(
    paths: &[PathBuf],
    files: Vec<PathBuf>,
    change: &GitChange,
    suffixes: &MigrationSuffixes,
) -> Result<Vec<Planned>, ReviewCliError> {
    let roots = roots(paths);
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let abs = std::fs::canonicalize(&f).map_err(|source| ReviewCliError::Path {
            path: f.display().to_string(),
            source,
        })?;
        let change = match change.touched.get(&abs) {
            None => FileChange::Unchanged,
            // Moved in from outside the migrations: new here.
            Some(FileChange::Renamed { from }) => {
                match shown_under(&roots, &change.top.join(from)) {
                    Some(shown) if suffixes.kind(from).is_migration() => {
                        FileChange::Renamed { from: shown }
                    }
                    _ => FileChange::Added,
                }
            }
            Some(c) => c.clone(),
        };
        out.push(Planned {
            display: display_path(&f),
            source: Source::Disk(f),
            change,
        });
    }
    // Deleted migrations (and ones moved out of the paths) are reviewed from their old text.
    let moved_out = change.touched.values().filter_map(|c| match c {
        FileChange::Renamed { from } => Some(from),
        _ => None,
    });
    for rel in change.deleted.iter().chain(moved_out) {
        if !suffixes.kind(rel).is_migration() {
            continue;
        }
        let Some(display) = shown_under(&roots, &change.top.join(rel)) else {
            continue;
        };
        if out
            .iter()
            .any(|p| p.display == display || renamed_from(p) == Some(&display))
        {
            continue;
        }
        out.push(Planned {
            display,
            source: Source::Text(change.old_text(rel)?),
            change: FileChange::Removed,
        });
    }
    Ok(out)
}

fn renamed_from(p: &Planned) -> Option<&String> {
    match &p.change {
        FileChange::Renamed { from } => Some(from),
        _ => None,
    }
}

/// Paths of the files that exist before the change (history, edited,
/// deleted, renamed-from): the base versions `migration-out-of-order` and
/// `migration-edited` compare against.
pub fn base_versions(planned: &[Planned]) -> Vec<String> {
    planned
        .iter()
        .filter_map(|p| match &p.change {
            FileChange::Unchanged | FileChange::Modified | FileChange::Removed => {
                Some(p.display.clone())
            }
            FileChange::Renamed { from } => Some(from.clone()),
            FileChange::Added => None,
        })
        .collect()
}

/// The path as shown in reports: as given, with `/` separators.
pub fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    s.replace('\\', "/")
}

/// Files named on the command line, plus every migration file (by
/// `suffixes`: `.sql` unless mapped otherwise) below each folder, in version
/// order (see [`version_key`]). A path that does not exist, or a folder that
/// cannot be listed, is an error.
pub fn collect_migrations(
    paths: &[PathBuf],
    suffixes: &MigrationSuffixes,
) -> Result<Vec<PathBuf>, ReviewCliError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| ReviewCliError::Path {
            path: path.display().to_string(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, suffixes, &mut out, 0)?;
        } else {
            out.push(path.clone());
        }
    }
    out.sort_by_cached_key(|p| version_key(&display_path(p)));
    out.dedup();
    Ok(out)
}

/// Deep enough for any real migrations tree, shallow enough to stop symlink loops.
const MAX_DEPTH: usize = 32;

fn walk(
    dir: &Path,
    suffixes: &MigrationSuffixes,
    out: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<(), ReviewCliError> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let err = |source| ReviewCliError::Path {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, suffixes, out, depth + 1)?;
        } else if suffixes.kind(&path.to_string_lossy()).is_migration() {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SuffixTarget;

    #[test]
    fn folders_are_walked_in_version_order_and_only_sql_files_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("10_b")).unwrap();
        std::fs::create_dir_all(root.join("9_a")).unwrap();
        std::fs::write(root.join("10_b/up.sql"), "select 1;").unwrap();
        std::fs::write(root.join("9_a/up.sql"), "select 1;").unwrap();
        std::fs::write(root.join("9_a/down.sql"), "select 1;").unwrap();
        std::fs::write(root.join("README.md"), "x").unwrap();
        let files =
            collect_migrations(&[root.to_path_buf()], &MigrationSuffixes::default()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["9_a/up.sql", "10_b/up.sql", "9_a/down.sql"]);
    }

    #[test]
    fn the_suffix_mapping_picks_the_files_of_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for name in ["1_a.sql.postgres", "1_a.sql.sqlite", "2_b.sql", "notes.txt"] {
            std::fs::write(root.join(name), "select 1;").unwrap();
        }
        let suffixes = MigrationSuffixes(
            [
                (".sql.postgres".to_string(), SuffixTarget::Postgres),
                (".sql.sqlite".to_string(), SuffixTarget::Ignore),
            ]
            .into_iter()
            .collect(),
        );
        let names: Vec<String> = collect_migrations(&[root.to_path_buf()], &suffixes)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1_a.sql.postgres", "2_b.sql"]);
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = collect_migrations(
            &[PathBuf::from("/nonexistent/x.sql")],
            &MigrationSuffixes::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.sql"), "{err}");
    }

    #[test]
    fn history_files_are_unchanged_unless_also_given_as_the_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("old")).unwrap();
        std::fs::write(root.join("old/1_a.sql"), "select 1;").unwrap();
        std::fs::write(root.join("old/2_b.sql"), "select 1;").unwrap();
        let changed = root.join("old/2_b.sql");
        let planned = plan(
            std::slice::from_ref(&changed),
            &[root.join("old")],
            None,
            &MigrationSuffixes::default(),
        )
        .unwrap();
        let got: Vec<(&str, &FileChange)> = planned
            .iter()
            .map(|p| (p.display.rsplit('/').next().unwrap(), &p.change))
            .collect();
        assert_eq!(
            got,
            [
                ("2_b.sql", &FileChange::Added),
                ("1_a.sql", &FileChange::Unchanged)
            ]
        );
        assert_eq!(base_versions(&planned), [planned[1].display.clone()]);
    }
}
