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
    let tone = match h {
        HistoryState::Present { writable: true, .. } => Tone::Good,
        HistoryState::Absent { creatable: true } => Tone::Neutral,
        _ => Tone::Bad,
    };
    state_badge(&h.describe(), tone)
}

fn lock(l: LockState) -> Markup {
    let tone = match l {
        LockState::Free => Tone::Good,
        LockState::Held => Tone::Waiting,
    };
    state_badge(l.as_str(), tone)
}
