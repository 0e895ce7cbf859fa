//! [`Forge`] for GitHub: each method is one REST operation of `rest`.

use super::*;

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

    fn is_bot<'a>(&'a self, login: &'a str) -> ForgeFuture<'a, bool> {
        // Apps (bytegate's own included) comment as `name[bot]`.
        let bot = login.ends_with("[bot]");
        Box::pin(async move { Ok(bot) })
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
