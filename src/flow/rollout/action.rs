//! What a deploy or rollback request came to: one answer for both callers,
//! the comment commands (which post its text) and the REST API (which maps
//! its outcome to a status code).

use crate::store::rollouts::StageState;
use serde::Serialize;

/// The kind of answer a deploy or rollback request got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionOutcome {
    /// Deployed, or rolled back, now.
    Done,
    /// Nothing to do: it is deployed (or rolled back) already.
    AlreadyDone,
    /// The stage is deploying now.
    InProgress,
    /// Not now: the stage waits (its approval policy, its deploy window, an
    /// older migration, an earlier stage).
    Waiting,
    /// Refused before anything ran (the policy does not hold, later
    /// environments still have the change, it cannot be reversed...).
    Refused,
    /// It ran and failed.
    Failed,
    /// There is no such environment, pull request or stage.
    NotFound,
    /// Does not apply to this change (not merged, no rollout, not deployed).
    NotApplicable,
    /// Another worker is moving this rollout; try again in a moment.
    Busy,
}

/// A request's outcome and the reply for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionReply {
    /// What it came to.
    pub outcome: ActionOutcome,
    /// The reply (Markdown, as posted in the thread).
    pub text: String,
    /// The stage's state afterwards, when there is a stage.
    pub stage_state: Option<StageState>,
}

impl ActionReply {
    /// An outcome with its reply.
    pub fn new(outcome: ActionOutcome, text: impl Into<String>) -> ActionReply {
        ActionReply {
            outcome,
            text: text.into(),
            stage_state: None,
        }
    }

    /// With the stage's state afterwards.
    pub fn at(mut self, state: StageState) -> ActionReply {
        self.stage_state = Some(state);
        self
    }
}
