//! `bytegate audit verify` and `bytegate audit export`: the audit trail from
//! the command line.

use super::{MetaDbArgs, with_meta_db};
use crate::store::audit::{self, ExportFilter};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Subcommand;
use std::io::Write;
use std::process::ExitCode;

/// Rows fetched per page when exporting.
const PAGE: i64 = 1000;

/// `bytegate audit ...`.
#[derive(Subcommand, Debug)]
pub(super) enum AuditCommand {
    /// Walk the hash chain; exit 1 and name the first broken row if any.
    Verify {
        /// A head hash published earlier (`bytegate audit verify` prints it,
        /// `serve` logs it): it must still be in the chain, so removing the
        /// newest rows is caught.
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
    /// Print entries as JSON lines, oldest first.
    Export {
        /// Only entries at or after this time (RFC 3339 or YYYY-MM-DD, UTC).
        #[arg(long, value_parser = parse_since)]
        since: Option<DateTime<Utc>>,
        /// Only entries of this pull request number.
        #[arg(long)]
        pr: Option<i64>,
        /// Only entries of this repository (`owner/name`).
        #[arg(long)]
        repo: Option<String>,
        #[command(flatten)]
        meta: MetaDbArgs,
    },
}

fn parse_since(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{s}` is not a time (use RFC 3339 or YYYY-MM-DD)"))
}

/// Runs an audit command.
pub(super) fn run(command: AuditCommand) -> ExitCode {
    super::block_on_code(run_async(command))
}

async fn run_async(command: AuditCommand) -> Result<ExitCode, String> {
    let meta = match &command {
        AuditCommand::Verify { meta, .. } | AuditCommand::Export { meta, .. } => meta.clone(),
    };
    with_meta_db(&meta, false, |pool| async move {
        match command {
            AuditCommand::Verify { expect_head, .. } => verify(&pool, expect_head.as_deref()).await,
            AuditCommand::Export {
                since, pr, repo, ..
            } => {
                let filter = ExportFilter {
                    since,
                    number: pr,
                    repo,
                };
                export(&pool, &filter).await
            }
        }
    })
    .await
}

async fn verify(pool: &sqlx::PgPool, expect_head: Option<&str>) -> Result<ExitCode, String> {
    let report = audit::verify_chain(pool, expect_head)
        .await
        .map_err(|e| e.to_string())?;
    match report.broken {
        None => {
            println!(
                "audit chain ok: {} row(s) verified{}{}",
                report.verified,
                if report.unchained > 0 {
                    format!(", {} older row(s) without hashes", report.unchained)
                } else {
                    String::new()
                },
                report
                    .head
                    .map(|h| format!("; head {h}"))
                    .unwrap_or_default()
            );
            if let Some(n) = report.after_expected {
                println!("the expected head is in the chain; {n} row(s) appended after it");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!(
                "audit chain BROKEN at row {}: {} ({} row(s) verified before it)",
                b.id, b.reason, report.verified
            );
            Ok(ExitCode::from(1))
        }
    }
}

async fn export(pool: &sqlx::PgPool, filter: &ExportFilter) -> Result<ExitCode, String> {
    let mut after = 0;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    loop {
        let page = audit::export_page(pool, filter, after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        for (id, row) in &page {
            writeln!(out, "{row}").map_err(|e| format!("writing the export: {e}"))?;
            after = *id;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    out.flush()
        .map_err(|e| format!("writing the export: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_and_times() {
        assert_eq!(
            parse_since("2026-11-26").unwrap().to_rfc3339(),
            "2026-11-26T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-26T10:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-26T08:00:00+00:00"
        );
        assert!(parse_since("yesterday").is_err());
    }
}
