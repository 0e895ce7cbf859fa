//! `dashboard:`: sign-in settings of the web dashboard (`/ui`).

use super::HumanDuration;
use serde::{Deserialize, Serialize};

/// `dashboard:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardSettings {
    /// How long a sign-in lasts (from bytegate's clock), default 8h.
    pub session_ttl: HumanDuration,
    /// Mark the dashboard's cookies `Secure`: set it when people reach
    /// bytegate over https (a TLS proxy in front). A request forwarded with
    /// `X-Forwarded-Proto: https` gets `Secure` cookies either way.
    pub secure_cookies: bool,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            session_ttl: HumanDuration::from_secs(8 * 3600),
            secure_cookies: false,
        }
    }
}
