//! `/ui/changes`: every change with its risk badge and, per environment,
//! its approvals against the policy and its deploy state, above a GET form
//! filtering by repository, environment and state (the read model's filters).

use super::layout::{Nav, Tone, change_ref, page, risk_badge, stage_badge, state_badge, time};
use crate::api::read_model::{ChangePage, ChangeSummary, EnvironmentApprovals};
use crate::store::change_requests::CrState;
use maud::{Markup, html};

/// The filters the list was asked for (empty: any), to fill the form in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filters<'a> {
    /// `owner/name`.
    pub repo: &'a str,
    /// An environment's name.
    pub environment: &'a str,
    /// `open`, `closed` or `merged`.
    pub state: &'a str,
}

impl Filters<'_> {
    /// No filter asked for.
    pub fn is_empty(&self) -> bool {
        self.repo.is_empty() && self.environment.is_empty() && self.state.is_empty()
    }
}

/// The list page; `environments` in rollout order (the table's columns),
/// `filters` as asked, `next` the link to the following page.
pub fn list(
    page_data: &ChangePage,
    environments: &[String],
    filters: Filters<'_>,
    next: Option<&str>,
    nav: Nav<'_>,
) -> Markup {
    page(
        "Changes",
        Some(nav),
        html! {
            (filter_form(environments, filters))
            @if page_data.items.is_empty() {
                @if !filters.is_empty() {
                    p { "No change matches these filters." }
                } @else {
                    p { "No changes yet: bytegate lists a pull request once its webhook arrived." }
                }
            } @else {
                table #changes {
                    thead { tr {
                        th { "Change" } th { "Author" } th { "State" } th { "Risk" }
                        @for env in environments { th { (env) } }
                        th { "Updated" }
                    } }
                    tbody {
                        @for c in &page_data.items { (row(c, environments)) }
                    }
                }
            }
            @if let Some(next) = next {
                p { a rel="next" href=(next) { "Older changes →" } }
            }
        },
    )
}

/// A GET form: filtering changes nothing, so it needs no CSRF token, and
/// the filtered list is a link one can share.
fn filter_form(environments: &[String], f: Filters<'_>) -> Markup {
    html! {
        form #filters method="get" action="/ui/changes" {
            label { "Repository " input type="text" name="repo" value=(f.repo) placeholder="owner/name"; }
            " "
            label { "Environment "
                select name="environment" {
                    option value="" selected[f.environment.is_empty()] { "any" }
                    @for env in environments {
                        option value=(env) selected[f.environment == env.as_str()] { (env) }
                    }
                }
            }
            " "
            label { "State "
                select name="state" {
                    option value="" selected[f.state.is_empty()] { "any" }
                    @for s in CrState::ALL {
                        option value=(s.as_str()) selected[f.state == s.as_str()] { (s.as_str()) }
                    }
                }
            }
            " "
            button type="submit" { "Filter" }
            @if !f.is_empty() {
                " " a href="/ui/changes" { "Clear" }
            }
        }
    }
}

fn row(c: &ChangeSummary, environments: &[String]) -> Markup {
    html! {
        tr.change data-change-id=(c.id) {
            td {
                a href={ "/ui/changes/" (c.id) } { (change_ref(&c.repo, c.number)) }
                br;
                span.title { (c.title) }
            }
            td { (c.author) }
            td { (c.state.as_str()) }
            td {
                @match &c.review {
                    Some(r) => (risk_badge(r.risk.as_str())),
                    None => span.badge { "not reviewed" },
                }
            }
            @for env in environments { td { (environment_cell(c, env)) } }
            td { (time(c.updated_at)) }
        }
    }
}

/// One environment of one change: approvals, then the stage's state.
fn environment_cell(c: &ChangeSummary, env: &str) -> Markup {
    let approvals = c.approvals.iter().find(|a| a.environment == env);
    let stage = c
        .rollout
        .as_ref()
        .and_then(|r| r.stages.iter().find(|s| s.environment == env));
    html! {
        @if let Some(a) = approvals { (approval_badge(a)) }
        " "
        @match stage {
            Some(s) => (stage_badge(s.state)),
            None => span.badge { "not deployed" },
        }
    }
}

/// `approved 1/2`, toned by the approval engine's decision.
pub fn approval_badge(a: &EnvironmentApprovals) -> Markup {
    let text = format!("approvals {}/{}", a.approved_by.len(), a.required);
    let tone = match a.satisfied {
        Some(true) => Tone::Good,
        Some(false) => Tone::Waiting,
        None => Tone::Neutral,
    };
    state_badge(&text, tone)
}
