//! bytegate: database CI/CD that lives in pull requests.
//!
//! The data flow of DESIGN.md is visible in the modules: `webhook` (verify,
//! parse) → `store` (deliveries, job queue, audit) → `jobs` (workers) →
//! `review` (parse, rules, risk, report) → `forge` (publish) → `policy`
//! (approvals) → `deploy` (targets, history).

pub mod api;
pub mod backup;
pub mod cli;
pub mod clock;
pub mod command;
pub mod config;
pub mod dashboard;
pub mod deploy;
pub mod event;
pub mod flow;
pub mod forge;
pub mod jobs;
#[cfg(any(test, feature = "test-support"))]
pub mod material;
pub mod notify;
pub mod policy;
pub mod review;
pub mod server;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod webhook;
