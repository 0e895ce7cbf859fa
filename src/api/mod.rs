//! The operator surface's data: API tokens are in [`crate::store::api_tokens`];
//! [`read_model`] is what the REST API returns and the dashboard renders.

pub mod read_model;
