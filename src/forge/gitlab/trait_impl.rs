//! [`Forge`] for GitLab: each method is one REST operation of `rest`.

use super::*;

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
            let state = result.conclusion.status_state("failed");
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

    fn is_bot<'a>(&'a self, login: &'a str) -> ForgeFuture<'a, bool> {
        Box::pin(self.is_bot_impl(login))
    }

    fn max_comment_chars(&self) -> usize {
        MAX_NOTE_CHARS
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
