//! `POST /webhooks/*`: authenticate on the raw body, parse into a typed event,
//! store the delivery and its job in one transaction, answer fast.

mod body;
pub mod github;
pub mod gitlab;
pub mod signature;

use crate::event::Event;
use crate::state::AppState;
use crate::store::deliveries::{self, NewDelivery, Recorded};
use crate::store::jobs::{Enqueued, NewJob};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The job kind that carries a forge-neutral [`crate::event::Event`].
pub const EVENT_JOB: &str = "event";

fn reply(code: StatusCode, status: &str) -> Response {
    let mut r = (code, Json(json!({ "status": status }))).into_response();
    r.extensions_mut()
        .insert(Answered(answer_label(code, status)));
    r
}

/// The `result` label of an answer, kept on the response for [`observed`].
#[derive(Debug, Clone, Copy)]
struct Answered(&'static str);

fn answer_label(code: StatusCode, status: &str) -> &'static str {
    match status {
        "queued" => "queued",
        "coalesced" => "coalesced",
        "ignored" => "ignored",
        "duplicate" => "duplicate",
        "pong" => "ping",
        "stored; not understood" => "unparsable",
        "could not store the delivery" => "error",
        _ => code_label(code),
    }
}

fn code_label(code: StatusCode) -> &'static str {
    match code.as_u16() {
        401 => "bad_signature",
        404 => "not_configured",
        408 => "timeout",
        413 => "too_large",
        503 => "busy",
        400..=499 => "bad_request",
        _ => "error",
    }
}

/// Counts a delivery's answer in `bytegate_webhooks_received_total`.
fn observed(
    metrics: &crate::telemetry::metrics::Metrics,
    forge: &str,
    event: &str,
    r: Response,
) -> Response {
    let result = r
        .extensions()
        .get::<Answered>()
        .map_or_else(|| code_label(r.status()), |a| a.0);
    metrics.webhook(forge, event, result);
    r
}

/// The event header's value for the `event` label: one of the forges'
/// event names, else `other`. The header is read before authentication, so
/// its raw value would let anyone grow the label set without bound.
fn event_name(headers: &HeaderMap, name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        // GitHub
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "issue_comment",
        "check_run",
        "check_suite",
        "push",
        "ping",
        "installation",
        "installation_repositories",
        "status",
        "deployment",
        "deployment_status",
        // GitLab
        "Merge Request Hook",
        "Note Hook",
        "Push Hook",
        "Tag Push Hook",
        "Pipeline Hook",
        "Job Hook",
        "Deployment Hook",
        "Emoji Hook",
        "System Hook",
    ];
    match header(headers, name) {
        None => "unknown",
        Some(v) => KNOWN.iter().find(|k| **k == v).copied().unwrap_or("other"),
    }
}

/// 503 with Retry-After: the delivery was not taken; the forge may send it
/// again later.
fn busy() -> Response {
    let mut r = reply(StatusCode::SERVICE_UNAVAILABLE, "busy, retry later");
    r.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    r
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /webhooks/FORGE` for every forge: the one place a forge's webhook
/// endpoint is registered (one line per forge).
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/webhooks/github", post(github_webhook))
        .route("/webhooks/gitlab", post(gitlab_webhook))
}

/// A delivery's body (read within the byte budget and deadline) and its
/// forge's settings; the refusal when the body cannot be read or the forge
/// is not configured (404, as if the endpoint did not exist).
async fn read_for<'s, S: 's>(
    state: &'s AppState,
    headers: &HeaderMap,
    body: Body,
    forge: &str,
    settings: impl FnOnce(&'s crate::config::Forges) -> Option<&'s S>,
) -> Result<(body::Read, &'s S), Response> {
    let body = body::read(state, headers, body)
        .await
        .map_err(IntoResponse::into_response)?;
    match settings(&state.config.forges) {
        Some(s) => Ok((body, s)),
        None => Err(reply(
            StatusCode::NOT_FOUND,
            &format!("{forge} is not configured"),
        )),
    }
}

/// `POST /webhooks/github`.
pub async fn github_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (metrics, event) = (
        state.metrics.clone(),
        event_name(&headers, "x-github-event"),
    );
    let r = github_delivery(state, headers, body).await;
    observed(&metrics, "github", event, r)
}

async fn github_delivery(state: AppState, headers: HeaderMap, body: Body) -> Response {
    let (body, gh) = match read_for(&state, &headers, body, "github", |f| f.github.as_ref()).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let signature = header(&headers, "x-hub-signature-256");
    if !signature::verify_github(gh.webhook_secret.expose().as_bytes(), &body, signature) {
        tracing::warn!(
            delivery = header(&headers, "x-github-delivery"),
            "github delivery refused: bad or missing signature"
        );
        state.metrics.signature_failure("github");
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
    // GitHub's default content type: the JSON is the `payload` form field
    // (the signature above covers the raw form body).
    let form;
    let json: &[u8] = if is_form(&headers) {
        match form_payload(&body) {
            Some(p) => {
                form = p;
                form.as_bytes()
            }
            None => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    "form-encoded delivery without a `payload` field: set the webhook's content type to application/json",
                );
            }
        }
    } else {
        &body
    };
    ingest(
        &state,
        "github",
        delivery_id,
        event,
        json,
        github::parse,
        Unparsable::Refuse,
    )
    .await
}

/// `POST /webhooks/gitlab`.
pub async fn gitlab_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (metrics, event) = (
        state.metrics.clone(),
        event_name(&headers, "x-gitlab-event"),
    );
    let r = gitlab_delivery(state, headers, body).await;
    observed(&metrics, "gitlab", event, r)
}

async fn gitlab_delivery(state: AppState, headers: HeaderMap, body: Body) -> Response {
    let (body, gl) = match read_for(&state, &headers, body, "gitlab", |f| f.gitlab.as_ref()).await {
        Ok(found) => found,
        Err(refused) => return refused,
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
        state.metrics.signature_failure("gitlab");
        return reply(StatusCode::UNAUTHORIZED, "bad token");
    }
    // A resend keeps its Idempotency-Key; the event UUID names the event.
    // GitLab disables a hook after four failed deliveries in a row, so an
    // authenticated delivery without them is still stored (under a digest of
    // its body) and acknowledged, never refused.
    let id = match header(&headers, "idempotency-key").or(uuid) {
        Some(id) => id.to_string(),
        None => format!("sha256:{}", hex::encode(Sha256::digest(&body.bytes))),
    };
    let event = header(&headers, "x-gitlab-event").unwrap_or("(no X-Gitlab-Event)");
    ingest(
        &state,
        "gitlab",
        &id,
        event,
        &body,
        gitlab::parse,
        Unparsable::StoreAndAcknowledge,
    )
    .await
}

fn is_form(headers: &HeaderMap) -> bool {
    header(headers, "content-type").is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

/// The `payload` field of a form-encoded GitHub delivery (GitHub's default
/// content type), `None` when the form has none.
pub fn form_payload(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
}

/// What a delivery is about, for the deliveries table and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// `action` of the payload, when it has one.
    pub action: Option<String>,
    /// `owner/name` of the repository, when it has one.
    pub repo: Option<String>,
    /// The event to act on; `None` for events bytegate ignores.
    pub event: Option<Event>,
}

/// The payload is JSON but not the shape the forge documents for this event.
#[derive(Debug, thiserror::Error)]
#[error("`{event}` payload does not have the expected shape: {source}")]
pub struct ShapeError {
    event: String,
    source: serde_json::Error,
}

impl ShapeError {
    /// Wraps a deserialization error of an event type.
    pub fn new(event: &str, source: serde_json::Error) -> Self {
        ShapeError {
            event: event.to_string(),
            source,
        }
    }
}

/// A forge's delivery parser: event type (its header) and payload in, a
/// forge-neutral [`Parsed`] out. Every forge's parser has this shape.
pub type Parser = fn(&str, &serde_json::Value) -> Result<Parsed, ShapeError>;

/// What to do with an authenticated delivery that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unparsable {
    /// Answer 400 (GitHub shows it in the hook's delivery log).
    Refuse,
    /// Store it (with why), log it and answer 202: the forge disables a
    /// hook whose deliveries keep failing (GitLab: after four in a row).
    StoreAndAcknowledge,
}

/// Why an authenticated delivery's body was not understood.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The body is not JSON.
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not the shape the forge documents for the event.
    #[error("unexpected payload shape: {0}")]
    Shape(#[from] ShapeError),
}

/// An authenticated delivery's body (JSON) parsed by a forge's `parse` for
/// `event`, as the webhook endpoints do before storing it (the body is
/// stored as received; every NUL in the parsed strings is replaced, see
/// `without_nul`): what it is about.
pub fn parse_delivery(event: &str, body: &[u8], parse: Parser) -> Result<Parsed, PayloadError> {
    let payload = without_nul(body, serde_json::from_slice::<serde_json::Value>(body)?);
    Ok(parse(event, &payload)?)
}

/// After authentication: parse, store the delivery with its job, answer.
async fn ingest(
    state: &AppState,
    forge: &str,
    delivery_id: &str,
    event: &str,
    body: &[u8],
    parse: Parser,
    unparsable: Unparsable,
) -> Response {
    // Past `server.max_in_flight` a delivery is shed now: queueing it for the
    // database would only make every acknowledgement late.
    let Ok(_slot) = state.in_flight.try_acquire() else {
        tracing::warn!(
            forge,
            delivery = delivery_id,
            "deliveries in flight at server.max_in_flight: answering 503"
        );
        return busy();
    };
    let parsed = match parse_delivery(event, body, parse) {
        Ok(ok) => ok,
        Err(error) => {
            tracing::warn!(forge, delivery = delivery_id, event, error = %error, "authenticated delivery not understood");
            return match unparsable {
                // The sender is authenticated: say what is wrong.
                Unparsable::Refuse => reply(StatusCode::BAD_REQUEST, &error.to_string()),
                Unparsable::StoreAndAcknowledge => {
                    store_unparsable(state, forge, delivery_id, event, body, &error).await
                }
            };
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
        body,
        parse_error: None,
    };
    store_and_answer(state, &record, job.as_ref()).await
}

/// The payload with every NUL in its strings and keys replaced by U+FFFD:
/// valid JSON may carry `\u0000`, PostgreSQL's JSONB (the job's event)
/// cannot hold it, and a delivery must never be refused for it (the
/// replacement shows in the rendered title). `body` is the JSON text: without
/// an escaped NUL in it the value is returned as it is, unwalked.
fn without_nul(body: &[u8], value: serde_json::Value) -> serde_json::Value {
    if body.windows(6).any(|w| w == b"\\u0000") {
        replace_nul(value)
    } else {
        value
    }
}

fn replace_nul(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let clean = |s: String| {
        if s.contains('\0') {
            s.replace('\0', "\u{fffd}")
        } else {
            s
        }
    };
    match value {
        Value::String(s) => Value::String(clean(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(replace_nul).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (clean(k), replace_nul(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Stores a delivery that did not parse, with why, and queues nothing.
async fn store_unparsable(
    state: &AppState,
    forge: &str,
    delivery_id: &str,
    event: &str,
    body: &[u8],
    error: &PayloadError,
) -> Response {
    let reason = error.to_string();
    let record = NewDelivery {
        forge,
        delivery_id,
        event,
        action: None,
        repo: None,
        body,
        parse_error: Some(&reason),
    };
    match deliveries::record(&state.db, &record, None).await {
        Ok(Recorded::Duplicate) => reply(StatusCode::OK, "duplicate"),
        Ok(Recorded::Stored { id, .. }) => {
            tracing::warn!(
                forge,
                delivery = delivery_id,
                row = id,
                event,
                "stored a delivery bytegate could not parse; nothing queued"
            );
            reply(StatusCode::ACCEPTED, "stored; not understood")
        }
        Err(e) => {
            tracing::error!(forge, delivery = delivery_id, error = %e, "could not store delivery");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not store the delivery",
            )
        }
    }
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
