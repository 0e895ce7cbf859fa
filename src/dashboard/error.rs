//! What a dashboard handler can fail with, and the page each failure shows.

use super::views::login;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// A dashboard request that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// No live session: go to the sign-in page.
    #[error("sign in first")]
    SignIn,
    /// A form without the right CSRF token, or an action the token's scope
    /// does not allow.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such change (or page).
    #[error("{0}")]
    NotFound(String),
    /// A form that cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// The meta database failed (logged; the page says only that).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            UiError::SignIn => return Redirect::to("/ui/login").into_response(),
            UiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.to_string()),
            UiError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            UiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            UiError::Store(e) => {
                tracing::error!(error = %e, "dashboard: meta database failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The meta database did not answer; try again.".to_string(),
                )
            }
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            login::error(status, &message, None).into_string(),
        )
            .into_response()
    }
}
