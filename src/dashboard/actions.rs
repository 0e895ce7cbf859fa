//! The dashboard's action: deploy a stage from the change page. It runs the
//! API's action path (`api::run_action`, the comment command's
//! `rollout::command`), so the policy, the audit entry and the reply are the
//! same whichever way an operator asks.

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

/// `POST /ui/changes/{id}/stages/{environment}/deploy`: CSRF-checked, admin
/// sessions only; the token's name is the actor. Answers the change page
/// with what the request came to.
pub async fn deploy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, environment)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, UiError> {
    let viewer = require(&state, &headers).await?;
    viewer.check_csrf(&Form::parse(&body))?;
    if !viewer.may_write() {
        return Err(UiError::Forbidden(format!(
            "Deploying needs an admin token; `{}` is a read token.",
            viewer.token.name
        )));
    }
    let change: i64 = id
        .parse()
        .map_err(|_| UiError::NotFound(format!("There is no change {id:?}.")))?;
    let reply = run_action(
        &state,
        change,
        &environment,
        &viewer.token.name,
        Action::Deploy,
    )
    .await?;
    let status = outcome_status(reply.outcome);
    match status {
        StatusCode::NOT_FOUND => return Err(UiError::NotFound(reply.text)),
        StatusCode::SERVICE_UNAVAILABLE => return Err(UiError::Unavailable(reply.text)),
        _ => {}
    }
    render_change(&state, &viewer, &id, status, Some(&reply.text)).await
}
