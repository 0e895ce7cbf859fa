//! `/ui/changes/{id}`: one change with its findings, the approval table, the
//! rollout timeline (and, for admin sessions, a deploy button per stage not
//! deployed yet and a rollback button per deployed one),
//! schema diffs where snapshots were taken, and its audit entries.

use super::changes::approval_badge;
use super::layout::{
    Nav, Tone, change_ref, csrf_field, maybe_time, page, risk_badge, stage_badge, state_badge, time,
};
use crate::api::read_model::{AuditEntryView, ChangeDetail, RolloutView, SchemaDiffView};
use crate::store::approvals::State as VoteState;
use crate::store::rollouts::StageState;
use maud::{Markup, html};

/// What the page shows beyond the change.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// The CSRF token of the deploy and rollback forms; `None`: no actions
    /// (read scope).
    pub deploy_csrf: Option<&'a str>,
    /// The outcome of the action just taken.
    pub flash: Option<&'a str>,
}

/// The change page.
pub fn detail(d: &ChangeDetail, nav: Nav<'_>, extras: Extras<'_>) -> Markup {
    let c = &d.change;
    page(
        &c.title,
        Some(nav),
        html! {
            @if let Some(flash) = extras.flash {
                p.flash role="status" { (flash) }
            }
            p.meta {
                (change_ref(&c.repo, c.number)) " (" (c.forge) ") by " span.author { (c.author) }
                " · " (c.state.as_str())
                " · head " code { (short(&c.head_sha)) }
                @if let Some(m) = &c.merge_sha { " · merged as " code { (short(m)) } }
                " · risk "
                @match &c.review {
                    Some(r) => (risk_badge(r.risk.as_str())),
                    None => span.badge { "not reviewed" },
                }
            }
            h2 { "Findings" }
            (findings(d))
            h2 { "Approvals" }
            (approvals(d))
            h2 { "Rollout" }
            @match &c.rollout {
                Some(r) => (timeline(c.id, r, extras.deploy_csrf)),
                None => p { "Not merged yet: no rollout." },
            }
            @if !d.schema_diffs.is_empty() {
                h2 { "Schema changes" }
                @for s in &d.schema_diffs { (schema_diff(s)) }
            }
            h2 { "Audit" }
            (audit_table(&d.audit))
        },
    )
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn findings(d: &ChangeDetail) -> Markup {
    let any = d.reviews.iter().any(|r| !r.findings.is_empty());
    html! {
        @if d.reviews.is_empty() {
            p { "Not reviewed yet." }
        } @else {
            ul.reviews {
                @for r in &d.reviews {
                    li {
                        (r.environment.as_deref().unwrap_or("all environments")) ": "
                        (risk_badge(r.risk.as_str()))
                        " " (r.errors) " errors, " (r.warnings) " warnings, " (r.infos) " infos"
                    }
                }
            }
            @if any {
                table #findings {
                    thead { tr {
                        th { "Environment" } th { "File" } th { "Line" } th { "Rule" }
                        th { "Severity" } th { "Message" }
                    } }
                    tbody {
                        @for r in &d.reviews {
                            @for f in &r.findings {
                                tr {
                                    td { (r.environment.as_deref().unwrap_or("—")) }
                                    td { code { (f.path) } }
                                    td { @if let Some(l) = f.line { (l) } }
                                    td { code { (f.rule) } }
                                    td { (f.severity.as_str()) }
                                    td { (f.message) }
                                }
                            }
                        }
                    }
                }
            } @else {
                p { "No findings." }
            }
        }
    }
}

fn approvals(d: &ChangeDetail) -> Markup {
    let c = &d.change;
    html! {
        table #approvals {
            thead { tr {
                th { "Environment" } th { "Policy" } th { "Approved by" } th { "Decision" }
            } }
            tbody {
                @for a in &c.approvals {
                    tr data-environment=(a.environment) {
                        td { (a.environment) }
                        td {
                            (a.required) " approval" @if a.required != 1 { "s" }
                            @if !a.required_roles.is_empty() {
                                ", roles: " (a.required_roles.join(", "))
                            }
                        }
                        td.approvers {
                            @if a.approved_by.is_empty() { "—" }
                            @for (i, u) in a.approved_by.iter().enumerate() {
                                @if i > 0 { ", " } span.user { (u) }
                            }
                        }
                        td { (approval_badge(a)) " " (decision(a.satisfied)) }
                    }
                }
            }
        }
        @if !d.approval_records.is_empty() {
            details {
                summary { "Every approval record (" (d.approval_records.len()) ")" }
                table #approval-records {
                    thead { tr {
                        th { "User" } th { "Environment" } th { "Source" } th { "Vote" }
                        th { "At" } th { "For the current files" }
                    } }
                    tbody {
                        @for r in &d.approval_records {
                            tr {
                                td.user { (r.user) }
                                td { (r.environment.as_deref().unwrap_or("all")) }
                                td { (r.source) }
                                td { (vote(r.state)) }
                                td { (time(r.at)) }
                                td { @match r.for_current_content {
                                    Some(true) => "yes",
                                    Some(false) => "no (stale)",
                                    None => "—",
                                } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn decision(satisfied: Option<bool>) -> Markup {
    match satisfied {
        Some(true) => state_badge("satisfied", Tone::Good),
        Some(false) => state_badge("not satisfied", Tone::Waiting),
        None => state_badge("not decided", Tone::Neutral),
    }
}

fn vote(state: VoteState) -> Markup {
    let tone = match state {
        VoteState::Approved => Tone::Good,
        _ => Tone::Neutral,
    };
    state_badge(state.as_str(), tone)
}

/// The stages in order; with `csrf` (an admin session), a deploy button on
/// each stage not deployed yet and a rollback button on each deployed one.
/// The flow decides whether either may run (policy, later stages, reverts).
fn timeline(change_id: i64, r: &RolloutView, csrf: Option<&str>) -> Markup {
    html! {
        p { "Rollout of " code { (short(&r.merge_sha)) } ": " (r.state.as_str()) }
        table #rollout {
            thead { tr {
                th { "#" } th { "Environment" } th { "State" } th { "Started" } th { "Finished" }
                th { "Duration" } th { "Notes" }
                @if csrf.is_some() { th { "Action" } }
            } }
            tbody {
                @for s in &r.stages {
                    tr.stage data-environment=(s.environment) {
                        td { (s.position + 1) }
                        td { (s.environment) }
                        td { (stage_badge(s.state)) }
                        td { (maybe_time(s.started_at)) }
                        td { (maybe_time(s.finished_at)) }
                        td { @if let Some(ms) = s.duration_ms { (format!("{:.1} s", ms as f64 / 1000.0)) } }
                        td {
                            @if let Some(w) = &s.waiting_for { "waiting for " (w) }
                            @if let Some(e) = &s.error { span.error { (e) } }
                        }
                        @if let Some(csrf) = csrf {
                            td { @if !s.state.is_through() {
                                form.inline.deploy method="post"
                                    action={ "/ui/changes/" (change_id) "/stages/" (s.environment) "/deploy" } {
                                    (csrf_field(csrf))
                                    button type="submit" { "Deploy " (s.environment) }
                                }
                            }
                            @if s.state == StageState::Succeeded {
                                form.inline.rollback method="post"
                                    action={ "/ui/changes/" (change_id) "/stages/" (s.environment) "/rollback" } {
                                    (csrf_field(csrf))
                                    button type="submit" { "Roll back " (s.environment) }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}

fn schema_diff(s: &SchemaDiffView) -> Markup {
    html! {
        h3 { (s.environment) " / " (s.database) }
        @match &s.diff {
            Some(diff) => pre.diff { (diff) },
            None => p { "Schema unchanged." },
        }
        @if let Some(drift) = &s.drift {
            p.error { "Drift found before this stage (a change made outside bytegate):" }
            pre.drift { (drift) }
        }
    }
}

/// Audit entries as a table (also used by the audit page).
pub fn audit_table(entries: &[AuditEntryView]) -> Markup {
    html! {
        @if entries.is_empty() {
            p { "No audit entries." }
        } @else {
            table.audit {
                thead { tr {
                    th { "#" } th { "At" } th { "Actor" } th { "Action" } th { "Change" }
                    th { "Environment" } th { "Detail" }
                } }
                tbody {
                    @for e in entries {
                        tr {
                            td { (e.id) }
                            td { (time(e.at)) }
                            td { (e.actor) }
                            td { code { (e.action) } }
                            td { @if let (Some(repo), Some(n)) = (&e.repo, e.number) {
                                (change_ref(repo, n))
                            } }
                            td { (e.environment.as_deref().unwrap_or("")) }
                            td { code { (e.detail.to_string()) } }
                        }
                    }
                }
            }
        }
    }
}
