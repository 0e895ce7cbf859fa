//! Bearer-token authentication of the REST API: the [`ReadAccess`] and
//! [`AdminAccess`] extractors (401 without a live token, 403 for a read
//! token on a write route), the probe guard for `api.open_probes: false`,
//! and the JSON error every API route answers with.

use crate::state::AppState;
use crate::store::api_tokens::{self, ApiToken};
use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every API error.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ApiErrorBody {
    /// A stable code: `unauthorized`, `forbidden`, `not_found`,
    /// `bad_request`, `unavailable`, `internal`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

/// An API failure, answered as JSON with its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or not a live one.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The token's scope does not allow this route.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// A malformed parameter, filter or cursor.
    #[error("{0}")]
    BadRequest(String),
    /// Cannot serve it now (retry later).
    #[error("{0}")]
    Unavailable(String),
    /// Anything else; the detail is logged, not returned.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// Logs an internal failure and hides its detail from the caller.
    pub fn internal(what: &str, e: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "{what}");
        ApiError::Internal
    }
}

impl From<crate::api::read_model::ReadError> for ApiError {
    fn from(e: crate::api::read_model::ReadError) -> ApiError {
        use crate::api::read_model::ReadError;
        match e {
            ReadError::BadCursor(_) | ReadError::BadFilter(_) => {
                ApiError::BadRequest(e.to_string())
            }
            ReadError::Store(s) => ApiError::internal("API read failed", &s),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let body = ApiErrorBody {
            error: code.to_string(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        match self {
            ApiError::Unauthorized(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"bytegate\""),
                );
            }
            ApiError::Unavailable(_) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        response
    }
}

/// A caller with a live token of any scope: the GET routes.
#[derive(Debug, Clone)]
pub struct ReadAccess(pub ApiToken);

/// A caller with a live admin token: the write routes (deploy, rollback).
#[derive(Debug, Clone)]
pub struct AdminAccess(pub ApiToken);

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        bearer_token(parts, state).await.map(ReadAccess)
    }
}

impl FromRequestParts<AppState> for AdminAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts, state).await?;
        if !token.scope.may_write() {
            return Err(ApiError::Forbidden(format!(
                "token `{}` has the `{}` scope; this route needs an `admin` token",
                token.name, token.scope
            )));
        }
        Ok(AdminAccess(token))
    }
}

/// The live token whose secret an `Authorization: Bearer` header carries.
async fn bearer_token(parts: &Parts, state: &AppState) -> Result<ApiToken, ApiError> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "send `Authorization: Bearer <token>` (create one with `bytegate token create`)",
        ))?;
    let secret = header
        .to_str()
        .ok()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim())
        .ok_or(ApiError::Unauthorized(
            "the Authorization header must be `Bearer <token>`",
        ))?;
    authenticate_secret(state, secret).await
}

/// The live token of `secret` (also for the dashboard's cookie): 401 when
/// there is none.
pub async fn authenticate_secret(state: &AppState, secret: &str) -> Result<ApiToken, ApiError> {
    api_tokens::authenticate(&state.db, secret, state.clock.now())
        .await
        .map_err(|e| ApiError::internal("authenticating an API token failed", &e))?
        .ok_or(ApiError::Unauthorized("the token is unknown or revoked"))
}

/// Middleware for the probes (`/health`, `/readyz`, `/metrics`) when
/// `api.open_probes` is false: a live token of any scope is required.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match ReadAccess::from_request_parts(&mut parts, &state).await {
        Ok(_) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => e.into_response(),
    }
}
