//! Reading a webhook body before its signature is checked: bounded in time
//! (`server.body_read_timeout`) and in bytes held across all connections
//! (`server.body_budget_bytes`), so stalled or hostile clients cannot pin
//! connections or memory.

use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;

/// A body read whole, with its share of the byte budget: the share returns
/// when this is dropped (after the delivery is answered).
pub(crate) struct Read {
    /// The raw body.
    pub bytes: Bytes,
    _budget: Vec<OwnedSemaphorePermit>,
}

impl std::ops::Deref for Read {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Past `server.max_body_bytes`: 413.
    TooLarge,
    /// The byte budget is spent: 503 with Retry-After.
    OverBudget,
    /// The client broke off: 400.
    Unreadable,
    /// Not received within `server.body_read_timeout`: 408.
    TimedOut,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (code, status) = match self {
            Refusal::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            Refusal::OverBudget => return close(super::busy()),
            Refusal::Unreadable => (StatusCode::BAD_REQUEST, "could not read the body"),
            Refusal::TimedOut => (StatusCode::REQUEST_TIMEOUT, "body not received in time"),
        };
        close((code, Json(json!({ "status": status }))).into_response())
    }
}

/// The rest of the body is not read: the connection cannot be reused.
fn close(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Takes `n` bytes of the budget now or never (a full budget answers 503
/// rather than queueing an unbounded wait).
fn reserve(state: &AppState, n: usize) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
    if n == 0 {
        return Ok(None);
    }
    let n = u32::try_from(n).map_err(|_| Refusal::TooLarge)?;
    match state.body_budget.clone().try_acquire_many_owned(n) {
        Ok(p) => Ok(Some(p)),
        Err(_) => {
            tracing::warn!(bytes = n, "webhook body budget spent: answering 503");
            Err(Refusal::OverBudget)
        }
    }
}

/// Reads the body whole within the configured time and budget. A declared
/// Content-Length is reserved before any byte is read; a body without one is
/// reserved chunk by chunk.
pub(crate) async fn read(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Read, Refusal> {
    let limit = state.config.server.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut budget = Vec::new();
    if let Some(n) = declared {
        if n > limit {
            return Err(Refusal::TooLarge);
        }
        budget.extend(reserve(state, n)?);
    }
    let collect = async {
        let mut body = body;
        let mut buf = Vec::with_capacity(declared.unwrap_or(0));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                tracing::debug!(error = %e, "webhook body read failed");
                Refusal::Unreadable
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if buf.len() + data.len() > limit {
                return Err(Refusal::TooLarge);
            }
            let covered = declared.unwrap_or(0);
            let extra = (buf.len() + data.len()).saturating_sub(covered.max(buf.len()));
            budget.extend(reserve(state, extra)?);
            buf.extend_from_slice(&data);
        }
        Ok(buf)
    };
    match tokio::time::timeout(state.config.server.body_read_timeout.0, collect).await {
        Ok(Ok(buf)) => Ok(Read {
            bytes: Bytes::from(buf),
            _budget: budget,
        }),
        Ok(Err(r)) => Err(r),
        Err(_) => {
            tracing::warn!("webhook body not received in time: answering 408");
            Err(Refusal::TimedOut)
        }
    }
}
