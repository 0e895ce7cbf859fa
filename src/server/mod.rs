//! The HTTP server: router (probes, webhooks, the REST API), health
//! endpoints, graceful shutdown. The state
//! handlers share is [`crate::state::AppState`].

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use crate::state::AppState;

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    Router::new()
        .merge(probes(&state))
        .merge(crate::webhook::routes())
        .merge(crate::api::routes())
        .merge(crate::dashboard::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `/health` and `/readyz`: open unless `api.open_probes` is false, then
/// they need an API token like `/api/v1`.
fn probes(state: &AppState) -> Router<AppState> {
    let probes = Router::new()
        .route("/health", get(health))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::telemetry::metrics::serve));
    if state.config.api.open_probes {
        probes
    } else {
        probes.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::api::auth::require_token,
        ))
    }
}

/// Served on connections past `server.max_connections` (a few at a time):
/// probes still see the truth on `/health`; anything else is told to come
/// back later.
fn overflow_router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .fallback(too_many_connections)
        .with_state(state)
}

async fn too_many_connections() -> impl IntoResponse {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (axum::http::header::RETRY_AFTER, "1"),
            (axum::http::header::CONNECTION, "close"),
        ],
        Json(serde_json::json!({ "status": "too many connections" })),
    )
}

/// Connections served past `server.max_connections`, each for one request
/// (a `/health` probe, or a 503 for anything else) within [`OVERFLOW_HEADER_TIMEOUT`].
const OVERFLOW_CONNECTIONS: usize = 64;
/// How long an overflow connection may take to send its headers.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health` body.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Health {
    /// `ok` or `unhealthy`.
    pub status: String,
    /// bytegate's version.
    pub version: String,
    /// Whether the meta database answered.
    pub database: bool,
    /// Jobs queued or running (absent when the database is unreachable).
    pub queue_depth: Option<i64>,
}

/// How long a probe waits for the meta database.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A meta-database query for a probe: `None` (logged) when it failed or
/// took longer than [`PROBE_TIMEOUT`].
async fn probe<T>(
    what: &str,
    query: impl Future<Output = Result<T, crate::store::StoreError>>,
) -> Option<T> {
    match tokio::time::timeout(PROBE_TIMEOUT, query).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "{what}: meta database unreachable");
            None
        }
        Err(_) => {
            tracing::warn!("{what}: meta database timed out");
            None
        }
    }
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let depth = probe("health", crate::store::queue_depth(&state.db)).await;
    let code = if depth.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if code == StatusCode::OK {
            "ok"
        } else {
            "unhealthy"
        }
        .to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        database: depth.is_some(),
        queue_depth: depth,
    };
    (code, Json(body))
}

/// `GET /readyz` body.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Readiness {
    /// True when this instance should get traffic.
    pub ready: bool,
    /// Whether the meta database answered.
    pub database: bool,
    /// bytegate's own schema migrations not applied yet (absent when the
    /// database is unreachable).
    pub pending_migrations: Option<usize>,
}

/// `GET /readyz`: 200 when the meta database answers and bytegate's own
/// migrations are all applied, else 503 (a load balancer's readiness probe;
/// `/health` stays the liveness probe).
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let pending = probe("readyz", crate::store::pending_migrations(&state.db)).await;
    let ready = pending == Some(0);
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        ready,
        database: pending.is_some(),
        pending_migrations: pending,
    };
    (code, Json(body))
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish.
///
/// Each connection must send its headers within `server.header_read_timeout`
/// (hyper closes it otherwise); webhook bodies are bounded by
/// `server.body_read_timeout` in the handler. At most `server.max_connections`
/// are served at once: past it a connection is answered 503 with Retry-After
/// and closed, so stalled clients cannot exhaust file descriptors; a few
/// past it still get `/health` answered, so probes see the truth.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let settings = state.config.server.clone();
    let (app, overflow_app) = (router(state.clone()), overflow_router(state));
    let permits = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout.0);
    let mut overflow_builder = builder.clone();
    overflow_builder
        .header_read_timeout(settings.header_read_timeout.0.min(OVERFLOW_HEADER_TIMEOUT))
        .keep_alive(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Without TCP_NODELAY a response written in two segments waits for the
        // client's delayed ACK: ~40 ms on every webhook acknowledgement.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let (permit, app, builder) = match permits.clone().try_acquire_owned() {
            Ok(p) => (p, &app, &builder),
            Err(_) => match overflow.clone().try_acquire_owned() {
                Ok(p) => {
                    tracing::warn!(%peer, "connection limit reached: serving /health only");
                    (p, &overflow_app, &overflow_builder)
                }
                Err(_) => {
                    tracing::warn!(%peer, "connection limit reached: answering 503");
                    tokio::spawn(refuse_busy(tcp));
                    continue;
                }
            },
        };
        let conn =
            builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers a connection over the limit with 503 and closes it, never waiting
/// long on the client.
async fn refuse_busy(mut tcp: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = r#"{"status":"too many connections"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        tcp.write_all(answer.as_bytes()).await?;
        tcp.shutdown().await?;
        // Closing with the request unread would reset the connection and the
        // client could lose the answer: drain a little first.
        let mut sink = [0u8; 4096];
        for _ in 0..16 {
            if tcp.read(&mut sink).await? == 0 {
                break;
            }
        }
        std::io::Result::Ok(())
    })
    .await;
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
