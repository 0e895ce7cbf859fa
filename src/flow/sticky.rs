//! Sticky comments: one comment per purpose on a pull request (the review
//! comment, the deploy comment), found again by a hidden marker and edited in
//! place. The one publisher both use.
//!
//! A comment is bytegate's when its id is the one stored for it, or when it
//! starts with the marker and bytegate wrote it ([`Forge::is_bot`]):
//! anyone can paste a marker, and such a comment is never edited or adopted.
//! An edit the forge refuses (403) or of a comment deleted meanwhile (404)
//! posts a new comment instead.

use super::FlowError;
use crate::event::PrRef;
use crate::forge::{Forge, ForgeError, PrComment};

/// What happened to a sticky comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentOutcome {
    /// Posted for the first time.
    Created,
    /// Edited in place.
    Updated,
    /// Already said exactly this.
    Unchanged,
    /// A newer head exists: left alone.
    Superseded,
}

impl CommentOutcome {
    /// Lowercase name for audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentOutcome::Created => "created",
            CommentOutcome::Updated => "updated",
            CommentOutcome::Unchanged => "unchanged",
            CommentOutcome::Superseded => "superseded",
        }
    }
}

/// Makes the sticky comment marked `marker` say `body`: edits bytegate's
/// comment (the `stored` id, else its own comment starting with the marker)
/// or posts a new one. Returns the comment's id and what was done; the
/// caller stores the id when it changed.
pub async fn publish(
    forge: &dyn Forge,
    pr: &PrRef,
    marker: &str,
    stored: Option<u64>,
    body: &str,
) -> Result<(u64, CommentOutcome), FlowError> {
    let comments = forge.list_comments(pr).await?;
    Ok(match ours(forge, &comments, marker, stored).await? {
        Some(c) if c.body == body => (c.id, CommentOutcome::Unchanged),
        Some(c) => match forge.update_comment(pr, c.id, body).await {
            Ok(()) => (c.id, CommentOutcome::Updated),
            // Not ours to edit after all, or deleted meanwhile: say it anew.
            Err(ForgeError::Rejected { status: 403, .. } | ForgeError::NotFound { .. }) => (
                forge.create_comment(pr, body).await?.id,
                CommentOutcome::Created,
            ),
            Err(e) => return Err(e.into()),
        },
        None => (
            forge.create_comment(pr, body).await?.id,
            CommentOutcome::Created,
        ),
    })
}

/// bytegate's comment marked `marker`: the stored one while it still carries
/// the marker, else the first one bytegate wrote that starts with it.
async fn ours<'c>(
    forge: &dyn Forge,
    comments: &'c [PrComment],
    marker: &str,
    stored: Option<u64>,
) -> Result<Option<&'c PrComment>, FlowError> {
    if let Some(c) = comments
        .iter()
        .find(|c| Some(c.id) == stored && c.body.contains(marker))
    {
        return Ok(Some(c));
    }
    for c in comments.iter().filter(|c| c.body.starts_with(marker)) {
        if forge.is_bot(&c.author).await? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}
