//! What every HTTP handler can reach: its own module, so the router
//! (`server`) and the handlers (`webhook`) both depend on it and not on each other.

use crate::config::Config;
use sqlx::PgPool;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Meta database.
    pub db: PgPool,
    /// Loaded configuration.
    pub config: Arc<Config>,
    /// Wakes an idle worker when a job is queued.
    pub wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// State over a pool and a config.
    pub fn new(db: PgPool, config: Arc<Config>) -> Self {
        AppState {
            db,
            config,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
}
