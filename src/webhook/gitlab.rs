//! GitLab deliveries → forge-neutral [`Event`]s: Merge Request Hook and Note
//! Hook. Other hooks are stored and acknowledged, never errors.

use crate::event::{
    CommentAction, CommentEvent, Event, ForgeKind, PrAction, PrRef, PullRequestEvent, RepoRef,
    ReviewEvent, ReviewState,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{Parsed, ShapeError};

/// Parses a delivery whose `X-Gitlab-Event` header is `event`.
pub fn parse(event: &str, payload: &Value) -> Result<Parsed, ShapeError> {
    let action = payload
        .pointer("/object_attributes/action")
        .and_then(Value::as_str)
        .map(str::to_string);
    let repo = payload
        .pointer("/project/path_with_namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let shape = |source| ShapeError::new(event, source);
    let parsed = match event {
        "Merge Request Hook" => merge_request(payload).map_err(shape)?,
        "Note Hook" => note(payload).map_err(shape)?,
        _ => None,
    };
    Ok(Parsed {
        action,
        repo,
        event: parsed,
    })
}

/// GitLab writes times as RFC 3339 or as `2020-12-08 04:15:39 UTC`.
#[derive(Debug, Clone, Copy)]
struct Time(DateTime<Utc>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Time(parse_time(&s).unwrap_or_else(Utc::now)))
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s.trim_end_matches(" UTC"), "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S %z")
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

#[derive(Deserialize)]
struct User {
    username: String,
}

#[derive(Deserialize)]
struct Project {
    id: u64,
    path_with_namespace: String,
}

impl Project {
    fn repo(&self) -> RepoRef {
        RepoRef {
            forge: ForgeKind::Gitlab,
            full_name: self.path_with_namespace.clone(),
            id: Some(self.id),
        }
    }
}

#[derive(Deserialize)]
struct Commit {
    id: String,
}

#[derive(Deserialize)]
struct MrAttributes {
    iid: u64,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    url: String,
    target_branch: String,
    #[serde(default)]
    source_project_id: Option<u64>,
    #[serde(default)]
    target_project_id: Option<u64>,
    /// Absent from some merge hooks; every other action needs it.
    #[serde(default)]
    last_commit: Option<Commit>,
    #[serde(default)]
    oldrev: Option<String>,
    #[serde(default)]
    merge_commit_sha: Option<String>,
    #[serde(default)]
    squash_commit_sha: Option<String>,
    #[serde(default)]
    draft: Option<bool>,
    #[serde(default)]
    work_in_progress: Option<bool>,
    updated_at: Time,
    #[serde(default)]
    id: u64,
}

#[derive(Deserialize)]
struct MrHook {
    user: User,
    project: Project,
    object_attributes: MrAttributes,
    #[serde(default)]
    changes: Option<Value>,
}

impl MrAttributes {
    fn head(&self) -> Option<&str> {
        self.last_commit
            .as_ref()
            .map(|c| c.id.as_str())
            .filter(|s| !s.is_empty())
    }

    /// The commit a merge put on the target branch: the merge commit, else
    /// the squash commit, else (a fast-forward merge has neither) the merged
    /// head itself. `None`: the flow asks GitLab.
    fn merged_commit(&self) -> Option<String> {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        non_empty(&self.merge_commit_sha)
            .or_else(|| non_empty(&self.squash_commit_sha))
            .or_else(|| self.head().map(str::to_string))
    }
}

fn merge_request(payload: &Value) -> Result<Option<Event>, serde_json::Error> {
    let hook: MrHook = serde_json::from_value(payload.clone())?;
    let a = &hook.object_attributes;
    if a.head().is_none() && a.action.as_deref() != Some("merge") {
        return Err(serde::de::Error::missing_field("last_commit"));
    }
    let head = a.head().unwrap_or_default().to_string();
    let pr = PrRef {
        repo: hook.project.repo(),
        number: a.iid,
    };
    let review = |state| {
        Some(Event::Review(ReviewEvent {
            pr: pr.clone(),
            reviewer: hook.user.username.clone(),
            state,
            // Approval hooks carry no review id: the MR's own id stands in.
            review_id: a.id,
            commit_sha: Some(head.clone()),
            at: a.updated_at.0,
        }))
    };
    let action = match a.action.as_deref() {
        Some("open") => PrAction::Opened,
        Some("reopen") => PrAction::Reopened,
        // `oldrev` is present only when commits were pushed.
        Some("update") if a.oldrev.is_some() => PrAction::Synchronize,
        Some("update") => PrAction::Edited {
            base_changed: hook
                .changes
                .as_ref()
                .is_some_and(|c| c.get("target_branch").is_some()),
        },
        Some("merge") => PrAction::Closed {
            merged: true,
            merge_sha: a.merged_commit(),
        },
        Some("close") => PrAction::Closed {
            merged: false,
            merge_sha: None,
        },
        Some("approved" | "approval") => return Ok(review(ReviewState::Approved)),
        Some("unapproved" | "unapproval") => return Ok(review(ReviewState::Dismissed)),
        _ => return Ok(None),
    };
    Ok(Some(Event::PullRequest(PullRequestEvent {
        pr,
        action,
        head_sha: head,
        base_ref: a.target_branch.clone(),
        // Not in the hook; the flow reads files at the head and the base branch.
        base_sha: String::new(),
        // The hook names the acting user; on open and reopen that is the author.
        author: match a.action.as_deref() {
            Some("open" | "reopen") => hook.user.username.clone(),
            _ => String::new(),
        },
        title: a.title.clone(),
        html_url: a.url.clone(),
        is_fork: a.source_project_id.is_some() && a.source_project_id != a.target_project_id,
        draft: a.draft.or(a.work_in_progress).unwrap_or(false),
        at: a.updated_at.0,
    })))
}

#[derive(Deserialize)]
struct NoteAttributes {
    id: u64,
    note: String,
    /// The note's author (only its id: the hook's `user` is who acted).
    #[serde(default)]
    author_id: Option<u64>,
    /// Who last edited the note.
    #[serde(default)]
    updated_by_id: Option<u64>,
    noteable_type: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    system: Option<bool>,
    created_at: Time,
    #[serde(default)]
    updated_at: Option<Time>,
}

#[derive(Deserialize)]
struct NoteMr {
    iid: u64,
}

/// The hook's `user`: who triggered the event (the editor, for an update).
#[derive(Deserialize)]
struct Actor {
    #[serde(default)]
    id: Option<u64>,
    username: String,
}

#[derive(Deserialize)]
struct NoteHook {
    user: Actor,
    project: Project,
    object_attributes: NoteAttributes,
    #[serde(default)]
    merge_request: Option<NoteMr>,
}

fn note(payload: &Value) -> Result<Option<Event>, serde_json::Error> {
    let hook: NoteHook = serde_json::from_value(payload.clone())?;
    let n = &hook.object_attributes;
    // Notes on commits, issues and snippets, and system notes, are not ours.
    let (true, Some(mr), false) = (
        n.noteable_type == "MergeRequest",
        hook.merge_request.as_ref(),
        n.system.unwrap_or(false),
    ) else {
        return Ok(None);
    };
    let action = match n.action.as_deref() {
        None | Some("create") => CommentAction::Created,
        Some("update") => CommentAction::Edited,
        _ => return Ok(None),
    };
    Ok(Some(Event::Comment(CommentEvent {
        pr: PrRef {
            repo: hook.project.repo(),
            number: mr.iid,
        },
        author: note_author(&hook, action),
        sender: hook.user.username.clone(),
        body: n.note.clone(),
        comment_id: n.id,
        action,
        at: match (action, n.updated_at) {
            (CommentAction::Edited, Some(t)) => t.0,
            _ => n.created_at.0,
        },
    })))
}

/// The note author's username: the hook names the author only by id
/// (`author_id`) and `user` is whoever triggered the event, so the username
/// is the author's only when `user` is known to be the author. A creation is
/// by its author; an update by someone else (or by someone the hook does
/// not identify) leaves it empty, and the flow then counts nothing.
fn note_author(hook: &NoteHook, action: CommentAction) -> String {
    let n = &hook.object_attributes;
    let actor = hook.user.id.or(if action == CommentAction::Edited {
        n.updated_by_id
    } else {
        None
    });
    let is_author = match (actor, n.author_id) {
        (Some(actor), Some(author)) => actor == author,
        _ => action == CommentAction::Created,
    };
    if is_author {
        hook.user.username.clone()
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! payload {
        ($name:expr) => {
            crate::webhook::upstream_example("gitlab", $name)
        };
    }

    fn pr_event(p: Parsed) -> PullRequestEvent {
        match p.event {
            Some(Event::PullRequest(e)) => e,
            other => panic!("not a PR event: {other:?}"),
        }
    }

    #[test]
    fn opened_merge_request() {
        let p = parse("Merge Request Hook", &payload!("merge_request.open.json")).unwrap();
        assert_eq!(p.repo.as_deref(), Some("gitlabhq/gitlab-test"));
        let e = pr_event(p);
        assert_eq!(e.action, PrAction::Opened);
        assert_eq!(e.pr.number, 1);
        assert_eq!(e.pr.repo.forge, ForgeKind::Gitlab);
        assert_eq!(e.pr.repo.id, Some(1));
        assert_eq!(e.head_sha, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
        assert_eq!(e.author, "root");
        assert!(!e.is_fork);
    }

    #[test]
    fn update_with_new_commits_is_a_synchronize() {
        let p = parse(
            "Merge Request Hook",
            &payload!("merge_request.update-new-commit.capture.json"),
        )
        .unwrap();
        let e = pr_event(p);
        assert_eq!(e.action, PrAction::Synchronize);
        assert_eq!(e.head_sha, "5ff66a1f7404deee915b50998c340e96d995f048");
        assert_eq!(e.at.to_rfc3339(), "2020-12-08T04:15:39+00:00");
    }

    #[test]
    fn merge_close_and_reopen() {
        let e = pr_event(
            parse(
                "Merge Request Hook",
                &payload!("merge_request.merge.capture.json"),
            )
            .unwrap(),
        );
        assert_eq!(
            e.action,
            PrAction::Closed {
                merged: true,
                merge_sha: Some("78a76ee6b4992a6baf64c59fc4c44c7323d60438".into())
            }
        );
        let e = pr_event(
            parse(
                "Merge Request Hook",
                &payload!("merge_request.close.capture.json"),
            )
            .unwrap(),
        );
        assert!(matches!(e.action, PrAction::Closed { merged: false, .. }));
        let e = pr_event(
            parse(
                "Merge Request Hook",
                &payload!("merge_request.reopen.capture.json"),
            )
            .unwrap(),
        );
        assert_eq!(e.action, PrAction::Reopened);
    }

    /// The fixture from tests/fixtures (present in every checkout).
    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/gitlab/upstream/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn merge_sha_of(p: &Value) -> Option<String> {
        match pr_event(parse("Merge Request Hook", p).unwrap()).action {
            PrAction::Closed {
                merged: true,
                merge_sha,
            } => merge_sha,
            other => panic!("not a merge: {other:?}"),
        }
    }

    #[test]
    fn fast_forward_and_squash_merges_name_the_commit_they_merged() {
        let mut p = fixture("merge_request.merge.capture.json");
        let head = p["object_attributes"]["last_commit"]["id"]
            .as_str()
            .map(str::to_string);
        p["object_attributes"]["merge_commit_sha"] = Value::Null;
        assert_eq!(merge_sha_of(&p), head, "fast-forward: the merged head");
        p["object_attributes"]["squash_commit_sha"] = "5q5q".into();
        assert_eq!(merge_sha_of(&p).as_deref(), Some("5q5q"), "squash");
        p["object_attributes"]["merge_commit_sha"] = "mmmm".into();
        assert_eq!(merge_sha_of(&p).as_deref(), Some("mmmm"), "merge commit");
        // None of them: the flow asks GitLab.
        let a = p["object_attributes"].as_object_mut().unwrap();
        a.remove("last_commit");
        a.insert("merge_commit_sha".into(), Value::Null);
        a.insert("squash_commit_sha".into(), Value::Null);
        assert_eq!(merge_sha_of(&p), None);
        // Other actions still need the head.
        p["object_attributes"]["action"] = "open".into();
        assert!(parse("Merge Request Hook", &p).is_err());
    }

    #[test]
    fn approval_actions_become_reviews() {
        let mut p = payload!("merge_request.open.json");
        p["object_attributes"]["action"] = "approved".into();
        let Some(Event::Review(r)) = parse("Merge Request Hook", &p).unwrap().event else {
            panic!("not a review")
        };
        assert_eq!(
            (r.reviewer.as_str(), r.state),
            ("root", ReviewState::Approved)
        );
        p["object_attributes"]["action"] = "unapproved".into();
        let Some(Event::Review(r)) = parse("Merge Request Hook", &p).unwrap().event else {
            panic!("not a review")
        };
        assert_eq!(r.state, ReviewState::Dismissed);
    }

    #[test]
    fn notes_on_merge_requests_are_comments() {
        let p = parse("Note Hook", &payload!("note.merge_request.json")).unwrap();
        let Some(Event::Comment(c)) = p.event else {
            panic!("not a comment")
        };
        assert_eq!(c.pr.number, 1);
        assert_eq!(c.author, "root");
        assert_eq!(c.action, CommentAction::Created);
        let p = parse("Note Hook", &payload!("note.merge_request.capture.json")).unwrap();
        let Some(Event::Comment(c)) = p.event else {
            panic!("not a comment")
        };
        assert_eq!(c.body, "lgtm");
        assert_eq!(c.sender, "sytses");
        assert!(c.written_by_author());
    }

    #[test]
    fn a_note_edited_by_someone_else_has_no_author_to_credit() {
        // The docs' example, copied verbatim under tests/fixtures (always present).
        let path = format!(
            "{}/tests/fixtures/gitlab/upstream/note.merge_request.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut p: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        p["object_attributes"]["action"] = "update".into();
        let Some(Event::Comment(c)) = parse("Note Hook", &p).unwrap().event else {
            panic!("not a comment")
        };
        assert_eq!((c.author.as_str(), c.sender.as_str()), ("root", "root"));
        assert!(c.written_by_author());
        // `user` (id 1) is the editor; the note's author is someone else.
        p["object_attributes"]["author_id"] = 51.into();
        p["user"]["username"] = "mallory".into();
        let Some(Event::Comment(c)) = parse("Note Hook", &p).unwrap().event else {
            panic!("not a comment")
        };
        assert_eq!((c.author.as_str(), c.sender.as_str()), ("", "mallory"));
        assert_eq!(c.action, CommentAction::Edited);
        assert!(!c.written_by_author());
    }

    #[test]
    fn other_hooks_are_ignored() {
        let p = parse("Push Hook", &payload!("push.json")).unwrap();
        assert_eq!(p.event, None);
    }

    #[test]
    fn times_in_both_gitlab_formats() {
        assert!(parse_time("2013-12-03T17:23:34Z").is_some());
        assert!(parse_time("2020-12-08 04:15:39 UTC").is_some());
        assert!(parse_time("2015-05-17 18:21:36 -0700").is_some());
        assert!(parse_time("garbage").is_none());
    }
}
