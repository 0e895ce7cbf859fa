//! The token client for one GitLab instance.

use super::*;

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
            metrics: Arc::default(),
            line_discussions: false,
            own_username: tokio::sync::OnceCell::new(),
        })
    }

    /// Counts this client's API calls in `metrics` (the server's registry).
    pub fn observed_by(mut self, metrics: Arc<crate::telemetry::metrics::Metrics>) -> Self {
        self.metrics = metrics;
        self
    }
}
