//! Running PostgreSQL's client tools (`pg_dump`, `pg_restore`) against a
//! target without putting its password on a command line other local users
//! can read: the password goes in `PGPASSWORD`, the URL without it in
//! `--dbname`.

use super::BackupError;
use std::path::{Path, PathBuf};

/// Finds a PostgreSQL client tool where the embedded cluster's binaries are
/// looked for ([`crate::store::embedded::postgres_bin_dir`]).
pub fn find(name: &str) -> Result<PathBuf, BackupError> {
    crate::store::embedded::postgres_bin_dir(&[name])
        .map(|dir| dir.join(name))
        .ok_or_else(|| BackupError::ToolMissing(name.to_string()))
}

/// `url` without its password, and the password (percent-decoded).
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let (authority_end, _) = rest
        .char_indices()
        .find(|(_, c)| matches!(c, '/' | '?'))
        .unwrap_or((rest.len(), ' '));
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_string(), None);
    };
    (
        format!("{scheme}://{user}@{host}{tail}"),
        Some(percent_decode(password)),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or(""), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `tool args… --dbname URL` with the password in the environment;
/// a failure carries the tool's last lines of stderr.
pub async fn run(tool: &Path, args: &[&std::ffi::OsStr], url: &str) -> Result<(), BackupError> {
    execute(tool, args, url, false).await.map(drop)
}

/// Like [`run`], and returns what the tool wrote to stdout (`pg_dump
/// --schema-only` without `--file`).
pub async fn output(
    tool: &Path,
    args: &[&std::ffi::OsStr],
    url: &str,
) -> Result<Vec<u8>, BackupError> {
    execute(tool, args, url, true).await
}

async fn execute(
    tool: &Path,
    args: &[&std::ffi::OsStr],
    url: &str,
    capture: bool,
) -> Result<Vec<u8>, BackupError> {
    let (bare, password) = split_password(url);
    let mut cmd = tokio::process::Command::new(tool);
    let stdout = if capture {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    };
    cmd.args(args)
        .arg(format!("--dbname={bare}"))
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    match password {
        Some(p) => cmd.env("PGPASSWORD", p),
        None => cmd.env_remove("PGPASSWORD"),
    };
    let out = cmd.output().await.map_err(|e| BackupError::Spawn {
        tool: tool.display().to_string(),
        source: e,
    })?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    let message = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    Err(BackupError::ToolFailed {
        tool: tool
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        status: out.status.to_string(),
        // libpq's messages name host and database, never the password.
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_and_is_decoded() {
        let (url, pw) =
            split_password("postgres://app:s%40cret:x@db.example:5432/shop?sslmode=require");
        assert_eq!(url, "postgres://app@db.example:5432/shop?sslmode=require");
        assert_eq!(pw.as_deref(), Some("s@cret:x"));
    }

    #[test]
    fn urls_without_a_password_are_unchanged() {
        for u in [
            "postgres://postgres@127.0.0.1:5432/app",
            "postgres://127.0.0.1/app",
            "postgresql:///app?host=/run/postgresql",
        ] {
            assert_eq!(split_password(u), (u.to_string(), None));
        }
    }
}
