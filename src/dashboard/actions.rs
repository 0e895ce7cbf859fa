//! The dashboard's actions: deploy or roll back a stage from the change
//! page. Both run the API's action path (`api::run_action`, the comment
//! command's `rollout::command`), so the policy, the audit entry and the
//! reply are the same whichever way an operator asks.

use super::Form;
use super::error::UiError;
use super::pages::render_change;
use super::session::require;
use crate::api::{Action, outcome_status, run_action};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// `POST /ui/changes/{id}/stages/{environment}/deploy`: see [`act`].
pub async fn deploy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, environment)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    act(&state, &headers, &id, &environment, &body, Action::Deploy).await
}

/// `POST /ui/changes/{id}/stages/{environment}/rollback`: see [`act`].
pub async fn rollback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, environment)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    act(&state, &headers, &id, &environment, &body, Action::Rollback).await
}

/// Runs `action` on a stage: CSRF-checked, admin sessions only; the token's
/// name is the actor. Answers the change page with what the request came to.
async fn act(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    environment: &str,
    body: &[u8],
    action: Action,
) -> Result<Response, UiError> {
    let viewer = require(state, headers).await?;
    viewer.check_csrf(&Form::parse(body))?;
    if !viewer.may_write() {
        let verb = match action {
            Action::Deploy => "Deploying",
            Action::Rollback => "Rolling back",
        };
        return Err(UiError::Forbidden(format!(
            "{verb} needs an admin token; `{}` is a read token.",
            viewer.token.name
        )));
    }
    let change: i64 = id
        .parse()
        .map_err(|_| UiError::NotFound(format!("There is no change {id:?}.")))?;
    let reply = run_action(state, change, environment, &viewer.token.name, action).await?;
    let status = outcome_status(reply.outcome);
    match status {
        StatusCode::NOT_FOUND => return Err(UiError::NotFound(reply.text)),
        StatusCode::SERVICE_UNAVAILABLE => return Err(UiError::Unavailable(reply.text)),
        _ => {}
    }
    render_change(state, &viewer, id, status, Some(&reply.text)).await
}
