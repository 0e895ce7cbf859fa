//! GitLab's JSON shapes (only the fields bytegate reads).

use super::*;

#[derive(Deserialize)]
pub(super) struct GlUser {
    pub(super) id: u64,
    pub(super) username: String,
}

#[derive(Deserialize, Default)]
pub(super) struct GlDiffRefs {
    pub(super) base_sha: Option<String>,
    pub(super) start_sha: Option<String>,
    pub(super) head_sha: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GlMergeRequest {
    pub(super) iid: u64,
    pub(super) sha: Option<String>,
    pub(super) target_branch: String,
    pub(super) state: String,
    pub(super) title: Option<String>,
    pub(super) author: Option<GlUser>,
    pub(super) source_project_id: Option<u64>,
    pub(super) target_project_id: Option<u64>,
    #[serde(default)]
    pub(super) draft: bool,
    #[serde(default)]
    pub(super) work_in_progress: bool,
    pub(super) diff_refs: Option<GlDiffRefs>,
    #[serde(default)]
    pub(super) merge_commit_sha: Option<String>,
    #[serde(default)]
    pub(super) squash_commit_sha: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GlDiff {
    pub(super) old_path: String,
    pub(super) new_path: String,
    #[serde(default)]
    pub(super) new_file: bool,
    #[serde(default)]
    pub(super) renamed_file: bool,
    #[serde(default)]
    pub(super) deleted_file: bool,
    #[serde(default)]
    pub(super) diff: String,
}

impl GlDiff {
    pub(super) fn into_changed_file(self) -> ChangedFile {
        let status = if self.new_file {
            FileStatus::Added
        } else if self.deleted_file {
            FileStatus::Removed
        } else if self.renamed_file {
            FileStatus::Renamed {
                from: self.old_path.clone(),
            }
        } else if self.diff.is_empty() {
            FileStatus::Unchanged
        } else {
            FileStatus::Modified
        };
        ChangedFile {
            path: self.new_path,
            status,
            // `/diffs` gives no blob id.
            blob_sha: None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct GlTreeEntry {
    pub(super) path: String,
    #[serde(rename = "type")]
    pub(super) r#type: String,
}

#[derive(Deserialize)]
pub(super) struct GlNote {
    pub(super) id: u64,
    #[serde(default)]
    pub(super) body: String,
    pub(super) author: Option<GlUser>,
    #[serde(default)]
    pub(super) system: bool,
    pub(super) created_at: Option<String>,
}

impl GlNote {
    pub(super) fn into_comment(self) -> PrComment {
        PrComment {
            id: self.id,
            author: self.author.map(|u| u.username).unwrap_or_default(),
            body: self.body,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct GlDiscussionNote {
    #[serde(default)]
    pub(super) body: String,
    #[serde(default)]
    pub(super) resolved: bool,
}

#[derive(Deserialize)]
pub(super) struct GlDiscussion {
    pub(super) id: String,
    #[serde(default)]
    pub(super) notes: Vec<GlDiscussionNote>,
}

#[derive(Deserialize)]
pub(super) struct GlApprovedBy {
    pub(super) user: GlUser,
    pub(super) approved_at: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct GlApprovals {
    #[serde(default)]
    pub(super) approved_by: Vec<GlApprovedBy>,
}

#[derive(Deserialize)]
pub(super) struct GlMember {
    pub(super) access_level: u32,
}
