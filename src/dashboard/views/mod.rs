//! The dashboard's pages as maud templates: plain functions from the read
//! model (`crate::api::read_model`) to HTML, so every value a PR brought
//! (titles, SQL, user names) is escaped.

pub mod audit;
pub mod change;
pub mod changes;
pub mod layout;
pub mod login;
pub mod targets;
