//! The dashboard over plain HTTP (no browser): sign-in with an API token,
//! session cookies, CSRF on every form, scope checks on the deploy action,
//! and escaping of what a PR brought. Real meta database seeded by the flow
//! (`support::dashboard`), the server in process with the flow's ManualClock.

mod support;

use bytegate::server::AppState;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use std::time::Duration;
use support::dashboard::{Seeded, TITLE, seed};

struct Ui {
    seeded: Seeded,
    base: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Ui {
    async fn start() -> Ui {
        Ui::start_with(|_| {}).await
    }

    /// Like `start`, with the server's config changed by `tweak` (the flow
    /// keeps the seeded one).
    async fn start_with(tweak: impl FnOnce(&mut bytegate::config::Config)) -> Ui {
        let seeded = seed().await;
        let mut config = (*seeded.h.ctx.config).clone();
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(seeded.h.db.pool.clone(), std::sync::Arc::new(config))
            .with_flow(seeded.h.ctx.clone());
        tokio::spawn(bytegate::server::serve(listener, state, async {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Ui {
            seeded,
            base,
            http,
            _stop: stop,
        }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send().await.unwrap()
    }

    async fn post(
        &self,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        req.send().await.unwrap()
    }

    /// Signs in with `secret` through the form; the session cookie (`name=value`).
    async fn sign_in(&self, secret: &str) -> String {
        let form = self.get("/ui/login", None).await;
        let login_cookie = cookie_pair(&form, "bytegate_login_csrf");
        let csrf = csrf_of(&form.text().await.unwrap());
        let r = self
            .post(
                "/ui/login",
                Some(&login_cookie),
                &[("csrf", &csrf), ("token", secret)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/ui/changes");
        cookie_pair(&r, "bytegate_session")
    }

    async fn page(&self, path: &str, cookie: &str) -> String {
        let r = self.get(path, Some(cookie)).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.text().await.unwrap()
    }
}

/// The `Set-Cookie` header setting `name`.
fn set_cookie<'r>(r: &'r reqwest::Response, name: &str) -> &'r str {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}"))
}

/// `name=value` of the cookie `name` the response sets.
fn cookie_pair(r: &reqwest::Response, name: &str) -> String {
    set_cookie(r, name).split(';').next().unwrap().to_string()
}

/// The first form's CSRF token in a page.
fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..][..page[start..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn without_a_session_every_page_sends_to_the_sign_in_form() {
    let ui = Ui::start().await;
    let id = ui.seeded.change_id.to_string();
    for path in [
        "/ui/changes",
        &format!("/ui/changes/{id}"),
        "/ui/audit",
        "/ui/targets",
    ] {
        let r = ui.get(path, None).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[LOCATION], "/ui/login", "{path}");
        // A made-up session id is no session.
        let r = ui.get(path, Some("bytegate_session=00ff")).await;
        assert_eq!(r.headers()[LOCATION], "/ui/login", "{path}");
    }
    let r = ui.get("/", None).await;
    assert_eq!(r.headers()[LOCATION], "/ui/changes");
    let r = ui
        .post(
            &format!("/ui/changes/{id}/stages/production/deploy"),
            None,
            &[("csrf", "x")],
        )
        .await;
    assert_eq!(r.headers()[LOCATION], "/ui/login");
}

#[tokio::test]
async fn sign_in_takes_a_live_token_and_sets_a_strict_http_only_cookie() {
    let ui = Ui::start().await;
    let form = ui.get("/ui/login", None).await;
    assert_eq!(form.status(), StatusCode::OK);
    let csp = form.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let login_cookie = cookie_pair(&form, "bytegate_login_csrf");
    let csrf = csrf_of(&form.text().await.unwrap());

    // Double submit: the form's token must match the cookie's.
    let r = ui
        .post(
            "/ui/login",
            None,
            &[("csrf", &csrf), ("token", &ui.seeded.admin)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = ui
        .post(
            "/ui/login",
            Some(&login_cookie),
            &[("csrf", "0"), ("token", &ui.seeded.admin)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A wrong token: the form again, no session.
    let r = ui
        .post(
            "/ui/login",
            Some(&login_cookie),
            &[("csrf", &csrf), ("token", "bgt_nope")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("unknown or revoked"));
    let (sessions,): (i64,) = sqlx::query_as("SELECT count(*) FROM dashboard_sessions")
        .fetch_one(&ui.seeded.h.db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);

    let r = ui
        .post(
            "/ui/login",
            Some(&login_cookie),
            &[("csrf", &csrf), ("token", &ui.seeded.admin)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = set_cookie(&r, "bytegate_session").to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http, not configured: {set}");
    let session = cookie_pair(&r, "bytegate_session");
    let id = session.trim_start_matches("bytegate_session=");
    // Only the id's hash is stored.
    let (stored, expires): (String, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT id_sha256, expires_at FROM dashboard_sessions")
            .fetch_one(&ui.seeded.h.db.pool)
            .await
            .unwrap();
    assert_ne!(stored, id);
    assert_eq!(stored, bytegate::dashboard::csrf::sha256_hex(id));
    assert_eq!(
        expires,
        bytegate::clock::Clock::now(&*ui.seeded.h.clock) + chrono::Duration::hours(8)
    );
    assert!(
        ui.page("/ui/changes", &session)
            .await
            .contains("signed in as ops-admin")
    );

    // Behind a TLS proxy the cookie is Secure.
    let form = ui.get("/ui/login", None).await;
    let login_cookie = cookie_pair(&form, "bytegate_login_csrf");
    let csrf = csrf_of(&form.text().await.unwrap());
    let r = ui
        .http
        .post(format!("{}/ui/login", ui.base))
        .header(COOKIE, login_cookie)
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&token={}", ui.seeded.reader))
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&r, "bytegate_session").ends_with("; Secure"));
}

#[tokio::test]
async fn a_session_ends_at_its_expiry_on_logout_and_when_its_token_is_revoked() {
    let ui = Ui::start().await;
    let session = ui.sign_in(&ui.seeded.reader).await;
    let page = ui.page("/ui/changes", &session).await;

    // Sign-out is a form like any other: without the session's token, 403.
    let r = ui
        .post("/ui/logout", Some(&session), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    ui.page("/ui/changes", &session).await;
    let r = ui
        .post("/ui/logout", Some(&session), &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&r, "bytegate_session").contains("Max-Age=0"));
    let r = ui.get("/ui/changes", Some(&session)).await;
    assert_eq!(r.headers()[LOCATION], "/ui/login");

    // Expiry, from the injected clock.
    let session = ui.sign_in(&ui.seeded.reader).await;
    ui.seeded.h.clock.advance(Duration::from_secs(8 * 3600 - 1));
    ui.page("/ui/changes", &session).await;
    ui.seeded.h.clock.advance(Duration::from_secs(1));
    let r = ui.get("/ui/changes", Some(&session)).await;
    assert_eq!(r.headers()[LOCATION], "/ui/login");

    // Revoking the token ends its sessions.
    let session = ui.sign_in(&ui.seeded.reader).await;
    ui.page("/ui/audit", &session).await;
    bytegate::store::api_tokens::revoke(&ui.seeded.h.db.pool, "viewer", chrono::Utc::now())
        .await
        .unwrap();
    let r = ui.get("/ui/audit", Some(&session)).await;
    assert_eq!(r.headers()[LOCATION], "/ui/login");
}

#[tokio::test]
async fn what_a_pr_brought_is_escaped_on_every_page() {
    let ui = Ui::start().await;
    let session = ui.sign_in(&ui.seeded.reader).await;
    let id = ui.seeded.change_id;
    for path in ["/ui/changes".to_string(), format!("/ui/changes/{id}")] {
        let body = ui.page(&path, &session).await;
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{path}: the title as text"
        );
        assert!(!body.contains(TITLE), "{path}: no raw title");
        assert!(
            !body.contains("<script"),
            "{path}: no script element at all"
        );
        assert!(body.contains(r#"data-risk="high""#), "{path}: risk badge");
    }
    let detail = ui.page(&format!("/ui/changes/{id}"), &session).await;
    assert!(detail.contains(r#"<table id="approvals">"#));
    assert!(detail.contains("no-drop-table"), "the finding");
    assert!(detail.contains("dana"), "the approver");
    assert!(detail.contains(r#"<table id="rollout">"#));
    let diffs = &detail[detail
        .find("<h2>Schema changes</h2>")
        .expect("schema diffs")..];
    assert!(
        diffs.contains("+CREATE TABLE public.users ("),
        "the deployed table in the diff: {diffs}"
    );
    // The migration's SQL, through pg_dump, as text inside the <pre>.
    assert!(
        diffs.contains("&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;"),
        "{diffs}"
    );
    let audit = ui.page("/ui/audit", &session).await;
    assert!(audit.contains("verified"), "the chain verifies");
    assert!(audit.contains("stage.succeeded"));
}

/// Audit entries with `action` (and, when given, by `actor`).
async fn audit_entries(ui: &Ui, action: &str, actor: Option<&str>) -> i64 {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM audit_log WHERE action = $1 AND ($2::text IS NULL OR actor = $2)",
    )
    .bind(action)
    .bind(actor)
    .fetch_one(&ui.seeded.h.db.pool)
    .await
    .unwrap();
    n
}

#[tokio::test]
async fn deploy_needs_an_admin_session_and_the_csrf_token_and_runs_the_flow() {
    let ui = Ui::start().await;
    let id = ui.seeded.change_id;
    let change = format!("/ui/changes/{id}");
    let deploy = format!("/ui/changes/{id}/stages/production/deploy");

    // A read session sees no action, and posting one anyway is refused.
    let reader = ui.sign_in(&ui.seeded.reader).await;
    let page = ui.page(&change, &reader).await;
    assert!(!page.contains("class=\"inline deploy\""), "no deploy form");
    let r = ui
        .post(&deploy, Some(&reader), &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("admin token"));
    assert_eq!(
        audit_entries(&ui, "deploy.requested", Some("viewer")).await,
        0
    );

    // An admin session: the form is there; without its CSRF token, 403.
    let admin = ui.sign_in(&ui.seeded.admin).await;
    let page = ui.page(&change, &admin).await;
    assert_eq!(
        page.matches("class=\"inline deploy\"").count(),
        1,
        "production is the only stage left"
    );
    for bad in [
        vec![],
        vec![("csrf", "0".repeat(64))],
        vec![("csrf", csrf_of(&ui.page(&change, &reader).await))],
    ] {
        let form: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = ui.post(&deploy, Some(&admin), &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad:?}");
    }
    assert_eq!(
        audit_entries(&ui, "deploy.requested", Some("ops-admin")).await,
        0,
        "nothing ran"
    );

    // With it: the flow's answer (production still needs an owner), audited
    // with the token's name as the actor, like the API's deploy route.
    let r = ui
        .post(&deploy, Some(&admin), &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(r#"<p class="flash" role="status">"#),
        "{body}"
    );
    assert!(
        body.contains("waiting"),
        "the policy holds the stage: {body}"
    );
    assert_eq!(
        audit_entries(&ui, "deploy.requested", Some("ops-admin")).await,
        1
    );
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM rollout_stages WHERE environment = 'production'")
            .fetch_one(&ui.seeded.h.db.pool)
            .await
            .unwrap();
    assert_eq!(state, "waiting", "not deployed");

    // An already deployed stage says so.
    let r = ui
        .post(
            &format!("/ui/changes/{id}/stages/staging/deploy"),
            Some(&admin),
            &[("csrf", &csrf_of(&page))],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("already deployed"));
}

/// The `<tr>` of target `environment`/`database` on the targets page.
fn target_row<'p>(page: &'p str, environment: &str, database: &str) -> &'p str {
    let marker = format!(r#"data-environment="{environment}" data-database="{database}""#);
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker}: {page}"));
    let row = &page[start..];
    &row[..row.find("</tr>").unwrap()]
}

#[tokio::test]
async fn the_targets_page_checks_every_database_now() {
    // A second production database nobody listens for (bound and dropped).
    let closed = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        bytegate::store::embedded::free_port().unwrap()
    );
    let ui = Ui::start_with(|config| {
        let production = config
            .environments
            .iter_mut()
            .find(|e| e.name == "production")
            .unwrap();
        production.databases.push(bytegate::config::Database {
            name: "prod-replica".to_string(),
            engine: bytegate::config::Engine::Postgres,
            url: bytegate::config::Secret::new(closed),
        });
    })
    .await;
    let session = ui.sign_in(&ui.seeded.reader).await;
    let changes = ui.page("/ui/changes", &session).await;
    assert!(
        changes.contains(r#"<a href="/ui/targets">Targets</a>"#),
        "nav link"
    );

    let page = ui.page("/ui/targets", &session).await;
    let (version,): (String,) = sqlx::query_as("SELECT current_setting('server_version')")
        .fetch_one(&ui.seeded.targets[0].pool)
        .await
        .unwrap();
    for (env, db) in [
        ("development", "dev-main"),
        ("staging", "stg-main"),
        ("production", "prod-main"),
    ] {
        let row = target_row(&page, env, db);
        assert!(row.contains(r#"data-status="ok""#), "{row}");
        assert!(row.contains(r#"<span class="badge ok">ok</span>"#), "{row}");
        assert!(row.contains(&version), "the server's version: {row}");
        assert!(row.contains("free"), "the lock: {row}");
    }
    // Development and staging were deployed: their history table has rows.
    assert!(target_row(&page, "staging", "stg-main").contains(" rows)"));
    let row = target_row(&page, "production", "prod-replica");
    assert!(row.contains(r#"data-status="unreachable""#), "{row}");
    assert!(
        row.contains(r#"<span class="badge bad">unreachable</span>"#),
        "{row}"
    );
    assert!(row.contains(r#"<span class="error">"#), "why: {row}");
    assert!(page.contains("not all ok"));
}

#[tokio::test]
async fn the_change_list_filter_form_narrows_the_list() {
    let ui = Ui::start().await;
    // A second change, still open (no migration: nothing to review).
    let h = &ui.seeded.h;
    h.github.set_pr_files(support::REPO, 7, &[]);
    let mut opened = support::pr_payload(
        "pull_request.opened",
        "7777777777777777777777777777777777777777",
        "2026-01-01T11:00:00Z",
    );
    opened["number"] = 7.into();
    opened["pull_request"]["number"] = 7.into();
    opened["pull_request"]["title"] = "Open and unmerged".into();
    h.handle(&support::pull_request_event(&opened))
        .await
        .unwrap();
    let (open_id,): (i64,) = sqlx::query_as("SELECT id FROM change_requests WHERE number = 7")
        .fetch_one(&h.db.pool)
        .await
        .unwrap();
    let merged = format!(r#"data-change-id="{}""#, ui.seeded.change_id);
    let open = format!(r#"data-change-id="{open_id}""#);

    let session = ui.sign_in(&ui.seeded.reader).await;
    let all = ui.page("/ui/changes", &session).await;
    assert!(all.contains(r#"<form id="filters" method="get" action="/ui/changes">"#));
    assert!(all.contains(&merged) && all.contains(&open), "{all}");

    let by_state = ui
        .page("/ui/changes?repo=&environment=&state=open", &session)
        .await;
    assert!(by_state.contains(&open) && !by_state.contains(&merged));
    assert!(
        by_state.contains(r#"<option value="open" selected>open</option>"#),
        "the form keeps the filter: {by_state}"
    );
    // Only the merged change has a rollout with a production stage.
    let by_env = ui
        .page("/ui/changes?repo=&environment=production&state=", &session)
        .await;
    assert!(by_env.contains(&merged) && !by_env.contains(&open));
    let by_repo = ui
        .page(
            &format!("/ui/changes?repo={}&environment=&state=", support::REPO),
            &session,
        )
        .await;
    assert!(by_repo.contains(&merged) && by_repo.contains(&open));
    let none = ui
        .page(
            "/ui/changes?repo=someone%2Felse&environment=&state=",
            &session,
        )
        .await;
    assert!(!none.contains(&merged) && !none.contains(&open));
    assert!(none.contains("No change matches these filters."));
    assert!(none.contains(r#"value="someone/else""#));

    let r = ui.get("/ui/changes?state=sideways", Some(&session)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rollback_needs_an_admin_session_and_the_csrf_token_and_the_flow_decides() {
    let ui = Ui::start().await;
    let id = ui.seeded.change_id;
    let change = format!("/ui/changes/{id}");
    let rollback = format!("/ui/changes/{id}/stages/staging/rollback");

    // A read session sees no rollback form, and posting one is refused.
    let reader = ui.sign_in(&ui.seeded.reader).await;
    let page = ui.page(&change, &reader).await;
    assert!(!page.contains("class=\"inline rollback\""));
    let r = ui
        .post(&rollback, Some(&reader), &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Rolling back needs an admin token")
    );

    // An admin session: a rollback form on each deployed stage only.
    let admin = ui.sign_in(&ui.seeded.admin).await;
    let page = ui.page(&change, &admin).await;
    assert_eq!(
        page.matches("class=\"inline rollback\"").count(),
        2,
        "development and staging are deployed, production is not"
    );
    assert!(page.contains(&format!(r#"action="{rollback}""#)));
    for bad in ["", &"0".repeat(64)] {
        let r = ui.post(&rollback, Some(&admin), &[("csrf", bad)]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{bad:?}");
    }
    assert_eq!(
        audit_entries(&ui, "rollback.requested", None).await,
        0,
        "nothing ran"
    );

    // The DBA's approval is dismissed: staging's policy no longer holds, and
    // the flow refuses with its reason; nothing is undone.
    let h = &ui.seeded.h;
    h.github.set_review_state(
        support::REPO,
        support::dashboard::PR,
        ui.seeded.review_id,
        "DISMISSED",
    );
    let payload = support::pr_payload(
        "pull_request.opened",
        support::dashboard::HEAD,
        "2026-01-01T10:05:00Z",
    );
    let bytegate::event::Event::PullRequest(e) = support::pull_request_event(&payload) else {
        unreachable!()
    };
    h.handle(&bytegate::event::Event::Review(
        bytegate::event::ReviewEvent {
            pr: e.pr.clone(),
            reviewer: support::dashboard::DBA.to_string(),
            state: bytegate::event::ReviewState::Dismissed,
            review_id: ui.seeded.review_id,
            commit_sha: Some(support::dashboard::HEAD.to_string()),
            at: "2026-01-01T10:05:00Z".parse().unwrap(),
        },
    ))
    .await
    .unwrap();
    let r = ui
        .post(&rollback, Some(&admin), &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(
            "Nothing was rolled back on `staging`: the policy of `staging` does not hold"
        ),
        "{body}"
    );
    assert!(body.contains(r#"<p class="flash" role="status">"#));
    assert_eq!(audit_entries(&ui, "rollback.requested", None).await, 1);
    assert_eq!(audit_entries(&ui, "rollback.refused", None).await, 1);
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM rollout_stages WHERE environment = 'staging'")
            .fetch_one(&ui.seeded.h.db.pool)
            .await
            .unwrap();
    assert_eq!(state, "succeeded", "still deployed");
}
