//! The page frame every dashboard page shares (navigation, sign-out form,
//! inline CSS) and the small pieces several pages use (badges, times).
//! Everything interpolated with `(...)` is escaped by maud; the only raw
//! string is the constant style sheet.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The style sheet, inline (no build step, no second request).
const STYLE: &str = "\
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}\
header{background:#1d2430;color:#fff;padding:.6em 1.5em;display:flex;gap:1.2em;align-items:center}\
header a{color:#fff;text-decoration:none;font-weight:600}\
header .who{margin-left:auto;opacity:.8}\
header form{margin:0}\
main{padding:1em 1.5em;max-width:80em}\
table{border-collapse:collapse;width:100%;background:#fff;margin:.5em 0 1.5em}\
th,td{border:1px solid #d8dce3;padding:.35em .6em;text-align:left;vertical-align:top}\
th{background:#eef0f4}\
.badge{display:inline-block;padding:.05em .55em;border-radius:.8em;font-size:.85em;font-weight:600;background:#dde1e8}\
.risk-low{background:#d3f0d8;color:#145c24}.risk-medium{background:#fcebc5;color:#7a5000}\
.risk-high{background:#f9d0d0;color:#8a1010}\
.ok{background:#d3f0d8;color:#145c24}.bad{background:#f9d0d0;color:#8a1010}\
.wait{background:#fcebc5;color:#7a5000}\
pre{background:#fff;border:1px solid #d8dce3;padding:.6em;overflow:auto;max-height:30em}\
.flash{background:#e4ecfb;border:1px solid #9db5e6;padding:.5em .8em}\
.error{background:#f9d0d0;border:1px solid #d88;padding:.5em .8em}\
form.inline{display:inline}\
table.audit td:last-child{word-break:break-all}\
";

/// Who is signed in, for the header (and the CSRF token of its sign-out form).
#[derive(Debug, Clone, Copy)]
pub struct Nav<'a> {
    /// The token's name.
    pub who: &'a str,
    /// `read` or `admin`.
    pub scope: &'a str,
    /// The session's CSRF token.
    pub csrf: &'a str,
}

/// A whole page: `title` as the heading, `nav` when signed in.
pub fn page(title: &str, nav: Option<Nav<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · bytegate" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/ui/changes" { "bytegate" }
                    @if let Some(nav) = nav {
                        a href="/ui/changes" { "Changes" }
                        a href="/ui/audit" { "Audit" }
                        a href="/ui/targets" { "Targets" }
                        span.who { "signed in as " (nav.who) " (" (nav.scope) ")" }
                        form method="post" action="/ui/logout" {
                            (csrf_field(nav.csrf))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A risk badge (`low`, `medium`, `high`; anything else unstyled).
pub fn risk_badge(level: &str) -> Markup {
    let class = match level {
        "low" => "badge risk risk-low",
        "medium" => "badge risk risk-medium",
        "high" => "badge risk risk-high",
        _ => "badge risk",
    };
    html! { span class=(class) data-risk=(level) { (level) } }
}

/// How a state looks: good, bad, waiting or neutral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Done, satisfied, verified.
    Good,
    /// Failed, refused, broken.
    Bad,
    /// Waiting on someone or something.
    Waiting,
    /// Anything else.
    Neutral,
}

/// A state badge in `tone`.
pub fn state_badge(text: &str, tone: Tone) -> Markup {
    let class = match tone {
        Tone::Good => "badge ok",
        Tone::Bad => "badge bad",
        Tone::Waiting => "badge wait",
        Tone::Neutral => "badge",
    };
    html! { span class=(class) { (text) } }
}

/// A time as people read it (UTC, to the second).
pub fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

/// An optional time, or a dash.
pub fn maybe_time(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { "—" },
    }
}

/// How a stage state looks.
pub fn stage_badge(state: crate::store::rollouts::StageState) -> Markup {
    use crate::store::rollouts::StageState as S;
    let tone = match state {
        S::Succeeded => Tone::Good,
        S::Failed => Tone::Bad,
        S::Waiting | S::Running => Tone::Waiting,
        S::Pending | S::Skipped | S::RolledBack => Tone::Neutral,
    };
    state_badge(state.as_str(), tone)
}

/// A change's link text: `owner/repo#12`.
pub fn change_ref(repo: &str, number: i64) -> String {
    format!("{repo}#{number}")
}
