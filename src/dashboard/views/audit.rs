//! `/ui/audit`: the hash chain's verification status and the newest entries.

use super::change::audit_table;
use super::layout::{Nav, Tone, page, state_badge};
use crate::api::read_model::{AuditPage, ChainStatus};
use maud::{Markup, html};

/// The audit page; `next` links the following (older) page.
pub fn audit(chain: &ChainStatus, entries: &AuditPage, next: Option<&str>, nav: Nav<'_>) -> Markup {
    page(
        "Audit",
        Some(nav),
        html! {
            section #chain {
                h2 { "Hash chain" }
                @if chain.ok {
                    p {
                        (state_badge("verified", Tone::Good))
                        " " (chain.verified) " chained entries verify"
                        @if chain.unchained > 0 { " (" (chain.unchained) " from before the chain)" }
                        "."
                    }
                    @if let Some(head) = &chain.head {
                        p { "Head: " code.head { (head) } " (publish it elsewhere to detect truncation)." }
                    }
                } @else {
                    p {
                        (state_badge("broken", Tone::Bad))
                        " the chain breaks"
                        @if let Some(id) = chain.broken_at { " at entry #" (id) }
                        @if let Some(reason) = &chain.reason { ": " (reason) }
                        " (" (chain.verified) " entries verified before it)."
                    }
                }
            }
            h2 { "Entries" }
            (audit_table(&entries.items))
            @if let Some(next) = next {
                p { a rel="next" href=(next) { "Older entries →" } }
            }
        },
    )
}
