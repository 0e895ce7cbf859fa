//! `bytegate review --base REF`: which files the change adds, edits, renames
//! or deletes since the merge base of REF and HEAD, asked of `git` itself.
//!
//! The working tree is compared (tracked edits, and untracked files as
//! added), so a CI checkout and a developer's uncommitted work read alike.

use crate::review::FileChange;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the change could not be worked out from git.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// `git` could not be started.
    #[error("cannot run git: {0}")]
    Spawn(std::io::Error),
    /// `git` ran and failed (not a repository, unknown ref, shallow clone).
    #[error("git {args} failed: {stderr}")]
    Failed {
        /// The arguments given.
        args: String,
        /// What git said.
        stderr: String,
    },
    /// `git` printed something this code does not understand.
    #[error("unexpected output from git {0}")]
    Output(String),
}

/// The change since the merge base, by absolute path.
#[derive(Debug, Clone)]
pub struct GitChange {
    /// The repository's top folder (canonical).
    pub top: PathBuf,
    /// The merge base commit.
    pub merge_base: String,
    /// Added, edited or renamed files (absolute paths under `top`).
    pub touched: HashMap<PathBuf, FileChange>,
    /// Deleted files, relative to `top` with `/` separators.
    pub deleted: Vec<String>,
}

/// Runs `git ARGS` in `dir`; its stdout on success.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(GitError::Spawn)?;
    if !out.status.success() {
        return Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

fn one_line(bytes: Vec<u8>, what: &str) -> Result<String, GitError> {
    let s = String::from_utf8(bytes).map_err(|_| GitError::Output(what.to_string()))?;
    let s = s.trim();
    if s.is_empty() {
        return Err(GitError::Output(what.to_string()));
    }
    Ok(s.to_string())
}

/// The change in the repository that holds `path` since the merge base of
/// `base` and HEAD.
pub fn since_merge_base(path: &Path, base: &str) -> Result<GitChange, GitError> {
    let dir = if path.is_dir() {
        path
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    };
    let top = one_line(
        git(dir, &["rev-parse", "--show-toplevel"])?,
        "rev-parse --show-toplevel",
    )?;
    let top = std::fs::canonicalize(&top).unwrap_or_else(|_| PathBuf::from(&top));
    // `--end-of-options`: a ref that starts with `-` is a ref, never an option.
    let merge_base = one_line(
        git(&top, &["merge-base", "--end-of-options", base, "HEAD"])?,
        "merge-base",
    )?;
    let diff = git(
        &top,
        &[
            "diff",
            "--name-status",
            "-z",
            "-M",
            "--no-relative",
            &merge_base,
            "--",
        ],
    )?;
    let untracked = git(&top, &["ls-files", "--others", "--exclude-standard", "-z"])?;
    let (mut touched, deleted) = parse_name_status(&diff, &top)?;
    for rel in untracked.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        touched.insert(top.join(bytes_path(rel)), FileChange::Added);
    }
    Ok(GitChange {
        top,
        merge_base,
        touched,
        deleted,
    })
}

impl GitChange {
    /// The text of a deleted file at the merge base.
    pub fn old_text(&self, rel: &str) -> Result<Vec<u8>, GitError> {
        git(&self.top, &["show", &format!("{}:{rel}", self.merge_base)])
    }
}

#[cfg(unix)]
fn bytes_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn bytes_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

type Parsed = (HashMap<PathBuf, FileChange>, Vec<String>);

/// Parses `git diff --name-status -z`: a status, then one path (two for
/// renames and copies), each NUL-terminated.
fn parse_name_status(out: &[u8], top: &Path) -> Result<Parsed, GitError> {
    let mut fields = out.split(|b| *b == 0).filter(|f| !f.is_empty());
    let mut touched = HashMap::new();
    let mut deleted = Vec::new();
    let bad = || GitError::Output("diff --name-status".to_string());
    while let Some(status) = fields.next() {
        let path = fields.next().ok_or_else(bad)?;
        match status.first() {
            Some(b'A') => {
                touched.insert(top.join(bytes_path(path)), FileChange::Added);
            }
            Some(b'M' | b'T') => {
                touched.insert(top.join(bytes_path(path)), FileChange::Modified);
            }
            Some(b'D') => deleted.push(String::from_utf8_lossy(path).into_owned()),
            Some(b'R') => {
                let to = fields.next().ok_or_else(bad)?;
                let from = String::from_utf8_lossy(path).into_owned();
                touched.insert(top.join(bytes_path(to)), FileChange::Renamed { from });
            }
            Some(b'C') => {
                let to = fields.next().ok_or_else(bad)?;
                touched.insert(top.join(bytes_path(to)), FileChange::Added);
            }
            // Unmerged or unknown: treat the file as edited, never as history.
            _ => {
                touched.insert(top.join(bytes_path(path)), FileChange::Modified);
            }
        }
    }
    Ok((touched, deleted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_covers_adds_edits_renames_copies_and_deletes() {
        let top = Path::new("/r");
        let out = b"A\0m/3.sql\0M\0m/1.sql\0R097\0m/old.sql\0m/2.sql\0C100\0m/1.sql\0m/4.sql\0D\0m/0.sql\0";
        let (touched, deleted) = parse_name_status(out, top).unwrap();
        assert_eq!(touched[&top.join("m/3.sql")], FileChange::Added);
        assert_eq!(touched[&top.join("m/1.sql")], FileChange::Modified);
        assert_eq!(
            touched[&top.join("m/2.sql")],
            FileChange::Renamed {
                from: "m/old.sql".into()
            }
        );
        assert_eq!(touched[&top.join("m/4.sql")], FileChange::Added);
        assert_eq!(deleted, ["m/0.sql"]);
        assert!(parse_name_status(b"R100\0only-one\0", top).is_err());
    }
}
