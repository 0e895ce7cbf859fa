//! The dashboard in a real browser: `bytegate serve` (the binary) on a meta
//! database the flow seeded (`support::dashboard`), headless Debian Chromium
//! driven through chromedriver (`support/webdriver.rs`). Signs in through the
//! form, loads the change list and the change page, and asserts on the
//! rendered DOM: the risk badge, the approval table, the rollout, the PR
//! titled `<script>alert(1)</script>` shown as text with no alert and no
//! script element. Screenshots go to `target/test-output/`.
//!
//! Without Chromium and chromedriver the test prints "skipped", unless
//! `BYTEGATE_REQUIRE_BROWSER=1` (set by `.ci/run` after installing them).

mod support;
#[path = "support/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::dashboard::{DBA, TITLE, seed};
use support::serve::Serve;
use webdriver::{Driver, Session};

/// Where the screenshots go.
fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits until the browser is at a URL ending with `path`.
async fn wait_for_url(s: &Session<'_>, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = s.url().await;
        if url.ends_with(path) {
            return;
        }
        assert!(Instant::now() < deadline, "still at {url}, expected {path}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No alert opened and no script element made it into the DOM.
async fn nothing_ran(s: &Session<'_>) {
    assert_eq!(s.alert_text().await, None, "no alert");
    assert!(s.find_all("script").await.is_empty(), "no script element");
}

async fn screenshot(s: &Session<'_>, name: &str) {
    let png = s.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let path = output_dir().join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

#[tokio::test]
async fn the_change_list_and_a_change_page_render_in_headless_chromium() {
    if !webdriver::available() {
        assert!(
            std::env::var("BYTEGATE_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "BYTEGATE_REQUIRE_BROWSER=1 but {} or {} is missing (apt-get install chromium chromium-driver)",
            webdriver::CHROMIUM,
            webdriver::CHROMEDRIVER
        );
        eprintln!("skipped: Chromium or chromedriver is not installed");
        return;
    }
    let seeded = seed().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bytegate.yaml");
    std::fs::write(&config, &seeded.yaml).unwrap();
    let mut serve = Serve::start(&config, dir.path(), &seeded.h.db.url());
    serve.wait_healthy().await;
    let base = format!("http://127.0.0.1:{}", serve.port);

    let driver = Driver::start().await;
    let s = driver.session().await;

    // Signed out: the list sends the browser to the sign-in form.
    s.goto(&format!("{base}/ui/changes")).await;
    wait_for_url(&s, "/ui/login").await;
    let token = s.find("input[name=token]").await;
    s.type_into(&token, &seeded.admin).await;
    let submit = s.find("form[action='/ui/login'] button[type=submit]").await;
    s.click(&submit).await;
    wait_for_url(&s, "/ui/changes").await;

    // The list: the PR's title as text, its risk badge, per-environment state.
    let row = format!("tr.change[data-change-id='{}']", seeded.change_id);
    let title = s.wait_for(&format!("{row} .title")).await;
    assert_eq!(s.text(&title).await, TITLE);
    let badge = s.find(&format!("{row} .badge.risk")).await;
    assert_eq!(s.text(&badge).await, "high");
    let cells = s.find_all(&format!("{row} td")).await;
    let mut texts = Vec::new();
    for c in &cells {
        texts.push(s.text(c).await);
    }
    assert!(
        texts.iter().any(|t| t.contains("succeeded")),
        "a deployed environment: {texts:?}"
    );
    nothing_ran(&s).await;
    screenshot(&s, "dashboard-changes.png").await;

    // The change page, reached by its link.
    let link = s
        .find(&format!("a[href='/ui/changes/{}']", seeded.change_id))
        .await;
    s.click(&link).await;
    wait_for_url(&s, &format!("/ui/changes/{}", seeded.change_id)).await;
    let heading = s.wait_for("main h1").await;
    assert_eq!(s.text(&heading).await, TITLE);
    assert!(
        s.source()
            .await
            .contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>"),
        "the title is a text node of the heading"
    );
    let risk = s.find("p.meta .badge.risk").await;
    assert_eq!(s.text(&risk).await, "high");

    let rows = s.find_all("table#approvals tbody tr").await;
    assert_eq!(rows.len(), 3, "one row per environment");
    let staging = s
        .find("table#approvals tr[data-environment='staging']")
        .await;
    let staging = s.text(&staging).await;
    assert!(
        staging.contains(DBA) && staging.contains("satisfied"),
        "{staging}"
    );
    let production = s
        .find("table#approvals tr[data-environment='production']")
        .await;
    assert!(s.text(&production).await.contains("not satisfied"));

    let findings = s.find("table#findings").await;
    assert!(s.text(&findings).await.contains("no-drop-table"));
    let dev = s
        .find("table#rollout tr[data-environment='development']")
        .await;
    assert!(s.text(&dev).await.contains("succeeded"));
    // An admin session sees the deploy action where a stage still waits.
    let deploy = s.find_all("form.deploy").await;
    assert_eq!(deploy.len(), 1, "production only");
    nothing_ran(&s).await;
    screenshot(&s, "dashboard-change.png").await;

    // The deploy button posts the form (with its CSRF token) and the page
    // says what the flow answered: production still needs an owner.
    let button = s.find("form.deploy button[type=submit]").await;
    s.click(&button).await;
    let flash = s.wait_for("p.flash").await;
    let flash = s.text(&flash).await;
    assert!(flash.contains("waiting"), "{flash}");

    s.goto(&format!("{base}/ui/audit")).await;
    let chain = s.find("#chain").await;
    assert!(s.text(&chain).await.contains("verified"));
    screenshot(&s, "dashboard-audit.png").await;

    s.quit().await;
    serve.kill();
}
