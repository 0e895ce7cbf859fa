//! Forge-neutral events: what a webhook delivery means, after parsing.
//! Everything after `webhook/` works on these types, never on forge JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which forge an event or repository belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub.com or GitHub Enterprise Server.
    Github,
    /// GitLab.com or self-managed GitLab.
    Gitlab,
}

impl ForgeKind {
    /// Every forge bytegate speaks to.
    pub const ALL: [ForgeKind; 2] = [ForgeKind::Github, ForgeKind::Gitlab];

    /// The forge named `name` as stored in the meta database ([`ForgeKind::as_str`]).
    pub fn from_name(name: &str) -> Option<ForgeKind> {
        ForgeKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Lowercase name as stored in the meta database.
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitlab => "gitlab",
        }
    }
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A repository on a forge.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RepoRef {
    /// The forge.
    pub forge: ForgeKind,
    /// `owner/name` (GitHub) or the project path (GitLab).
    pub full_name: String,
    /// Numeric id (GitLab project id; GitHub repository id).
    pub id: Option<u64>,
}

/// A pull request (merge request) in a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PrRef {
    /// Its repository.
    pub repo: RepoRef,
    /// PR number (GitLab: MR iid).
    pub number: u64,
}

impl fmt::Display for PrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.repo.full_name, self.number)
    }
}

/// What happened to a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PrAction {
    /// Opened.
    Opened,
    /// New commits pushed.
    Synchronize,
    /// Reopened.
    Reopened,
    /// Draft marked ready.
    ReadyForReview,
    /// Title/body/base edited; `base_changed` when the base branch changed.
    Edited {
        /// Whether the base branch changed (only then is a new review needed).
        base_changed: bool,
    },
    /// Closed, merged or not.
    Closed {
        /// Merged (deploys start) or just closed.
        merged: bool,
        /// The merge commit, when merged.
        merge_sha: Option<String>,
    },
}

impl PrAction {
    /// Whether this action asks for a (re-)review of the head commit.
    pub fn wants_review(&self) -> bool {
        matches!(
            self,
            PrAction::Opened
                | PrAction::Synchronize
                | PrAction::Reopened
                | PrAction::ReadyForReview
                | PrAction::Edited { base_changed: true }
        )
    }
}

/// A pull request event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequestEvent {
    /// Which PR.
    pub pr: PrRef,
    /// What happened.
    pub action: PrAction,
    /// Head commit.
    pub head_sha: String,
    /// Base branch name.
    pub base_ref: String,
    /// Base commit.
    pub base_sha: String,
    /// Author login.
    pub author: String,
    /// Title.
    pub title: String,
    /// Web URL of the PR.
    pub html_url: String,
    /// Head lives in another repository (fork): reviewed statically only.
    pub is_fork: bool,
    /// Draft PR.
    pub draft: bool,
    /// When the event happened (PR `updated_at`).
    pub at: DateTime<Utc>,
}

/// A review state, normalised (webhooks say `approved`, the REST list `APPROVED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Approved.
    Approved,
    /// Changes requested (cancels an approval).
    ChangesRequested,
    /// Dismissed (cancels an approval).
    Dismissed,
    /// A plain comment review (does not change approval).
    Commented,
    /// Pending (not submitted).
    Pending,
}

impl ReviewState {
    /// Parses either spelling.
    pub fn parse(s: &str) -> Option<ReviewState> {
        match s.to_ascii_lowercase().as_str() {
            "approved" => Some(ReviewState::Approved),
            "changes_requested" => Some(ReviewState::ChangesRequested),
            "dismissed" => Some(ReviewState::Dismissed),
            "commented" => Some(ReviewState::Commented),
            "pending" => Some(ReviewState::Pending),
            _ => None,
        }
    }
}

/// A PR review submitted, edited or dismissed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewEvent {
    /// Which PR.
    pub pr: PrRef,
    /// Reviewer login.
    pub reviewer: String,
    /// New state.
    pub state: ReviewState,
    /// Forge id of the review.
    pub review_id: u64,
    /// Commit the review was made on.
    pub commit_sha: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// What happened to a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentAction {
    /// Posted.
    Created,
    /// Edited (re-read it).
    Edited,
    /// Deleted (withdraws what it said).
    Deleted,
}

/// A comment on a pull request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentEvent {
    /// Which PR.
    pub pr: PrRef,
    /// Login of the comment's author (who wrote it). Empty when the forge
    /// did not say and it differs from `sender` (a GitLab note edited by
    /// someone else names its author only by id).
    pub author: String,
    /// Login of who caused this event (GitHub `sender`, GitLab `user`): the
    /// editor of an edited comment. Forges let maintainers edit other
    /// people's comments, so this is not always the author. Empty in events
    /// queued before the field existed.
    #[serde(default)]
    pub sender: String,
    /// Full text.
    pub body: String,
    /// Forge id of the comment.
    pub comment_id: u64,
    /// What happened.
    pub action: CommentAction,
    /// When.
    pub at: DateTime<Utc>,
}

impl CommentEvent {
    /// Whether the comment's text is its author's own words, so its commands
    /// may count as the author's: a created comment is (its creator is its
    /// author), an edited one only when the author edited it. Deletion says
    /// nothing new, so it is always the author's (it only withdraws).
    pub fn written_by_author(&self) -> bool {
        match self.action {
            CommentAction::Deleted => true,
            // Events queued before `sender` existed: a creation is the author's.
            CommentAction::Created if self.sender.is_empty() => !self.author.is_empty(),
            CommentAction::Created | CommentAction::Edited => {
                !self.author.is_empty() && self.sender.eq_ignore_ascii_case(&self.author)
            }
        }
    }
}

/// A user asked to re-run a check (GitHub `check_run`/`check_suite` rerequested).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerunEvent {
    /// Repository.
    pub repo: RepoRef,
    /// Head commit of the check.
    pub head_sha: String,
    /// PR numbers GitHub attached (empty for fork PRs: look up by head sha).
    pub pr_numbers: Vec<u64>,
}

/// Every event bytegate acts on. Deliveries of other kinds are stored and
/// acknowledged, and never become an `Event`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    /// Pull request lifecycle.
    PullRequest(PullRequestEvent),
    /// Pull request review.
    Review(ReviewEvent),
    /// Comment on a pull request.
    Comment(CommentEvent),
    /// Re-run requested.
    Rerun(RerunEvent),
}

impl Event {
    /// The key under which semantically equal events share one job while it
    /// is queued or running: `(forge, repo, PR, head sha, event kind)`. Once
    /// that job is done or failed, the same key queues new work (a reopen or
    /// a base change at the same head is reviewed again). `None`: never coalesced.
    pub fn coalesce_key(&self) -> Option<String> {
        match self {
            Event::PullRequest(e) if e.action.wants_review() => Some(format!(
                "{}:{}#{}@{}:review",
                e.pr.repo.forge, e.pr.repo.full_name, e.pr.number, e.head_sha
            )),
            Event::PullRequest(PullRequestEvent {
                pr,
                action: PrAction::Closed { merged: true, .. },
                ..
            }) => Some(format!(
                "{}:{}#{}:merged",
                pr.repo.forge, pr.repo.full_name, pr.number
            )),
            _ => None,
        }
    }
}
