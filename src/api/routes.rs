//! The `/api/v1` handlers: thin shells over the read model and the rollout
//! flow's deploy and rollback requests. Each carries its OpenAPI
//! description (`utoipa::path`), from which `/api/openapi.json` is built.

use super::auth::{AdminAccess, ApiError, ApiErrorBody, ReadAccess};
use super::read_model::{
    self, AuditPage, AuditQuery, BackupPage, BackupQuery, ChainStatus, ChangeDetail, ChangePage,
    ChangeQuery, DeploymentPage, DeploymentQuery, PageRequest,
};
use crate::deploy::check::{self, CheckError, TargetsReport};
use crate::event::{ForgeKind, PrRef, RepoRef};
use crate::flow::rollout::{self, ActionOutcome, ActionReply};
use crate::state::AppState;
use crate::store::listings;
use crate::store::rollouts::{self, StageState};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A query string, or 400 naming what is wrong with it.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::BadRequest(e.body_text()))
}

/// List changes (one per pull / merge request), newest first.
#[utoipa::path(
    get, path = "/api/v1/changes", tag = "changes",
    params(ChangeQuery, PageRequest),
    responses(
        (status = 200, description = "A page of changes", body = ChangePage),
        (status = 400, description = "A malformed filter or cursor", body = ApiErrorBody),
        (status = 401, description = "No live token", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_changes(
    State(state): State<AppState>,
    _: ReadAccess,
    filter: Result<Query<ChangeQuery>, QueryRejection>,
    page: Result<Query<PageRequest>, QueryRejection>,
) -> Result<Json<ChangePage>, ApiError> {
    let (filter, page) = (query(filter)?, query(page)?);
    let now = state.clock.now();
    Ok(Json(
        read_model::changes(&state.db, &state.config, &filter, &page, now).await?,
    ))
}

/// One change in detail: review findings, approval records, stage timeline,
/// schema diffs and audit entries.
#[utoipa::path(
    get, path = "/api/v1/changes/{id}", tag = "changes",
    params(("id" = i64, Path, description = "The change's id")),
    responses(
        (status = 200, description = "The change", body = ChangeDetail),
        (status = 401, description = "No live token", body = ApiErrorBody),
        (status = 404, description = "No such change", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn get_change(
    State(state): State<AppState>,
    _: ReadAccess,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<ChangeDetail>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    read_model::change(&state.db, &state.config, id, state.clock.now())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("there is no change {id}")))
}

/// List deployments (rollout stages), newest first.
#[utoipa::path(
    get, path = "/api/v1/deployments", tag = "deployments",
    params(DeploymentQuery, PageRequest),
    responses(
        (status = 200, description = "A page of deployments", body = DeploymentPage),
        (status = 400, description = "A malformed filter or cursor", body = ApiErrorBody),
        (status = 401, description = "No live token", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_deployments(
    State(state): State<AppState>,
    _: ReadAccess,
    filter: Result<Query<DeploymentQuery>, QueryRejection>,
    page: Result<Query<PageRequest>, QueryRejection>,
) -> Result<Json<DeploymentPage>, ApiError> {
    let (filter, page) = (query(filter)?, query(page)?);
    let now = state.clock.now();
    Ok(Json(
        read_model::deployments(&state.db, &filter, &page, now).await?,
    ))
}

/// List audit entries, newest first.
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(AuditQuery, PageRequest),
    responses(
        (status = 200, description = "A page of audit entries", body = AuditPage),
        (status = 400, description = "A malformed filter or cursor", body = ApiErrorBody),
        (status = 401, description = "No live token", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_audit(
    State(state): State<AppState>,
    _: ReadAccess,
    filter: Result<Query<AuditQuery>, QueryRejection>,
    page: Result<Query<PageRequest>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let (filter, page) = (query(filter)?, query(page)?);
    Ok(Json(
        read_model::audit_entries(&state.db, &filter, &page).await?,
    ))
}

/// Verify the audit trail's hash chain (as `bytegate audit verify`).
#[utoipa::path(
    get, path = "/api/v1/audit/chain", tag = "audit",
    responses(
        (status = 200, description = "The chain's verification", body = ChainStatus),
        (status = 401, description = "No live token", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn audit_chain(
    State(state): State<AppState>,
    _: ReadAccess,
) -> Result<Json<ChainStatus>, ApiError> {
    Ok(Json(read_model::chain_status(&state.db).await?))
}

/// List logical backups of the target databases, newest first.
#[utoipa::path(
    get, path = "/api/v1/backups", tag = "backups",
    params(BackupQuery, PageRequest),
    responses(
        (status = 200, description = "A page of backups", body = BackupPage),
        (status = 400, description = "A malformed filter or cursor", body = ApiErrorBody),
        (status = 401, description = "No live token", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_backups(
    State(state): State<AppState>,
    _: ReadAccess,
    filter: Result<Query<BackupQuery>, QueryRejection>,
    page: Result<Query<PageRequest>, QueryRejection>,
) -> Result<Json<BackupPage>, ApiError> {
    let (filter, page) = (query(filter)?, query(page)?);
    Ok(Json(read_model::backups(&state.db, &filter, &page).await?))
}

/// `GET /api/v1/targets` filter.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetsQuery {
    /// Only this environment's databases (default: every environment's).
    environment: Option<String>,
}

/// Check the target databases ("Test Connection", as `bytegate targets
/// check`): reachable, server version, TLS, history table, deploy lock,
/// tables and size. Read-only; the checks run concurrently, each within
/// `api.targets_timeout` (default 5 s). A target that fails is reported in
/// the body (`ok: false`), not as an error status.
#[utoipa::path(
    get, path = "/api/v1/targets", tag = "targets",
    params(TargetsQuery),
    responses(
        (status = 200, description = "Every checked target", body = TargetsReport),
        (status = 400, description = "A malformed filter", body = ApiErrorBody),
        (status = 401, description = "No live token", body = ApiErrorBody),
        (status = 404, description = "No such environment", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn list_targets(
    State(state): State<AppState>,
    _: ReadAccess,
    filter: Result<Query<TargetsQuery>, QueryRejection>,
) -> Result<Json<TargetsReport>, ApiError> {
    let filter = query(filter)?;
    let timeout = state.config.api.targets_timeout.0;
    check::check_targets(&state.config, filter.environment.as_deref(), timeout)
        .await
        .map(Json)
        .map_err(|e| match e {
            CheckError::UnknownEnvironment(_) => ApiError::NotFound(e.to_string()),
        })
}

/// What a deploy or rollback action came to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionResult {
    /// The change.
    pub change_id: i64,
    /// The environment asked for.
    pub environment: String,
    /// What it came to.
    pub outcome: ActionOutcome,
    /// The stage's state afterwards, when there is a stage.
    pub stage_state: Option<StageState>,
    /// The reply, as the comment command would post it (Markdown); for a
    /// refusal or a wait, the reason.
    pub message: String,
}

/// Deploy a stage: exactly `/bytebase deploy ENV` (the stage runs when its
/// turn has come and its approval policy and deploy window hold; a failed
/// stage is tried again). The token's name is the actor. Runs to the end of
/// the stage before answering.
#[utoipa::path(
    post, path = "/api/v1/changes/{id}/stages/{environment}/deploy", tag = "actions",
    params(
        ("id" = i64, Path, description = "The change's id"),
        ("environment" = String, Path, description = "The stage's environment"),
    ),
    responses(
        (status = 200, description = "Deployed, already deployed, or failed (see `outcome`)", body = ActionResult),
        (status = 202, description = "The stage is deploying", body = ActionResult),
        (status = 409, description = "Not now: the policy, window or order holds the stage, or the change is not deployable", body = ActionResult),
        (status = 401, description = "No live token", body = ApiErrorBody),
        (status = 403, description = "Not an admin token", body = ApiErrorBody),
        (status = 404, description = "No such change, environment or stage", body = ApiErrorBody),
        (status = 503, description = "Busy, or actions are not available on this replica", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn deploy(
    State(state): State<AppState>,
    AdminAccess(token): AdminAccess,
    target: Result<Path<(i64, String)>, PathRejection>,
) -> Result<(StatusCode, Json<ActionResult>), ApiError> {
    act(state, token.name, target, Action::Deploy).await
}

/// Roll back a stage: exactly `/bytebase rollback ENV` (refused, with nothing
/// run, when the policy does not hold, a later environment still has the
/// change, or a migration cannot be undone). The token's name is the actor.
#[utoipa::path(
    post, path = "/api/v1/changes/{id}/stages/{environment}/rollback", tag = "actions",
    params(
        ("id" = i64, Path, description = "The change's id"),
        ("environment" = String, Path, description = "The stage's environment"),
    ),
    responses(
        (status = 200, description = "Rolled back, already rolled back, or failed (see `outcome`)", body = ActionResult),
        (status = 409, description = "Refused (policy, later environments, irreversible), or nothing to roll back", body = ActionResult),
        (status = 401, description = "No live token", body = ApiErrorBody),
        (status = 403, description = "Not an admin token", body = ApiErrorBody),
        (status = 404, description = "No such change, environment or stage", body = ApiErrorBody),
        (status = 503, description = "Busy, or actions are not available on this replica", body = ApiErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn rollback(
    State(state): State<AppState>,
    AdminAccess(token): AdminAccess,
    target: Result<Path<(i64, String)>, PathRejection>,
) -> Result<(StatusCode, Json<ActionResult>), ApiError> {
    act(state, token.name, target, Action::Rollback).await
}

/// Which action a request asks for.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    /// `deploy ENV`.
    Deploy,
    /// `rollback ENV`.
    Rollback,
}

/// Runs a deploy or rollback request of change `id` through the flow as
/// `actor`, exactly as the comment command would: the one path for the API's
/// action routes and the dashboard's forms (the caller checked the scope).
pub async fn run_action(
    state: &AppState,
    id: i64,
    environment: &str,
    actor: &str,
    action: Action,
) -> Result<ActionReply, ApiError> {
    let Some(ctx) = state.flow.clone() else {
        return Err(ApiError::Unavailable(
            "this replica runs no flow: actions are not available here".to_string(),
        ));
    };
    let pr = pr_of(state, id).await?;
    // Spawned: a client that hangs up must not cancel a deploy half way.
    let (env, actor) = (environment.to_string(), actor.to_string());
    let run = tokio::spawn(async move {
        match action {
            Action::Deploy => {
                rollout::command(&ctx, &pr, &env, &actor, rollout::RolloutCommand::Deploy).await
            }
            Action::Rollback => {
                rollout::command(&ctx, &pr, &env, &actor, rollout::RolloutCommand::Rollback).await
            }
        }
    });
    run.await
        .map_err(|e| ApiError::internal("an API action panicked", &e))?
        .map_err(|e| ApiError::internal("an API action failed", &e))
}

/// The HTTP status of an action's outcome (the API's and the dashboard's).
pub fn outcome_status(outcome: ActionOutcome) -> StatusCode {
    match outcome {
        ActionOutcome::Done | ActionOutcome::AlreadyDone | ActionOutcome::Failed => StatusCode::OK,
        ActionOutcome::InProgress => StatusCode::ACCEPTED,
        ActionOutcome::Waiting | ActionOutcome::Refused | ActionOutcome::NotApplicable => {
            StatusCode::CONFLICT
        }
        ActionOutcome::NotFound => StatusCode::NOT_FOUND,
        ActionOutcome::Busy => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Runs a deploy or rollback request through the flow, as the comment
/// command would, and maps its outcome to a status.
async fn act(
    state: AppState,
    actor: String,
    target: Result<Path<(i64, String)>, PathRejection>,
    action: Action,
) -> Result<(StatusCode, Json<ActionResult>), ApiError> {
    let Path((id, environment)) = target.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let reply = run_action(&state, id, &environment, &actor, action).await?;
    let status = outcome_status(reply.outcome);
    match status {
        StatusCode::NOT_FOUND => return Err(ApiError::NotFound(reply.text)),
        StatusCode::SERVICE_UNAVAILABLE => return Err(ApiError::Unavailable(reply.text)),
        _ => {}
    }
    Ok((
        status,
        Json(ActionResult {
            change_id: id,
            environment,
            outcome: reply.outcome,
            stage_state: reply.stage_state,
            message: reply.text,
        }),
    ))
}

/// The forge reference of a change (with the repository and installation
/// ids its rollout recorded, which a GitHub App client needs).
async fn pr_of(state: &AppState, id: i64) -> Result<PrRef, ApiError> {
    let store_err = |e: crate::store::StoreError| ApiError::internal("API read failed", &e);
    let row = listings::change(&state.db, id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| ApiError::NotFound(format!("there is no change {id}")))?;
    let forge = match row.forge.as_str() {
        "github" => ForgeKind::Github,
        "gitlab" => ForgeKind::Gitlab,
        other => return Err(ApiError::NotFound(format!("unknown forge `{other}`"))),
    };
    let rollout = rollouts::for_change_request(&state.db, id)
        .await
        .map_err(store_err)?;
    Ok(PrRef {
        repo: RepoRef {
            forge,
            full_name: row.repo,
            id: rollout
                .as_ref()
                .and_then(|r| r.repo_id)
                .and_then(|i| u64::try_from(i).ok()),
        },
        number: u64::try_from(row.number).unwrap_or(0),
    })
}
