//! GitHub (github.com and Enterprise Server) on octocrab.
//!
//! octocrab supplies the HTTP client, the base URL (GHES paths such as
//! `https://HOST/api/v3` are kept) and authentication: as a GitHub App, a JWT
//! is minted from the app id and private key and exchanged for an installation
//! token per installation, which octocrab caches until 30 s before it expires
//! (one client per installation is kept here for that cache). With a token,
//! check runs are impossible (GitHub allows them to Apps only), so checks are
//! published as commit statuses under the same name.
//!
//! Requests and responses are bytegate's own small serde shapes, so only the
//! fields we use must be present; retries follow [`super::retry`].

use super::retry::{
    Attempt, RetryPolicy, Verdict, classify, now_epoch, post_comment_once, with_retries,
};
use super::{
    Annotation, ChangedFile, CheckConclusion, CheckHandle, CheckResult, DeploymentState, DirEntry,
    FileStatus, Forge, ForgeError, ForgeFuture, NewDeployment, Permission, PrComment, PrReview,
    PullRequestInfo, encode_component, truncate_with_note,
};
use crate::config::GithubForge as GithubSettings;
use crate::event::{ForgeKind, PrRef, RepoRef, ReviewState};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::retry::RetryConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A response body.
type Bytes = Vec<u8>;

/// GitHub's limit on check-run `output.summary` and `output.text`.
pub const MAX_SUMMARY_CHARS: usize = 65_535;
/// GitHub's limit on annotations per check-run request.
pub const MAX_ANNOTATIONS_PER_REQUEST: usize = 50;
/// GitHub's limit on a comment body.
pub const MAX_COMMENT_CHARS: usize = 65_536;
/// GitHub's limit on a commit status description.
const MAX_STATUS_DESCRIPTION: usize = 140;
/// Annotation title limit.
const MAX_ANNOTATION_TITLE: usize = 255;
/// Annotation message/raw_details limit is 64 KB; stay below it in characters too.
const MAX_ANNOTATION_TEXT: usize = 16_000;
/// Items per page for list endpoints (GitHub's maximum).
const PER_PAGE: usize = 100;
/// A directory listing of the contents API stops at this many entries.
const CONTENTS_DIR_LIMIT: usize = 1000;
/// list-files returns at most 3000 files: 30 pages of 100.
const MAX_PAGES: usize = 30;

/// How long a team-membership answer is reused.
const TEAM_CACHE_TTL: Duration = Duration::from_secs(60);
const ACCEPT_JSON: &str = "application/vnd.github+json";
const ACCEPT_RAW: &str = "application/vnd.github.raw+json";
const TRUNCATION_NOTE: &str =
    "\n\n…(truncated: GitHub limits this text to 65,535 characters; see the PR comment)";

enum Auth {
    /// GitHub App: the client holds the app JWT; installations get their own clients.
    App,
    /// A personal or fine-grained token.
    Token,
}

/// A GitHub client for every repository bytegate's App is installed on (or the token can reach).
pub struct GithubForge {
    root: Octocrab,
    auth: Auth,
    installations: Mutex<HashMap<u64, Arc<Octocrab>>>,
    retry: RetryPolicy,
    /// Team membership answers, `(team, user)` lowercase → (member, when asked).
    teams: Mutex<HashMap<(String, String), (bool, Instant)>>,
}

impl std::fmt::Debug for GithubForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.auth {
            Auth::App => "app",
            Auth::Token => "token",
        };
        f.debug_struct("GithubForge").field("auth", &mode).finish()
    }
}

/// octocrab's client spawns its worker on the current tokio runtime (and
/// panics without one): refuse politely instead.
fn require_runtime() -> Result<(), ForgeError> {
    tokio::runtime::Handle::try_current()
        .map(|_| ())
        .map_err(|_| {
            ForgeError::Config(
                "the GitHub client must be created inside the tokio runtime".to_string(),
            )
        })
}

fn api_url_error(api_url: &str, e: octocrab::Error) -> ForgeError {
    ForgeError::Config(format!("forges.github.api_url `{api_url}`: {e}"))
}

impl GithubForge {
    /// A client from `forges.github`: an App when `app_id` and a key are given, else the token.
    pub fn from_config(
        settings: &GithubSettings,
        retry: RetryPolicy,
    ) -> Result<GithubForge, ForgeError> {
        if let Some(app_id) = settings.app_id {
            let pem = match (&settings.private_key, &settings.private_key_path) {
                (Some(key), _) => key.expose().as_bytes().to_vec(),
                (None, Some(path)) => std::fs::read(path).map_err(|e| {
                    ForgeError::Config(format!(
                        "forges.github.private_key_path `{path}` cannot be read: {e}"
                    ))
                })?,
                (None, None) => {
                    return Err(ForgeError::Config(
                        "forges.github.app_id is set but neither private_key nor private_key_path"
                            .to_string(),
                    ));
                }
            };
            return GithubForge::app(&settings.api_url, app_id, &pem, retry);
        }
        match &settings.token {
            Some(token) => GithubForge::token(&settings.api_url, token.expose(), retry),
            None => Err(ForgeError::Config(
                "forges.github needs app_id + private_key (recommended) or token".to_string(),
            )),
        }
    }

    /// Authenticates as a GitHub App.
    pub fn app(
        api_url: &str,
        app_id: u64,
        private_key_pem: &[u8],
        retry: RetryPolicy,
    ) -> Result<GithubForge, ForgeError> {
        let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem).map_err(|e| {
            ForgeError::Config(format!(
                "the GitHub App private key is not an RSA PEM key: {e}"
            ))
        })?;
        require_runtime()?;
        GithubForge::build(
            Octocrab::builder().app(AppId(app_id), key),
            api_url,
            Auth::App,
            retry,
        )
    }

    /// Authenticates with a personal or fine-grained token.
    pub fn token(
        api_url: &str,
        token: &str,
        retry: RetryPolicy,
    ) -> Result<GithubForge, ForgeError> {
        require_runtime()?;
        GithubForge::build(
            Octocrab::builder().personal_token(token.to_string()),
            api_url,
            Auth::Token,
            retry,
        )
    }

    /// The settings both kinds of authentication share.
    fn build(
        builder: octocrab::OctocrabBuilder<
            octocrab::NoSvc,
            octocrab::DefaultOctocrabBuilderConfig,
            octocrab::NoAuth,
            octocrab::NotLayerReady,
        >,
        api_url: &str,
        auth: Auth,
        retry: RetryPolicy,
    ) -> Result<GithubForge, ForgeError> {
        let root = builder
            // Retries are ours (bounded, Retry-After aware, classified errors).
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|e| api_url_error(api_url, e))?
            .build()
            .map_err(|e| ForgeError::Config(format!("building the GitHub client: {e}")))?;
        Ok(GithubForge {
            root,
            auth,
            installations: Mutex::new(HashMap::new()),
            retry,
            teams: Mutex::new(HashMap::new()),
        })
    }

    /// True when authenticated as an App (check runs available).
    pub fn is_app(&self) -> bool {
        matches!(self.auth, Auth::App)
    }

    /// The client for a repository: the installation's (cached) or the token's.
    fn client(&self, repo: &RepoRef) -> Result<Arc<Octocrab>, ForgeError> {
        match self.auth {
            Auth::Token => Ok(Arc::new(self.root.clone())),
            Auth::App => {
                let id = repo.installation_id.ok_or_else(|| {
                    ForgeError::Config(format!(
                        "{}: the event carries no GitHub App installation id",
                        repo.full_name
                    ))
                })?;
                let mut map = self
                    .installations
                    .lock()
                    .map_err(|_| ForgeError::Config("installation cache poisoned".to_string()))?;
                if let Some(c) = map.get(&id) {
                    return Ok(c.clone());
                }
                let c = Arc::new(
                    self.root
                        .installation(InstallationId(id))
                        .map_err(|e| ForgeError::Config(format!("installation {id}: {e}")))?,
                );
                map.insert(id, c.clone());
                Ok(c)
            }
        }
    }

    /// Sends one logical request, retrying transient failures per the policy.
    async fn send(
        &self,
        repo: &RepoRef,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        accept: &str,
    ) -> Result<Bytes, ForgeError> {
        let client = self.client(repo)?;
        // After a 5xx or a dropped connection GitHub may have acted: requests
        // that are not replay-safe are not repeated (the caller looks first).
        with_retries(&self.retry, "GitHub", op, replay_safe(op), || {
            attempt(&client, op, method.clone(), path, body, accept)
        })
        .await
    }

    async fn send_json<T: for<'de> Deserialize<'de>>(
        &self,
        repo: &RepoRef,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ForgeError> {
        let bytes = self.send(repo, op, method, path, body, ACCEPT_JSON).await?;
        serde_json::from_slice(&bytes).map_err(|e| ForgeError::Decode {
            op,
            message: e.to_string(),
        })
    }

    /// Every page of a list endpoint (`per_page=100`), stopping at a short page.
    async fn list_all<T: for<'de> Deserialize<'de>>(
        &self,
        repo: &RepoRef,
        op: &'static str,
        path: &str,
    ) -> Result<Vec<T>, ForgeError> {
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!("{path}?per_page={PER_PAGE}&page={page}");
            let items: Vec<T> = self.send_json(repo, op, Method::GET, &url, None).await?;
            let n = items.len();
            all.extend(items);
            if n < PER_PAGE {
                break;
            }
        }
        Ok(all)
    }

    async fn get_pull_request_impl(&self, pr: &PrRef) -> Result<PullRequestInfo, ForgeError> {
        let path = format!("{}/pulls/{}", repo_path(&pr.repo)?, pr.number);
        let p: GhPull = self
            .send_json(&pr.repo, "pulls/get", Method::GET, &path, None)
            .await?;
        let head_repo = p.head.repo.as_ref().map(|r| r.full_name.as_str());
        let base_repo = p.base.repo.as_ref().map(|r| r.full_name.as_str());
        Ok(PullRequestInfo {
            number: p.number,
            // A deleted fork has no head repository: still a fork.
            is_fork: head_repo.is_none() || head_repo != base_repo,
            head_sha: p.head.sha,
            base_ref: p.base.r#ref,
            base_sha: p.base.sha,
            author: p.user.map(|u| u.login).unwrap_or_default(),
            title: p.title.unwrap_or_default(),
            state: p.state,
            draft: p.draft.unwrap_or(false),
            merged: p.merged.unwrap_or(false),
            // Before a merge GitHub names a test merge commit here: only a
            // merged PR's is the real one.
            merge_sha: p
                .merge_commit_sha
                .filter(|s| p.merged == Some(true) && !s.is_empty()),
        })
    }

    async fn list_pr_files_impl(&self, pr: &PrRef) -> Result<Vec<ChangedFile>, ForgeError> {
        let path = format!("{}/pulls/{}/files", repo_path(&pr.repo)?, pr.number);
        let files: Vec<GhFile> = self.list_all(&pr.repo, "pulls/list-files", &path).await?;
        Ok(files
            .into_iter()
            .map(|f| {
                let status = match f.status.as_str() {
                    "added" => FileStatus::Added,
                    "modified" | "changed" => FileStatus::Modified,
                    "removed" => FileStatus::Removed,
                    "renamed" => FileStatus::Renamed {
                        from: f.previous_filename.clone().unwrap_or_default(),
                    },
                    "copied" => FileStatus::Copied {
                        from: f.previous_filename.clone().unwrap_or_default(),
                    },
                    _ => FileStatus::Unchanged,
                };
                ChangedFile {
                    path: f.filename,
                    status,
                    blob_sha: f.sha,
                }
            })
            .collect())
    }

    async fn file_content_impl(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>, ForgeError> {
        let url = format!(
            "{}/contents/{}?ref={}",
            repo_path(repo)?,
            encode_path(path),
            encode_component(git_ref)
        );
        match self
            .send(
                repo,
                "repos/get-content",
                Method::GET,
                &url,
                None,
                ACCEPT_RAW,
            )
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
            "{}/contents/{}?ref={}",
            repo_path(repo)?,
            encode_path(path),
            encode_component(git_ref)
        );
        let value: Value = match self
            .send_json(repo, "repos/get-content", Method::GET, &url, None)
            .await
        {
            Ok(v) => v,
            Err(ForgeError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // A file (an object) instead of a directory (an array) lists nothing.
        let Value::Array(items) = value else {
            return Ok(Vec::new());
        };
        if items.len() >= CONTENTS_DIR_LIMIT {
            // The contents API stops at 1,000 entries: read the Git tree instead.
            return self.list_tree(repo, path, git_ref).await;
        }
        Ok(items
            .iter()
            .filter_map(|item| {
                let path = item.get("path")?.as_str()?.to_string();
                let is_file = item.get("type").and_then(Value::as_str) == Some("file");
                Some(DirEntry { path, is_file })
            })
            .collect())
    }

    /// Every file below `path` at `git_ref`, from the recursive Git tree.
    async fn list_tree(
        &self,
        repo: &RepoRef,
        path: &str,
        git_ref: &str,
    ) -> Result<Vec<DirEntry>, ForgeError> {
        let url = format!(
            "{}/git/trees/{}?recursive=1",
            repo_path(repo)?,
            encode_component(git_ref)
        );
        let tree: GhTree = self
            .send_json(repo, "git/get-tree", Method::GET, &url, None)
            .await?;
        if tree.truncated {
            tracing::warn!(repo = %repo.full_name, git_ref, "the Git tree is truncated; the migration list may be incomplete");
        }
        let prefix = format!("{}/", path.trim_matches('/'));
        Ok(tree
            .tree
            .into_iter()
            .filter(|e| e.path.starts_with(&prefix))
            .map(|e| DirEntry {
                is_file: e.r#type == "blob",
                path: e.path,
            })
            .collect())
    }

    async fn start_check_impl(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        details_url: Option<&str>,
    ) -> Result<CheckHandle, ForgeError> {
        match self.auth {
            Auth::App => {
                let mut body = json!({
                    "name": name,
                    "head_sha": sha,
                    "status": "in_progress",
                    "started_at": now_rfc3339(),
                });
                if let Some(url) = details_url {
                    body["details_url"] = json!(url);
                }
                let path = format!("{}/check-runs", repo_path(repo)?);
                let run: GhId = self
                    .send_json(repo, "checks/create", Method::POST, &path, Some(&body))
                    .await?;
                Ok(CheckHandle::CheckRun(run.id))
            }
            Auth::Token => {
                self.post_status(
                    repo,
                    sha,
                    name,
                    "pending",
                    "Review in progress",
                    details_url,
                )
                .await?;
                Ok(CheckHandle::Status)
            }
        }
    }

    async fn complete_check_impl(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        handle: Option<&CheckHandle>,
        result: &CheckResult,
    ) -> Result<CheckHandle, ForgeError> {
        if !self.is_app() {
            let state = match result.conclusion {
                CheckConclusion::Failure => "failure",
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
            return Ok(CheckHandle::Status);
        }
        let summary = truncate_with_note(&result.summary, MAX_SUMMARY_CHARS, TRUNCATION_NOTE);
        let title = truncate_with_note(&result.title, MAX_ANNOTATION_TITLE, "…");
        let batches: Vec<Vec<Value>> = result
            .annotations
            .chunks(MAX_ANNOTATIONS_PER_REQUEST)
            .map(|chunk| chunk.iter().map(annotation_json).collect())
            .collect();
        let output = |batch: Option<&Vec<Value>>| {
            let mut o = json!({"title": title, "summary": summary});
            if let Some(b) = batch {
                o["annotations"] = Value::Array(b.clone());
            }
            o
        };
        let mut completion = json!({
            "status": "completed",
            "conclusion": result.conclusion.as_str(),
            "completed_at": now_rfc3339(),
            "output": output(batches.first()),
        });
        if let Some(url) = &result.details_url {
            completion["details_url"] = json!(url);
        }
        let base = repo_path(repo)?;
        let id = match handle {
            Some(CheckHandle::CheckRun(id)) => {
                let path = format!("{base}/check-runs/{id}");
                let _: GhId = self
                    .send_json(
                        repo,
                        "checks/update",
                        Method::PATCH,
                        &path,
                        Some(&completion),
                    )
                    .await?;
                *id
            }
            _ => {
                completion["name"] = json!(name);
                completion["head_sha"] = json!(sha);
                let path = format!("{base}/check-runs");
                let run: GhId = self
                    .send_json(
                        repo,
                        "checks/create",
                        Method::POST,
                        &path,
                        Some(&completion),
                    )
                    .await?;
                run.id
            }
        };
        // Later PATCHes append annotations to the run.
        for batch in batches.iter().skip(1) {
            let body = json!({"output": output(Some(batch))});
            let path = format!("{base}/check-runs/{id}");
            let _: GhId = self
                .send_json(repo, "checks/update", Method::PATCH, &path, Some(&body))
                .await?;
        }
        Ok(CheckHandle::CheckRun(id))
    }

    async fn post_status(
        &self,
        repo: &RepoRef,
        sha: &str,
        context: &str,
        state: &str,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let mut body = json!({
            "state": state,
            "context": context,
            "description": truncate_with_note(description, MAX_STATUS_DESCRIPTION, "…"),
        });
        if let Some(url) = target_url {
            body["target_url"] = json!(url);
        }
        let path = format!("{}/statuses/{}", repo_path(repo)?, encode_component(sha));
        let _: Value = self
            .send_json(
                repo,
                "repos/create-commit-status",
                Method::POST,
                &path,
                Some(&body),
            )
            .await?;
        Ok(())
    }

    async fn create_deployment_impl(
        &self,
        repo: &RepoRef,
        d: &NewDeployment<'_>,
    ) -> Result<u64, ForgeError> {
        let path = format!("{}/deployments", repo_path(repo)?);
        // bytegate has already decided to deploy: no auto-merge of the default
        // branch into the ref, no required status contexts.
        let body = json!({
            "ref": d.sha,
            "environment": d.environment,
            "description": truncate_with_note(d.description, MAX_STATUS_DESCRIPTION, "…"),
            "auto_merge": false,
            "required_contexts": [],
            "transient_environment": false,
            "production_environment": d.production,
        });
        let v: Value = self
            .send_json(
                repo,
                "repos/create-deployment",
                Method::POST,
                &path,
                Some(&body),
            )
            .await?;
        v["id"].as_u64().ok_or_else(|| ForgeError::Decode {
            op: "repos/create-deployment",
            message: format!(
                "no deployment id in the answer: {}",
                v["message"].as_str().unwrap_or("")
            ),
        })
    }

    async fn set_deployment_status_impl(
        &self,
        repo: &RepoRef,
        deployment_id: u64,
        state: DeploymentState,
        description: &str,
        log_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let path = format!("{}/deployments/{deployment_id}/statuses", repo_path(repo)?);
        let mut body = json!({
            "state": state.as_str(),
            "description": truncate_with_note(description, MAX_STATUS_DESCRIPTION, "…"),
        });
        if let Some(url) = log_url {
            body["log_url"] = json!(url);
        }
        let _: Value = self
            .send_json(
                repo,
                "repos/create-deployment-status",
                Method::POST,
                &path,
                Some(&body),
            )
            .await?;
        Ok(())
    }

    async fn list_comments_impl(&self, pr: &PrRef) -> Result<Vec<PrComment>, ForgeError> {
        let path = format!("{}/issues/{}/comments", repo_path(&pr.repo)?, pr.number);
        let comments: Vec<GhComment> = self
            .list_all(&pr.repo, "issues/list-comments", &path)
            .await?;
        Ok(comments.into_iter().map(GhComment::into_comment).collect())
    }

    async fn create_comment_impl(&self, pr: &PrRef, body: &str) -> Result<PrComment, ForgeError> {
        let path = format!("{}/issues/{}/comments", repo_path(&pr.repo)?, pr.number);
        let text = truncate_with_note(body, MAX_COMMENT_CHARS, "\n\n…(truncated)");
        let request = json!({"body": text});
        let (path, request) = (&path, &request);
        // GitHub may have posted it before an error: look before posting again.
        post_comment_once(
            &self.retry,
            pr,
            &text,
            move || async move {
                self.send_json::<GhComment>(
                    &pr.repo,
                    "issues/create-comment",
                    Method::POST,
                    path,
                    Some(request),
                )
                .await
                .map(GhComment::into_comment)
            },
            || self.list_comments_impl(pr),
        )
        .await
    }

    async fn update_comment_impl(
        &self,
        pr: &PrRef,
        comment_id: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let path = format!("{}/issues/comments/{comment_id}", repo_path(&pr.repo)?);
        let body = json!({"body": truncate_with_note(body, MAX_COMMENT_CHARS, "\n\n…(truncated)")});
        let _: GhComment = self
            .send_json(
                &pr.repo,
                "issues/update-comment",
                Method::PATCH,
                &path,
                Some(&body),
            )
            .await?;
        Ok(())
    }

    async fn list_reviews_impl(&self, pr: &PrRef) -> Result<Vec<PrReview>, ForgeError> {
        let path = format!("{}/pulls/{}/reviews", repo_path(&pr.repo)?, pr.number);
        let reviews: Vec<GhReview> = self.list_all(&pr.repo, "pulls/list-reviews", &path).await?;
        Ok(reviews
            .into_iter()
            .filter_map(|r| {
                Some(PrReview {
                    id: r.id,
                    reviewer: r.user.map(|u| u.login).unwrap_or_default(),
                    state: ReviewState::parse(&r.state)?,
                    commit_sha: r.commit_id,
                    submitted_at: r.submitted_at,
                })
            })
            .collect())
    }

    async fn is_team_member_impl(
        &self,
        repo: &RepoRef,
        team: &str,
        user: &str,
    ) -> Result<bool, ForgeError> {
        let key = (team.to_ascii_lowercase(), user.to_ascii_lowercase());
        if let Ok(cache) = self.teams.lock()
            && let Some((member, at)) = cache.get(&key)
            && at.elapsed() < TEAM_CACHE_TTL
        {
            return Ok(*member);
        }
        let Some((org, slug)) = team.split_once('/') else {
            return Err(ForgeError::Config(format!(
                "team `{team}` is not `org/team-slug`"
            )));
        };
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            encode_component(org),
            encode_component(slug),
            encode_component(user)
        );
        let member = match self
            .send_json::<GhMembership>(
                repo,
                "teams/get-membership-for-user-in-org",
                Method::GET,
                &path,
                None,
            )
            .await
        {
            // A pending invitation is not membership yet.
            Ok(m) => m.state == "active",
            Err(ForgeError::NotFound { .. }) => false,
            Err(e) => return Err(e),
        };
        if let Ok(mut cache) = self.teams.lock() {
            cache.retain(|_, (_, at)| at.elapsed() < TEAM_CACHE_TTL);
            cache.insert(key, (member, Instant::now()));
        }
        Ok(member)
    }

    async fn collaborator_permission_impl(
        &self,
        repo: &RepoRef,
        user: &str,
    ) -> Result<Permission, ForgeError> {
        let path = format!(
            "{}/collaborators/{}/permission",
            repo_path(repo)?,
            encode_component(user)
        );
        match self
            .send_json::<GhPermission>(
                repo,
                "repos/get-collaborator-permission-level",
                Method::GET,
                &path,
                None,
            )
            .await
        {
            Ok(p) => Ok(Permission::from_github(&p.permission)),
            Err(ForgeError::NotFound { .. }) => Ok(Permission::None),
            Err(e) => Err(e),
        }
    }
}

impl Forge for GithubForge {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Github
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
        Box::pin(self.start_check_impl(repo, sha, name, details_url))
    }

    fn complete_check<'a>(
        &'a self,
        repo: &'a RepoRef,
        sha: &'a str,
        name: &'a str,
        handle: Option<&'a CheckHandle>,
        result: &'a CheckResult,
    ) -> ForgeFuture<'a, CheckHandle> {
        Box::pin(self.complete_check_impl(repo, sha, name, handle, result))
    }

    fn checks_have_annotations(&self) -> bool {
        self.is_app()
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
        MAX_COMMENT_CHARS
    }

    fn is_own_comment(&self, comment: &PrComment) -> bool {
        // A GitHub App comments as `slug[bot]`; users cannot take that suffix.
        comment.author.ends_with("[bot]")
    }

    fn create_deployment<'a>(
        &'a self,
        repo: &'a RepoRef,
        d: &'a NewDeployment<'a>,
    ) -> ForgeFuture<'a, u64> {
        Box::pin(self.create_deployment_impl(repo, d))
    }

    fn set_deployment_status<'a>(
        &'a self,
        repo: &'a RepoRef,
        deployment_id: u64,
        state: DeploymentState,
        description: &'a str,
        log_url: Option<&'a str>,
    ) -> ForgeFuture<'a, ()> {
        Box::pin(self.set_deployment_status_impl(repo, deployment_id, state, description, log_url))
    }

    fn is_team_member<'a>(
        &'a self,
        repo: &'a RepoRef,
        team: &'a str,
        user: &'a str,
    ) -> ForgeFuture<'a, bool> {
        Box::pin(self.is_team_member_impl(repo, team, user))
    }
}

/// Whether a request may be sent again after a server error without risking
/// a duplicate: everything but creating a comment (a duplicate check run or
/// status is replaced by the next one; a duplicate comment stays).
fn replay_safe(op: &str) -> bool {
    op != "issues/create-comment"
}

/// One exchange with GitHub, classified by [`classify`].
async fn attempt(
    client: &Octocrab,
    op: &'static str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    accept: &str,
) -> Attempt<Bytes> {
    match send_once(client, method, path, body, accept).await {
        Ok((status, headers, bytes)) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match classify(status.as_u16(), &headers, &text, now_epoch()) {
                Verdict::Ok => Attempt::Done(bytes),
                Verdict::NotFound => Attempt::Failed(ForgeError::NotFound { op }),
                Verdict::Permanent => Attempt::Failed(ForgeError::Rejected {
                    op,
                    status: status.as_u16(),
                    message: github_message(&text),
                }),
                Verdict::Retry { wait, rate_limited } => Attempt::Retry {
                    wait,
                    rate_limited,
                    detail: format!("HTTP {}: {}", status.as_u16(), github_message(&text)),
                },
            }
        }
        Err(SendError::Transport(detail)) => Attempt::Retry {
            wait: None,
            rate_limited: false,
            detail,
        },
        Err(SendError::Answered {
            status,
            headers,
            message,
        }) => {
            // octocrab itself failed on a GitHub answer (installation token exchange).
            match classify(status, &headers, &message, now_epoch()) {
                Verdict::Retry { wait, rate_limited } => Attempt::Retry {
                    wait,
                    rate_limited,
                    detail: format!("HTTP {status}: {message}"),
                },
                Verdict::NotFound => Attempt::Failed(ForgeError::NotFound { op }),
                _ => Attempt::Failed(ForgeError::Rejected {
                    op,
                    status,
                    message,
                }),
            }
        }
        Err(SendError::Fatal(message)) => Attempt::Failed(ForgeError::Config(message)),
    }
}

enum SendError {
    /// No HTTP answer (connection, timeout): retryable.
    Transport(String),
    /// octocrab turned a GitHub answer into an error (the token exchange).
    Answered {
        status: u16,
        headers: HeaderMap,
        message: String,
    },
    /// Cannot build the request at all (bad key, bad URL).
    Fatal(String),
}

async fn send_once(
    client: &Octocrab,
    method: Method,
    path: &str,
    body: Option<&Value>,
    accept: &str,
) -> Result<(StatusCode, HeaderMap, Bytes), SendError> {
    let builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::ACCEPT, accept);
    let request = client
        .build_request(builder, body)
        .map_err(|e| SendError::Fatal(format!("building a GitHub request: {e}")))?;
    let response = client.execute(request).await.map_err(octo_error)?;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| SendError::Transport(format!("reading the response: {e}")))?
        .to_bytes()
        .to_vec();
    Ok((parts.status, parts.headers, bytes))
}

fn octo_error(e: octocrab::Error) -> SendError {
    match e {
        octocrab::Error::GitHub { source, .. } => SendError::Answered {
            status: source.status_code.as_u16(),
            headers: source.headers.clone().unwrap_or_default(),
            message: source.message.clone(),
        },
        octocrab::Error::JWT { source, .. } => {
            SendError::Fatal(format!("signing the GitHub App JWT: {source}"))
        }
        other => SendError::Transport(other.to_string()),
    }
}

fn annotation_json(a: &Annotation) -> Value {
    let start = a.start_line.max(1);
    let mut v = json!({
        "path": a.path,
        "start_line": start,
        "end_line": a.end_line.max(start),
        "annotation_level": a.level.as_str(),
        "message": truncate_with_note(&a.message, MAX_ANNOTATION_TEXT, "…"),
        "title": truncate_with_note(&a.title, MAX_ANNOTATION_TITLE, "…"),
    });
    if let Some(d) = &a.details {
        v["raw_details"] = json!(truncate_with_note(d, MAX_ANNOTATION_TEXT, "…"));
    }
    v
}

/// `/repos/OWNER/NAME`, refusing names that could change the URL's meaning.
fn repo_path(repo: &RepoRef) -> Result<String, ForgeError> {
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.full_name.split_once('/') {
        Some((owner, name)) if valid(owner) && valid(name) => Ok(format!("/repos/{owner}/{name}")),
        _ => Err(ForgeError::Config(format!(
            "`{}` is not a GitHub owner/name",
            repo.full_name
        ))),
    }
}

/// Percent-encodes a repository path, keeping its slashes.
fn encode_path(path: &str) -> String {
    path.trim_matches('/')
        .split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

fn github_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Deserialize)]
struct GhId {
    id: u64,
}

#[derive(Deserialize)]
struct GhUser {
    login: String,
}

#[derive(Deserialize)]
struct GhRepo {
    full_name: String,
}

#[derive(Deserialize)]
struct GhBranch {
    #[serde(rename = "ref")]
    r#ref: String,
    sha: String,
    repo: Option<GhRepo>,
}

#[derive(Deserialize)]
struct GhPull {
    number: u64,
    state: String,
    title: Option<String>,
    user: Option<GhUser>,
    head: GhBranch,
    base: GhBranch,
    draft: Option<bool>,
    merged: Option<bool>,
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct GhFile {
    filename: String,
    status: String,
    previous_filename: Option<String>,
    sha: Option<String>,
}

#[derive(Deserialize)]
struct GhComment {
    id: u64,
    body: Option<String>,
    user: Option<GhUser>,
}

impl GhComment {
    fn into_comment(self) -> PrComment {
        PrComment {
            id: self.id,
            author: self.user.map(|u| u.login).unwrap_or_default(),
            body: self.body.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct GhReview {
    id: u64,
    user: Option<GhUser>,
    state: String,
    commit_id: Option<String>,
    submitted_at: Option<String>,
}

#[derive(Deserialize)]
struct GhTreeEntry {
    path: String,
    #[serde(rename = "type")]
    r#type: String,
}

#[derive(Deserialize)]
struct GhTree {
    tree: Vec<GhTreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct GhPermission {
    permission: String,
}

#[derive(Deserialize)]
struct GhMembership {
    state: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ForgeKind;

    fn repo(name: &str) -> RepoRef {
        RepoRef {
            forge: ForgeKind::Github,
            full_name: name.to_string(),
            id: None,
            installation_id: None,
        }
    }

    #[test]
    fn repo_paths_reject_injection() {
        assert_eq!(repo_path(&repo("o/r.x-y_z")).unwrap(), "/repos/o/r.x-y_z");
        for bad in ["o", "o/r/x", "../r", "o/..", "o/r?x=1", "o/r#", ""] {
            assert!(repo_path(&repo(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_percent_encoded_per_segment() {
        assert_eq!(
            encode_path("schema/migrations/001 add#x?.sql"),
            "schema/migrations/001%20add%23x%3F.sql"
        );
        assert_eq!(encode_component("feature/x"), "feature%2Fx");
    }

    #[test]
    fn annotations_respect_github_limits() {
        let a = Annotation {
            path: "a.sql".into(),
            start_line: 0,
            end_line: 0,
            level: super::super::AnnotationLevel::Failure,
            title: "t".repeat(400),
            message: "m".into(),
            details: None,
        };
        let v = annotation_json(&a);
        assert_eq!(v["start_line"], 1);
        assert_eq!(v["end_line"], 1);
        assert_eq!(v["title"].as_str().unwrap().chars().count(), 255);
        assert!(v.get("raw_details").is_none());
    }

    #[tokio::test]
    async fn config_needs_an_app_key_or_a_token() {
        let base = GithubSettings {
            api_url: "https://ghe.example.com/api/v3".into(),
            webhook_secret: crate::config::Secret::new("s"),
            app_id: None,
            private_key: None,
            private_key_path: None,
            token: None,
        };
        let err = GithubForge::from_config(&base, RetryPolicy::fast()).unwrap_err();
        assert!(err.to_string().contains("app_id"), "{err}");
        let app_without_key = GithubSettings {
            app_id: Some(1),
            ..base.clone()
        };
        let err = GithubForge::from_config(&app_without_key, RetryPolicy::fast()).unwrap_err();
        assert!(err.to_string().contains("private_key"), "{err}");
        let missing_file = GithubSettings {
            private_key_path: Some("/nonexistent/key.pem".into()),
            ..app_without_key
        };
        let err = GithubForge::from_config(&missing_file, RetryPolicy::fast()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/key.pem"), "{err}");
        let token = GithubSettings {
            token: Some(crate::config::Secret::new("ghp_x")),
            ..base
        };
        let forge = GithubForge::from_config(&token, RetryPolicy::fast()).unwrap();
        assert!(!forge.is_app() && !forge.checks_have_annotations());
        assert_eq!(format!("{forge:?}"), "GithubForge { auth: \"token\" }");
    }

    #[test]
    fn clients_need_a_runtime_and_say_so() {
        let err = GithubForge::token("http://127.0.0.1:1", "t", RetryPolicy::fast()).unwrap_err();
        assert!(err.to_string().contains("runtime"), "{err}");
    }

    #[test]
    fn app_needs_a_valid_key() {
        let err = GithubForge::app("http://127.0.0.1:1", 1, b"not a key", RetryPolicy::fast())
            .unwrap_err();
        assert!(matches!(err, ForgeError::Config(_)), "{err}");
    }
}
