//! The dry run in the PR flow: on `/bytebase plan` (or every push when
//! configured), the head's migrations run on a scratch copy of one target's
//! schema ([`crate::deploy::dryrun`]) and the lock report becomes a section
//! of the review comment and the check run. Never for fork PRs: their SQL
//! would run on bytegate's scratch server unreviewed by anyone.

use super::FlowContext;
use super::render::{cell, code};
use crate::config::Engine;
use crate::deploy::dryrun::{self, DryRunReport};
use crate::event::PullRequestEvent;
use std::fmt::Write;

/// Why a review is running, as far as the dry run cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRunTrigger {
    /// A push (or another automatic review): only with `dry_run.on_push`.
    Push,
    /// `/bytebase plan`: whenever a dry run is configured.
    Plan,
}

/// Rows shown at most (a long migration's report stays readable).
const MAX_ROWS: usize = 60;

/// The markdown section for this review, if any.
pub(crate) async fn section(
    ctx: &FlowContext,
    pr: &PullRequestEvent,
    files: &[(String, Vec<u8>)],
    trigger: DryRunTrigger,
) -> Option<String> {
    let Some(settings) = ctx.config.dry_run.as_ref() else {
        return (trigger == DryRunTrigger::Plan).then(|| {
            "### Dry run\n\nNot configured: `dry_run:` in bytegate.yaml names the environment whose schema is copied and a scratch server.\n".to_string()
        });
    };
    if trigger == DryRunTrigger::Push && !settings.on_push {
        return None;
    }
    if pr.is_fork {
        return Some("### Dry run\n\nNot run for pull requests from forks.\n".to_string());
    }
    if files.is_empty() {
        return None;
    }
    let db = ctx
        .config
        .environment(&settings.environment)
        .and_then(|env| {
            env.databases.iter().find(|d| match &settings.database {
                Some(name) => &d.name == name,
                None => d.engine == Engine::Postgres,
            })
        });
    let Some(db) = db.filter(|d| d.engine == Engine::Postgres) else {
        return Some(format!(
            "### Dry run\n\nNot run: environment {} has no PostgreSQL database to copy (the dry run is not available on MySQL targets yet).\n",
            code(&settings.environment)
        ));
    };
    let title = format!(
        "### Dry run on a copy of {}'s schema ({})",
        code(&settings.environment),
        code(&db.name)
    );
    let plan = match crate::deploy::plan(files, crate::deploy::dialect(db.engine)) {
        Ok(p) => p,
        Err(e) => return Some(format!("{title}\n\nNot run: {}\n", cell(&e.to_string()))),
    };
    match dryrun::dry_run(db.url.expose(), settings.scratch_url.expose(), &plan).await {
        Ok(report) => Some(render(&title, &report)),
        Err(e) => {
            // Tool output can name hosts: the PR gets a reference, the log the text.
            let reference = super::error_ref();
            tracing::error!(pr = %pr.pr, reference = %reference, error = %e, "dry run failed");
            Some(format!(
                "{title}\n\nCould not run (ref `{reference}`; operators find the error in the logs).\n"
            ))
        }
    }
}

/// The report as markdown: one row per statement.
pub fn render(title: &str, report: &DryRunReport) -> String {
    let mut out = format!("{title}\n\n");
    let blocking = report.blocking().count();
    let _ = writeln!(
        out,
        "The migrations ran in one transaction on an empty copy of the schema, then were rolled back. {}\n",
        match (report.succeeded(), blocking) {
            (false, _) => "**A statement failed**: the deploy would fail there too.".to_string(),
            (true, 0) => "No statement locks an existing table against writes.".to_string(),
            (true, n) => format!(
                "**{n} statement(s) lock an existing table against writes** while they run (longer with data)."
            ),
        }
    );
    out.push_str("| statement | result | locks on existing tables | rewrites | ms |\n|---|---|---|---|---|\n");
    for s in report.statements.iter().take(MAX_ROWS) {
        let file = s.path.rsplit('/').next().unwrap_or(&s.path);
        let result = match (&s.error, s.skipped) {
            (Some(e), _) => format!("❌ {}", cell(e)),
            (None, true) => "skipped: cannot run in a transaction".to_string(),
            (None, false) => "ok".to_string(),
        };
        let locks: Vec<String> = s
            .locks
            .iter()
            .filter(|l| l.existing)
            .map(|l| {
                format!(
                    "{}{} on {}",
                    if l.blocking { "⚠️ " } else { "" },
                    l.mode,
                    code(&l.relation)
                )
            })
            .collect();
        let rewrites: Vec<String> = s.rewrites.iter().map(|r| code(r)).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} |",
            code(&format!("{file}:{}", s.line)),
            result,
            if locks.is_empty() {
                "—".to_string()
            } else {
                locks.join(", ")
            },
            if rewrites.is_empty() {
                "—".to_string()
            } else {
                rewrites.join(", ")
            },
            s.elapsed_ms
        );
    }
    if report.statements.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more statement(s).",
            report.statements.len() - MAX_ROWS
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::dryrun::{LockTaken, StatementReport};

    fn stmt(line: u32, locks: Vec<LockTaken>, error: Option<&str>) -> StatementReport {
        StatementReport {
            path: "schema/migrations/002_x.sql".into(),
            line,
            error: error.map(str::to_string),
            skipped: false,
            locks,
            rewrites: vec!["big".into()],
            elapsed_ms: 1.25,
        }
    }

    #[test]
    fn blocking_locks_on_existing_tables_are_flagged_and_names_escaped() {
        let lock = |rel: &str, existing| LockTaken {
            relation: rel.into(),
            mode: "AccessExclusiveLock".into(),
            existing,
            blocking: true,
        };
        let report = DryRunReport {
            scratch_database: "bytegate_dryrun_0".into(),
            statements: vec![
                stmt(1, vec![lock("big", true), lock("new_table", false)], None),
                stmt(
                    2,
                    vec![],
                    Some("42P01: relation \"x|<b>@al\" does not exist"),
                ),
            ],
        };
        let md = render("### Dry run", &report);
        assert!(md.contains("**A statement failed**"), "{md}");
        assert!(
            md.contains("| `002_x.sql:1` | ok | ⚠️ AccessExclusiveLock on `big` | `big` | 1.2 |"),
            "{md}"
        );
        assert!(!md.contains("new_table"), "new tables are not listed: {md}");
        assert!(md.contains("x\\|&lt;b&gt;@\u{200b}al"), "{md}");
    }
}
