//! The operator surface's REST API: `/api/v1` (JSON, cursor pagination,
//! `Authorization: Bearer` tokens from `bytegate token create`) and its
//! OpenAPI document at `/api/openapi.json`, generated from the handlers and
//! the read model's types so it cannot drift from them.
//!
//! - [`read_model`]: what the API returns (and the dashboard renders).
//! - [`auth`]: the token extractors (401 / 403) and the probe guard.
//! - `routes`: the handlers; actions run the rollout flow's deploy and
//!   rollback requests, exactly as the comment commands do.

pub mod auth;
pub mod read_model;
mod routes;

pub use routes::{Action, ActionResult, outcome_status, run_action};

use crate::state::AppState;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::LazyLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// The `/api/v1` routes and `/api/openapi.json`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/v1/changes", get(routes::list_changes))
        .route("/api/v1/changes/{id}", get(routes::get_change))
        .route(
            "/api/v1/changes/{id}/stages/{environment}/deploy",
            post(routes::deploy),
        )
        .route(
            "/api/v1/changes/{id}/stages/{environment}/rollback",
            post(routes::rollback),
        )
        .route("/api/v1/deployments", get(routes::list_deployments))
        .route("/api/v1/audit", get(routes::list_audit))
        .route("/api/v1/audit/chain", get(routes::audit_chain))
        .route("/api/v1/backups", get(routes::list_backups))
        .route("/api/v1/targets", get(routes::list_targets))
}

/// The OpenAPI description of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "bytegate API",
        description = "Changes (pull / merge requests), their reviews, approvals and rollouts; deployments, audit entries and backups; the target databases' check; deploy and rollback actions under the comment commands' policy. Authenticate with `Authorization: Bearer <token>` (`bytegate token create`)."
    ),
    paths(
        routes::list_changes,
        routes::get_change,
        routes::deploy,
        routes::rollback,
        routes::list_deployments,
        routes::list_audit,
        routes::audit_chain,
        routes::list_backups,
        routes::list_targets,
    ),
    // The probe's own types: `TargetStatus` flattens them through a
    // hand-made schema, which does not register them.
    components(schemas(
        auth::ApiErrorBody,
        ActionResult,
        crate::deploy::check::HistoryState,
        crate::deploy::check::LockState,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "changes", description = "Pull / merge requests as bytegate knows them"),
        (name = "deployments", description = "Rollout stages"),
        (name = "audit", description = "The hash-chained audit trail"),
        (name = "backups", description = "Logical backups of target databases"),
        (name = "targets", description = "The target databases' connection check"),
        (name = "actions", description = "Deploy and rollback (admin tokens)"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the paths name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document, rendered once.
static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
});

/// `GET /api/openapi.json` (open: it describes, it holds no data).
async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON.as_str(),
    )
}
