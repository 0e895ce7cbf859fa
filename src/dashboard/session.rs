//! Who a dashboard request comes from: the session cookie's id → a live
//! `dashboard_sessions` row (by the id's sha256) → its API token, which must
//! still be live (revoking a token ends its sessions at the next request).

use super::cookies;
use super::csrf::{random_token, sha256_hex};
use super::views::layout::Nav;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::api_tokens::{self, ApiToken};
use crate::store::dashboard_sessions::{self, SessionRow};
use axum::http::HeaderMap;

/// A signed-in request.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// sha256 of the session id (the row's key).
    pub session: String,
    /// The session's API token (its name is the actor of what it does).
    pub token: ApiToken,
    /// The CSRF token the session's forms carry.
    pub csrf: String,
}

impl Viewer {
    /// The header's view of the viewer.
    pub fn nav(&self) -> Nav<'_> {
        Nav {
            who: &self.token.name,
            scope: self.token.scope.as_str(),
            csrf: &self.csrf,
        }
    }

    /// Whether the viewer may use actions (an admin-scope token).
    pub fn may_write(&self) -> bool {
        self.token.scope.may_write()
    }

    /// 403 unless the submitted form carries this session's CSRF token.
    pub(super) fn check_csrf(&self, form: &super::Form) -> Result<(), super::UiError> {
        if super::csrf::matches(&self.csrf, form.get("csrf")) {
            Ok(())
        } else {
            Err(super::UiError::Forbidden(
                "The form's CSRF token is missing or wrong: reload the page and try again.".into(),
            ))
        }
    }
}

/// The viewer of a request, or `None` without a live session.
pub async fn viewer(state: &AppState, headers: &HeaderMap) -> Result<Option<Viewer>, StoreError> {
    let Some(id) = cookies::get(headers, cookies::SESSION).filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    let hash = sha256_hex(id);
    let now = state.clock.now();
    let Some(row) = dashboard_sessions::find_live(&state.db, &hash, now).await? else {
        return Ok(None);
    };
    let Some(token) = api_tokens::live(&state.db, row.token_id).await? else {
        return Ok(None);
    };
    Ok(Some(Viewer {
        session: row.id_sha256,
        token,
        csrf: row.csrf,
    }))
}

/// Opens a session for the API token whose secret this is: the new session
/// id (the cookie's value), or `None` when the secret authenticates nothing.
pub async fn sign_in(state: &AppState, secret: &str) -> Result<Option<String>, StoreError> {
    let now = state.clock.now();
    let Some(token) = api_tokens::authenticate(&state.db, secret.trim(), now).await? else {
        return Ok(None);
    };
    dashboard_sessions::delete_expired(&state.db, now).await?;
    let ttl = chrono::Duration::from_std(state.config.dashboard.session_ttl.0)
        .unwrap_or(chrono::Duration::hours(8));
    let id = random_token();
    let row = SessionRow {
        id_sha256: sha256_hex(&id),
        token_id: token.id,
        csrf: random_token(),
        expires_at: now + ttl,
    };
    dashboard_sessions::create(&state.db, &row, now).await?;
    tracing::info!(token = %token.name, "dashboard sign-in");
    Ok(Some(id))
}

/// The viewer, or the sign-in page for a request without a live session.
pub async fn require(state: &AppState, headers: &HeaderMap) -> Result<Viewer, super::UiError> {
    viewer(state, headers).await?.ok_or(super::UiError::SignIn)
}
