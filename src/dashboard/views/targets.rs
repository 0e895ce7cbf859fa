//! `/ui/targets`: "Test Connection" for every configured target database
//! (`deploy::check::check_targets`): its verdict, server version, TLS, the
//! history table and the deploy lock, and why it is not ok.

use super::layout::{Nav, Tone, page, state_badge};
use crate::config::Engine;
use crate::deploy::check::{CheckStatus, HistoryState, LockState, TargetStatus, TargetsReport};
use maud::{Markup, html};

/// The targets page; `timeout` is what each check was allowed (said on the page).
pub fn targets(report: &TargetsReport, timeout_secs: u64, nav: Nav<'_>) -> Markup {
    page(
        "Targets",
        Some(nav),
        html! {
            p {
                "Every configured database, connected to just now (each check up to "
                (timeout_secs) " s; nothing is changed, the deploy lock is taken and released at once). "
                @if report.ok { (state_badge("all ok", Tone::Good)) }
                @else { (state_badge("not all ok", Tone::Bad)) }
            }
            @if report.targets.is_empty() {
                p { "No target databases are configured." }
            } @else {
                table #targets {
                    thead { tr {
                        th { "Environment" } th { "Database" } th { "Engine" } th { "Status" }
                        th { "Server version" } th { "TLS" } th { "History table" } th { "Lock" }
                        th { "Took" } th { "Error" }
                    } }
                    tbody {
                        @for t in &report.targets { (row(t)) }
                    }
                }
            }
        },
    )
}

fn row(t: &TargetStatus) -> Markup {
    let probe = t.probe.as_ref();
    html! {
        tr.target data-environment=(t.environment) data-database=(t.database)
            data-status=(status_name(t.status)) {
            td { (t.environment) }
            td { (t.database) }
            td { (engine_name(t.engine)) }
            td { (status_badge(t.status)) }
            td.version { @if let Some(p) = probe { (p.server_version) } @else { "—" } }
            td { @match probe {
                Some(p) if p.tls => (state_badge("encrypted", Tone::Good)),
                Some(_) => (state_badge("plain", Tone::Waiting)),
                None => "—",
            } }
            td { @if let Some(p) = probe { (history(p.history)) } @else { "—" } }
            td { @if let Some(p) = probe { (lock(p.lock)) } @else { "—" } }
            td { (t.elapsed_ms) " ms" }
            td { @if let Some(e) = &t.error { span.error { (e) } } }
        }
    }
}

fn engine_name(e: Engine) -> &'static str {
    match e {
        Engine::Postgres => "postgres",
        Engine::Mysql => "mysql",
    }
}

fn status_name(s: CheckStatus) -> &'static str {
    match s {
        CheckStatus::Ok => "ok",
        CheckStatus::Failed => "failed",
        CheckStatus::Unreachable => "unreachable",
        CheckStatus::Unsupported => "unsupported",
    }
}

fn status_badge(s: CheckStatus) -> Markup {
    let tone = match s {
        CheckStatus::Ok => Tone::Good,
        CheckStatus::Failed | CheckStatus::Unreachable => Tone::Bad,
        CheckStatus::Unsupported => Tone::Neutral,
    };
    state_badge(status_name(s), tone)
}

fn history(h: HistoryState) -> Markup {
    match h {
        HistoryState::Present {
            rows,
            writable: true,
        } => state_badge(&format!("present, {rows} rows"), Tone::Good),
        HistoryState::Present {
            rows,
            writable: false,
        } => state_badge(&format!("present, {rows} rows, read-only"), Tone::Bad),
        HistoryState::Absent { creatable: true } => {
            state_badge("absent (the first deploy creates it)", Tone::Neutral)
        }
        HistoryState::Absent { creatable: false } => {
            state_badge("absent, cannot be created", Tone::Bad)
        }
    }
}

fn lock(l: LockState) -> Markup {
    match l {
        LockState::Free => state_badge("free", Tone::Good),
        LockState::Held => state_badge("held by a running deploy", Tone::Waiting),
    }
}
