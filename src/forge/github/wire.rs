//! GitHub's JSON shapes (only the fields bytegate reads) and URL paths.

use super::*;

/// GitHub's `permission` value (`admin`, `maintain`, `write`, `triage`,
/// `read`, `none`) on bytegate's four levels.
pub(super) fn permission_from_github(s: &str) -> Permission {
    match s {
        "admin" => Permission::Admin,
        "write" | "maintain" => Permission::Write,
        "read" | "triage" => Permission::Read,
        _ => Permission::None,
    }
}

pub(super) fn annotation_json(a: &Annotation) -> Value {
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

/// `GET /repos/{owner}/{repo}/installation`: the App installation reaching
/// the repository (only its id is read).
#[derive(Deserialize)]
pub(super) struct RepoInstallation {
    pub(super) id: u64,
}

/// `/repos/OWNER/NAME`, refusing names that could change the URL's meaning.
pub(super) fn repo_path(repo: &RepoRef) -> Result<String, ForgeError> {
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
pub(super) fn encode_path(path: &str) -> String {
    path.trim_matches('/')
        .split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

pub(super) fn github_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

pub(super) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Deserialize)]
pub(super) struct GhId {
    pub(super) id: u64,
}

#[derive(Deserialize)]
pub(super) struct GhUser {
    pub(super) login: String,
}

#[derive(Deserialize)]
pub(super) struct GhRepo {
    pub(super) full_name: String,
}

#[derive(Deserialize)]
pub(super) struct GhBranch {
    #[serde(rename = "ref")]
    pub(super) r#ref: String,
    pub(super) sha: String,
    pub(super) repo: Option<GhRepo>,
}

#[derive(Deserialize)]
pub(super) struct GhPull {
    pub(super) number: u64,
    pub(super) state: String,
    pub(super) title: Option<String>,
    pub(super) user: Option<GhUser>,
    pub(super) head: GhBranch,
    pub(super) base: GhBranch,
    pub(super) draft: Option<bool>,
    pub(super) merged: Option<bool>,
    pub(super) merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GhFile {
    pub(super) filename: String,
    pub(super) status: String,
    pub(super) previous_filename: Option<String>,
    pub(super) sha: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GhComment {
    pub(super) id: u64,
    pub(super) body: Option<String>,
    pub(super) user: Option<GhUser>,
}

impl GhComment {
    pub(super) fn into_comment(self) -> PrComment {
        PrComment {
            id: self.id,
            author: self.user.map(|u| u.login).unwrap_or_default(),
            body: self.body.unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct GhReview {
    pub(super) id: u64,
    pub(super) user: Option<GhUser>,
    pub(super) state: String,
    pub(super) commit_id: Option<String>,
    pub(super) submitted_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GhTreeEntry {
    pub(super) path: String,
    #[serde(rename = "type")]
    pub(super) r#type: String,
}

#[derive(Deserialize)]
pub(super) struct GhTree {
    pub(super) tree: Vec<GhTreeEntry>,
    #[serde(default)]
    pub(super) truncated: bool,
}

#[derive(Deserialize)]
pub(super) struct GhPermission {
    pub(super) permission: String,
}

#[derive(Deserialize)]
pub(super) struct GhMembership {
    pub(super) state: String,
}
