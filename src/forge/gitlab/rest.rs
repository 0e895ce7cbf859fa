//! The REST operations bytegate uses, on GitLab's endpoints.

use super::*;

impl GitlabForge {
    pub(super) async fn get_pull_request_impl(
        &self,
        pr: &PrRef,
    ) -> Result<PullRequestInfo, ForgeError> {
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

    pub(super) async fn list_pr_files_impl(
        &self,
        pr: &PrRef,
    ) -> Result<Vec<ChangedFile>, ForgeError> {
        // `/changes` is deprecated since GitLab 15.7; `/diffs` pages.
        let path = format!(
            "{}/merge_requests/{}/diffs",
            project_path(&pr.repo)?,
            pr.number
        );
        let diffs: Vec<GlDiff> = self.list_all("merge_requests/diffs", &path).await?;
        Ok(diffs.into_iter().map(GlDiff::into_changed_file).collect())
    }

    pub(super) async fn file_content_impl(
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
        found(
            self.send("repository/files/raw", Method::GET, &url, None)
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
            "{}/repository/tree?path={}&ref={}",
            project_path(repo)?,
            encode_component(path.trim_matches('/')),
            encode_component(git_ref)
        );
        let entries = found(self.list_all::<GlTreeEntry>("repository/tree", &url).await)?;
        Ok(entries
            .unwrap_or_default()
            .into_iter()
            .map(|e| DirEntry {
                is_file: e.r#type == "blob",
                path: e.path,
            })
            .collect())
    }

    /// Posts a commit status. Re-posting the state a status already has is
    /// refused by GitLab ("Cannot transition status"): that is success here.
    pub(super) async fn post_status(
        &self,
        repo: &RepoRef,
        sha: &str,
        name: &str,
        state: &str,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let body = status_body(
            "name",
            name,
            state,
            description,
            MAX_STATUS_DESCRIPTION,
            target_url,
        );
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

    pub(super) async fn list_comments_impl(
        &self,
        pr: &PrRef,
    ) -> Result<Vec<PrComment>, ForgeError> {
        Ok(self
            .notes(pr)
            .await?
            .into_iter()
            // System notes ("added 1 commit", "approved this merge request") are GitLab's.
            .filter(|n| !n.system)
            .map(GlNote::into_comment)
            .collect())
    }

    pub(super) async fn create_comment_impl(
        &self,
        pr: &PrRef,
        body: &str,
    ) -> Result<PrComment, ForgeError> {
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

    pub(super) async fn update_comment_impl(
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
    pub(super) async fn list_reviews_impl(&self, pr: &PrRef) -> Result<Vec<PrReview>, ForgeError> {
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
    pub(super) async fn notes(&self, pr: &PrRef) -> Result<Vec<GlNote>, ForgeError> {
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
    pub(super) async fn sync_line_findings_impl(
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

    pub(super) async fn resolve_discussion(
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

    /// Whether `login` is a bot: a project or group access-token user
    /// (`project_<id>_bot_…`, `group_<id>_bot_…`) or the token's own user.
    pub(super) async fn is_bot_impl(&self, login: &str) -> Result<bool, ForgeError> {
        if is_access_token_user(login) {
            return Ok(true);
        }
        let own = self
            .own_username
            .get_or_try_init(|| async {
                let me: GlUser = self
                    .send_json("users/current", Method::GET, "/user", None)
                    .await?;
                Ok::<_, ForgeError>(me.username)
            })
            .await?;
        Ok(own.eq_ignore_ascii_case(login))
    }

    /// A user's numeric id from their username; `None` when there is no such user.
    pub(super) async fn user_id(&self, username: &str) -> Result<Option<u64>, ForgeError> {
        let path = format!("/users?username={}", encode_component(username));
        let users: Vec<GlUser> = self
            .send_json("users/list", Method::GET, &path, None)
            .await?;
        Ok(users
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
            .map(|u| u.id))
    }

    pub(super) async fn collaborator_permission_impl(
        &self,
        repo: &RepoRef,
        user: &str,
    ) -> Result<Permission, ForgeError> {
        let Some(id) = self.user_id(user).await? else {
            return Ok(Permission::None);
        };
        // `members/all` includes members inherited from groups.
        let path = format!("{}/members/all/{id}", project_path(repo)?);
        match found(
            self.send_json::<GlMember>("projects/members/get", Method::GET, &path, None)
                .await,
        )? {
            Some(m) => Ok(permission_from_access_level(m.access_level)),
            None => Ok(Permission::None),
        }
    }

    /// Whether `user` is a member of the group `team` (a group path), directly or inherited.
    pub(super) async fn is_team_member_impl(
        &self,
        team: &str,
        user: &str,
    ) -> Result<bool, ForgeError> {
        let Some(id) = self.user_id(user).await? else {
            return Ok(false);
        };
        let path = format!(
            "/groups/{}/members/all/{id}",
            encode_component(team.trim_matches('/'))
        );
        match found(
            self.send_json::<GlMember>("groups/members/get", Method::GET, &path, None)
                .await,
        )? {
            // Guests and minimal access do not hold a role.
            Some(m) => Ok(m.access_level >= ACCESS_REPORTER),
            None => Ok(false),
        }
    }
}

/// Starts the first note of a finding's discussion; the key follows.
pub(super) const FINDING_MARKER: &str = "<!-- bytegate:finding:";

/// A finding's identity across pushes: path, rule and message (not the line).
pub(super) fn finding_key(f: &Annotation) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}\n{}\n{}", f.path, f.title, f.message));
    hex::encode(&digest[..8])
}

pub(super) fn finding_body(key: &str, f: &Annotation) -> String {
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
