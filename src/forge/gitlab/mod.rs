//! GitLab (gitlab.com and self-managed) on reqwest, REST API v4.
//!
//! GitLab has no check runs: checks are commit statuses under the same names
//! (`bytegate/sql-review`, `bytegate/approval`), as GitHub's token mode does,
//! and line findings go into the sticky note (`checks_have_annotations` is
//! false). Merge-request notes are the comments; the approvals API (a paid
//! tier on older GitLab) is read as reviews, and where it is missing (403/404)
//! no reviews are reported, so `/bytebase approve` notes alone decide.
//! Retries follow [`super::retry`] (the same classification and policy as GitHub).
//!
//! Files by job: `auth` (the token client), `transport` (one exchange and its
//! retries), `rest` (the REST operations), `trait_impl` (the [`Forge`]
//! implementation) and `wire` (GitLab's JSON shapes).

mod auth;
mod rest;
mod trait_impl;
mod transport;
mod wire;

use self::transport::*;
use self::wire::*;

use super::paging;
use super::retry::{
    Attempt, RetryPolicy, Verdict, classify, now_epoch, post_comment_once, with_retries,
};
use super::{
    Annotation, AnnotationLevel, ChangedFile, CheckHandle, CheckResult, DirEntry, FileStatus,
    Forge, ForgeError, ForgeFuture, NewDeployment, Permission, PrComment, PrReview,
    PullRequestInfo, encode_component, found, status_body, truncate_with_note,
};
use crate::config::GitlabForge as GitlabSettings;
use crate::event::{ForgeKind, PrRef, RepoRef, ReviewState};
use http::{HeaderMap, Method};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// GitLab's limit on a note body.
pub const MAX_NOTE_CHARS: usize = 1_000_000;
/// A commit status description longer than this is cut (GitLab stores 255).
const MAX_STATUS_DESCRIPTION: usize = 255;
/// Pages read at most from one list endpoint (10,000 items).
const MAX_PAGES: usize = 100;

/// A GitLab client for every project the token can reach.
pub struct GitlabForge {
    client: reqwest::Client,
    /// `https://HOST[/prefix]/api/v4`, without a trailing slash.
    api: String,
    /// `https://HOST[/prefix]`, for web links.
    web: String,
    token: String,
    retry: RetryPolicy,
    /// Where API calls, retries and the rate limit are counted.
    metrics: Arc<crate::telemetry::metrics::Metrics>,
    /// `forges.gitlab.line_discussions`.
    line_discussions: bool,
    /// The token's own username (`GET /user`), asked once.
    own_username: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for GitlabForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("GitlabForge")
            .field("api", &self.api)
            .finish()
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

/// GitLab names the users of project and group access tokens
/// `project_<id>_bot_<suffix>` and `group_<id>_bot_<suffix>`.
fn is_access_token_user(login: &str) -> bool {
    ["project_", "group_"].iter().any(|kind| {
        login
            .strip_prefix(kind)
            .and_then(|rest| rest.split_once("_bot"))
            .is_some_and(|(id, _)| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Developer and Maintainer can push (write); Owner administers.
fn permission_from_access_level(level: u32) -> Permission {
    match level {
        l if l >= ACCESS_OWNER => Permission::Admin,
        l if l >= ACCESS_DEVELOPER => Permission::Write,
        l if l >= 10 => Permission::Read,
        _ => Permission::None,
    }
}

#[cfg(test)]
mod tests {
    use super::rest::{FINDING_MARKER, finding_body, finding_key};
    use super::*;

    fn repo(name: &str, id: Option<u64>) -> RepoRef {
        RepoRef {
            forge: ForgeKind::Gitlab,
            full_name: name.to_string(),
            id,
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
    fn access_token_users_are_bots() {
        assert!(is_access_token_user("project_1_bot_bytegate"));
        assert!(is_access_token_user("group_42_bot_ab12"));
        assert!(!is_access_token_user("project_x_bot_y"));
        assert!(!is_access_token_user("robot"));
        assert!(!is_access_token_user("project__bot"));
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
