//! What every HTTP handler can reach: its own module, so the router
//! (`server`) and the handlers (`webhook`) both depend on it and not on each other.

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::flow::FlowContext;
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
    /// Webhook body bytes that may be held at once (`server.body_budget_bytes`).
    pub body_budget: Arc<tokio::sync::Semaphore>,
    /// Slots for deliveries being parsed and stored (`server.max_in_flight`).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// Where handlers read the time (token use, durations); the flow's clock
    /// once [`AppState::with_flow`] gave one.
    pub clock: Arc<dyn Clock>,
    /// The engine the API's actions (deploy, rollback) run through, the same
    /// one the job workers use; `None`: the actions answer 503.
    pub flow: Option<FlowContext>,
}

impl AppState {
    /// State over a pool and a config.
    pub fn new(db: PgPool, config: Arc<Config>) -> Self {
        let budget = budget_permits(&config);
        let slots = config
            .server
            .max_in_flight
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        AppState {
            db,
            config,
            wake: Arc::new(tokio::sync::Notify::new()),
            body_budget: Arc::new(tokio::sync::Semaphore::new(budget)),
            in_flight: Arc::new(tokio::sync::Semaphore::new(slots)),
            clock: Arc::new(SystemClock),
            flow: None,
        }
    }

    /// With the flow the API's actions run through (and its clock).
    pub fn with_flow(mut self, flow: FlowContext) -> Self {
        self.clock = flow.clock.clone();
        self.flow = Some(flow);
        self
    }

    /// Webhook body bytes held right now (0 when no delivery is being read).
    pub fn body_bytes_in_flight(&self) -> usize {
        budget_permits(&self.config).saturating_sub(self.body_budget.available_permits())
    }
}

fn budget_permits(config: &Config) -> usize {
    config
        .server
        .body_budget_bytes
        .min(tokio::sync::Semaphore::MAX_PERMITS)
}
