//! Comment commands (`/bytebase approve|revoke|deploy|rollback|plan|help`): a
//! comment is parsed (`crate::command`), each line is run and answered in one
//! reply per comment, approvals become stored records, and the decision is
//! published (`super::approvals`); `deploy` on a merged PR moves its rollout
//! and `rollback` undoes a stage (`super::rollout`).
//!
//! - An edited comment is re-read (its old records replaced), a deleted one
//!   withdraws its records.
//! - Commands count only as the person who wrote them: an edit by someone
//!   else changes nothing and is audited and answered; a deletion by anyone
//!   withdraws. Approving and deploying need the same standing
//!   ([`crate::policy::may_act`], asked through [`super::decision`]); role
//!   lookups are cached and command comments limited per user (`super::guard`).

use super::approvals::{ensure_change_request, refresh};
use super::decision::standing_refusal;
use super::guard::{Admission, COMMAND_WINDOW, COMMANDS_PER_WINDOW, PLANS_PER_WINDOW};
use super::rollout::RolloutCommand;
use super::{FlowContext, FlowError};
use crate::command::{self, Command, ParseError};
use crate::deploy::RepairDecision;
use crate::event::{CommentAction, CommentEvent};
use crate::forge::Forge;
use crate::policy::{Act, Decision, EnvDecision, Source};
use crate::store::approvals::{self as records, NewCommentRecord, State};
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::change_requests::{ChangeRequest, CrState};
use crate::store::snapshots;
use serde_json::json;
use std::fmt::Write;

/// Command lines read from one comment (each may cost forge lookups).
const MAX_COMMANDS_PER_COMMENT: usize = 10;

/// What one command line led to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Stored; the environments it concerns (empty: all).
    Recorded {
        /// What was recorded.
        state: State,
        /// Environments (empty: all).
        environments: Vec<String>,
    },
    /// A reply text only (help, plan, deploy before merge).
    Info(String),
    /// `deploy ENV` or `rollback ENV` on a merged PR: run after this
    /// comment's approvals are stored.
    Rollout(RolloutCommand, String),
    /// `repair ENV DECISION`: run after this comment's approvals are stored.
    Repair(String, RepairDecision),
    /// Refused: what was wrong and what would work.
    Refused(String),
}

/// A comment was created, edited or deleted: run its commands.
pub async fn on_comment(ctx: &FlowContext, ev: &CommentEvent) -> Result<(), FlowError> {
    // Bots' comments are never commands, nor are bots' edits of others'
    // comments (bytegate may edit a comment carrying its marker); a deletion
    // by anyone still withdraws.
    let forge = ctx.forges.for_repo(&ev.pr.repo)?;
    if forge.is_bot(&ev.author).await?
        || (ev.action != CommentAction::Deleted && forge.is_bot(&ev.sender).await?)
    {
        return Ok(());
    }
    let prefix = &ctx.config.project.command_prefix;
    let mut lines = match ev.action {
        CommentAction::Deleted => Vec::new(),
        CommentAction::Created | CommentAction::Edited => command::parse_comment(&ev.body, prefix),
    };
    let existing = super::find_change_request(ctx, &ev.pr).await?;
    if lines.is_empty() && existing.is_none() {
        // Nothing to run, nothing stored: not ours.
        return Ok(());
    }
    let cr = match existing {
        Some(cr) => cr,
        None => ensure_change_request(ctx, forge.as_ref(), &ev.pr).await?,
    };

    // Commands count only as the person who wrote them: someone else's edit
    // changes nothing (the author's records stay as they were).
    if !ev.written_by_author() {
        return refuse_edit_by_other(ctx, forge.as_ref(), &cr, ev, lines.len()).await;
    }

    // A flood of command comments costs bounded forge calls: over the limit
    // the commands are not run (an edit still withdraws what the comment
    // said), and the user is told once.
    let mut limit_reached = false;
    if !lines.is_empty() {
        match ctx.guard.admit_comment(&ev.pr, &ev.author) {
            Admission::Run => {}
            admission => {
                limit_reached = admission == Admission::LimitReached;
                let detail = json!({"comment_id": ev.comment_id, "commands": lines.len(), "answered": limit_reached});
                audit::append(
                    &ctx.db,
                    &AuditEntry::for_pr_ref(&ev.author, AuditAction::CommandLimited, &ev.pr)
                        .with_detail(detail),
                )
                .await?;
                lines.clear();
            }
        }
    }

    // An edited comment is re-read and a deleted one withdraws: drop what it said.
    let removed = if ev.action == CommentAction::Created {
        Vec::new()
    } else {
        records::delete_comment(&ctx.db, cr.id, ev.comment_id).await?
    };

    let mut answered: Vec<(String, Outcome)> = Vec::new();
    let mut new_records: Vec<NewCommentRecord> = Vec::new();
    let skipped = lines.len().saturating_sub(MAX_COMMANDS_PER_COMMENT);
    for line in lines.into_iter().take(MAX_COMMANDS_PER_COMMENT) {
        let outcome = run_command(ctx, forge.as_ref(), &cr, ev, line.result).await?;
        if let Outcome::Recorded {
            state,
            environments,
        } = &outcome
        {
            if environments.is_empty() {
                new_records.push(NewCommentRecord {
                    environment: None,
                    state: *state,
                });
            }
            for env in environments {
                new_records.push(NewCommentRecord {
                    environment: Some(env.clone()),
                    state: *state,
                });
            }
        }
        answered.push((line.text, outcome));
    }

    // An edit that leaves the commands as they were (a typo fixed around
    // them) changes nothing: same records at their original time, no reply.
    let same: Vec<(Option<String>, &str)> = new_records
        .iter()
        .map(|r| (r.environment.clone(), r.state.as_str()))
        .collect();
    let old: Vec<(Option<String>, &str)> = removed
        .iter()
        .map(|r| (r.environment.clone(), r.state.as_str()))
        .collect();
    let unchanged_edit = ev.action == CommentAction::Edited
        && !removed.is_empty()
        && same == old
        && answered
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Recorded { .. }));
    if unchanged_edit {
        let at = removed.first().map_or(ev.at, |r| r.at);
        let digest = removed.first().and_then(|r| r.digest.as_deref());
        records::insert_comment(
            &ctx.db,
            cr.id,
            ev.comment_id,
            &ev.author,
            at,
            digest,
            &new_records,
        )
        .await?;
        return Ok(());
    }

    for row in &removed {
        let detail = json!({
            "source": "comment", "comment_id": ev.comment_id, "state": row.state.as_str(),
            "reason": if ev.action == CommentAction::Deleted { "comment deleted" } else { "comment edited" },
        });
        audit::append(
            &ctx.db,
            &AuditEntry::for_pr_ref(&row.user_login, AuditAction::ApprovalRevoked, &ev.pr)
                .in_environment(row.environment.as_deref())
                .with_detail(detail),
        )
        .await?;
    }
    let mut changed = !removed.is_empty();
    if !new_records.is_empty() {
        // Bound to the reviewed content the commenter could see: the newest
        // head reviewed at the comment's time.
        let bound = snapshots::current_at(&ctx.db, cr.id, ev.at).await?;
        records::insert_comment(
            &ctx.db,
            cr.id,
            ev.comment_id,
            &ev.author,
            ev.at,
            bound.as_ref().map(|s| s.digest.as_str()),
            &new_records,
        )
        .await?;
        for r in &new_records {
            let action = match r.state {
                State::Approved => AuditAction::ApprovalGranted,
                _ => AuditAction::ApprovalRevoked,
            };
            let detail = json!({"source": "comment", "comment_id": ev.comment_id, "state": r.state.as_str(), "at": ev.at});
            super::notices::audit(
                ctx,
                &ctx.db,
                &AuditEntry::for_pr_ref(&ev.author, action, &ev.pr)
                    .in_environment(r.environment.as_deref())
                    .with_detail(detail),
            )
            .await?;
        }
        changed = true;
    }
    let decision = if changed {
        refresh(ctx, forge.as_ref(), &ev.pr).await?
    } else {
        None
    };
    if changed && cr.state == CrState::Merged {
        // Approvals after merge may let a waiting stage run.
        super::rollout::advance(ctx, &ev.pr).await?;
    }
    for (_, outcome) in &mut answered {
        if let Outcome::Rollout(command, environment) = outcome {
            let text = super::rollout::command(ctx, &ev.pr, environment, &ev.author, *command)
                .await?
                .text;
            *outcome = Outcome::Info(text);
        } else if let Outcome::Repair(environment, decision) = outcome {
            let text = super::rollout::repair_command(
                ctx,
                &ev.pr,
                environment,
                *decision,
                &ev.author,
                ev.comment_id,
            )
            .await?;
            *outcome = Outcome::Info(text);
        }
    }
    if limit_reached {
        let body = format!(
            "@{}\n\nYou sent more than {COMMANDS_PER_WINDOW} comments with commands on this pull request within {} minutes; these commands were not run. Commands in comments are read again after that.\n",
            ev.author,
            COMMAND_WINDOW.as_secs() / 60
        );
        forge.create_comment(&ev.pr, &body).await?;
    }
    if !answered.is_empty() {
        let mut body = reply(&ev.author, &answered, decision.as_ref());
        if skipped > 0 {
            let _ = write!(
                body,
                "\nOnly the first {MAX_COMMANDS_PER_COMMENT} commands of a comment are read; {skipped} more were ignored.\n"
            );
        }
        forge.create_comment(&ev.pr, &body).await?;
    }
    Ok(())
}

/// Someone other than the author edited a comment: nothing changes (the
/// author's records stay exactly as they were). Audited and answered when the
/// edit could have mattered: the new text has commands, or the comment's
/// commands are on record.
async fn refuse_edit_by_other(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    ev: &CommentEvent,
    commands: usize,
) -> Result<(), FlowError> {
    let on_record: Vec<_> = records::list(&ctx.db, cr.id)
        .await?
        .into_iter()
        .filter(|r| {
            r.to_record()
                .is_some_and(|rec| rec.source == Source::Comment(ev.comment_id))
        })
        .collect();
    if commands == 0 && on_record.is_empty() {
        return Ok(());
    }
    // GitLab names a note's author by id only: take the login from the record when there is one.
    let author = if ev.author.is_empty() {
        on_record
            .first()
            .map(|r| r.user_login.clone())
            .unwrap_or_default()
    } else {
        ev.author.clone()
    };
    let sender = if ev.sender.is_empty() {
        "someone"
    } else {
        ev.sender.as_str()
    };
    let detail = json!({
        "comment_id": ev.comment_id, "author": author, "commands": commands,
        "records_kept": on_record.len(),
    });
    audit::append(
        &ctx.db,
        &AuditEntry::for_pr_ref(sender, AuditAction::EditByOtherRefused, &ev.pr)
            .with_detail(detail),
    )
    .await?;
    // The editor's flood of edits is bounded like their comments.
    match ctx.guard.admit_comment(&ev.pr, sender) {
        Admission::Run => {}
        Admission::LimitReached | Admission::Ignore => return Ok(()),
    }
    let whose = if author.is_empty() {
        "a comment written by someone else".to_string()
    } else {
        format!("@{author}'s comment")
    };
    let body = format!(
        "@{sender} edited {whose}; commands count only as the person who wrote them, so nothing changed.\n"
    );
    forge.create_comment(&ev.pr, &body).await?;
    Ok(())
}

/// Runs one parsed command line (refusals are audited).
async fn run_command(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    ev: &CommentEvent,
    parsed: Result<Command, ParseError>,
) -> Result<Outcome, FlowError> {
    let prefix = &ctx.config.project.command_prefix;
    let known: Vec<&str> = ctx
        .config
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let cmd = match parsed.and_then(|c| c.resolve(&known)) {
        Ok(c) => c,
        Err(e) => {
            let mut text = e.to_string();
            if matches!(
                e,
                ParseError::UnknownCommand { .. } | ParseError::MissingCommand
            ) {
                let _ = write!(text, ". `{prefix} help` explains them.");
            }
            return Ok(Outcome::Refused(text));
        }
    };
    let outcome = match &cmd {
        Command::Help => Outcome::Info(command::help(prefix)),
        // Deploying needs the standing approving needs (the one policy rule).
        Command::Deploy { environment } | Command::Rollback { environment } => {
            match standing_refusal(
                ctx,
                forge,
                cr,
                &ev.pr,
                &ev.author,
                Act::Deploy,
                std::slice::from_ref(environment),
            )
            .await?
            {
                Some(why) => Outcome::Refused(format!(
                    "`{}` needs the standing that approving needs: {why}",
                    cmd.name()
                )),
                None if cr.state == CrState::Merged => {
                    let command = match cmd {
                        Command::Deploy { .. } => RolloutCommand::Deploy,
                        _ => RolloutCommand::Rollback,
                    };
                    Outcome::Rollout(command, environment.clone())
                }
                None => Outcome::Info(format!(
                    "`{}` for `{environment}` is available after merge: the rollout then waits for it where the policy or deploy window requires.",
                    cmd.name()
                )),
            }
        }
        // Recording a repair decision lets deploys run again: deploy's standing.
        Command::Repair {
            environment,
            decision,
        } => match standing_refusal(
            ctx,
            forge,
            cr,
            &ev.pr,
            &ev.author,
            Act::Deploy,
            std::slice::from_ref(environment),
        )
        .await?
        {
            Some(why) => Outcome::Refused(format!(
                "`repair` needs the standing that deploying needs: {why}"
            )),
            None => Outcome::Repair(environment.clone(), *decision),
        },
        Command::Plan if !ctx.guard.admit_plan(&ev.pr, &ev.author) => Outcome::Refused(format!(
            "`plan` re-runs the whole review; you asked for it more than {PLANS_PER_WINDOW} times on this pull request within {} minutes. Try again later.",
            COMMAND_WINDOW.as_secs() / 60
        )),
        Command::Plan => {
            let info = forge.get_pull_request(&ev.pr).await?;
            if info.state != "open" {
                Outcome::Refused("this pull request is not open; nothing to re-run.".to_string())
            } else {
                let event = super::rereview_event(ev.pr.clone(), info, ctx.clock.now());
                Box::pin(super::review_pull_request_for(
                    ctx,
                    &event,
                    super::dry_run::DryRunTrigger::Plan,
                ))
                .await?;
                Outcome::Info(format!(
                    "re-ran the review of `{}`.",
                    event.head_sha.get(..7).unwrap_or(&event.head_sha)
                ))
            }
        }
        Command::Revoke { environments } => {
            // Withdrawing needs something to withdraw: an approval (any source)
            // for all environments or one of the named ones.
            let rows = records::list(&ctx.db, cr.id).await?;
            let approved = rows.iter().any(|r| {
                r.state == State::Approved
                    && r.user_login.eq_ignore_ascii_case(&ev.author)
                    && (environments.is_empty()
                        || r.environment
                            .as_ref()
                            .is_none_or(|e| environments.contains(e)))
            });
            if approved {
                Outcome::Recorded {
                    state: State::Revoked,
                    environments: environments.clone(),
                }
            } else {
                Outcome::Info("you have no approval here to withdraw.".to_string())
            }
        }
        Command::Approve { environments } => {
            match standing_refusal(
                ctx,
                forge,
                cr,
                &ev.pr,
                &ev.author,
                Act::Approve,
                environments,
            )
            .await?
            {
                Some(why) => Outcome::Refused(why),
                None => Outcome::Recorded {
                    state: State::Approved,
                    environments: environments.clone(),
                },
            }
        }
    };
    if let Outcome::Refused(why) = &outcome {
        let envs = cmd.environments();
        let detail = json!({"command": cmd.name().as_str(), "environments": envs, "comment_id": ev.comment_id, "reason": why});
        let environment = match &cmd {
            Command::Deploy { environment }
            | Command::Rollback { environment }
            | Command::Repair { environment, .. } => Some(environment.as_str()),
            _ => None,
        };
        audit::append(
            &ctx.db,
            &AuditEntry::for_pr_ref(&ev.author, AuditAction::ApprovalRefused, &ev.pr)
                .in_environment(environment)
                .with_detail(detail),
        )
        .await?;
    }
    Ok(outcome)
}

/// The reply to a comment's commands: one line per command.
fn reply(author: &str, answered: &[(String, Outcome)], decision: Option<&Decision>) -> String {
    let mut out = format!("@{author}\n\n");
    let mut infos = Vec::new();
    for (line, outcome) in answered {
        let line = line.replace('`', "'");
        match outcome {
            Outcome::Recorded {
                state,
                environments,
            } => {
                let what = if *state == State::Approved {
                    "approval recorded"
                } else {
                    "approval withdrawn"
                };
                let scope = if environments.is_empty() {
                    "all environments".to_string()
                } else {
                    environments.join(", ")
                };
                let _ = write!(out, "- ✅ `{line}`: {what} for {scope}.");
                if let Some(d) = decision {
                    let now: Vec<String> = d
                        .environments
                        .iter()
                        .filter(|e| {
                            environments.is_empty() || environments.contains(&e.environment)
                        })
                        .map(EnvDecision::summary_line)
                        .collect();
                    if !now.is_empty() {
                        let _ = write!(out, " Now: {}.", now.join("; "));
                    }
                }
                out.push('\n');
            }
            Outcome::Refused(why) => {
                let _ = writeln!(out, "- ❌ `{line}`: {why}");
            }
            Outcome::Rollout(command, environment) => {
                let _ = writeln!(
                    out,
                    "- ℹ️ `{line}`: {} of `{environment}` requested.",
                    command.name()
                );
            }
            Outcome::Repair(environment, _) => {
                let _ = writeln!(out, "- ℹ️ `{line}`: repair of `{environment}` requested.");
            }
            Outcome::Info(text) if text.contains('\n') => {
                let _ = writeln!(out, "- ℹ️ `{line}`: see below.");
                infos.push(text.as_str());
            }
            Outcome::Info(text) => {
                let _ = writeln!(out, "- ℹ️ `{line}`: {text}");
            }
        }
    }
    for text in infos {
        let _ = write!(out, "\n{text}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::parse_comment;
    use crate::flow::approvals::{comment_section, how_to_approve, tests::decision};

    #[test]
    fn bytegate_never_obeys_its_own_texts() {
        let answered = vec![
            (
                "/bytebase approve".to_string(),
                Outcome::Info(command::help("/bytebase")),
            ),
            (
                "/bytebase deploy staging".to_string(),
                Outcome::Refused("x".into()),
            ),
        ];
        let texts = [
            reply("bob", &answered, Some(&decision())),
            comment_section(&decision(), "/bytebase"),
            how_to_approve("/bytebase"),
        ];
        for text in texts {
            assert!(parse_comment(&text, "/bytebase").is_empty(), "{text}");
        }
    }
}
