//! The dashboard's cookies: reading one from a request, writing `Set-Cookie`
//! with the attributes every dashboard cookie gets (HttpOnly,
//! SameSite=Strict, Path=/, Secure over https).

use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use std::time::Duration;

/// The session cookie: a random id whose sha256 names a `dashboard_sessions` row.
pub const SESSION: &str = "bytegate_session";
/// The login form's double-submit CSRF cookie (the form carries the same value).
pub const LOGIN_CSRF: &str = "bytegate_login_csrf";

/// The value of cookie `name` in the request, if sent.
pub fn get<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Whether cookies must be `Secure`: configured (`dashboard.secure_cookies`)
/// or the request came through a TLS proxy that says so.
pub fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.dashboard.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for `name=value` living `max_age`; `value` must be a token
/// bytegate generated (hex), never request input.
pub fn set(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    // Names are constants and values hex: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` that removes cookie `name`.
pub fn clear(name: &str, secure: bool) -> HeaderValue {
    set(name, "", Duration::ZERO, secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; bytegate_session=abc"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&h, SESSION), Some("abc"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "bytegate"), None);
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set(SESSION, "ab12", Duration::from_secs(60), true);
        assert_eq!(
            c.to_str().unwrap(),
            "bytegate_session=ab12; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        let c = clear(SESSION, false);
        assert_eq!(
            c.to_str().unwrap(),
            "bytegate_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }
}
