//! The dashboard under `/ui`: server-rendered HTML (maud escapes every
//! interpolated value), no JavaScript. Sign-in takes an API token and sets a
//! session cookie; every state-changing form carries a CSRF token.

pub mod cookies;
pub mod csrf;
