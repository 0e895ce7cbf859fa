//! `/ui/changes`: every change with its risk badge and, per environment,
//! its approvals against the policy and its deploy state.

use super::layout::{Nav, Tone, change_ref, page, risk_badge, stage_badge, state_badge, time};
use crate::api::read_model::{ChangePage, ChangeSummary, EnvironmentApprovals};
use maud::{Markup, html};

/// The list page; `environments` in rollout order (the table's columns),
/// `next` the link to the following page.
pub fn list(
    page_data: &ChangePage,
    environments: &[String],
    next: Option<&str>,
    nav: Nav<'_>,
) -> Markup {
    page(
        "Changes",
        Some(nav),
        html! {
            @if page_data.items.is_empty() {
                p { "No changes yet: bytegate lists a pull request once its webhook arrived." }
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
