//! Forges (GitHub, GitLab) behind one object-safe [`Forge`] trait.
//!
//! The engine (`flow`) only speaks these forge-neutral types: changed files,
//! file contents, a "check" (a check run on GitHub Apps, a commit status with a
//! token or on GitLab), PR comments, reviews and permissions. Each forge
//! implementation owns its HTTP details, authentication and retries.

pub mod github;
pub mod gitlab;
pub mod paging;
pub mod retry;

use crate::config::Config;
use crate::event::{ForgeKind, PrAction, PrRef, PullRequestEvent, RepoRef, ReviewState};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use retry::RetryPolicy;

/// What every forge call returns: a boxed future, so the trait stays object-safe.
pub type ForgeFuture<'a, T> = BoxFuture<'a, Result<T, ForgeError>>;

/// A forge failure, classified so callers know whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// A server error, a timeout or a dropped connection, after the forge
    /// client's own bounded retries: the job should be retried later.
    #[error("{op}: temporary forge failure: {message}")]
    Transient {
        /// The operation (e.g. `checks/create`).
        op: &'static str,
        /// What happened.
        message: String,
    },
    /// Rate limited for longer than the client waits in-line.
    #[error("{op}: rate limited by the forge; retry in {}s", retry_after.as_secs())]
    RateLimited {
        /// The operation.
        op: &'static str,
        /// When the forge allows the next request.
        retry_after: Duration,
    },
    /// The object does not exist (or is not visible to bytegate).
    #[error("{op}: not found")]
    NotFound {
        /// The operation.
        op: &'static str,
    },
    /// The forge refused the request (4xx other than 404/429): retrying the
    /// same request cannot succeed.
    #[error("{op}: the forge rejected the request with HTTP {status}: {message}")]
    Rejected {
        /// The operation.
        op: &'static str,
        /// HTTP status.
        status: u16,
        /// The forge's message.
        message: String,
    },
    /// The forge answered something bytegate cannot read.
    #[error("{op}: unexpected forge response: {message}")]
    Decode {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
    /// bytegate is not set up to talk to this forge (missing key, bad URL).
    #[error("forge configuration: {0}")]
    Config(String),
    /// The operation does not exist on this forge or in this auth mode.
    #[error("{op} is not supported by {forge}")]
    Unsupported {
        /// The operation.
        op: &'static str,
        /// The forge.
        forge: ForgeKind,
    },
}

impl ForgeError {
    /// True when the same call may succeed later (the job should be retried).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ForgeError::Transient { .. } | ForgeError::RateLimited { .. }
        )
    }

    /// How long the forge asked us to wait, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ForgeError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// How a pull request changes a file (GitHub's `status` of a PR file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// New file.
    Added,
    /// Edited file (also GitHub's `changed`).
    Modified,
    /// Deleted file.
    Removed,
    /// Moved (possibly edited) file.
    Renamed {
        /// The path before the move.
        from: String,
    },
    /// Copied from another file.
    Copied {
        /// The source path.
        from: String,
    },
    /// Mode change only, or a status bytegate does not know.
    Unchanged,
}

/// One file in a pull request's diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// Path after the change.
    pub path: String,
    /// How it changed.
    pub status: FileStatus,
    /// Blob id of the new content, when the forge gives one (detects edits between pushes).
    pub blob_sha: Option<String>,
}

/// The parts of a pull request the engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestInfo {
    /// Number.
    pub number: u64,
    /// Head commit.
    pub head_sha: String,
    /// Base branch.
    pub base_ref: String,
    /// Base commit.
    pub base_sha: String,
    /// Author login.
    pub author: String,
    /// Title.
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    /// Head repository differs from the base repository.
    pub is_fork: bool,
    /// Draft.
    pub draft: bool,
    /// Merged.
    pub merged: bool,
    /// The commit the merge put on the base branch (merge, squash or, for a
    /// fast-forward, the head), once merged and when the forge says.
    pub merge_sha: Option<String>,
}

/// A comment on a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrComment {
    /// Forge id.
    pub id: u64,
    /// Author login.
    pub author: String,
    /// Text.
    pub body: String,
}

/// A submitted pull-request review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrReview {
    /// Forge id.
    pub id: u64,
    /// Reviewer login.
    pub reviewer: String,
    /// State, normalised.
    pub state: ReviewState,
    /// Commit the review was made on.
    pub commit_sha: Option<String>,
    /// When it was submitted (RFC 3339), if known.
    pub submitted_at: Option<String>,
}

/// A user's permission on a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// No access.
    None,
    /// Read (GitHub `triage` maps here).
    Read,
    /// Write (GitHub `maintain` maps here).
    Write,
    /// Admin.
    Admin,
}

/// The outcome of a completed check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckConclusion {
    /// Nothing blocking.
    Success,
    /// Warnings only.
    Neutral,
    /// At least one error (or bytegate failed).
    Failure,
}

impl CheckConclusion {
    /// The commit-status state for this conclusion, on a forge whose failing
    /// state is called `failed_state`. A status has no "neutral": warnings
    /// do not block.
    pub fn status_state(self, failed_state: &'static str) -> &'static str {
        match self {
            CheckConclusion::Failure => failed_state,
            CheckConclusion::Success | CheckConclusion::Neutral => "success",
        }
    }

    /// GitHub's check-run conclusion value.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckConclusion::Success => "success",
            CheckConclusion::Neutral => "neutral",
            CheckConclusion::Failure => "failure",
        }
    }
}

impl fmt::Display for CheckConclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationLevel {
    /// Info.
    Notice,
    /// Warning.
    Warning,
    /// Error.
    Failure,
}

impl AnnotationLevel {
    /// GitHub's `annotation_level` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Notice => "notice",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Failure => "failure",
        }
    }
}

/// A finding attached to a file and line range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Repository-relative path.
    pub path: String,
    /// First line (1-based).
    pub start_line: u32,
    /// Last line (>= start_line).
    pub end_line: u32,
    /// Level.
    pub level: AnnotationLevel,
    /// Short title (the rule id).
    pub title: String,
    /// What is wrong.
    pub message: String,
    /// Longer help text.
    pub details: Option<String>,
}

/// A finished check, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// Conclusion.
    pub conclusion: CheckConclusion,
    /// One-line title (counts and risk).
    pub title: String,
    /// Markdown summary (the forge truncates to its limit with a note).
    pub summary: String,
    /// Line annotations (sent in batches the forge accepts).
    pub annotations: Vec<Annotation>,
    /// Link to bytegate's own page for the change, if it has one.
    pub details_url: Option<String>,
}

/// A started check: how to complete it later. Serializable into the meta database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckHandle {
    /// A GitHub check run with this id.
    CheckRun(u64),
    /// A commit status (token mode, GitLab): completed by posting a new status.
    Status,
}

impl CheckHandle {
    /// The stored form (`check_run:ID` or `status`).
    pub fn to_stored(&self) -> String {
        match self {
            CheckHandle::CheckRun(id) => format!("check_run:{id}"),
            CheckHandle::Status => "status".to_string(),
        }
    }

    /// Parses the stored form.
    pub fn from_stored(s: &str) -> Option<CheckHandle> {
        if s == "status" {
            return Some(CheckHandle::Status);
        }
        s.strip_prefix("check_run:")
            .and_then(|id| id.parse().ok())
            .map(CheckHandle::CheckRun)
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Repository-relative path.
    pub path: String,
    /// True for files, false for directories and others.
    pub is_file: bool,
}

/// The state of a deployment (GitHub deployment statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    /// Waiting (for approvals, a window, a previous stage).
    Queued,
    /// Being applied.
    InProgress,
    /// Applied.
    Success,
    /// The deploy failed.
    Failure,
}

impl DeploymentState {
    /// GitHub's deployment-status `state` value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Queued => "queued",
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
        }
    }

    /// Parses [`DeploymentState::as_str`]'s value (as stored with a stage).
    pub fn parse(s: &str) -> Option<DeploymentState> {
        [
            DeploymentState::Queued,
            DeploymentState::InProgress,
            DeploymentState::Success,
            DeploymentState::Failure,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// A deployment to create: one per rollout stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment<'a> {
    /// The commit deployed (the merge commit).
    pub sha: &'a str,
    /// bytegate's environment name.
    pub environment: &'a str,
    /// Short description.
    pub description: &'a str,
    /// Whether the environment is the last one (GitHub's `production_environment`).
    pub production: bool,
}

/// A code forge, seen by the engine. Object-safe: held as `Arc<dyn Forge>`.
///
/// Every method is one logical operation; implementations retry transient
/// failures (5xx, rate limits) with bounded backoff before returning
/// [`ForgeError::Transient`] or [`ForgeError::RateLimited`].
pub trait Forge: Send + Sync {
    /// Which forge this is.
    fn kind(&self) -> ForgeKind;

    /// The pull request as it is now (head sha, fork or not).
    fn get_pull_request<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, PullRequestInfo>;

    /// Every file the pull request changes (all pages).
    fn list_pr_files<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, Vec<ChangedFile>>;

    /// A file's bytes at a commit or branch; `None` when it does not exist there.
    fn file_content<'a>(
        &'a self,
        repo: &'a RepoRef,
        path: &'a str,
        git_ref: &'a str,
    ) -> ForgeFuture<'a, Option<Vec<u8>>>;

    /// A directory's entries at a commit or branch; empty when it does not
    /// exist. Very large directories may be listed with every file below them.
    fn list_directory<'a>(
        &'a self,
        repo: &'a RepoRef,
        path: &'a str,
        git_ref: &'a str,
    ) -> ForgeFuture<'a, Vec<DirEntry>>;

    /// Marks the check `name` as running on `sha`.
    fn start_check<'a>(
        &'a self,
        repo: &'a RepoRef,
        sha: &'a str,
        name: &'a str,
        details_url: Option<&'a str>,
    ) -> ForgeFuture<'a, CheckHandle>;

    /// Completes a check started with [`Forge::start_check`] (or, with
    /// `handle == None`, publishes a completed one directly).
    fn complete_check<'a>(
        &'a self,
        repo: &'a RepoRef,
        sha: &'a str,
        name: &'a str,
        handle: Option<&'a CheckHandle>,
        result: &'a CheckResult,
    ) -> ForgeFuture<'a, CheckHandle>;

    /// Whether checks carry line annotations (false: put findings in the comment).
    fn checks_have_annotations(&self) -> bool;

    /// All comments on the pull request, oldest first.
    fn list_comments<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, Vec<PrComment>>;

    /// Posts a comment; returns it.
    fn create_comment<'a>(&'a self, pr: &'a PrRef, body: &'a str) -> ForgeFuture<'a, PrComment>;

    /// Replaces a comment's text.
    fn update_comment<'a>(
        &'a self,
        pr: &'a PrRef,
        comment_id: u64,
        body: &'a str,
    ) -> ForgeFuture<'a, ()>;

    /// Submitted reviews, oldest first.
    fn list_reviews<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, Vec<PrReview>>;

    /// A user's permission on the repository (`None` for non-collaborators).
    fn collaborator_permission<'a>(
        &'a self,
        repo: &'a RepoRef,
        user: &'a str,
    ) -> ForgeFuture<'a, Permission>;

    /// Largest comment body the forge accepts, in characters.
    fn max_comment_chars(&self) -> usize;

    /// Keeps one discussion thread per finding on its line of the diff at
    /// `head_sha` (forges without check annotations, when configured): new
    /// findings get a thread, threads of findings that are gone are resolved.
    /// Default: nothing (findings are in the comment).
    fn sync_line_findings<'a>(
        &'a self,
        pr: &'a PrRef,
        head_sha: &'a str,
        findings: &'a [Annotation],
    ) -> ForgeFuture<'a, ()> {
        let _ = (pr, head_sha, findings);
        Box::pin(async { Ok(()) })
    }

    /// The web URL under which a file at `sha` is `{url}/{path}#L{line}`, for
    /// linking findings from the comment (forges without line annotations).
    /// `None`: findings are not linked.
    fn blob_url(&self, repo: &RepoRef, sha: &str) -> Option<String> {
        let _ = (repo, sha);
        None
    }

    /// Creates a deployment of `d.sha` to `d.environment`; returns its id.
    /// Forges without deployments answer [`ForgeError::Unsupported`] (the
    /// rollout then reports through the deploy comment only).
    fn create_deployment<'a>(
        &'a self,
        repo: &'a RepoRef,
        d: &'a NewDeployment<'a>,
    ) -> ForgeFuture<'a, u64> {
        let _ = (repo, d);
        let forge = self.kind();
        Box::pin(async move {
            Err(ForgeError::Unsupported {
                op: "deployments",
                forge,
            })
        })
    }

    /// Adds a status to a deployment made by [`Forge::create_deployment`].
    fn set_deployment_status<'a>(
        &'a self,
        repo: &'a RepoRef,
        deployment_id: u64,
        state: DeploymentState,
        description: &'a str,
        log_url: Option<&'a str>,
    ) -> ForgeFuture<'a, ()> {
        let _ = (repo, deployment_id, state, description, log_url);
        let forge = self.kind();
        Box::pin(async move {
            Err(ForgeError::Unsupported {
                op: "deployment statuses",
                forge,
            })
        })
    }

    /// Whether `login` is a bot (bytegate itself or another integration):
    /// its comments are never commands. GitHub: Apps write as `name[bot]`;
    /// GitLab: project and group access-token users and the token's own user.
    fn is_bot<'a>(&'a self, login: &'a str) -> ForgeFuture<'a, bool>;

    /// The event with what this forge's hook leaves out filled in from the
    /// forge's API (GitLab's merge request hook names no base commit and,
    /// after opening, no author; a merge hook may name no merged commit), so
    /// the flow never reads files at an empty ref, records an empty author,
    /// or drops a merge without a deploy. `None` when it is complete already.
    fn complete_event<'a>(
        &'a self,
        ev: &'a PullRequestEvent,
    ) -> ForgeFuture<'a, Option<PullRequestEvent>> {
        Box::pin(async move {
            let merge_unknown = matches!(
                ev.action,
                PrAction::Closed {
                    merged: true,
                    merge_sha: None
                }
            );
            if !ev.base_sha.is_empty()
                && !ev.author.is_empty()
                && !ev.head_sha.is_empty()
                && !merge_unknown
            {
                return Ok(None);
            }
            let info = self.get_pull_request(&ev.pr).await?;
            Ok(Some(fill_event(ev, info, merge_unknown)))
        })
    }

    /// Whether `user` is an active member of `team` (`org/team-slug` on
    /// GitHub), seen with the repository's credentials. Implementations may
    /// cache answers briefly (roles are re-resolved on every approval event).
    fn is_team_member<'a>(
        &'a self,
        repo: &'a RepoRef,
        team: &'a str,
        user: &'a str,
    ) -> ForgeFuture<'a, bool> {
        let _ = (repo, team, user);
        let forge = self.kind();
        Box::pin(async move {
            Err(ForgeError::Unsupported {
                op: "team membership",
                forge,
            })
        })
    }
}

/// The configured forges, one client per kind. Knows no forge by name: a
/// new forge registers its client in [`ForgeSet::from_config`] only.
#[derive(Clone, Default)]
pub struct ForgeSet {
    forges: HashMap<ForgeKind, Arc<dyn Forge>>,
}

impl fmt::Debug for ForgeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kinds: Vec<&str> = self.forges.keys().map(|k| k.as_str()).collect();
        kinds.sort_unstable();
        f.debug_struct("ForgeSet").field("forges", &kinds).finish()
    }
}

impl ForgeSet {
    /// No forges (tests add their own).
    pub fn new() -> ForgeSet {
        ForgeSet::default()
    }

    /// Clients for every forge in the configuration: the one place a forge's
    /// client is registered (one line per forge).
    /// API calls are counted in `metrics`.
    pub fn from_config(
        config: &Config,
        metrics: &Arc<crate::telemetry::metrics::Metrics>,
    ) -> Result<ForgeSet, ForgeError> {
        let retry = RetryPolicy::default;
        let mut set = ForgeSet::new();
        if let Some(gh) = &config.forges.github {
            let client = github::GithubForge::from_config(gh, retry())?;
            set = set.with(Arc::new(client.observed_by(metrics.clone())));
        }
        if let Some(gl) = &config.forges.gitlab {
            let client = gitlab::GitlabForge::from_config(gl, retry())?;
            set = set.with(Arc::new(client.observed_by(metrics.clone())));
        }
        Ok(set)
    }

    /// Adds (or replaces) the client for its kind.
    pub fn with(mut self, forge: Arc<dyn Forge>) -> ForgeSet {
        self.forges.insert(forge.kind(), forge);
        self
    }

    /// The client for a repository's forge.
    pub fn for_repo(&self, repo: &RepoRef) -> Result<Arc<dyn Forge>, ForgeError> {
        self.forges.get(&repo.forge).cloned().ok_or_else(|| {
            ForgeError::Config(format!(
                "an event came from {} but `forges.{}` is not configured",
                repo.forge, repo.forge
            ))
        })
    }
}

/// `ev` with its empty fields taken from `info` (see [`Forge::complete_event`]).
fn fill_event(
    ev: &PullRequestEvent,
    info: PullRequestInfo,
    merge_unknown: bool,
) -> PullRequestEvent {
    let mut filled = ev.clone();
    if merge_unknown {
        filled.action = PrAction::Closed {
            merged: true,
            merge_sha: info.merge_sha.clone(),
        };
    }
    if filled.head_sha.is_empty() {
        filled.head_sha = info.head_sha;
    }
    if filled.base_sha.is_empty() {
        filled.base_sha = if info.base_sha.is_empty() {
            info.base_ref
        } else {
            info.base_sha
        };
    }
    if filled.author.is_empty() {
        filled.author = info.author;
    }
    filled
}

/// A commit-status request body. `name_field` is what the forge calls the
/// status's name (`context` on GitHub, `name` on GitLab); the description is
/// cut to the forge's limit.
pub(crate) fn status_body(
    name_field: &str,
    name: &str,
    state: &str,
    description: &str,
    max_description: usize,
    target_url: Option<&str>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "state": state,
        name_field: name,
        "description": truncate_with_note(description, max_description, "…"),
    });
    if let Some(url) = target_url {
        body["target_url"] = serde_json::json!(url);
    }
    body
}

/// `None` when the forge says the object does not exist (404); other
/// errors stay errors. What "absent" means is the caller's.
pub(crate) fn found<T>(result: Result<T, ForgeError>) -> Result<Option<T>, ForgeError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(ForgeError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Percent-encodes one URL component (everything but unreserved characters).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Cuts `text` to at most `max` characters, ending with `note` when cut (the
/// result, note included, never exceeds `max`).
pub fn truncate_with_note(text: &str, max: usize, note: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(note.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(note);
    out.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forge_names_round_trip() {
        for k in ForgeKind::ALL {
            assert_eq!(ForgeKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(ForgeKind::from_name("gitea"), None);
    }

    #[test]
    fn check_handles_round_trip() {
        for h in [CheckHandle::CheckRun(42), CheckHandle::Status] {
            assert_eq!(CheckHandle::from_stored(&h.to_stored()), Some(h));
        }
        assert_eq!(CheckHandle::from_stored("check_run:x"), None);
    }

    #[test]
    fn truncation_keeps_the_limit_and_adds_the_note() {
        assert_eq!(truncate_with_note("short", 10, "…"), "short");
        let cut = truncate_with_note(&"é".repeat(100), 20, "\n(truncated)");
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with("(truncated)"));
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        let t = ForgeError::Transient {
            op: "x",
            message: "502".into(),
        };
        let r = ForgeError::Rejected {
            op: "x",
            status: 422,
            message: "bad".into(),
        };
        assert!(t.is_retryable());
        assert!(!r.is_retryable());
        assert!(!ForgeError::NotFound { op: "x" }.is_retryable());
    }
}
