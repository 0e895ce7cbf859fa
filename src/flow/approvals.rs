//! Approvals in the flow: PR reviews and comment commands become stored
//! records (`store::approvals`), the policy (`crate::policy`) decides every
//! environment, and the decision is published as the `bytegate/approval`
//! check on the head commit and as the approval section of the sticky comment.
//!
//! - A review event re-reads the PR's review list (all pages): it is the
//!   source of truth, each user's latest state wins in the policy.
//! - A comment is parsed for commands (`crate::command`); an edited comment
//!   is re-read (its old records replaced), a deleted one withdraws its records.
//! - Each command line gets an answer in one reply per comment: a short
//!   confirmation, or what was wrong and what would work.
//! - Recomputing and publishing happen under the change request's row lock,
//!   so two events of one PR never interleave their check or comment edits;
//!   the decision and its audit rows commit before the forge is told (see
//!   [`publish`]), so the audit chain's lock never waits on the forge.
//! - Commands count only as the person who wrote them: an edit by someone
//!   else changes nothing and is audited and answered; a deletion by anyone
//!   withdraws. Approving and deploying need the same standing
//!   ([`crate::policy::may_act`]); role lookups are cached and command
//!   comments limited per user (`super::guard`).

use super::guard::{Admission, COMMAND_WINDOW, COMMANDS_PER_WINDOW, PLANS_PER_WINDOW, Person};
use super::render::{APPROVALS_END, APPROVALS_START, cell};
use super::{BOT_ACTOR, FlowContext, FlowError};
use crate::command::{self, Command, ParseError};
use crate::config::Config;
use crate::event::{
    CommentAction, CommentEvent, PrAction, PrRef, PullRequestEvent, ReviewEvent, ReviewState,
};
use crate::forge::{CheckConclusion, CheckHandle, CheckResult, Forge, Permission};
use crate::policy::{self, Act, Decision, EnvDecision, NoStanding, PolicyInput, Source};
use crate::review::finding::RiskLevel;
use crate::store::approvals::{self as records, NewCommentRecord, State};
use crate::store::audit::{self, AuditAction, AuditEntry};
use crate::store::change_requests::{self, ChangeRequest, CrState, PrSeen};
use crate::store::{reviews, snapshots};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write;

/// Name of the approval check (check run or commit status).
pub const APPROVAL_CHECK: &str = "bytegate/approval";
/// Command lines read from one comment (each may cost forge lookups).
const MAX_COMMANDS_PER_COMMENT: usize = 10;

fn audit_entry<'a>(
    pr: &'a PrRef,
    actor: &'a str,
    action: AuditAction,
    environment: Option<&'a str>,
    detail: Value,
) -> AuditEntry<'a> {
    AuditEntry {
        actor,
        action,
        forge: Some(pr.repo.forge.as_str()),
        repo: Some(&pr.repo.full_name),
        number: Some(pr.number as i64),
        environment,
        detail,
    }
}

/// The change request of `pr`, created from the forge's view when bytegate
/// has not seen the PR yet. The head is recorded as the oldest possible, so
/// it never outranks a real pull-request event.
async fn ensure_change_request(
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
/// store what changed, and publish the new decision.
pub async fn on_review(ctx: &FlowContext, ev: &ReviewEvent) -> Result<(), FlowError> {
    let forge = ctx.forges.for_repo(&ev.pr.repo)?;
    let cr = ensure_change_request(ctx, forge.as_ref(), &ev.pr).await?;
    sync_reviews(ctx, forge.as_ref(), &cr, &ev.pr).await?;
    refresh(ctx, forge.as_ref(), &ev.pr).await?;
    if cr.state == CrState::Merged {
        // Approvals after merge may let a waiting stage run.
        super::rollout::advance(ctx, &ev.pr).await?;
    }
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
        audit::append(&ctx.db, &audit_entry(pr, &r.reviewer, action, None, detail)).await?;
    }
    Ok(())
}

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
    /// `deploy ENV` on a merged PR: run after this comment's approvals are stored.
    Deploy(String),
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
    let existing = change_requests::find(
        &ctx.db,
        ev.pr.repo.forge.as_str(),
        &ev.pr.repo.full_name,
        ev.pr.number as i64,
    )
    .await?;
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
                    &audit_entry(
                        &ev.pr,
                        &ev.author,
                        AuditAction::CommandLimited,
                        None,
                        detail,
                    ),
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
            &audit_entry(
                &ev.pr,
                &row.user_login,
                AuditAction::ApprovalRevoked,
                row.environment.as_deref(),
                detail,
            ),
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
            audit::append(
                &ctx.db,
                &audit_entry(&ev.pr, &ev.author, action, r.environment.as_deref(), detail),
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
        if let Outcome::Deploy(environment) = outcome {
            let text = super::rollout::deploy_command(ctx, &ev.pr, environment, &ev.author).await?;
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
        &audit_entry(
            &ev.pr,
            sender,
            AuditAction::EditByOtherRefused,
            None,
            detail,
        ),
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
                None if cr.state == CrState::Merged && matches!(cmd, Command::Deploy { .. }) => {
                    Outcome::Deploy(environment.clone())
                }
                None => Outcome::Info(format!(
                    "`{}` for `{environment}` is available after merge: the rollout then waits for it where the policy or deploy window requires.",
                    cmd.name()
                )),
            }
        }
        Command::Plan if !ctx.guard.admit_plan(&ev.pr, &ev.author) => Outcome::Refused(format!(
            "`plan` re-runs the whole review; you asked for it more than {PLANS_PER_WINDOW} times on this pull request within {} minutes. Try again later.",
            COMMAND_WINDOW.as_secs() / 60
        )),
        Command::Plan => {
            let info = forge.get_pull_request(&ev.pr).await?;
            if info.state != "open" {
                Outcome::Refused("this pull request is not open; nothing to re-run.".to_string())
            } else {
                let event = PullRequestEvent {
                    pr: ev.pr.clone(),
                    action: PrAction::Synchronize,
                    head_sha: info.head_sha.clone(),
                    base_ref: info.base_ref,
                    base_sha: info.base_sha,
                    author: info.author,
                    title: info.title,
                    html_url: String::new(),
                    is_fork: info.is_fork,
                    draft: info.draft,
                    at: ctx.clock.now(),
                };
                Box::pin(super::review_pull_request(ctx, &event)).await?;
                Outcome::Info(format!(
                    "re-ran the review of `{}`.",
                    info.head_sha.get(..7).unwrap_or(&info.head_sha)
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
            Command::Deploy { environment } | Command::Rollback { environment } => {
                Some(environment.as_str())
            }
            _ => None,
        };
        audit::append(
            &ctx.db,
            &audit_entry(
                &ev.pr,
                &ev.author,
                AuditAction::ApprovalRefused,
                environment,
                detail,
            ),
        )
        .await?;
    }
    Ok(outcome)
}

/// Why `user` may not `act` for `environments` (empty: all), or `None` when
/// they may. The rule itself is the policy's ([`policy::may_act`]); this
/// resolves the user's roles and words the refusal.
async fn standing_refusal(
    ctx: &FlowContext,
    forge: &dyn Forge,
    cr: &ChangeRequest,
    pr: &PrRef,
    user: &str,
    act: Act,
    environments: &[String],
) -> Result<Option<String>, FlowError> {
    let config = &ctx.config;
    let login = user.to_ascii_lowercase();
    let (roles, write) = resolve_people(ctx, forge, pr, &BTreeSet::from([login.clone()])).await?;
    let held = roles.get(&login).cloned().unwrap_or_default();
    let has_write = write.contains(&login);
    let mut refused: Vec<&str> = Vec::new();
    for env in config
        .environments
        .iter()
        .filter(|e| environments.is_empty() || environments.contains(&e.name))
    {
        match policy::may_act(act, env, &cr.author, user, &held, has_write) {
            Ok(_) => {}
            Err(NoStanding::Author) => {
                return Ok(Some(format!(
                    "you opened this pull request, and the author's approval never counts. Ask a reviewer {} to approve it.",
                    who_counts(config, environments)
                )));
            }
            Err(NoStanding::NoRole) => refused.push(env.name.as_str()),
        }
    }
    if refused.is_empty() {
        return Ok(None);
    }
    let mut why = format!(
        "you hold no role that counts for {}. Approvals count from {}.",
        refused
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", "),
        who_counts(config, environments)
    );
    if act == Act::Deploy && user.eq_ignore_ascii_case(&cr.author) {
        // The judgment call, said where it applies: an author with standing may
        // deploy (a stage still runs only once others' approvals satisfy it).
        why.push_str(" The author may deploy with that standing too, never without it.");
    }
    Ok(Some(why))
}

/// `holding the role `dba` or `owner`` (and write permission where allowed).
fn who_counts(config: &Config, environments: &[String]) -> String {
    let mut roles: Vec<&str> = config
        .environments
        .iter()
        .filter(|e| environments.is_empty() || environments.contains(&e.name))
        .flat_map(|e| e.roles.iter().map(String::as_str))
        .collect();
    if roles.is_empty() {
        roles = config.roles.keys().map(String::as_str).collect();
    }
    roles.sort_unstable();
    roles.dedup();
    let write = config
        .environments
        .iter()
        .filter(|e| environments.is_empty() || environments.contains(&e.name))
        .filter(|e| e.allow_write_permission)
        .map(|e| format!("`{}`", e.name))
        .collect::<Vec<_>>();
    let mut s = if roles.is_empty() {
        "holding a role configured under `roles:` (none is configured)".to_string()
    } else {
        let list: Vec<String> = roles.iter().map(|r| format!("`{r}`")).collect();
        format!("holding the role {}", list.join(" or "))
    };
    if !write.is_empty() {
        let _ = write!(s, " (or with write permission, for {})", write.join(", "));
    }
    s
}

/// Roles (config users, teams via the forge) and write permission of `users` (lowercase).
async fn resolve_people(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
    users: &BTreeSet<String>,
) -> Result<(HashMap<String, BTreeSet<String>>, HashSet<String>), FlowError> {
    let config = &ctx.config;
    let teams: BTreeSet<String> = config
        .roles
        .values()
        .flat_map(|r| r.teams.iter().map(|t| t.to_ascii_lowercase()))
        .collect();
    let write_matters = config.environments.iter().any(|e| e.allow_write_permission);
    let mut roles = HashMap::new();
    let mut write = HashSet::new();
    for user in users {
        // Cached per repository and user for a short time: a flood of
        // commands costs a bounded number of forge lookups.
        if let Some(p) = ctx.guard.person(pr, user) {
            if p.write {
                write.insert(user.clone());
            }
            roles.insert(user.clone(), p.roles);
            continue;
        }
        let direct = policy::roles_of(&config.roles, user, &BTreeSet::new());
        let mut member_of = BTreeSet::new();
        for team in &teams {
            // Skip lookups that cannot add a role the user lacks.
            let adds = config.roles.iter().any(|(name, r)| {
                !direct.contains(name) && r.teams.iter().any(|t| t.eq_ignore_ascii_case(team))
            });
            if !adds {
                continue;
            }
            match forge.is_team_member(&pr.repo, team, user).await {
                Ok(true) => {
                    member_of.insert(team.clone());
                }
                Ok(false) => {}
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    // No permission to read teams, or a malformed team name:
                    // the user simply does not get that role.
                    tracing::warn!(team = %team, user = %user, error = %e, "team membership lookup failed");
                }
            }
        }
        let held = policy::roles_of(&config.roles, user, &member_of);
        let mut has_write = false;
        if held.is_empty() && write_matters {
            match forge.collaborator_permission(&pr.repo, user).await {
                Ok(p) if p >= Permission::Write => has_write = true,
                Ok(_) => {}
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(user = %user, error = %e, "permission lookup failed");
                }
            }
        }
        ctx.guard.remember(
            pr,
            user,
            Person {
                roles: held.clone(),
                write: has_write,
            },
        );
        if has_write {
            write.insert(user.clone());
        }
        roles.insert(user.clone(), held);
    }
    Ok((roles, write))
}

/// Risk per environment of the review of `sha` (the newest result per environment).
async fn risk_of(
    ctx: &FlowContext,
    cr: &ChangeRequest,
) -> Result<(BTreeMap<String, RiskLevel>, RiskLevel), FlowError> {
    let parse = |s: &str| match s {
        "high" => RiskLevel::High,
        "medium" => RiskLevel::Medium,
        _ => RiskLevel::Low,
    };
    let mut by_env = BTreeMap::new();
    let mut default = RiskLevel::Low;
    for r in reviews::for_sha(&ctx.db, cr.id, &cr.head_sha).await? {
        match r.environment {
            Some(env) => {
                by_env.insert(env, parse(&r.risk_level));
            }
            None => default = parse(&r.risk_level),
        }
    }
    Ok((by_env, default))
}

/// A change request's decision, ready to publish.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The change request as read.
    pub cr: ChangeRequest,
    /// The comment-command prefix (for the how-to line).
    pub command_prefix: String,
    /// The decision.
    pub decision: Decision,
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

/// Reads the stored approvals, resolves roles and decides every environment.
/// `None` when bytegate has not seen the PR.
pub async fn evaluate(
    ctx: &FlowContext,
    forge: &dyn Forge,
    pr: &PrRef,
) -> Result<Option<Evaluation>, FlowError> {
    let Some(cr) = change_requests::find(
        &ctx.db,
        pr.repo.forge.as_str(),
        &pr.repo.full_name,
        pr.number as i64,
    )
    .await?
    else {
        return Ok(None);
    };
    let rows = records::list(&ctx.db, cr.id).await?;
    let recs: Vec<policy::Record> = rows.iter().filter_map(|r| r.to_record()).collect();
    let users: BTreeSet<String> = recs.iter().map(|r| r.user.to_ascii_lowercase()).collect();
    let (roles, write) = resolve_people(ctx, forge, pr, &users).await?;
    let (risk, default_risk) = risk_of(ctx, &cr).await?;
    let decision = policy::decide(&PolicyInput {
        environments: &ctx.config.environments,
        author: &cr.author,
        records: &recs,
        roles: &roles,
        write_permission: &write,
        migrations_changed_at: cr.migrations_changed_at,
        current_digest: cr.migrations_digest.as_deref(),
        risk: &risk,
        default_risk,
    });
    Ok(Some(Evaluation {
        cr,
        command_prefix: ctx.config.project.command_prefix.clone(),
        decision,
    }))
}

/// The sticky comment `body` with the approval section filled in (unchanged
/// without an evaluation or markers).
pub fn with_section(body: String, evaluation: Option<&Evaluation>) -> String {
    evaluation
        .and_then(|e| splice(&body, &comment_section(&e.decision, &e.command_prefix)))
        .unwrap_or(body)
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
        audit::append(
            &mut *tx,
            &audit_entry(
                pr,
                BOT_ACTOR,
                AuditAction::ApprovalDecided,
                Some(&e.environment),
                detail,
            ),
        )
        .await?;
    }
    let seq = records::record_decision(&mut *tx, cr.id, &json!(new)).await?;
    tx.commit().await?;

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

fn how_to_approve(prefix: &str) -> String {
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
fn comment_section(d: &Decision, prefix: &str) -> String {
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
            Outcome::Deploy(environment) => {
                let _ = writeln!(out, "- ℹ️ `{line}`: deploy of `{environment}` requested.");
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
    use crate::config::{Backup, Environment};
    use crate::policy::{Counted, DiscardReason, Discarded};

    fn t(minute: u32) -> DateTime<Utc> {
        format!("2026-01-01T10:{minute:02}:00Z").parse().unwrap()
    }

    fn decision() -> Decision {
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

    #[test]
    fn who_counts_names_roles_and_write_permission() {
        let env = |name: &str, roles: &[&str], write| Environment {
            name: name.into(),
            approvals: 1,
            roles: roles.iter().map(|s| s.to_string()).collect(),
            allow_write_permission: write,
            stale_reset: true,
            high_risk_extra_approvals: 0,
            required_before_merge: true,
            deploy_window: None,
            backup: Backup::default(),
            lock_timeout: None,
            statement_timeout: None,
            allow_out_of_order: false,
            databases: vec![],
        };
        let mut config = Config::from_yaml(
            "project: {key: T, name: T}\nroles: {dba: {users: [d]}, owner: {users: [o]}}\n",
            "t",
            &|_| None,
        )
        .unwrap();
        config.environments = vec![
            env("staging", &[], true),
            env("production", &["dba", "owner"], false),
        ];
        assert_eq!(
            who_counts(&config, &["production".into()]),
            "holding the role `dba` or `owner`"
        );
        assert_eq!(
            who_counts(&config, &["staging".into()]),
            "holding the role `dba` or `owner` (or with write permission, for `staging`)"
        );
    }
}
