//! The REST operations bytegate uses, on GitHub's endpoints.

use super::*;

impl GithubForge {
    pub(super) async fn get_pull_request_impl(
        &self,
        pr: &PrRef,
    ) -> Result<PullRequestInfo, ForgeError> {
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

    pub(super) async fn list_pr_files_impl(
        &self,
        pr: &PrRef,
    ) -> Result<Vec<ChangedFile>, ForgeError> {
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

    pub(super) async fn file_content_impl(
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
        found(
            self.send(
                repo,
                "repos/get-content",
                Method::GET,
                &url,
                None,
                ACCEPT_RAW,
            )
            .await,
        )
    }

    pub(super) async fn list_directory_impl(
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
        let value: Value = match found(
            self.send_json(repo, "repos/get-content", Method::GET, &url, None)
                .await,
        )? {
            Some(v) => v,
            None => return Ok(Vec::new()),
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
    pub(super) async fn list_tree(
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

    pub(super) async fn start_check_impl(
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
                // An open run of ours (an earlier attempt whose answer was
                // lost) is taken over rather than doubled.
                if let Some(id) = self.adopt_open_check(repo, sha, name).await? {
                    return Ok(CheckHandle::CheckRun(id));
                }
                let id = self.create_check_once(repo, sha, name, &body).await?;
                Ok(CheckHandle::CheckRun(id))
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

    pub(super) async fn complete_check_impl(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        handle: Option<&CheckHandle>,
        result: &CheckResult,
    ) -> Result<CheckHandle, ForgeError> {
        if !self.is_app() {
            let state = result.conclusion.status_state("failure");
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
        let existing = match handle {
            Some(CheckHandle::CheckRun(id)) => Some(*id),
            // Without a handle an open run of ours is completed, not doubled.
            _ => self.adopt_open_check(repo, sha, name).await?,
        };
        let id = match existing {
            Some(id) => {
                self.patch_check_run(repo, &base, id, &completion).await?;
                id
            }
            None => {
                completion["name"] = json!(name);
                completion["head_sha"] = json!(sha);
                self.create_check_once(repo, sha, name, &completion).await?
            }
        };
        if matches!(handle, Some(CheckHandle::CheckRun(_))) {
            // An open run of ours beside the completed one is a stray.
            let runs = self.check_runs_named(repo, sha, name).await?;
            self.supersede_others(repo, sha, name, id, &runs).await?;
        }
        // Later PATCHes append annotations to the run.
        for batch in batches.iter().skip(1) {
            let body = json!({"output": output(Some(batch))});
            self.patch_check_run(repo, &base, id, &body).await?;
        }
        Ok(CheckHandle::CheckRun(id))
    }

    /// `PATCH …/check-runs/{id}` (`base`: the repository's API path).
    async fn patch_check_run(
        &self,
        repo: &RepoRef,
        base: &str,
        id: u64,
        body: &serde_json::Value,
    ) -> Result<(), ForgeError> {
        let path = format!("{base}/check-runs/{id}");
        let _: GhId = self
            .send_json(repo, "checks/update", Method::PATCH, &path, Some(body))
            .await?;
        Ok(())
    }

    pub(super) async fn post_status(
        &self,
        repo: &RepoRef,
        sha: &str,
        context: &str,
        state: &str,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let body = status_body(
            "context",
            context,
            state,
            description,
            MAX_STATUS_DESCRIPTION,
            target_url,
        );
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

    pub(super) async fn create_deployment_impl(
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

    pub(super) async fn set_deployment_status_impl(
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

    pub(super) async fn list_comments_impl(
        &self,
        pr: &PrRef,
    ) -> Result<Vec<PrComment>, ForgeError> {
        let path = format!("{}/issues/{}/comments", repo_path(&pr.repo)?, pr.number);
        let comments: Vec<GhComment> = self
            .list_all(&pr.repo, "issues/list-comments", &path)
            .await?;
        Ok(comments.into_iter().map(GhComment::into_comment).collect())
    }

    pub(super) async fn create_comment_impl(
        &self,
        pr: &PrRef,
        body: &str,
    ) -> Result<PrComment, ForgeError> {
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

    pub(super) async fn update_comment_impl(
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

    pub(super) async fn list_reviews_impl(&self, pr: &PrRef) -> Result<Vec<PrReview>, ForgeError> {
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

    pub(super) async fn is_team_member_impl(
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
        let member = match found(
            self.send_json::<GhMembership>(
                repo,
                "teams/get-membership-for-user-in-org",
                Method::GET,
                &path,
                None,
            )
            .await,
        )? {
            // A pending invitation is not membership yet.
            Some(m) => m.state == "active",
            None => false,
        };
        if let Ok(mut cache) = self.teams.lock() {
            cache.retain(|_, (_, at)| at.elapsed() < TEAM_CACHE_TTL);
            cache.insert(key, (member, Instant::now()));
        }
        Ok(member)
    }

    pub(super) async fn collaborator_permission_impl(
        &self,
        repo: &RepoRef,
        user: &str,
    ) -> Result<Permission, ForgeError> {
        let path = format!(
            "{}/collaborators/{}/permission",
            repo_path(repo)?,
            encode_component(user)
        );
        match found(
            self.send_json::<GhPermission>(
                repo,
                "repos/get-collaborator-permission-level",
                Method::GET,
                &path,
                None,
            )
            .await,
        )? {
            Some(p) => Ok(permission_from_github(&p.permission)),
            None => Ok(Permission::None),
        }
    }
}
