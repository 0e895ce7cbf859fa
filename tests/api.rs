//! The REST API on real PostgreSQL, over HTTP: tokens (401 / 403), every
//! route, filters and cursor pagination, the deploy and rollback actions
//! under the comment commands' policy, and live responses validated against
//! the served OpenAPI document (with the `jsonschema` crate).

mod support;

use bytegate::event::{CommentAction, CommentEvent, Event, PrRef};
use bytegate::server::AppState;
use bytegate::store::api_tokens::{self, TokenScope};
use bytegate::store::backups::{self, BackupKind, NewBackup};
use bytegate::store::change_requests::{self, CrState, PrSeen};
use bytegate::store::testdb::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{Harness, REPO, pr_payload, pull_request_event};

const HEAD: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const MERGE: &str = "3333333333333333333333333333333333333333";
const AT: &str = "2019-05-15T15:20:33Z";
const PR: u64 = 2;
const M1: &str = "schema/migrations/001_users.sql";
const M1_SQL: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";

/// A merged PR whose development stage deployed and whose staging stage
/// waits for a DBA; bytegate served over HTTP with three tokens.
struct Api {
    h: Harness,
    _dev: TestDb,
    stg: TestDb,
    _prod: TestDb,
    base: String,
    http: reqwest::Client,
    read: String,
    admin: String,
    revoked: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(extra_config: &str) -> Api {
    let (dev, stg, prod) = (
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
        TestDb::empty().await.unwrap(),
    );
    let db = support::database_yaml;
    let envs = format!(
        "roles:\n  dba:\n    users: [dana]\n  owner:\n    users: [olga]\nenvironments:\n  - name: development\n{}  - name: staging\n    approvals: 1\n    roles: [dba]\n{}  - name: production\n    approvals: 2\n    roles: [dba, owner]\n{}{extra_config}",
        db("dev-main", &dev),
        db("stg-main", &stg),
        db("prod-main", &prod)
    );
    let h = Harness::app_with(&envs).await;
    h.github.set_pr_files(REPO, PR, &[(M1, "added", None)]);
    h.github.put_file(REPO, MERGE, M1, M1_SQL);
    h.handle(&merged()).await.unwrap();

    let now = chrono::Utc::now();
    let token = |name: &'static str, scope| {
        let pool = h.db.pool.clone();
        async move {
            api_tokens::create(&pool, name, scope, "test", now)
                .await
                .unwrap()
                .secret
        }
    };
    let read = token("reader", TokenScope::Read).await;
    let admin = token("release-bot", TokenScope::Admin).await;
    let revoked = token("old", TokenScope::Admin).await;
    api_tokens::revoke(&h.db.pool, "old", now).await.unwrap();

    let state = AppState::new(h.db.pool.clone(), h.ctx.config.clone()).with_flow(h.ctx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bytegate::server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Api {
        h,
        _dev: dev,
        stg,
        _prod: prod,
        base,
        http: reqwest::Client::new(),
        read,
        admin,
        revoked,
        _stop: stop,
    }
}

fn merged() -> Event {
    let mut p = pr_payload("pull_request.opened", HEAD, AT);
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = MERGE.into();
    pull_request_event(&p)
}

fn pr_ref() -> PrRef {
    let Event::PullRequest(e) = merged() else {
        unreachable!()
    };
    e.pr
}

impl Api {
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The merged PR's change id.
    async fn change_id(&self) -> i64 {
        change_requests::find(&self.h.db.pool, "github", REPO, PR as i64)
            .await
            .unwrap()
            .unwrap()
            .id
    }

    /// `user` comments `/bytebase approve ENV` on the merged PR.
    async fn approve(&self, user: &str, env: &str) {
        let body = format!("/bytebase approve {env}");
        let id = self.h.github.add_comment(REPO, PR, user, &body);
        let event = Event::Comment(CommentEvent {
            pr: pr_ref(),
            author: user.to_string(),
            sender: user.to_string(),
            body,
            comment_id: id,
            action: CommentAction::Created,
            at: chrono::Utc::now(),
        });
        self.h.handle(&event).await.unwrap();
    }
}

/// Every stage row, every column, as text (to prove nothing moved).
async fn stage_rows(pool: &PgPool) -> Vec<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT row_to_json(s)::text FROM rollout_stages s ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

async fn audit_rows(pool: &PgPool) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as("SELECT actor, action, environment FROM audit_log ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn table_exists(pool: &PgPool, name: &str) -> bool {
    let (e,): (bool,) = sqlx::query_as("SELECT to_regclass($1) IS NOT NULL")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap();
    e
}

const READ_ROUTES: &[&str] = &[
    "/api/v1/changes",
    "/api/v1/changes/{id}",
    "/api/v1/deployments",
    "/api/v1/audit",
    "/api/v1/audit/chain",
    "/api/v1/backups",
    "/api/v1/targets",
];

#[tokio::test]
async fn every_route_needs_a_live_token_and_actions_need_an_admin_token() {
    let api = start("").await;
    let id = api.change_id().await;
    for route in READ_ROUTES {
        let path = route.replace("{id}", &id.to_string());
        for bad in [
            None,
            Some("bgt_not-a-token"),
            Some("garbage"),
            Some(api.revoked.as_str()),
        ] {
            let (status, body) = api.get(&path, bad).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {bad:?}");
            assert_eq!(body["error"], "unauthorized", "{path}: {body}");
        }
        for good in [&api.read, &api.admin] {
            let (status, body) = api.get(&path, Some(good)).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    }
    // A non-Bearer scheme is no token; the 401 says how to authenticate.
    let res = api
        .http
        .get(format!("{}/api/v1/changes", api.base))
        .basic_auth("x", Some(&api.read))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"bytegate\""
    );

    let before = stage_rows(&api.h.db.pool).await;
    let audit_before = audit_rows(&api.h.db.pool).await.len();
    for action in ["deploy", "rollback"] {
        let path = format!("/api/v1/changes/{id}/stages/development/{action}");
        for bad in [None, Some(api.revoked.as_str())] {
            let (status, _) = api.post(&path, bad).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        }
        let (status, body) = api.post(&path, Some(&api.read)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["message"].as_str().unwrap().contains("admin"),
            "{body}"
        );
    }
    assert_eq!(stage_rows(&api.h.db.pool).await, before, "nothing moved");
    assert_eq!(audit_rows(&api.h.db.pool).await.len(), audit_before);

    // Probes and the document stay open by default.
    for open in ["/health", "/readyz", "/api/openapi.json"] {
        assert_eq!(api.get(open, None).await.0, StatusCode::OK, "{open}");
    }
    // Token use is recorded.
    let tokens = api_tokens::list(&api.h.db.pool).await.unwrap();
    assert!(
        tokens
            .iter()
            .find(|t| t.name == "reader")
            .unwrap()
            .last_used_at
            .is_some()
    );
}

#[tokio::test]
async fn closed_probes_need_a_token() {
    let api = start("api:\n  open_probes: false\n").await;
    for probe in ["/health", "/readyz"] {
        assert_eq!(
            api.get(probe, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{probe}"
        );
        assert_eq!(
            api.get(probe, Some(&api.read)).await.0,
            StatusCode::OK,
            "{probe}"
        );
    }
}

#[tokio::test]
async fn changes_are_filtered_and_paged_by_cursor() {
    let api = start("").await;
    let merged_id = api.change_id().await;
    // More change requests: open ones in two repositories.
    let mut open_ids = Vec::new();
    for (repo, number) in [("o/other", 1), ("o/other", 2), (REPO, 40), (REPO, 41)] {
        let cr = change_requests::record_seen(
            &api.h.db.pool,
            &PrSeen {
                forge: "github",
                repo,
                number,
                title: "<script>alert(1)</script>",
                author: "alice",
                head_sha: "abc",
                base_ref: "main",
                is_fork: false,
                at: chrono::Utc::now(),
            },
        )
        .await
        .unwrap();
        assert_eq!(cr.state, CrState::Open);
        open_ids.push(cr.id);
    }

    // Pages of two, newest first, until the cursor runs out.
    let mut seen = Vec::new();
    let mut path = "/api/v1/changes?limit=2".to_string();
    loop {
        let (status, page) = api.get(&path, Some(&api.read)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|c| c["id"].as_i64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/changes?limit=2&cursor={c}"),
            None => break,
        }
    }
    let mut all = open_ids.clone();
    all.push(merged_id);
    all.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, all, "every change once, newest first");

    let ids = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect()
    };
    let (_, p) = api
        .get("/api/v1/changes?repo=o/other", Some(&api.read))
        .await;
    assert_eq!(ids(&p), [open_ids[1], open_ids[0]]);
    assert_eq!(
        p["items"][0]["title"], "<script>alert(1)</script>",
        "data, not markup"
    );
    let (_, p) = api
        .get("/api/v1/changes?state=merged", Some(&api.read))
        .await;
    assert_eq!(ids(&p), [merged_id]);
    let (_, p) = api
        .get("/api/v1/changes?environment=staging", Some(&api.read))
        .await;
    assert_eq!(ids(&p), [merged_id], "only changes with a staging stage");
    let (_, p) = api
        .get(
            &format!("/api/v1/changes?repo={REPO}&state=open"),
            Some(&api.read),
        )
        .await;
    assert_eq!(ids(&p), [open_ids[3], open_ids[2]]);
    let (_, p) = api
        .get(
            "/api/v1/changes?since=2999-01-01T00:00:00Z",
            Some(&api.read),
        )
        .await;
    assert!(ids(&p).is_empty());
    let (_, p) = api
        .get(
            "/api/v1/changes?until=2999-01-01T00:00:00Z&limit=200",
            Some(&api.read),
        )
        .await;
    assert_eq!(ids(&p).len(), 5);
    let (_, p) = api
        .get(
            "/api/v1/changes?until=2000-01-01T00:00:00Z",
            Some(&api.read),
        )
        .await;
    assert!(ids(&p).is_empty());

    for bad in [
        "/api/v1/changes?state=sideways",
        "/api/v1/changes?cursor=abc",
        "/api/v1/changes?since=yesterday",
        "/api/v1/changes?limit=-3",
        "/api/v1/deployments?state=nope",
        "/api/v1/audit?action=nope",
    ] {
        let (status, body) = api.get(bad, Some(&api.read)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "bad_request");
    }
}

#[tokio::test]
async fn a_change_its_deployments_audit_and_backups_are_read() {
    let api = start("").await;
    let id = api.change_id().await;
    let (status, c) = api
        .get(&format!("/api/v1/changes/{id}"), Some(&api.read))
        .await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let change = &c["change"];
    assert_eq!(change["repo"], REPO);
    assert_eq!(change["review"]["head_sha"], HEAD, "{change}");
    // Any DDL is high risk in production: the change's risk is the highest.
    assert_eq!(change["review"]["risk"], "high", "{change}");
    let risks: Vec<(&str, &str)> = c["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["environment"].as_str().unwrap(),
                r["risk"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(risks.contains(&("production", "high")), "{risks:?}");
    assert_eq!(change["number"], PR);
    assert_eq!(change["state"], "merged");
    assert_eq!(change["merge_sha"], MERGE);
    let stages: Vec<(&str, &str)> = change["rollout"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["environment"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            ("development", "succeeded"),
            ("staging", "waiting"),
            ("production", "pending")
        ]
    );
    let staging = &change["rollout"]["stages"][1];
    assert!(
        staging["waiting_for"]
            .as_str()
            .unwrap()
            .contains("approvals for `staging`"),
        "{staging}"
    );
    let approvals = change["approvals"].as_array().unwrap();
    let names: Vec<&str> = approvals
        .iter()
        .map(|a| a["environment"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["development", "staging", "production"]);
    assert_eq!(approvals[1]["required"], 1);
    assert_eq!(approvals[1]["required_roles"], json!(["dba"]));
    assert_eq!(approvals[1]["approved_by"], json!([]));
    assert_eq!(approvals[2]["required"], 2);
    let actions: Vec<&str> = c["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"rollout.created"), "{actions:?}");
    assert!(actions.contains(&"stage.succeeded"), "{actions:?}");

    // After the DBA approves, the change shows it.
    api.approve("dana", "staging").await;
    let (_, c) = api
        .get(&format!("/api/v1/changes/{id}"), Some(&api.read))
        .await;
    assert_eq!(c["change"]["approvals"][1]["approved_by"], json!(["dana"]));
    assert_eq!(c["change"]["rollout"]["stages"][1]["state"], "succeeded");
    let records = c["approval_records"].as_array().unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["user"], "dana");
    assert_eq!(records[0]["source"], "comment");
    assert_eq!(records[0]["state"], "approved");

    let (status, body) = api.get("/api/v1/changes/999999", Some(&api.read)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Deployments: filters by environment and state.
    let (_, d) = api
        .get(
            "/api/v1/deployments?environment=development",
            Some(&api.read),
        )
        .await;
    let items = d["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["change_id"], id);
    assert_eq!(items[0]["state"], "succeeded");
    assert!(items[0]["duration_ms"].as_i64().is_some());
    let (_, d) = api
        .get("/api/v1/deployments?state=waiting", Some(&api.read))
        .await;
    let envs: Vec<&str> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["environment"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["production"]);
    // Pages of one, newest stage first.
    let mut seen = Vec::new();
    let mut path = "/api/v1/deployments?limit=1".to_string();
    loop {
        let (status, page) = api.get(&path, Some(&api.read)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 1);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["environment"].as_str().unwrap().to_string()),
        );
        let Some(c) = page["next_cursor"].as_str() else {
            break;
        };
        path = format!("/api/v1/deployments?limit=1&cursor={c}");
    }
    assert_eq!(seen, ["production", "staging", "development"]);
    let (status, _) = api.get("/api/v1/changes/abc", Some(&api.read)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, d) = api
        .get(
            "/api/v1/deployments?since=2999-01-01T00:00:00Z",
            Some(&api.read),
        )
        .await;
    assert!(d["items"].as_array().unwrap().is_empty());

    // Audit: filters, pages and the chain.
    let (_, a) = api
        .get("/api/v1/audit?action=stage.succeeded", Some(&api.read))
        .await;
    let envs: Vec<&str> = a["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["staging", "development"], "newest first");
    let (_, a) = api.get("/api/v1/audit?actor=dana", Some(&api.read)).await;
    let dana: Vec<&str> = a["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(dana, ["approval.granted"]);
    let (_, a) = api
        .get(
            &format!("/api/v1/audit?repo={REPO}&number={PR}&limit=1"),
            Some(&api.read),
        )
        .await;
    let cursor = a["next_cursor"].as_str().expect("more than one entry");
    let (_, next) = api
        .get(
            &format!("/api/v1/audit?repo={REPO}&number={PR}&limit=1&cursor={cursor}"),
            Some(&api.read),
        )
        .await;
    assert!(next["items"][0]["id"].as_i64() < a["items"][0]["id"].as_i64());
    let (_, chain) = api.get("/api/v1/audit/chain", Some(&api.read)).await;
    assert_eq!(chain["ok"], true, "{chain}");
    assert!(chain["verified"].as_u64().unwrap() > 5);
    assert!(chain["head"].is_string());

    // Backups.
    let now = chrono::Utc::now();
    for (env, db) in [("staging", "stg-main"), ("production", "prod-main")] {
        backups::start(
            &api.h.db.pool,
            &NewBackup {
                environment: env,
                database_name: db,
                kind: BackupKind::Manual,
                slot: None,
                created_by: "ops",
                created_at: now,
                expires_at: now + chrono::Duration::days(7),
            },
        )
        .await
        .unwrap()
        .unwrap();
    }
    let (_, b) = api.get("/api/v1/backups", Some(&api.read)).await;
    let dbs: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["database"].as_str().unwrap())
        .collect();
    assert_eq!(dbs, ["prod-main", "stg-main"]);
    assert_eq!(b["items"][0]["state"], "running");
    let (_, b) = api
        .get("/api/v1/backups?environment=staging", Some(&api.read))
        .await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    let (_, b) = api.get("/api/v1/backups?limit=1", Some(&api.read)).await;
    let cursor = b["next_cursor"].as_str().unwrap();
    let (_, b2) = api
        .get(
            &format!("/api/v1/backups?limit=1&cursor={cursor}"),
            Some(&api.read),
        )
        .await;
    assert_eq!(b2["items"][0]["database"], "stg-main");
    assert!(b2["next_cursor"].is_null());
}

/// Staging without the DBA's approval: the API's deploy is refused with
/// the policy's reason (409), no stage row changes, nothing reaches the
/// staging database, and the request is audited under the token's name.
/// Once the policy holds, the same routes act as the comment commands do.
#[tokio::test]
async fn an_unauthorised_deploy_is_refused_and_a_rollback_obeys_the_policy() {
    let api = start("").await;
    let id = api.change_id().await;
    let before = stage_rows(&api.h.db.pool).await;
    let deploy = format!("/api/v1/changes/{id}/stages/staging/deploy");
    let (status, body) = api.post(&deploy, Some(&api.admin)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["outcome"], "waiting");
    assert_eq!(body["stage_state"], "waiting");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("approvals for `staging`"), "{message}");
    assert_eq!(
        stage_rows(&api.h.db.pool).await,
        before,
        "no stage row changed"
    );
    assert!(!table_exists(&api.stg.pool, "users").await);
    let audit = audit_rows(&api.h.db.pool).await;
    assert!(
        audit.contains(&(
            "release-bot".to_string(),
            "deploy.requested".to_string(),
            Some("staging".to_string())
        )),
        "{audit:?}"
    );
    assert!(
        !audit
            .iter()
            .any(|(_, a, e)| a == "stage.started" && e.as_deref() == Some("staging")),
        "{audit:?}"
    );
    // Production comes after staging.
    let (status, body) = api
        .post(
            &format!("/api/v1/changes/{id}/stages/production/deploy"),
            Some(&api.admin),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("comes after `staging`"),
        "{body}"
    );
    // Rolling back staging is refused by its policy too, and audited.
    let (status, body) = api
        .post(
            &format!("/api/v1/changes/{id}/stages/staging/rollback"),
            Some(&api.admin),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["outcome"], "refused");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("policy of `staging`"),
        "{body}"
    );
    assert!(
        audit_rows(&api.h.db.pool)
            .await
            .iter()
            .any(|(_, a, e)| a == "rollback.refused" && e.as_deref() == Some("staging"))
    );
    // Unknown environment, unknown change.
    let (status, _) = api
        .post(
            &format!("/api/v1/changes/{id}/stages/qa/deploy"),
            Some(&api.admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .post(
            "/api/v1/changes/424242/stages/staging/deploy",
            Some(&api.admin),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The DBA approves: staging deploys (the approval drives it), and the
    // API's deploy says it is done already.
    api.approve("dana", "staging").await;
    assert!(table_exists(&api.stg.pool, "users").await);
    let (status, body) = api.post(&deploy, Some(&api.admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "already_done");

    // Rollback of staging: the policy holds and production never got the
    // change, so it runs, as the token.
    let (status, body) = api
        .post(
            &format!("/api/v1/changes/{id}/stages/staging/rollback"),
            Some(&api.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "done");
    assert_eq!(body["stage_state"], "rolled_back");
    assert!(!table_exists(&api.stg.pool, "users").await);
    let audit = audit_rows(&api.h.db.pool).await;
    assert!(
        audit.contains(&(
            "release-bot".to_string(),
            "stage.rolled_back".to_string(),
            Some("staging".to_string())
        )),
        "{audit:?}"
    );
}

/// Live responses (pages, a change, errors, an action's result) match the
/// schemas the served document gives for their path and status.
#[tokio::test]
async fn live_responses_match_the_openapi_document() {
    let api = start("").await;
    let id = api.change_id().await;
    api.approve("dana", "staging").await;
    let (status, doc) = api.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let documented: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for route in READ_ROUTES {
        assert!(
            documented.iter().any(|p| p == route),
            "{route} is documented"
        );
    }

    let check = |method: &str, route: &str, status: StatusCode, body: &Value| {
        let schema = response_schema(&doc, route, method, status.as_u16());
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{method} {route} {status}: bad schema: {e}"));
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{method} {route} {status}: {errors:?}\n{body}"
        );
        validator
    };
    for route in READ_ROUTES {
        let path = route.replace("{id}", &id.to_string());
        let (status, body) = api.get(&path, Some(&api.read)).await;
        assert_eq!(status, StatusCode::OK);
        let validator = check("get", route, status, &body);
        // The checker bites: a missing required property, or one of the
        // wrong type, fails.
        let key = match *route {
            "/api/v1/changes/{id}" => "change",
            "/api/v1/audit/chain" => "ok",
            "/api/v1/targets" => "targets",
            _ => "items",
        };
        let mut broken = body.clone();
        broken.as_object_mut().unwrap().remove(key);
        assert!(
            !validator.is_valid(&broken),
            "{route}: no `{key}` still validates"
        );
        broken[key] = json!("text");
        assert!(
            !validator.is_valid(&broken),
            "{route}: a string `{key}` still validates"
        );
    }
    let (_, page) = api.get("/api/v1/changes", Some(&api.read)).await;
    let validator = check("get", "/api/v1/changes", StatusCode::OK, &page);
    let mut broken = page.clone();
    broken["items"][0]["rollout"]["stages"][0]["state"] = json!("exploded");
    assert!(!validator.is_valid(&broken), "an unknown stage state fails");
    let (status, body) = api.get("/api/v1/changes", None).await;
    check("get", "/api/v1/changes", status, &body);
    let (status, body) = api.get("/api/v1/changes?cursor=x", Some(&api.read)).await;
    check("get", "/api/v1/changes", status, &body);
    let (status, body) = api.get("/api/v1/changes/999999", Some(&api.read)).await;
    check("get", "/api/v1/changes/{id}", status, &body);
    let deploy = "/api/v1/changes/{id}/stages/{environment}/deploy";
    let at = |env: &str| format!("/api/v1/changes/{id}/stages/{env}/deploy");
    let (status, body) = api.post(&at("production"), Some(&api.admin)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    check("post", deploy, status, &body);
    let (status, body) = api.post(&at("staging"), Some(&api.admin)).await;
    assert_eq!(status, StatusCode::OK);
    check("post", deploy, status, &body);
    let (status, body) = api.post(&at("staging"), Some(&api.read)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    check("post", deploy, status, &body);
}

/// `GET /api/v1/targets`: the targets check of every environment's
/// databases, a reachable PostgreSQL one and an unreachable one (a closed
/// port) side by side, filtered by environment, validated against the
/// document; 401 without a token, 404 for an unknown environment.
#[tokio::test]
async fn targets_are_checked_over_the_api() {
    let closed = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        bytegate::store::embedded::free_port().unwrap()
    );
    let api = start(&format!(
        "  - name: offline\n    databases:\n      - name: gone\n        engine: postgres\n        url: \"{closed}\"\napi:\n  targets_timeout: 3s\n"
    ))
    .await;
    let (_, doc) = api.get("/api/openapi.json", None).await;
    let check = |status: StatusCode, body: &Value| {
        let schema = response_schema(&doc, "/api/v1/targets", "get", status.as_u16());
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{status}: {errors:?}\n{body}");
    };

    let (status, body) = api.get("/api/v1/targets", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    check(status, &body);

    let (status, report) = api.get("/api/v1/targets", Some(&api.read)).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    check(status, &report);
    assert_eq!(report["ok"], false, "{report:#}");
    let targets = report["targets"].as_array().unwrap();
    let names: Vec<(&str, &str)> = targets
        .iter()
        .map(|t| {
            (
                t["environment"].as_str().unwrap(),
                t["database"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("development", "dev-main"),
            ("staging", "stg-main"),
            ("production", "prod-main"),
            ("offline", "gone")
        ]
    );
    let staging = &targets[1];
    assert_eq!(staging["status"], "ok", "{staging:#}");
    assert_eq!(staging["reachable"], true);
    assert_eq!(staging["engine"], "postgres");
    assert!(
        staging["server_version"]
            .as_str()
            .unwrap()
            .starts_with(|c: char| c.is_ascii_digit()),
        "{staging:#}"
    );
    assert_eq!(staging["lock"], "free");
    // The merge deployed development: its history has the row.
    assert_eq!(
        targets[0]["history"],
        json!({"state": "present", "rows": 1, "writable": true}),
        "{:#}",
        targets[0]
    );
    let offline = &targets[3];
    assert_eq!(offline["status"], "unreachable", "{offline:#}");
    assert_eq!(offline["ok"], false);
    assert!(offline.get("server_version").is_none(), "{offline:#}");
    let error = offline["error"].as_str().unwrap();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(!error.contains("postgres@"), "no user in it: {error}");

    let (status, report) = api
        .get("/api/v1/targets?environment=staging", Some(&api.read))
        .await;
    assert_eq!(status, StatusCode::OK);
    check(status, &report);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["targets"].as_array().unwrap().len(), 1);

    let (status, body) = api
        .get("/api/v1/targets?environment=qa", Some(&api.read))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    check(status, &body);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no environment `qa`"),
        "{body}"
    );
    let (status, body) = api.get("/api/v1/targets?env=qa", Some(&api.read)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    check(status, &body);
}

/// The schema the document gives for a response, as a standalone JSON
/// Schema (draft 2020-12, as OpenAPI 3.1 uses) whose `#/components/...`
/// references resolve against the document's components.
fn response_schema(doc: &Value, route: &str, method: &str, status: u16) -> Value {
    let response = &doc["paths"][route][method]["responses"][status.to_string()];
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {route}: no documented {status} response: {response}"
    );
    let mut root = schema.as_object().unwrap().clone();
    root.insert(
        "$schema".into(),
        "https://json-schema.org/draft/2020-12/schema".into(),
    );
    root.insert("components".into(), doc["components"].clone());
    Value::Object(root)
}

/// `bytegate token ...` as an operator runs it (the binary, PG_URL).
fn token_cli(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .arg("token")
        .args(args)
        .env("PG_URL", db.url())
        .env("USER", "ops-alice")
        .env_remove("BB_DEBUG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_from_the_command_line() {
    let db = TestDb::migrated().await.unwrap();
    let (code, secret, err) = token_cli(&db, &["create", "--name", "ci", "--scope", "read"]);
    assert_eq!(code, 0, "{err}");
    let secret = secret.trim().to_string();
    assert!(secret.starts_with(api_tokens::SECRET_PREFIX), "{secret}");
    assert!(err.contains("shown only now"), "{err}");
    let now = chrono::Utc::now();
    let token = api_tokens::authenticate(&db.pool, &secret, now)
        .await
        .unwrap()
        .expect("the printed secret authenticates");
    assert_eq!((token.name.as_str(), token.scope), ("ci", TokenScope::Read));
    assert_eq!(token.created_by, "ops-alice");

    let (code, _, err) = token_cli(&db, &["create", "--name", "ci", "--scope", "admin"]);
    assert_eq!(code, 2, "a live name is unique");
    assert!(err.contains("exists already"), "{err}");
    let (code, _, _) = token_cli(&db, &["create", "--name", "x", "--scope", "root"]);
    assert_eq!(code, 2, "unknown scope");

    let (code, list, _) = token_cli(&db, &["list"]);
    assert_eq!(code, 0);
    assert!(
        list.contains("\tci\tread\t") && list.contains("live"),
        "{list}"
    );
    assert!(!list.contains(&secret[4..]), "the secret is never listed");

    let (code, out, err) = token_cli(&db, &["revoke", "ci"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("revoked token"), "{out}");
    assert!(
        api_tokens::authenticate(&db.pool, &secret, now)
            .await
            .unwrap()
            .is_none()
    );
    let (code, _, err) = token_cli(&db, &["revoke", "ci"]);
    assert_eq!(code, 2);
    assert!(err.contains("no live token"), "{err}");

    let audit = audit_rows(&db.pool).await;
    assert_eq!(
        audit,
        [
            (
                "ops-alice".to_string(),
                "api_token.created".to_string(),
                None
            ),
            (
                "ops-alice".to_string(),
                "api_token.revoked".to_string(),
                None
            ),
        ]
    );
    let (detail,): (Value,) = sqlx::query_as("SELECT detail FROM audit_log ORDER BY id LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        detail,
        json!({"token_id": token.id, "name": "ci", "scope": "read"})
    );
}
