//! `POST /webhooks/*`: authenticate on the raw body, parse into a typed event,
//! store the delivery and its job in one transaction, answer fast.

pub mod github;
pub mod gitlab;
pub mod signature;

use crate::state::AppState;
use crate::store::deliveries::{self, NewDelivery, Recorded};
use crate::store::jobs::{Enqueued, NewJob};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The job kind that carries a forge-neutral [`crate::event::Event`].
pub const EVENT_JOB: &str = "event";

fn reply(code: StatusCode, status: &str) -> Response {
    (code, Json(json!({ "status": status }))).into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /webhooks/github`.
pub async fn github_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(gh) = state.config.forges.github.as_ref() else {
        return reply(StatusCode::NOT_FOUND, "github is not configured");
    };
    let signature = header(&headers, "x-hub-signature-256");
    if !signature::verify_github(gh.webhook_secret.expose().as_bytes(), &body, signature) {
        tracing::warn!(
            delivery = header(&headers, "x-github-delivery"),
            "github delivery refused: bad or missing signature"
        );
        return reply(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let (Some(event), Some(delivery_id)) = (
        header(&headers, "x-github-event"),
        header(&headers, "x-github-delivery"),
    ) else {
        return reply(
            StatusCode::BAD_REQUEST,
            "missing X-GitHub-Event or X-GitHub-Delivery",
        );
    };
    if event == "ping" {
        return reply(StatusCode::OK, "pong");
    }
    ingest(&state, "github", delivery_id, event, &body, github::parse).await
}

/// `POST /webhooks/gitlab`.
pub async fn gitlab_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(gl) = state.config.forges.gitlab.as_ref() else {
        return reply(StatusCode::NOT_FOUND, "gitlab is not configured");
    };
    let uuid = header(&headers, "x-gitlab-event-uuid");
    if !signature::verify_gitlab(
        gl.webhook_token.expose().as_bytes(),
        header(&headers, "x-gitlab-token"),
    ) {
        tracing::warn!(
            delivery = uuid,
            "gitlab delivery refused: bad or missing token"
        );
        return reply(StatusCode::UNAUTHORIZED, "bad token");
    }
    // A resend keeps its Idempotency-Key; the event UUID names the event.
    let id = header(&headers, "idempotency-key").or(uuid);
    let (Some(event), Some(id)) = (header(&headers, "x-gitlab-event"), id) else {
        return reply(
            StatusCode::BAD_REQUEST,
            "missing X-Gitlab-Event or X-Gitlab-Event-UUID",
        );
    };
    ingest(&state, "gitlab", id, event, &body, gitlab::parse).await
}

type Parser = fn(&str, &serde_json::Value) -> Result<github::Parsed, github::ShapeError>;

/// After authentication: parse, store the delivery with its job, answer.
async fn ingest(
    state: &AppState,
    forge: &str,
    delivery_id: &str,
    event: &str,
    body: &[u8],
    parse: Parser,
) -> Response {
    let payload: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(forge, delivery = delivery_id, event, error = %e, "malformed JSON in an authenticated delivery");
            return reply(StatusCode::BAD_REQUEST, "malformed JSON");
        }
    };
    let parsed = match parse(event, &payload) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(forge, delivery = delivery_id, event, error = %e, "unexpected payload shape");
            return reply(StatusCode::BAD_REQUEST, "unexpected payload shape");
        }
    };
    let job = parsed.event.as_ref().map(|ev| NewJob {
        kind: EVENT_JOB.to_string(),
        payload: serde_json::to_value(ev).unwrap_or_default(),
        coalesce_key: ev.coalesce_key(),
        max_attempts: state.config.server.job_max_attempts,
    });
    let record = NewDelivery {
        forge,
        delivery_id,
        event,
        action: parsed.action.as_deref(),
        repo: parsed.repo.as_deref(),
        payload: &payload,
    };
    store_and_answer(state, &record, job.as_ref()).await
}

/// Stores a delivery and its job, wakes a worker, and picks the answer.
async fn store_and_answer(
    state: &AppState,
    record: &NewDelivery<'_>,
    job: Option<&NewJob>,
) -> Response {
    match deliveries::record(&state.db, record, job).await {
        Ok(Recorded::Duplicate) => {
            tracing::info!(
                forge = record.forge,
                delivery = record.delivery_id,
                "duplicate delivery: nothing queued"
            );
            reply(StatusCode::OK, "duplicate")
        }
        Ok(Recorded::Stored { job: None, .. }) => {
            tracing::debug!(
                forge = record.forge,
                delivery = record.delivery_id,
                event = record.event,
                "stored; nothing to do for this event"
            );
            reply(StatusCode::ACCEPTED, "ignored")
        }
        Ok(Recorded::Stored {
            job: Some(Enqueued::Coalesced),
            ..
        }) => {
            tracing::info!(
                forge = record.forge,
                delivery = record.delivery_id,
                "same work already queued: coalesced"
            );
            reply(StatusCode::ACCEPTED, "coalesced")
        }
        Ok(Recorded::Stored {
            job: Some(Enqueued::Queued(id)),
            ..
        }) => {
            state.wake.notify_one();
            tracing::info!(
                forge = record.forge,
                delivery = record.delivery_id,
                job = id,
                "queued"
            );
            reply(StatusCode::ACCEPTED, "queued")
        }
        Err(e) => {
            tracing::error!(forge = record.forge, delivery = record.delivery_id, error = %e, "could not store delivery");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not store the delivery",
            )
        }
    }
}

/// A forge's own payload example, a verbatim copy under
/// `tests/fixtures/FORGE/upstream/NAME` (from `../shared/upstream`). Always
/// present in a checkout: a missing one fails the test that asked for it.
#[cfg(test)]
pub(crate) fn upstream_example(forge: &str, name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/{forge}/upstream/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}
