//! The sign-in page and the error page.

use super::layout::{Nav, csrf_field, page};
use axum::http::StatusCode;
use maud::{Markup, html};

/// The sign-in form: an API token, and the login form's double-submit CSRF
/// value (the same value is in a cookie). `problem` explains a failed try.
pub fn login(csrf: &str, problem: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            @if let Some(problem) = problem {
                p.error role="alert" { (problem) }
            }
            p { "Sign in with a bytegate API token (" code { "bytegate token create" } ")." }
            form method="post" action="/ui/login" {
                (csrf_field(csrf))
                label for="token" { "API token " }
                input #token type="password" name="token" autocomplete="off" required;
                " "
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// A page that says what went wrong (`nav` when signed in).
pub fn error(status: StatusCode, message: &str, nav: Option<Nav<'_>>) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    page(
        title,
        nav,
        html! {
            p.error { (message) }
            p { a href="/ui/changes" { "Back to the changes" } }
        },
    )
}
