//! The dashboard under `/ui`: server-rendered HTML (maud escapes every
//! interpolated value), readable without JavaScript. Sign-in takes an API
//! token and sets an HttpOnly, SameSite=Strict session cookie; every
//! state-changing form carries a CSRF token checked on POST.

mod actions;
mod auth;
pub mod cookies;
pub mod csrf;
mod error;
mod pages;
pub mod session;
pub mod views;

use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;

pub use error::UiError;

/// The dashboard's routes (`/` sends people to the change list).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/changes") }))
        .route("/ui", get(|| async { Redirect::to("/ui/changes") }))
        .route("/ui/login", get(auth::login_form).post(auth::login_submit))
        .route("/ui/logout", post(auth::logout))
        .route("/ui/changes", get(pages::changes))
        .route("/ui/changes/{id}", get(pages::change))
        .route("/ui/audit", get(pages::audit))
        .route("/ui/targets", get(pages::targets))
        .route(
            "/ui/changes/{id}/stages/{environment}/deploy",
            post(actions::deploy),
        )
        .route(
            "/ui/changes/{id}/stages/{environment}/rollback",
            post(actions::rollback),
        )
        .layer(axum::middleware::map_response(harden))
}

/// Headers on every dashboard response: no script may run even if escaping
/// ever failed (CSP without script sources), no framing, no caching of
/// pages that show a signed-in view.
async fn harden(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML response.
fn html(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.into_string(),
    )
        .into_response()
}

/// A submitted `application/x-www-form-urlencoded` form.
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of field `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
