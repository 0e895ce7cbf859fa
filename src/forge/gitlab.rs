//! GitLab (gitlab.com and self-managed) on reqwest, REST API v4.
//!
//! GitLab has no check runs: checks are commit statuses under the same names
//! (`bytegate/sql-review`, `bytegate/approval`), as GitHub's token mode does,
//! and line findings go into the sticky note (`checks_have_annotations` is
//! false). Merge-request notes are the comments; the approvals API (a paid
//! tier on older GitLab) is read as reviews, and where it is missing (403/404)
//! no reviews are reported, so `/bytebase approve` notes alone decide.
//! Retries follow [`super::retry`] (the same classification and policy as GitHub).

use super::retry::{
    Attempt, RetryPolicy, Verdict, classify, now_epoch, post_comment_once, with_retries,
};
use super::{
    Annotation, AnnotationLevel, ChangedFile, CheckConclusion, CheckHandle, CheckResult, DirEntry,
    FileStatus, Forge, ForgeError, ForgeFuture, NewDeployment, Permission, PrComment, PrReview,
    PullRequestInfo, encode_component, truncate_with_note,
};
use crate::config::GitlabForge as GitlabSettings;
use crate::event::{ForgeKind, PrRef, RepoRef, ReviewState};
use http::{HeaderMap, Method};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::Duration;

/// GitLab's limit on a note body.
pub const MAX_NOTE_CHARS: usize = 1_000_000;
/// A commit status description longer than this is cut (GitLab stores 255).
const MAX_STATUS_DESCRIPTION: usize = 255;
/// Items per page for list endpoints (GitLab's maximum).
const PER_PAGE: usize = 100;
/// Pages read at most from one list endpoint (10,000 items).
const MAX_PAGES: usize = 100;

/// Whether `username` is the bot user of a project or group access token
/// (`project_123_bot`, `project_123_bot_1f2e…`, `group_45_bot_…`): the
/// account bytegate's notes are written by. People cannot register these names.
fn is_token_bot(username: &str) -> bool {
    ["project_", "group_"].iter().any(|kind| {
        username
            .strip_prefix(kind)
            .and_then(|rest| rest.split_once("_bot"))
            .is_some_and(|(id, tail)| {
                !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && (tail.is_empty() || tail.starts_with('_'))
            })
    })
}

/// A GitLab client for every project the token can reach.
pub struct GitlabForge {
    client: reqwest::Client,
    /// `https://HOST[/prefix]/api/v4`, without a trailing slash.
    api: String,
    /// `https://HOST[/prefix]`, for web links.
    web: String,
    token: String,
    retry: RetryPolicy,
    /// `forges.gitlab.line_discussions`.
    line_discussions: bool,
}

impl std::fmt::Debug for GitlabForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("GitlabForge")
            .field("api", &self.api)
            .finish()
    }
}

impl GitlabForge {
    /// A client from `forges.gitlab` (`url` + `token`).
    pub fn from_config(
        settings: &GitlabSettings,
        retry: RetryPolicy,
    ) -> Result<GitlabForge, ForgeError> {
        let Some(token) = &settings.token else {
            return Err(ForgeError::Config(
                "forges.gitlab needs a token (project or personal access token, `api` scope)"
                    .to_string(),
            ));
        };
        let mut forge = GitlabForge::new(&settings.url, token.expose(), retry)?;
        forge.line_discussions = settings.line_discussions;
        Ok(forge)
    }

    /// A client for the GitLab at `url` (`https://gitlab.com`, or a
    /// self-managed instance, possibly under a path prefix).
    pub fn new(url: &str, token: &str, retry: RetryPolicy) -> Result<GitlabForge, ForgeError> {
        let base = url.trim_end_matches('/');
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| ForgeError::Config(format!("forges.gitlab.url `{url}`: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ForgeError::Config(format!(
                "forges.gitlab.url `{url}` is not an http(s) URL"
            )));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("bytegate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ForgeError::Config(format!("building the GitLab client: {e}")))?;
        Ok(GitlabForge {
            client,
            api: format!("{base}/api/v4"),
            web: base.to_string(),
            token: token.to_string(),
            retry,
            line_discussions: false,
        })
    }

    /// Sends one logical request (`path` below `/api/v4`, with its query),
    /// retrying 5xx, 429 and transport failures per the policy.
    async fn send(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, ForgeError> {
        let url = format!("{}{path}", self.api);
        // A note POST that failed may still have been stored: the caller looks first.
        let replay_safe = op != OP_CREATE_NOTE;
        with_retries(&self.retry, "GitLab", op, replay_safe, || {
            self.attempt(op, method.clone(), &url, body)
        })
        .await
    }

    /// One HTTP exchange, classified by [`classify`].
    async fn attempt(
        &self,
        op: &'static str,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Attempt<Vec<u8>> {
        let mut request = self
            .client
            .request(method, url)
            .header("PRIVATE-TOKEN", &self.token);
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    rate_limited: false,
                    detail: e.to_string(),
                };
            }
        };
        let status = response.status().as_u16();
        let headers: HeaderMap = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => {
                return Attempt::Retry {
                    wait: None,
                    rate_limited: false,
                    detail: format!("reading the response: {e}"),
                };
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        match classify(status, &headers, &text, now_epoch()) {
            Verdict::Ok => Attempt::Done(bytes),
            Verdict::NotFound => Attempt::Failed(ForgeError::NotFound { op }),
            Verdict::Permanent => Attempt::Failed(ForgeError::Rejected {
                op,
                status,
                message: gitlab_message(&text),
            }),
            Verdict::Retry { wait, rate_limited } => Attempt::Retry {
                wait,
                rate_limited,
                detail: format!("HTTP {status}: {}", gitlab_message(&text)),
            },
        }
    }

    async fn send_json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ForgeError> {
        let bytes = self.send(op, method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ForgeError::Decode {
            op,
            message: e.to_string(),
        })
    }

    /// Every page of a list endpoint (`path` may already carry a query).
    async fn list_all<T: DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
    ) -> Result<Vec<T>, ForgeError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!("{path}{sep}per_page={PER_PAGE}&page={page}");
            let items: Vec<T> = self.send_json(op, Method::GET, &url, None).await?;
            let n = items.len();
            all.extend(items);
            if n < PER_PAGE {
                break;
            }
        }
        Ok(all)
    }

    async fn get_pull_request_impl(&self, pr: &PrRef) -> Result<PullRequestInfo, ForgeError> {
        let path = format!("{}/merge_requests/{}", project_path(&pr.repo)?, pr.number);
        let mr: GlMergeRequest = self
            .send_json("merge_requests/get", Method::GET, &path, None)
            .await?;
        let refs = mr.diff_refs.unwrap_or_default();
        let merged = mr.state == "merged";
        let head_sha = mr.sha.or(refs.head_sha).unwrap_or_default();
        // A fast-forward merge has neither a merge nor a squash commit: the
        // head is what the target branch points at.
        let merge_sha = merged.then(|| {
            [&mr.merge_commit_sha, &mr.squash_commit_sha]
                .into_iter()
                .flatten()
                .find(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| head_sha.clone())
        });
        Ok(PullRequestInfo {
            number: mr.iid,
            head_sha,
            base_ref: mr.target_branch,
            base_sha: refs.base_sha.unwrap_or_default(),
            author: mr.author.map(|u| u.username).unwrap_or_default(),
            title: mr.title.unwrap_or_default(),
            state: if mr.state == "opened" {
                "open"
            } else {
                "closed"
            }
            .to_string(),
            is_fork: mr.source_project_id != mr.target_project_id,
            draft: mr.draft || mr.work_in_progress,
            merged,
            merge_sha: merge_sha.filter(|s| !s.is_empty()),
        })
    }

    async fn list_pr_files_impl(&self, pr: &PrRef) -> Result<Vec<ChangedFile>, ForgeError> {
        // `/changes` is deprecated since GitLab 15.7; `/diffs` pages.
        let path = format!(
            "{}/merge_requests/{}/diffs",
            project_path(&pr.repo)?,
            pr.number
        );
        let diffs: Vec<GlDiff> = self.list_all("merge_requests/diffs", &path).await?;
        Ok(diffs.into_iter().map(GlDiff::into_changed_file).collect())
    }

    async fn file_content_impl(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>, ForgeError> {
        // The whole path is one URL component here: its slashes are encoded too.
        let url = format!(
            "{}/repository/files/{}/raw?ref={}",
            project_path(repo)?,
            encode_component(path.trim_matches('/')),
            encode_component(git_ref)
        );
        match self
            .send("repository/files/raw", Method::GET, &url, None)
            .await
        {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ForgeError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_directory_impl(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> Result<Vec<DirEntry>, ForgeError> {
        let url = format!(
            "{}/repository/tree?path={}&ref={}",
            project_path(repo)?,
            encode_component(path.trim_matches('/')),
            encode_component(git_ref)
        );
        match self.list_all::<GlTreeEntry>("repository/tree", &url).await {
            Ok(entries) => Ok(entries
                .into_iter()
                .map(|e| DirEntry {
                    is_file: e.r#type == "blob",
                    path: e.path,
                })
                .collect()),
            Err(ForgeError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Posts a commit status. Re-posting the state a status already has is
    /// refused by GitLab ("Cannot transition status"): that is success here.
    async fn post_status(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        state: &str,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let mut body = json!({
            "state": state,
            "name": name,
            "description": truncate_with_note(description, MAX_STATUS_DESCRIPTION, "…"),
        });
        if let Some(url) = target_url {
            body["target_url"] = json!(url);
        }
        let path = format!("{}/statuses/{}", project_path(repo)?, encode_component(sha));
        match self
            .send(OP_CREATE_STATUS, Method::POST, &path, Some(&body))
            .await
        {
            Ok(_) => Ok(()),
            Err(ForgeError::Rejected {
                status: 400,
                message,
                ..
            }) if message.contains("Cannot transition status") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list_comments_impl(&self, pr: &PrRef) -> Result<Vec<PrComment>, ForgeError> {
        Ok(self
            .notes(pr)
            .await?
            .into_iter()
            // System notes ("added 1 commit", "approved this merge request") are GitLab's.
            .filter(|n| !n.system)
            .map(GlNote::into_comment)
            .collect())
    }

    async fn create_comment_impl(&self, pr: &PrRef, body: &str) -> Result<PrComment, ForgeError> {
        let path = format!(
            "{}/merge_requests/{}/notes",
            project_path(&pr.repo)?,
            pr.number
        );
        let text = truncate_with_note(body, MAX_NOTE_CHARS, "\n\n…(truncated)");
        let request = json!({"body": text});
        let (path, request) = (&path, &request);
        // GitLab may have stored it before an error: look before posting again.
        post_comment_once(
            &self.retry,
            pr,
            &text,
            move || async move {
                self.send_json::<GlNote>(OP_CREATE_NOTE, Method::POST, path, Some(request))
                    .await
                    .map(GlNote::into_comment)
            },
            || self.list_comments_impl(pr),
        )
        .await
    }

    async fn update_comment_impl(
        &self,
        pr: &PrRef,
        note_id: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let path = format!(
            "{}/merge_requests/{}/notes/{note_id}",
            project_path(&pr.repo)?,
            pr.number
        );
        let body = json!({"body": truncate_with_note(body, MAX_NOTE_CHARS, "\n\n…(truncated)")});
        self.send(
            "merge_requests/notes/update",
            Method::PUT,
            &path,
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// Reviews, from two sources. GitLab writes a system note when someone
    /// approves or unapproves an MR (on every tier): each becomes a review
    /// (approved or dismissed) at the note's time, so a withdrawn approval
    /// cancels the earlier one. The approvals API's `approved_by` (a paid tier
    /// on older GitLab; 401/403/404 are tolerated) adds approvers whose latest
    /// system note is not an approval (notes deleted or not written).
    async fn list_reviews_impl(&self, pr: &PrRef) -> Result<Vec<PrReview>, ForgeError> {
        let mut reviews: Vec<PrReview> = self
            .notes(pr)
            .await?
            .into_iter()
            .filter(|n| n.system)
            .filter_map(|n| {
                let state = match n.body.trim() {
                    SYSTEM_APPROVED => ReviewState::Approved,
                    SYSTEM_UNAPPROVED => ReviewState::Dismissed,
                    _ => return None,
                };
                Some(PrReview {
                    id: n.id,
                    reviewer: n.author?.username,
                    state,
                    commit_sha: None,
                    submitted_at: n.created_at,
                })
            })
            .collect();
        let path = format!(
            "{}/merge_requests/{}/approvals",
            project_path(&pr.repo)?,
            pr.number
        );
        let approvals: GlApprovals = match self
            .send_json("merge_requests/approvals", Method::GET, &path, None)
            .await
        {
            Ok(a) => a,
            Err(ForgeError::NotFound { .. })
            | Err(ForgeError::Rejected {
                status: 401 | 403, ..
            }) => {
                tracing::info!(pr = %pr, "the GitLab approvals API is not available; approval system notes and /bytebase notes count");
                return Ok(reviews);
            }
            Err(e) => return Err(e),
        };
        for a in approvals.approved_by {
            let latest = reviews
                .iter()
                .rev()
                .find(|r| r.reviewer.eq_ignore_ascii_case(&a.user.username));
            if latest.is_some_and(|r| r.state == ReviewState::Approved) {
                continue;
            }
            reviews.push(PrReview {
                // Its own id space: never a note id.
                id: API_APPROVAL_ID_BASE + a.user.id,
                reviewer: a.user.username,
                state: ReviewState::Approved,
                commit_sha: None,
                submitted_at: a.approved_at,
            });
        }
        Ok(reviews)
    }

    /// Every note of an MR, system notes included, oldest first.
    async fn notes(&self, pr: &PrRef) -> Result<Vec<GlNote>, ForgeError> {
        let path = format!(
            "{}/merge_requests/{}/notes?sort=asc&order_by=created_at",
            project_path(&pr.repo)?,
            pr.number
        );
        self.list_all("merge_requests/notes/list", &path).await
    }

    /// One diff discussion per finding (keyed by path, rule and message, so a
    /// finding that only moves keeps its thread); threads whose finding is
    /// gone are resolved, and reopened if it comes back. A position GitLab
    /// refuses (a line outside the diff) is skipped: the note has the finding.
    async fn sync_line_findings_impl(
        &self,
        pr: &PrRef,
        head_sha: &str,
        findings: &[Annotation],
    ) -> Result<(), ForgeError> {
        if !self.line_discussions {
            return Ok(());
        }
        let base = format!("{}/merge_requests/{}", project_path(&pr.repo)?, pr.number);
        let mr: GlMergeRequest = self
            .send_json("merge_requests/get", Method::GET, &base, None)
            .await?;
        let refs = mr.diff_refs.unwrap_or_default();
        let discussions: Vec<GlDiscussion> = self
            .list_all(
                "merge_requests/discussions/list",
                &format!("{base}/discussions"),
            )
            .await?;
        // Ours: the first note carries the finding marker.
        let ours: Vec<(String, String, bool)> = discussions
            .into_iter()
            .filter_map(|d| {
                let first = d.notes.first()?;
                let key = first
                    .body
                    .strip_prefix(FINDING_MARKER)?
                    .split_once(" -->")?
                    .0
                    .to_string();
                Some((key, d.id, first.resolved))
            })
            .collect();
        let mut current = std::collections::HashSet::new();
        for f in findings {
            let key = finding_key(f);
            if !current.insert(key.clone()) {
                continue;
            }
            match ours.iter().find(|(k, _, _)| *k == key) {
                Some((_, id, true)) => self.resolve_discussion(&base, id, false).await?,
                Some(_) => {}
                None => {
                    let body = json!({
                        "body": finding_body(&key, f),
                        "position": {
                            "position_type": "text",
                            "base_sha": refs.base_sha,
                            "start_sha": refs.start_sha.as_ref().or(refs.base_sha.as_ref()),
                            "head_sha": head_sha,
                            "new_path": f.path,
                            "new_line": f.start_line.max(1),
                        },
                    });
                    let path = format!("{base}/discussions");
                    match self
                        .send(
                            "merge_requests/discussions/create",
                            Method::POST,
                            &path,
                            Some(&body),
                        )
                        .await
                    {
                        Ok(_) => {}
                        Err(ForgeError::Rejected {
                            status: 400,
                            message,
                            ..
                        }) => {
                            tracing::info!(pr = %pr, path = %f.path, line = f.start_line, %message, "GitLab refused a line discussion; the finding stays in the note");
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        for (key, id, resolved) in &ours {
            if !resolved && !current.contains(key) {
                self.resolve_discussion(&base, id, true).await?;
            }
        }
        Ok(())
    }

    async fn resolve_discussion(
        &self,
        mr_path: &str,
        id: &str,
        resolved: bool,
    ) -> Result<(), ForgeError> {
        let path = format!(
            "{mr_path}/discussions/{}?resolved={resolved}",
            encode_component(id)
        );
        self.send(
            "merge_requests/discussions/resolve",
            Method::PUT,
            &path,
            None,
        )
        .await?;
        Ok(())
    }

    /// A user's numeric id from their username; `None` when there is no such user.
    async fn user_id(&self, username: &str) -> Result<Option<u64>, ForgeError> {
        let path = format!("/users?username={}", encode_component(username));
        let users: Vec<GlUser> = self
            .send_json("users/list", Method::GET, &path, None)
            .await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .map(|u| u.id))
    }

    async fn collaborator_permission_impl(
        &self,
        repo: &RepoRef,
        user: &str,
    ) -> Result<Permission, ForgeError> {
        let Some(id) = self.user_id(user).await? else {
            return Ok(Permission::None);
        };
        // `members/all` includes members inherited from groups.
        let path = format!("{}/members/all/{id}", project_path(repo)?);
        match self
            .send_json::<GlMember>("projects/members/get", Method::GET, &path, None)
            .await
        {
            Ok(m) => Ok(permission_from_access_level(m.access_level)),
            Err(ForgeError::NotFound { .. }) => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }

    /// Whether `user` is a member of the group `team` (a group path), directly or inherited.
    async fn is_team_member_impl(&self, team: &str, user: &str) -> Result<bool, ForgeError> {
        let Some(id) = self.user_id(user).await? else {
            return Ok(false);
        };
        let path = format!(
            "/groups/{}/members/all/{id}",
            encode_component(team.trim_matches('/'))
        );
        match self
            .send_json::<GlMember>("groups/members/get", Method::GET, &path, None)
            .await
        {
            // Guests and minimal access do not hold a role.
            Ok(m) => Ok(m.access_level >= ACCESS_REPORTER),
            Err(ForgeError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

const OP_CREATE_NOTE: &str = "merge_requests/notes/create";
/// The system note GitLab writes when a user approves an MR.
const SYSTEM_APPROVED: &str = "approved this merge request";
/// The system note GitLab writes when a user withdraws an approval.
const SYSTEM_UNAPPROVED: &str = "unapproved this merge request";
/// Review ids of approvals-API approvers: user id + this (note ids stay below).
const API_APPROVAL_ID_BASE: u64 = 1 << 48;
const OP_CREATE_STATUS: &str = "commits/statuses/create";
/// GitLab access levels (`members` API).
const ACCESS_REPORTER: u32 = 20;
const ACCESS_DEVELOPER: u32 = 30;
const ACCESS_OWNER: u32 = 50;

/// Developer and Maintainer can push (write); Owner administers.
fn permission_from_access_level(level: u32) -> Permission {
    match level {
        l if l >= ACCESS_OWNER => Permission::Admin,
        l if l >= ACCESS_DEVELOPER => Permission::Write,
        l if l >= 10 => Permission::Read,
        _ => Permission::None,
    }
}

impl Forge for GitlabForge {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Gitlab
    }

    fn get_pull_request<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, PullRequestInfo> {
        Box::pin(self.get_pull_request_impl(pr))
    }

    fn list_pr_files<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, Vec<ChangedFile>> {
        Box::pin(self.list_pr_files_impl(pr))
    }

    fn file_content<'a>(
        &'a self,
        repo: &'a RepoRef,
        path: &'a str,
        git_ref: &'a str,
    ) -> ForgeFuture<'a, Option<Vec<u8>>> {
        Box::pin(self.file_content_impl(repo, path, git_ref))
    }

    fn list_directory<'a>(
        &'a self,
        repo: &'a RepoRef,
        path: &'a str,
        git_ref: &'a str,
    ) -> ForgeFuture<'a, Vec<DirEntry>> {
        Box::pin(self.list_directory_impl(repo, path, git_ref))
    }

    fn start_check<'a>(
        &'a self,
        repo: &'a RepoRef,
        sha: &'a str,
        name: &'a str,
        details_url: Option<&'a str>,
    ) -> ForgeFuture<'a, CheckHandle> {
        Box::pin(async move {
            self.post_status(
                repo,
                sha,
                name,
                "running",
                "Review in progress",
                details_url,
            )
            .await?;
            Ok(CheckHandle::Status)
        })
    }

    fn complete_check<'a>(
        &'a self,
        repo: &'a RepoRef,
        sha: &'a str,
        name: &'a str,
        _handle: Option<&'a CheckHandle>,
        result: &'a CheckResult,
    ) -> ForgeFuture<'a, CheckHandle> {
        Box::pin(async move {
            let state = match result.conclusion {
                CheckConclusion::Failure => "failed",
                // A status has no "neutral": warnings do not block.
                CheckConclusion::Success | CheckConclusion::Neutral => "success",
            };
            self.post_status(
                repo,
                sha,
                name,
                state,
                &result.title,
                result.details_url.as_deref(),
            )
            .await?;
            Ok(CheckHandle::Status)
        })
    }

    fn checks_have_annotations(&self) -> bool {
        false
    }

    fn list_comments<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, Vec<PrComment>> {
        Box::pin(self.list_comments_impl(pr))
    }

    fn create_comment<'a>(&'a self, pr: &'a PrRef, body: &'a str) -> ForgeFuture<'a, PrComment> {
        Box::pin(self.create_comment_impl(pr, body))
    }

    fn update_comment<'a>(
        &'a self,
        pr: &'a PrRef,
        comment_id: u64,
        body: &'a str,
    ) -> ForgeFuture<'a, ()> {
        Box::pin(self.update_comment_impl(pr, comment_id, body))
    }

    fn list_reviews<'a>(&'a self, pr: &'a PrRef) -> ForgeFuture<'a, Vec<PrReview>> {
        Box::pin(self.list_reviews_impl(pr))
    }

    fn collaborator_permission<'a>(
        &'a self,
        repo: &'a RepoRef,
        user: &'a str,
    ) -> ForgeFuture<'a, Permission> {
        Box::pin(self.collaborator_permission_impl(repo, user))
    }

    fn max_comment_chars(&self) -> usize {
        MAX_NOTE_CHARS
    }

    fn is_own_comment(&self, comment: &PrComment) -> bool {
        is_token_bot(&comment.author)
    }

    fn sync_line_findings<'a>(
        &'a self,
        pr: &'a PrRef,
        head_sha: &'a str,
        findings: &'a [Annotation],
    ) -> ForgeFuture<'a, ()> {
        Box::pin(self.sync_line_findings_impl(pr, head_sha, findings))
    }

    fn blob_url(&self, repo: &RepoRef, sha: &str) -> Option<String> {
        let project = repo.full_name.trim_matches('/');
        let valid = !project.is_empty()
            && project
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..");
        valid.then(|| format!("{}/{project}/-/blob/{}", self.web, encode_component(sha)))
    }

    fn create_deployment<'a>(
        &'a self,
        repo: &'a RepoRef,
        d: &'a NewDeployment<'a>,
    ) -> ForgeFuture<'a, u64> {
        Box::pin(async move {
            // GitLab deployments need a branch or tag `ref`, which the trait
            // does not carry: the rollout reports through the deploy note only.
            tracing::debug!(project = %repo.full_name, environment = d.environment, "GitLab deployments are not created; the deploy note reports the rollout");
            Err(ForgeError::Unsupported {
                op: "deployments",
                forge: ForgeKind::Gitlab,
            })
        })
    }

    fn is_team_member<'a>(
        &'a self,
        _repo: &'a RepoRef,
        team: &'a str,
        user: &'a str,
    ) -> ForgeFuture<'a, bool> {
        Box::pin(self.is_team_member_impl(team, user))
    }
}

/// Starts the first note of a finding's discussion; the key follows.
const FINDING_MARKER: &str = "<!-- bytegate:finding:";

/// A finding's identity across pushes: path, rule and message (not the line).
fn finding_key(f: &Annotation) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\n{}\n{}", f.path, f.title, f.message));
    hex::encode(&digest[..8])
}

fn finding_body(key: &str, f: &Annotation) -> String {
    let level = match f.level {
        AnnotationLevel::Failure => "error",
        AnnotationLevel::Warning => "warning",
        AnnotationLevel::Notice => "info",
    };
    let mut body = format!(
        "{FINDING_MARKER}{key} -->\n**bytegate {level}** `{}`: {}\n",
        f.title, f.message
    );
    if let Some(d) = &f.details {
        body.push_str(&format!("\n{d}\n"));
    }
    body.push_str("\n<sub>bytegate resolves this thread when the finding is gone.</sub>");
    truncate_with_note(&body, MAX_NOTE_CHARS, "…")
}

/// `/projects/ID` (the numeric id when known, else the URL-encoded path).
fn project_path(repo: &RepoRef) -> Result<String, ForgeError> {
    if let Some(id) = repo.id {
        return Ok(format!("/projects/{id}"));
    }
    let name = repo.full_name.trim_matches('/');
    if name.is_empty()
        || name
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(ForgeError::Config(format!(
            "`{}` is not a GitLab project path",
            repo.full_name
        )));
    }
    Ok(format!("/projects/{}", encode_component(name)))
}

/// GitLab's error text: `message` (a string or an object of field errors) or `error`.
fn gitlab_message(body: &str) -> String {
    let parsed = serde_json::from_str::<Value>(body).ok();
    let field = parsed
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("error")));
    match field {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => body.chars().take(300).collect(),
    }
}

#[derive(Deserialize)]
struct GlUser {
    id: u64,
    username: String,
}

#[derive(Deserialize, Default)]
struct GlDiffRefs {
    base_sha: Option<String>,
    start_sha: Option<String>,
    head_sha: Option<String>,
}

#[derive(Deserialize)]
struct GlMergeRequest {
    iid: u64,
    sha: Option<String>,
    target_branch: String,
    state: String,
    title: Option<String>,
    author: Option<GlUser>,
    source_project_id: Option<u64>,
    target_project_id: Option<u64>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    work_in_progress: bool,
    diff_refs: Option<GlDiffRefs>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    squash_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct GlDiff {
    old_path: String,
    new_path: String,
    #[serde(default)]
    new_file: bool,
    #[serde(default)]
    renamed_file: bool,
    #[serde(default)]
    deleted_file: bool,
    #[serde(default)]
    diff: String,
}

impl GlDiff {
    fn into_changed_file(self) -> ChangedFile {
        let status = if self.new_file {
            FileStatus::Added
        } else if self.deleted_file {
            FileStatus::Removed
        } else if self.renamed_file {
            FileStatus::Renamed {
                from: self.old_path.clone(),
            }
        } else if self.diff.is_empty() {
            FileStatus::Unchanged
        } else {
            FileStatus::Modified
        };
        ChangedFile {
            path: self.new_path,
            status,
            // `/diffs` gives no blob id.
            blob_sha: None,
        }
    }
}

#[derive(Deserialize)]
struct GlTreeEntry {
    path: String,
    #[serde(rename = "type")]
    r#type: String,
}

#[derive(Deserialize)]
struct GlNote {
    id: u64,
    #[serde(default)]
    body: String,
    author: Option<GlUser>,
    #[serde(default)]
    system: bool,
    created_at: Option<String>,
}

impl GlNote {
    fn into_comment(self) -> PrComment {
        PrComment {
            id: self.id,
            author: self.author.map(|u| u.username).unwrap_or_default(),
            body: self.body,
        }
    }
}

#[derive(Deserialize)]
struct GlDiscussionNote {
    #[serde(default)]
    body: String,
    #[serde(default)]
    resolved: bool,
}

#[derive(Deserialize)]
struct GlDiscussion {
    id: String,
    #[serde(default)]
    notes: Vec<GlDiscussionNote>,
}

#[derive(Deserialize)]
struct GlApprovedBy {
    user: GlUser,
    approved_at: Option<String>,
}

#[derive(Deserialize)]
struct GlApprovals {
    #[serde(default)]
    approved_by: Vec<GlApprovedBy>,
}

#[derive(Deserialize)]
struct GlMember {
    access_level: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bot_users_are_recognised() {
        assert!(is_token_bot("project_1_bot_bytegate"));
        assert!(is_token_bot("project_42_bot"));
        assert!(is_token_bot("group_7_bot_0a1b2c"));
        assert!(!is_token_bot("project_x_bot"));
        assert!(!is_token_bot("project__bot"));
        assert!(!is_token_bot("alice"));
        assert!(!is_token_bot("project_1_botany"));
        assert!(!is_token_bot("bytegate[bot]"));
    }

    fn repo(name: &str, id: Option<u64>) -> RepoRef {
        RepoRef {
            forge: ForgeKind::Gitlab,
            full_name: name.to_string(),
            id,
            installation_id: None,
        }
    }

    #[test]
    fn projects_are_addressed_by_id_or_encoded_path() {
        assert_eq!(
            project_path(&repo("group/sub/proj", Some(15))).unwrap(),
            "/projects/15"
        );
        assert_eq!(
            project_path(&repo("group/sub/proj", None)).unwrap(),
            "/projects/group%2Fsub%2Fproj"
        );
        for bad in ["", "a//b", "a/../b", "/"] {
            assert!(project_path(&repo(bad, None)).is_err(), "{bad}");
        }
    }

    #[test]
    fn file_paths_are_one_encoded_component() {
        assert_eq!(
            encode_component("schema/migrations/001 a#.sql"),
            "schema%2Fmigrations%2F001%20a%23.sql"
        );
    }

    #[test]
    fn access_levels_map_to_permissions() {
        assert_eq!(permission_from_access_level(50), Permission::Admin);
        assert_eq!(permission_from_access_level(40), Permission::Write);
        assert_eq!(permission_from_access_level(30), Permission::Write);
        assert_eq!(permission_from_access_level(20), Permission::Read);
        assert_eq!(permission_from_access_level(5), Permission::None);
    }

    #[test]
    fn diffs_map_to_file_statuses() {
        let d = |new, renamed, deleted, diff: &str| GlDiff {
            old_path: "a.sql".into(),
            new_path: "b.sql".into(),
            new_file: new,
            renamed_file: renamed,
            deleted_file: deleted,
            diff: diff.into(),
        };
        assert_eq!(
            d(true, false, false, "+x").into_changed_file().status,
            FileStatus::Added
        );
        assert_eq!(
            d(false, false, true, "-x").into_changed_file().status,
            FileStatus::Removed
        );
        assert_eq!(
            d(false, true, false, "").into_changed_file().status,
            FileStatus::Renamed {
                from: "a.sql".into()
            }
        );
        assert_eq!(
            d(false, false, false, "@@").into_changed_file().status,
            FileStatus::Modified
        );
    }

    #[test]
    fn finding_threads_are_keyed_without_the_line() {
        let a = |line| Annotation {
            path: "m/001.sql".into(),
            start_line: line,
            end_line: line,
            level: AnnotationLevel::Failure,
            title: "no-drop-table".into(),
            message: "Dropping a table loses its data.".into(),
            details: None,
        };
        assert_eq!(finding_key(&a(1)), finding_key(&a(7)));
        let body = finding_body(&finding_key(&a(1)), &a(1));
        assert!(body.starts_with(FINDING_MARKER));
        assert!(body.contains("**bytegate error** `no-drop-table`"));
    }

    #[test]
    fn error_messages_are_read_from_either_shape() {
        assert_eq!(
            gitlab_message(r#"{"message":"403 Forbidden"}"#),
            "403 Forbidden"
        );
        assert_eq!(
            gitlab_message(r#"{"error":"invalid_token"}"#),
            "invalid_token"
        );
        assert!(gitlab_message(r#"{"message":{"name":["taken"]}}"#).contains("taken"));
        assert_eq!(gitlab_message("plain"), "plain");
    }

    #[test]
    fn config_needs_a_token_and_a_valid_url() {
        let settings = GitlabSettings {
            url: "https://gitlab.example.com/gitlab/".into(),
            webhook_token: crate::config::Secret::new("w"),
            token: None,
            line_discussions: false,
        };
        let err = GitlabForge::from_config(&settings, RetryPolicy::fast()).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
        let with_token = GitlabSettings {
            token: Some(crate::config::Secret::new("glpat-secret")),
            ..settings.clone()
        };
        let forge = GitlabForge::from_config(&with_token, RetryPolicy::fast()).unwrap();
        assert_eq!(forge.api, "https://gitlab.example.com/gitlab/api/v4");
        let repo = repo("grp/proj", Some(3));
        assert_eq!(
            forge.blob_url(&repo, "abc").as_deref(),
            Some("https://gitlab.example.com/gitlab/grp/proj/-/blob/abc")
        );
        assert!(!format!("{forge:?}").contains("glpat"));
        let bad = GitlabSettings {
            url: "ftp://x".into(),
            ..with_token
        };
        assert!(GitlabForge::from_config(&bad, RetryPolicy::fast()).is_err());
    }
}
