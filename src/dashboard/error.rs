//! What a dashboard handler can fail with, and the page each failure shows.

use super::views::login;
use axum::http::StatusCode;
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
    Forbidden(String),
    /// No such change (or page).
    #[error("{0}")]
    NotFound(String),
    /// A form that cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// Cannot act now (busy, or this replica runs no flow).
    #[error("{0}")]
    Unavailable(String),
    /// An action failed inside (logged where it failed).
    #[error("internal error")]
    Internal,
    /// The meta database failed (logged; the page says only that).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            UiError::SignIn => return Redirect::to("/ui/login").into_response(),
            UiError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            UiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m.clone()),
            UiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed inside bytegate; the logs say what.".to_string(),
            ),
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
        super::html(status, login::error(status, &message, None))
    }
}

impl From<crate::api::auth::ApiError> for UiError {
    fn from(e: crate::api::auth::ApiError) -> UiError {
        use crate::api::auth::ApiError as A;
        match e {
            A::Unauthorized(m) => UiError::Forbidden(m.to_string()),
            A::Forbidden(m) => UiError::Forbidden(m),
            A::NotFound(m) => UiError::NotFound(m),
            A::BadRequest(m) => UiError::BadRequest(m),
            A::Unavailable(m) => UiError::Unavailable(m),
            A::Internal => UiError::Internal,
        }
    }
}
