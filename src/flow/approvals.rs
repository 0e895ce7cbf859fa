//! Approvals in the flow: PR reviews become stored records
//! (`store::approvals`), the decision ([`super::decision`]) is taken over every
//! environment, and it is published as the `bytegate/approval` check on the
//! head commit and as the approval section of the sticky comment. Comment
//! commands live in [`super::commands`]; they publish through here too.
//!
//! - A review event re-reads the PR's review list (all pages): it is the
//!   source of truth, each user's latest state wins in the policy.
//! - Recomputing and publishing happen under the change request's row lock,
//!   so two events of one PR never interleave their check or comment edits;
//!   the decision and its audit rows commit before the forge is told (see
//!   [`publish`]), so the audit chain's lock never waits on the forge.
//! - This module never moves a rollout: the caller ([`super::handle_event`],
//!   [`super::commands`]) does after an approval changed.

use super::decision::{Evaluation, evaluate};
use super::render::{APPROVALS_END, APPROVALS_START, cell};
use super::{BOT_ACTOR, FlowContext, FlowError};
use crate::event::{PrRef, ReviewEvent, ReviewState};
use crate::forge::{CheckConclusion, CheckHandle, CheckResult, Forge};
use crate::policy::{Decision, EnvDecision, Source};
use crate::store::approvals::{self as records, State};
use crate::store::audit::{AuditAction, AuditEntry};
use crate::store::change_requests::{self, ChangeRequest, PrSeen};
use crate::store::snapshots;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Name of the approval check (check run or commit status).
pub const APPROVAL_CHECK: &str = "bytegate/approval";

/// The change request of `pr`, created from the forge's view when bytegate
/// has not seen the PR yet. The head is recorded as the oldest possible, so
/// it never outranks a real pull-request event.
pub(super) async fn ensure_change_request(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
) -> Result<ChangeRequest, FlowError> {
    let forge_name = pr.repo.forge.as_str();
    if let Some(cr) =
        change_requests::find(&ctx.db, forge_name, &pr.repo.full_name, pr.number as i64).await?
    {
        return Ok(cr);
    }
    let info = forge.get_pull_request(pr).await?;
    Ok(change_requests::record_seen(
        &ctx.db,
        &PrSeen {
            forge: forge_name,
            repo: &pr.repo.full_name,
            number: pr.number as i64,
            title: &info.title,
            author: &info.author,
            head_sha: &info.head_sha,
            base_ref: &info.base_ref,
            is_fork: info.is_fork,
            at: DateTime::<Utc>::UNIX_EPOCH,
        },
    )
    .await?)
}

/// A review was submitted, edited or dismissed: re-read the review list,
/// store what changed, and publish the new decision. (The caller then lets
/// a merged PR's rollout re-check its stages.)
pub async fn on_review(ctx: &FlowContext, ev: &ReviewEvent) -> Result<(), FlowError> {
    let forge = ctx.forges.for_repo(&ev.pr.repo)?;
    let cr = ensure_change_request(ctx, forge.as_ref(), &ev.pr).await?;
    sync_reviews(ctx, forge.as_ref(), &cr, &ev.pr).await?;
    refresh(ctx, forge.as_ref(), &ev.pr).await?;
    Ok(())
}

/// Stores every review's latest state; audits approvals granted and cancelled.
async fn sync_reviews(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PrRef,
) -> Result<(), FlowError> {
    for r in forge.list_reviews(pr).await? {
        let at = r
            .submitted_at
            .as_deref()
            .and_then(|s| s.parse::<DateTime<Utc>>().ok())
            .unwrap_or_else(|| ctx.clock.now());
        let id = r.id.to_string();
        // The content the review was given for: the reviewed bytes of its
        // commit, or (forges that do not say) what was reviewed at its time.
        let bound = match &r.commit_sha {
            Some(sha) => snapshots::for_head(&ctx.db, cr.id, sha).await?,
            None => snapshots::current_at(&ctx.db, cr.id, at).await?,
        };
        let (source_id, state, at) = match r.state {
            ReviewState::Approved => (id, State::Approved, at),
            ReviewState::ChangesRequested => (id, State::ChangesRequested, at),
            // The review's own time: a dismissal cancels that review (and what
            // came before it), never a later approval.
            ReviewState::Dismissed => (id, State::Dismissed, at),
            // Comments do not change approval; pending reviews are not submitted.
            ReviewState::Commented | ReviewState::Pending => continue,
        };
        let before = records::upsert_review(
            &ctx.db,
            cr.id,
            &source_id,
            &r.reviewer,
            state,
            at,
            bound.as_ref().map(|s| s.digest.as_str()),
            r.commit_sha.as_deref(),
        )
        .await?;
        if before == Some(state) {
            continue;
        }
        // Any new cancellation is recorded, whether or not an approval was in effect.
        let action = match state {
            State::Approved => AuditAction::ApprovalGranted,
            State::Revoked | State::ChangesRequested | State::Dismissed => {
                AuditAction::ApprovalRevoked
            }
        };
        let detail = json!({
            "source": "review", "review_id": r.id, "state": state.as_str(),
            "commit_sha": r.commit_sha, "at": at,
        });
        super::notices::audit(
            ctx,
            &ctx.db,
            &AuditEntry::for_pr_ref(&r.reviewer, action, pr).with_detail(detail),
        )
        .await?;
    }
    Ok(())
}

/// Recomputes the decision for a PR and publishes it (see [`publish`]).
/// Returns `None` when bytegate has not seen the PR.
pub async fn refresh(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
) -> Result<Option<Decision>, FlowError> {
    let Some(evaluation) = evaluate(ctx, forge, pr).await? else {
        return Ok(None);
    };
    publish(ctx, forge, pr, &evaluation).await?;
    Ok(Some(evaluation.decision))
}

/// The sticky comment `body` with the approval section filled in (unchanged
/// without an evaluation or markers).
pub fn with_section(body: String, evaluation: Option<&Evaluation>) -> String {
    evaluation
        .and_then(|e| splice(&body, &comment_section(&e.decision, &e.command_prefix)))
        .unwrap_or(body)
}

/// Approval cycle times of the environments this decision newly satisfies
/// (recorded once: the decision that changed them is stored just before).
async fn observe_satisfied(
    ctx: &FlowContext,
    cr_id: i64,
    old: &BTreeMap<String, bool>,
    decision: &Decision,
) {
    let newly: Vec<&str> = decision
        .environments
        .iter()
        .filter(|e| e.satisfied && old.get(&e.environment) != Some(&true))
        .map(|e| e.environment.as_str())
        .collect();
    if newly.is_empty() {
        return;
    }
    match change_requests::opened_at(&ctx.db, cr_id).await {
        Ok(opened) => {
            let took = crate::clock::since(ctx.clock.now(), opened);
            for env in newly {
                ctx.metrics.approval_satisfied(env, took);
            }
        }
        Err(e) => tracing::warn!(error = %e, "approval cycle time not recorded"),
    }
}

/// Publishes a decision: the approval check on the newest head and the
/// sticky comment's approval section (when the comment shows that head),
/// auditing environments whose decision changed. Nothing is published for a
/// PR whose migrations were never reviewed (nothing to approve yet; the
/// review publishes when it has run).
///
/// Two steps. First the decision and the audit rows of what changed commit
/// together in a short transaction, before any forge call: the audit chain's
/// lock is never held while the forge is waited for, so a slow forge stalls
/// no other audit append. Then the forge is told under the change request's
/// row lock (one PR's check and comment edits never interleave), and only
/// while this decision is still the newest recorded one: an older publish
/// that lost the race leaves the forge to the newer one.
pub async fn publish(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    evaluation: &Evaluation,
) -> Result<(), FlowError> {
    let (cr, decision) = (&evaluation.cr, &evaluation.decision);
    if cr.migrations_digest.is_none() {
        return Ok(());
    }
    let new: BTreeMap<String, bool> = decision
        .environments
        .iter()
        .map(|e| (e.environment.clone(), e.satisfied))
        .collect();

    // 1. Decide, audit and commit.
    let mut tx = ctx.db.begin().await?;
    let current = change_requests::lock(&mut tx, cr.id).await?;
    let state = records::check_state(&mut *tx, cr.id).await?;
    let old: BTreeMap<String, bool> =
        serde_json::from_value(state.approval_decision.clone()).unwrap_or_default();
    for e in &decision.environments {
        if old.get(&e.environment) == Some(&e.satisfied) {
            continue;
        }
        let detail = json!({
            "head_sha": current.head_sha, "satisfied": e.satisfied, "required": e.required,
            "counted": e.counted.iter().map(|c| c.user.as_str()).collect::<Vec<_>>(),
            "missing_roles": e.missing_roles,
            "discarded": e.discarded.iter().map(|d| json!({"user": d.user, "reason": d.reason.to_string()})).collect::<Vec<_>>(),
        });
        super::notices::audit(
            ctx,
            &mut *tx,
            &AuditEntry::for_pr_ref(BOT_ACTOR, AuditAction::ApprovalDecided, pr)
                .in_environment(Some(&e.environment))
                .with_detail(detail),
        )
        .await?;
    }
    let seq = records::record_decision(&mut *tx, cr.id, &json!(new)).await?;
    tx.commit().await?;
    observe_satisfied(ctx, cr.id, &old, decision).await;

    // 2. Tell the forge, in order, unless a newer decision exists.
    let mut tx = ctx.db.begin().await?;
    let current = change_requests::lock(&mut tx, cr.id).await?;
    if records::decision_seq(&mut *tx, cr.id).await? != seq {
        tx.rollback().await?;
        return Ok(());
    }
    let state = records::check_state(&mut *tx, cr.id).await?;
    let result = CheckResult {
        conclusion: if decision.mergeable() {
            CheckConclusion::Success
        } else {
            CheckConclusion::Failure
        },
        title: check_title(decision),
        summary: format!(
            "{}\n{}",
            section(decision),
            how_to_approve(&ctx.config.project.command_prefix)
        ),
        annotations: Vec::new(),
        details_url: ctx.external_url.clone(),
    };
    let handle = match (&state.approval_check_sha, &state.approval_check_handle) {
        (Some(sha), Some(h)) if sha == &current.head_sha => CheckHandle::from_stored(h),
        _ => None,
    };
    let handle = forge
        .complete_check(
            &pr.repo,
            &current.head_sha,
            APPROVAL_CHECK,
            handle.as_ref(),
            &result,
        )
        .await?;
    records::set_check_state(
        &mut *tx,
        cr.id,
        &current.head_sha,
        &handle.to_stored(),
        &json!(new),
    )
    .await?;

    // The sticky comment's approval section, when the comment shows the current head.
    if let (Some(id), Some(sha)) = (&current.comment_id, &current.comment_sha)
        && sha == &current.head_sha
        && let Ok(id) = id.parse::<u64>()
    {
        let comments = forge.list_comments(pr).await?;
        if let Some(c) = comments.iter().find(|c| c.id == id)
            && let Some(body) = splice(
                &c.body,
                &comment_section(decision, &evaluation.command_prefix),
            )
            && body != c.body
            && body.chars().count() <= forge.max_comment_chars()
        {
            forge.update_comment(pr, id, &body).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `All required environments approved`, or what is still missing.
pub fn check_title(d: &Decision) -> String {
    if d.mergeable() {
        return "All environments required before merge are approved".to_string();
    }
    let waiting: Vec<String> = d
        .environments
        .iter()
        .filter(|e| e.required_before_merge && !e.satisfied)
        .map(EnvDecision::summary_line)
        .collect();
    format!("Waiting for approvals: {}", waiting.join("; "))
}

pub(super) fn how_to_approve(prefix: &str) -> String {
    format!(
        "Approve with a pull-request review or a comment `{prefix} approve [ENV…]`; withdraw with `{prefix} revoke [ENV…]`; `{prefix} help` lists all commands.\n"
    )
}

fn source_label(s: Source) -> &'static str {
    match s {
        Source::Review(_) => "review",
        Source::Comment(_) => "comment",
    }
}

/// The per-environment table and the discarded approvals (check summary and comment).
pub fn section(d: &Decision) -> String {
    let mut out = String::from(
        "| Environment | Status | Required | Counted | Missing roles |\n|---|---|---|---|---|\n",
    );
    for e in &d.environments {
        let status = match (e.satisfied, e.required_before_merge) {
            (true, _) => "✅ approved",
            (false, true) => "⏳ waiting",
            (false, false) => "⏳ waiting (not needed to merge)",
        };
        let required = if e.high_risk_extra > 0 {
            format!("{} (incl. +{} high risk)", e.required, e.high_risk_extra)
        } else {
            e.required.to_string()
        };
        let counted = if e.counted.is_empty() {
            "0".to_string()
        } else {
            let who: Vec<String> = e
                .counted
                .iter()
                .map(|c| {
                    if c.via_write_permission {
                        format!("{} (write)", c.user)
                    } else {
                        format!("{} ({})", c.user, c.roles.join(", "))
                    }
                })
                .collect();
            format!("{}: {}", e.counted.len(), who.join(", "))
        };
        let missing = if e.missing_roles.is_empty() {
            "—".to_string()
        } else {
            e.missing_roles.join(", ")
        };
        let _ = writeln!(
            out,
            "| {} | {status} | {} | {} | {} |",
            cell(&e.environment),
            cell(&required),
            cell(&counted),
            cell(&missing)
        );
    }
    // The same approval discarded for the same reason in several environments: one line.
    let mut discarded: BTreeMap<(DateTime<Utc>, String, String, String), Vec<&str>> =
        BTreeMap::new();
    for e in &d.environments {
        for x in &e.discarded {
            discarded
                .entry((
                    x.at,
                    x.user.clone(),
                    source_label(x.source).to_string(),
                    x.reason.to_string(),
                ))
                .or_default()
                .push(&e.environment);
        }
    }
    if !discarded.is_empty() {
        out.push_str("\n**Not counted:**\n\n");
        for ((at, user, source, reason), envs) in discarded {
            let _ = writeln!(
                out,
                "- {} ({source}, {}): {reason} — {}",
                cell(&user),
                at.format("%Y-%m-%d %H:%M UTC"),
                envs.join(", ")
            );
        }
    }
    out
}

/// The approval section of the sticky comment.
pub(super) fn comment_section(d: &Decision, prefix: &str) -> String {
    let verdict = if d.mergeable() {
        "**Approved** for every environment required before merge."
    } else {
        "**Waiting for approvals.**"
    };
    format!("{verdict}\n\n{}\n{}", section(d), how_to_approve(prefix))
}

/// Replaces the text between the approval markers; `None` without markers.
pub fn splice(body: &str, section: &str) -> Option<String> {
    // Markers count only on a line of their own: text from a PR never starts
    // a line of bytegate's comment, so it cannot move the section.
    let line_start = |haystack: &str, marker: &str| {
        haystack
            .match_indices(marker)
            .map(|(i, _)| i)
            .find(|&i| i == 0 || haystack.as_bytes().get(i - 1) == Some(&b'\n'))
    };
    let start = line_start(body, APPROVALS_START)? + APPROVALS_START.len();
    let end = start + line_start(body.get(start..)?, APPROVALS_END)?;
    Some(format!(
        "{}\n{}\n{}",
        &body[..start],
        section.trim_end(),
        &body[end..]
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::policy::{Counted, DiscardReason, Discarded};

    fn t(minute: u32) -> DateTime<Utc> {
        format!("2026-01-01T10:{minute:02}:00Z").parse().unwrap()
    }

    pub(crate) fn decision() -> Decision {
        let env = |name: &str, satisfied, required, counted: Vec<Counted>, missing: &[&str]| {
            EnvDecision {
                environment: name.to_string(),
                satisfied,
                required,
                high_risk_extra: 0,
                counted,
                missing_roles: missing.iter().map(|s| s.to_string()).collect(),
                discarded: vec![Discarded {
                    user: "alice".into(),
                    at: t(1),
                    source: Source::Comment(5),
                    reason: DiscardReason::Author,
                }],
                required_before_merge: true,
            }
        };
        let dba = Counted {
            user: "dba1".into(),
            roles: vec!["dba".into()],
            via_write_permission: false,
            at: t(2),
            source: Source::Review(9),
        };
        Decision {
            environments: vec![
                env("staging", true, 1, vec![dba.clone()], &[]),
                env("production", false, 2, vec![dba], &["owner"]),
            ],
        }
    }

    #[test]
    fn section_snapshot() {
        insta::assert_snapshot!(section(&decision()));
    }

    #[test]
    fn title_names_what_is_missing() {
        assert_eq!(
            check_title(&decision()),
            "Waiting for approvals: production: 1/2 (missing: owner)"
        );
    }

    #[test]
    fn splice_replaces_only_the_section() {
        let body = format!("head\n{APPROVALS_START}\nold\n{APPROVALS_END}\ntail");
        let out = splice(&body, "new table\n").unwrap();
        assert_eq!(
            out,
            format!("head\n{APPROVALS_START}\nnew table\n{APPROVALS_END}\ntail")
        );
        assert_eq!(splice(&out, "new table").unwrap(), out, "idempotent");
        assert_eq!(splice("no markers", "x"), None);
        assert_eq!(
            splice(&format!("{APPROVALS_END}{APPROVALS_START}"), "x"),
            None
        );
    }
}
