//! The HTTP server: router, health endpoint, graceful shutdown. The state
//! handlers share is [`crate::state::AppState`].

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::future::Future;
use std::time::Duration;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use crate::state::AppState;

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    Router::new()
        .route("/health", get(health))
        .merge(crate::webhook::routes())
        .layer(DefaultBodyLimit::max(limit))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

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

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let depth =
        tokio::time::timeout(Duration::from_secs(3), crate::store::queue_depth(&state.db)).await;
    let (code, depth) = match depth {
        Ok(Ok(n)) => (StatusCode::OK, Some(n)),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: meta database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, None)
        }
        Err(_) => {
            tracing::warn!("health: meta database timed out");
            (StatusCode::SERVICE_UNAVAILABLE, None)
        }
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

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Without TCP_NODELAY a response written in two segments waits for the
    // client's delayed ACK: ~40 ms on every webhook acknowledgement.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
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
