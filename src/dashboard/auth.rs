//! Sign-in and sign-out. The sign-in form is protected by a double-submit
//! token (a cookie and a hidden field with the same random value); sign-out
//! carries the session's CSRF token like every other form.

use super::cookies;
use super::csrf::{matches, random_token};
use super::error::UiError;
use super::session::{sign_in, viewer};
use super::views::login;
use super::{Form, html};
use crate::state::AppState;
use crate::store::dashboard_sessions;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::time::Duration;

/// How long a sign-in form stays usable.
const LOGIN_FORM_TTL: Duration = Duration::from_secs(15 * 60);

/// `GET /ui/login`: the form (or the changes, when already signed in).
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    if viewer(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/ui/changes").into_response());
    }
    Ok(fresh_form(&state, &headers, StatusCode::OK, None))
}

/// The sign-in form with a new double-submit token in its cookie.
fn fresh_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let token = random_token();
    let secure = cookies::secure(state, headers);
    let mut response = html(status, login::login(&token, problem));
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(cookies::LOGIN_CSRF, &token, LOGIN_FORM_TTL, secure),
    );
    response
}

/// `POST /ui/login`: a token that authenticates opens a session.
pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, UiError> {
    let form = Form::parse(&body);
    let expected = cookies::get(&headers, cookies::LOGIN_CSRF).unwrap_or("");
    if !matches(expected, form.get("csrf")) {
        return Err(UiError::Forbidden(
            "The sign-in form expired or did not come from this site; load it again.".into(),
        ));
    }
    let secret = form.get("token").unwrap_or("");
    let Some(session) = sign_in(&state, secret).await? else {
        return Ok(fresh_form(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("That token is unknown or revoked."),
        ));
    };
    let secure = cookies::secure(&state, &headers);
    let mut response = Redirect::to("/ui/changes").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        cookies::set(
            cookies::SESSION,
            &session,
            state.config.dashboard.session_ttl.0,
            secure,
        ),
    );
    h.append(
        header::SET_COOKIE,
        cookies::clear(cookies::LOGIN_CSRF, secure),
    );
    Ok(response)
}

/// `POST /ui/logout`: ends the session.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, UiError> {
    let viewer = viewer(&state, &headers).await?.ok_or(UiError::SignIn)?;
    let form = Form::parse(&body);
    viewer.check_csrf(&form)?;
    dashboard_sessions::delete(&state.db, &viewer.session).await?;
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(cookies::SESSION, cookies::secure(&state, &headers)),
    );
    Ok(response)
}
