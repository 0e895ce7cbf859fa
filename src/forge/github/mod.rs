//! GitHub (github.com and Enterprise Server) on octocrab.
//!
//! octocrab supplies the HTTP client, the base URL (GHES paths such as
//! `https://HOST/api/v3` are kept) and authentication: as a GitHub App, a JWT
//! is minted from the app id and private key and exchanged for an installation
//! token per installation, which octocrab caches until 30 s before it expires
//! (one client per installation is kept here for that cache). Which
//! installation reaches a repository is GitHub's knowledge, so this forge
//! asks GitHub for it (and remembers it); neutral types never carry it. With a token,
//! check runs are impossible (GitHub allows them to Apps only), so checks are
//! published as commit statuses under the same name.
//!
//! Requests and responses are bytegate's own small serde shapes, so only the
//! fields we use must be present; retries follow [`super::retry`].
//!
//! Files by job: `auth` (App or token clients, one per installation, found per repository),
//! `transport` (one exchange and its retries), `rest` (the REST operations),
//! `checks` (check runs created at most once, strays completed),
//! `trait_impl` (the [`Forge`] implementation) and `wire` (GitHub's JSON
//! shapes and paths).

mod auth;
mod checks;
mod rest;
mod trait_impl;
mod transport;
mod wire;

use self::wire::*;

use super::paging;
use super::retry::{
    Attempt, RetryPolicy, Verdict, classify, now_epoch, post_comment_once, with_retries,
};
use super::{
    Annotation, ChangedFile, CheckHandle, CheckResult, DeploymentState, DirEntry, FileStatus,
    Forge, ForgeError, ForgeFuture, NewDeployment, Permission, PrComment, PrReview,
    PullRequestInfo, encode_component, found, status_body, truncate_with_note,
};
use crate::config::GithubForge as GithubSettings;
use crate::event::{ForgeKind, PrRef, RepoRef, ReviewState};
use crate::telemetry::metrics::Metrics;
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
/// A directory listing of the contents API stops at this many entries.
const CONTENTS_DIR_LIMIT: usize = 1000;
/// list-files returns at most 3000 files: 30 pages of 100.
const MAX_PAGES: usize = 30;

/// How long a team-membership answer is reused.
const TEAM_CACHE_TTL: Duration = Duration::from_secs(60);
/// GitHub's operation naming the App installation of a repository.
const INSTALLATION_OP: &str = "apps/get-repo-installation";
/// GitHub's operation minting an installation token (octocrab sends it).
const TOKEN_OP: &str = "apps/create-installation-access-token";
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
    /// One client per installation id (each caches its installation token).
    installations: Mutex<HashMap<u64, Arc<Octocrab>>>,
    /// Lowercase `owner/name` → the App installation that reaches it.
    repo_installations: Mutex<HashMap<String, u64>>,
    retry: RetryPolicy,
    /// Where API calls, retries and the rate limit are counted.
    metrics: Arc<Metrics>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ForgeKind;

    fn repo(name: &str) -> RepoRef {
        RepoRef {
            forge: ForgeKind::Github,
            full_name: name.to_string(),
            id: None,
        }
    }

    #[test]
    fn github_permissions_map_to_four_levels() {
        assert_eq!(permission_from_github("maintain"), Permission::Write);
        assert_eq!(permission_from_github("triage"), Permission::Read);
        assert_eq!(permission_from_github("admin"), Permission::Admin);
        assert_eq!(permission_from_github("weird"), Permission::None);
    }

    #[tokio::test]
    async fn apps_are_bots() {
        let Ok(forge) = GithubForge::token("https://api.github.com", "t", RetryPolicy::default())
        else {
            panic!("a token client builds");
        };
        assert!(matches!(forge.is_bot("bytegate[bot]").await, Ok(true)));
        assert!(matches!(forge.is_bot("bot").await, Ok(false)));
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
