//! The read-only pages: the change list, one change, the audit log (each
//! asks the read model, `crate::api::read_model`, the REST API's too) and the
//! targets' connection check (`deploy::check`, the CLI's too); nothing here
//! queries a database itself.

use super::error::UiError;
use super::html;
use super::session::require;
use super::views::{self, change::Extras};
use crate::api::read_model::{self, AuditQuery, ChangeQuery, PageRequest, ReadError};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::time::Duration;

/// How long each target's check may take on `/ui/targets`: short, a person
/// waits for the page (the checks run concurrently).
const TARGETS_TIMEOUT: Duration = Duration::from_secs(5);

impl From<ReadError> for UiError {
    fn from(e: ReadError) -> UiError {
        match e {
            ReadError::BadCursor(_) | ReadError::BadFilter(_) => UiError::BadRequest(e.to_string()),
            ReadError::Store(e) => UiError::Store(e),
        }
    }
}

/// Query parameters of the list pages (all optional).
#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    /// The previous page's cursor.
    cursor: Option<String>,
    /// Only this repository.
    repo: Option<String>,
    /// Only this change state (changes) or this action (audit).
    state: Option<String>,
    /// Only this environment.
    environment: Option<String>,
}

impl ListParams {
    /// The link to the page after `cursor`, keeping the filters.
    fn next(&self, path: &str, cursor: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("cursor", cursor);
        for (k, v) in [
            ("repo", &self.repo),
            ("state", &self.state),
            ("environment", &self.environment),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                q.append_pair(k, v);
            }
        }
        format!("{path}?{}", q.finish())
    }

    /// The filters, to fill the change list's form in.
    fn filters(&self) -> views::changes::Filters<'_> {
        views::changes::Filters {
            repo: self.repo.as_deref().unwrap_or(""),
            environment: self.environment.as_deref().unwrap_or(""),
            state: self.state.as_deref().unwrap_or(""),
        }
    }

    fn page(&self) -> PageRequest {
        PageRequest {
            cursor: self.cursor.clone(),
            limit: None,
        }
    }
}

/// `GET /ui/changes`.
pub async fn changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, UiError> {
    let viewer = require(&state, &headers).await?;
    let query = ChangeQuery {
        repo: params.repo.clone(),
        environment: params.environment.clone(),
        state: params.state.clone(),
        ..Default::default()
    };
    let page = read_model::changes(
        &state.db,
        &state.config,
        &query,
        &params.page(),
        state.clock.now(),
    )
    .await?;
    let environments: Vec<String> = state
        .config
        .environments
        .iter()
        .map(|e| e.name.clone())
        .collect();
    let next = page
        .next_cursor
        .as_deref()
        .map(|c| params.next("/ui/changes", c));
    Ok(html(
        StatusCode::OK,
        views::changes::list(
            &page,
            &environments,
            params.filters(),
            next.as_deref(),
            viewer.nav(),
        ),
    ))
}

/// `GET /ui/changes/{id}`.
pub async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let viewer = require(&state, &headers).await?;
    render_change(&state, &viewer, &id, StatusCode::OK, None).await
}

/// The change page for `viewer` (with deploy buttons for an admin session),
/// `flash` saying what an action just did.
pub(super) async fn render_change(
    state: &AppState,
    viewer: &super::session::Viewer,
    id: &str,
    status: StatusCode,
    flash: Option<&str>,
) -> Result<Response, UiError> {
    let missing = || UiError::NotFound(format!("There is no change {id:?}."));
    let id: i64 = id.parse().map_err(|_| missing())?;
    let detail = read_model::change(&state.db, &state.config, id, state.clock.now())
        .await?
        .ok_or_else(missing)?;
    let extras = Extras {
        deploy_csrf: viewer.may_write().then_some(viewer.csrf.as_str()),
        flash,
    };
    Ok(html(
        status,
        views::change::detail(&detail, viewer.nav(), extras),
    ))
}

/// `GET /ui/audit`: the chain's verification and the newest entries
/// (`state` filters by action, e.g. `deploy.requested`).
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> Result<Response, UiError> {
    let viewer = require(&state, &headers).await?;
    let chain = read_model::chain_status(&state.db).await?;
    let query = AuditQuery {
        repo: params.repo.clone(),
        environment: params.environment.clone(),
        action: params.state.clone(),
        ..Default::default()
    };
    let entries = read_model::audit_entries(&state.db, &query, &params.page()).await?;
    let next = entries
        .next_cursor
        .as_deref()
        .map(|c| params.next("/ui/audit", c));
    Ok(html(
        StatusCode::OK,
        views::audit::audit(&chain, &entries, next.as_deref(), viewer.nav()),
    ))
}

/// `GET /ui/targets`: checks every environment's databases now.
pub async fn targets(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let viewer = require(&state, &headers).await?;
    let report = crate::deploy::check::check_targets(&state.config, None, TARGETS_TIMEOUT)
        .await
        .map_err(|e| UiError::BadRequest(e.to_string()))?;
    Ok(html(
        StatusCode::OK,
        views::targets::targets(&report, TARGETS_TIMEOUT.as_secs(), viewer.nav()),
    ))
}
