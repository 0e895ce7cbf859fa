//! Authentication: a GitHub App (a client per installation, the
//! installation of each repository looked up and cached) or a token.

use super::transport::attempt;
use super::*;

/// octocrab's client spawns its worker on the current tokio runtime (and
/// panics without one): refuse politely instead.
pub(super) fn require_runtime() -> Result<(), ForgeError> {
    tokio::runtime::Handle::try_current()
        .map(|_| ())
        .map_err(|_| {
            ForgeError::Config(
                "the GitHub client must be created inside the tokio runtime".to_string(),
            )
        })
}

pub(super) fn api_url_error(api_url: &str, e: octocrab::Error) -> ForgeError {
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
    pub(super) fn build(
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
            repo_installations: Mutex::new(HashMap::new()),
            retry,
            metrics: Arc::default(),
            teams: Mutex::new(HashMap::new()),
        })
    }

    /// Counts this client's API calls in `metrics` (the server's registry).
    pub fn observed_by(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// True when authenticated as an App (check runs available).
    pub fn is_app(&self) -> bool {
        matches!(self.auth, Auth::App)
    }

    /// The client for a repository: its installation's (cached) or the token's.
    pub(super) async fn client(&self, repo: &RepoRef) -> Result<Arc<Octocrab>, ForgeError> {
        match self.auth {
            Auth::Token => Ok(Arc::new(self.root.clone())),
            Auth::App => {
                let id = self.installation_of(repo).await?;
                let mut map = lock(&self.installations)?;
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

    /// The App installation that reaches `repo`: asked of GitHub once (as
    /// the App, `GET /repos/{owner}/{repo}/installation`), then remembered.
    /// No event or stored row carries it, so a rollout driven after a
    /// restart authenticates the same way as a webhook's job.
    async fn installation_of(&self, repo: &RepoRef) -> Result<u64, ForgeError> {
        let key = repo.full_name.to_ascii_lowercase();
        if let Some(id) = lock(&self.repo_installations)?.get(&key) {
            return Ok(*id);
        }
        let path = format!("{}/installation", repo_path(repo)?);
        let bytes = with_retries(
            &self.retry,
            &self.metrics,
            "GitHub",
            INSTALLATION_OP,
            true,
            || {
                attempt(
                    &self.root,
                    &self.metrics,
                    INSTALLATION_OP,
                    Method::GET,
                    &path,
                    None,
                    ACCEPT_JSON,
                )
            },
        )
        .await?;
        let found: RepoInstallation =
            serde_json::from_slice(&bytes).map_err(|e| ForgeError::Decode {
                op: INSTALLATION_OP,
                message: e.to_string(),
            })?;
        lock(&self.repo_installations)?.insert(key, found.id);
        Ok(found.id)
    }

    /// Forgets `repo`'s installation when GitHub refused its credentials:
    /// no token could be minted for it, or its token was revoked (the App
    /// was uninstalled or reinstalled under a new id). True when forgotten,
    /// so the request may be sent again after a fresh lookup instead of
    /// failing until a restart.
    pub(super) fn forget_refused_installation(&self, repo: &RepoRef, error: &ForgeError) -> bool {
        let refused = match error {
            ForgeError::NotFound { op } => *op == TOKEN_OP,
            ForgeError::Rejected { op, status, .. } => *op == TOKEN_OP || *status == 401,
            _ => false,
        };
        if !refused || !self.is_app() {
            return false;
        }
        match lock(&self.repo_installations) {
            Ok(mut map) => map.remove(&repo.full_name.to_ascii_lowercase()).is_some(),
            Err(_) => false,
        }
    }
}

/// A cache's lock; a poisoned one is a configuration-class error, not a panic.
fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, ForgeError> {
    m.lock()
        .map_err(|_| ForgeError::Config("a GitHub client cache is poisoned".to_string()))
}
