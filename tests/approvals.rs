//! Approvals per environment end to end: typed review and comment events →
//! `flow::handle_event` → bytegate's GitHub client → the fake GitHub; a real
//! meta database per test. The seed's policies: development needs nothing,
//! staging one DBA, production two approvals including a DBA and an owner.
//!
//! Strict: every reply bytegate posts must be read by the test
//! ([`Scenario::reply`]), and the fake must see no contract violation.

mod support;

use bytegate::event::{CommentAction, CommentEvent, Event, PrRef, ReviewEvent, ReviewState};
use bytegate::forge::Forge;
use bytegate::forge::RetryPolicy;
use bytegate::forge::github::GithubForge;
use support::fake_github::CheckRun;
use support::{Harness, REPO, pr_payload, pull_request_event};

const SHA_A: &str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821";
const SHA_B: &str = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
const PR: u64 = 2;
/// The upstream payload's PR author.
const AUTHOR: &str = "Codertocat";
const MIGRATION: &str = "schema/migrations/002_add_audit.sql";
const SQL: &str = "CREATE TABLE audit (id bigint PRIMARY KEY);\n";
const APPROVAL: &str = "bytegate/approval";
const MARKER: &str = "<!-- bytegate:sql-review -->";

const SEED_POLICIES: &str = "roles:
  dba:
    users: [dba1, dba2]
    teams: [acme/dbas]
  owner:
    users: [owner1]
environments:
  - name: development
  - name: staging
    approvals: 1
    roles: [dba]
  - name: production
    approvals: 2
    roles: [dba, owner]
";

/// `2026-01-01T10:MM:00Z`.
fn at(minute: u32) -> String {
    format!("2026-01-01T10:{minute:02}:00Z")
}

struct Scenario {
    h: Harness,
    pr: PrRef,
    /// Bot replies already read.
    read: usize,
}

impl Scenario {
    /// The seed's policies and a PR opened at minute 0 with one migration.
    async fn open() -> Scenario {
        Scenario::open_with(SEED_POLICIES).await
    }

    async fn open_with(policies: &str) -> Scenario {
        let h = Harness::app_with(policies).await;
        h.github
            .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
        h.github.put_file(REPO, SHA_A, MIGRATION, SQL);
        let event = pull_request_event(&pr_payload("pull_request.opened", SHA_A, &at(0)));
        let Event::PullRequest(e) = &event else {
            unreachable!()
        };
        let pr = e.pr.clone();
        h.handle(&event).await.unwrap();
        Scenario { h, pr, read: 0 }
    }

    /// A push of `sha` at `minute` that changes the migration.
    async fn push(&self, sha: &str, minute: u32) {
        self.h
            .github
            .set_pr_files(REPO, PR, &[(MIGRATION, "modified", None)]);
        self.h.github.put_file(
            REPO,
            sha,
            MIGRATION,
            "CREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz);\n",
        );
        let event = pull_request_event(&pr_payload("pull_request.synchronize", sha, &at(minute)));
        self.h.handle(&event).await.unwrap();
    }

    /// `user` submits a review in `state` (REST spelling) at `minute`; returns its id.
    async fn review(&self, user: &str, state: &str, minute: u32) -> u64 {
        self.review_on(SHA_A, user, state, minute).await
    }

    /// A review of commit `sha`.
    async fn review_on(&self, sha: &str, user: &str, state: &str, minute: u32) -> u64 {
        let id = self
            .h
            .github
            .add_review_at(REPO, PR, user, state, sha, &at(minute));
        self.review_event_on(sha, user, id, ReviewState::parse(state).unwrap(), minute)
            .await;
        id
    }

    async fn review_event(&self, user: &str, id: u64, state: ReviewState, minute: u32) {
        self.review_event_on(SHA_A, user, id, state, minute).await
    }

    async fn review_event_on(
        &self,
        sha: &str,
        user: &str,
        id: u64,
        state: ReviewState,
        minute: u32,
    ) {
        let event = Event::Review(ReviewEvent {
            pr: self.pr.clone(),
            reviewer: user.to_string(),
            state,
            review_id: id,
            commit_sha: Some(sha.to_string()),
            at: at(minute).parse().unwrap(),
        });
        self.h.handle(&event).await.unwrap();
    }

    /// `user` comments `body` at `minute`; returns the comment id.
    async fn comment(&self, user: &str, body: &str, minute: u32) -> u64 {
        let id = self.h.github.add_comment(REPO, PR, user, body);
        self.comment_event(user, id, body, CommentAction::Created, minute)
            .await;
        id
    }

    async fn comment_event(
        &self,
        user: &str,
        id: u64,
        body: &str,
        action: CommentAction,
        minute: u32,
    ) {
        self.comment_event_by(user, user, id, body, action, minute)
            .await;
    }

    /// Like [`Scenario::comment_event`], caused by `sender` (an editor or
    /// deleter who may not be the author).
    async fn comment_event_by(
        &self,
        sender: &str,
        user: &str,
        id: u64,
        body: &str,
        action: CommentAction,
        minute: u32,
    ) {
        let event = Event::Comment(CommentEvent {
            pr: self.pr.clone(),
            author: user.to_string(),
            sender: sender.to_string(),
            body: body.to_string(),
            comment_id: id,
            action,
            at: at(minute).parse().unwrap(),
        });
        self.h.handle(&event).await.unwrap();
    }

    /// The newest approval check on `sha`.
    fn check(&self, sha: &str) -> CheckRun {
        self.h
            .github
            .latest_check_run(sha, APPROVAL)
            .unwrap_or_else(|| panic!("no {APPROVAL} check on {sha}"))
    }

    fn summary(&self, sha: &str) -> String {
        self.check(sha).summary.unwrap_or_default()
    }

    /// The summary's table row of one environment.
    fn row(&self, sha: &str, env: &str) -> String {
        let summary = self.summary(sha);
        summary
            .lines()
            .find(|l| l.starts_with(&format!("| {env} |")))
            .unwrap_or_else(|| panic!("no row for {env} in\n{summary}"))
            .to_string()
    }

    fn sticky(&self) -> String {
        self.h
            .github
            .comments(REPO, PR)
            .into_iter()
            .find(|c| c.body.starts_with(MARKER))
            .expect("the sticky comment")
            .body
    }

    fn replies(&self) -> Vec<String> {
        self.h
            .github
            .comments(REPO, PR)
            .into_iter()
            // Replies only: the sticky review and deploy comments start with a marker.
            .filter(|c| c.author == "bytegate[bot]" && !c.body.starts_with("<!-- bytegate:"))
            .map(|c| c.body)
            .collect()
    }

    /// The one reply posted since the last call.
    fn reply(&mut self) -> String {
        let all = self.replies();
        let new = &all[self.read..];
        assert_eq!(new.len(), 1, "expected exactly one new reply, got {new:#?}");
        self.read = all.len();
        new[0].clone()
    }

    /// No reply the test has not read; no contract violation.
    fn finish(&self) {
        let unread = &self.replies()[self.read..];
        assert!(unread.is_empty(), "unread replies: {unread:#?}");
        self.h.github.assert_clean();
    }

    async fn audit(&self) -> Vec<(String, String, Option<String>)> {
        sqlx::query_as(
            "SELECT actor, action, environment FROM audit_log
             WHERE action LIKE 'approval.%' ORDER BY id",
        )
        .fetch_all(&self.h.db.pool)
        .await
        .unwrap()
    }
}

fn satisfied(row: &str) -> bool {
    row.contains("✅ approved")
}

#[tokio::test]
async fn no_approvals_satisfy_only_development() {
    let s = Scenario::open().await;
    let run = s.check(SHA_A);
    assert_eq!(run.status, "completed");
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        run.title.as_deref(),
        Some(
            "Waiting for approvals: staging: 0/1 (missing: dba); production: 0/2 (missing: dba, owner)"
        )
    );
    assert!(satisfied(&s.row(SHA_A, "development")));
    assert_eq!(
        s.row(SHA_A, "staging"),
        "| staging | ⏳ waiting | 1 | 0 | dba |"
    );
    assert_eq!(
        s.row(SHA_A, "production"),
        "| production | ⏳ waiting | 2 | 0 | dba, owner |"
    );
    // The sticky comment carries the same table, inside its approval section.
    let sticky = s.sticky();
    assert!(
        sticky.contains("| production | ⏳ waiting | 2 | 0 | dba, owner |"),
        "{sticky}"
    );
    assert!(!sticky.contains("Approval status will appear here"));
    assert_eq!(
        s.h.github.comments(REPO, PR)[0].edits,
        0,
        "one comment, written once"
    );
    s.finish();
}

#[tokio::test]
async fn production_needs_a_dba_and_an_owner() {
    let mut s = Scenario::open().await;
    s.review("dba1", "APPROVED", 1).await;
    assert!(satisfied(&s.row(SHA_A, "staging")));
    assert_eq!(
        s.row(SHA_A, "production"),
        "| production | ⏳ waiting | 2 | 1: dba1 (dba) | owner |"
    );
    assert_eq!(s.check(SHA_A).conclusion.as_deref(), Some("failure"));

    s.comment("owner1", "LGTM\n/bytebase approve production", 2)
        .await;
    assert_eq!(
        s.reply(),
        "@owner1\n\n- ✅ `/bytebase approve production`: approval recorded for production. Now: production: 2/2 ✓.\n"
    );
    let run = s.check(SHA_A);
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    assert_eq!(
        run.title.as_deref(),
        Some("All environments required before merge are approved")
    );
    assert!(satisfied(&s.row(SHA_A, "production")));
    assert!(
        s.sticky()
            .contains("**Approved** for every environment required before merge.")
    );
    // The approval check is edited in place, not posted again per event.
    let runs: Vec<CheckRun> =
        s.h.github
            .check_runs_on(SHA_A)
            .into_iter()
            .filter(|r| r.name == APPROVAL)
            .collect();
    assert_eq!(runs.len(), 1, "{runs:#?}");

    let audit = s.audit().await;
    assert!(audit.contains(&("dba1".into(), "approval.granted".into(), None)));
    assert!(audit.contains(&(
        "owner1".into(),
        "approval.granted".into(),
        Some("production".into())
    )));
    assert!(audit.contains(&(
        "bytegate".into(),
        "approval.decided".into(),
        Some("production".into())
    )));
    s.finish();
}

#[tokio::test]
async fn the_authors_own_approval_is_refused_with_a_reply() {
    let mut s = Scenario::open().await;
    s.comment(AUTHOR, "/bytebase approve", 1).await;
    assert_eq!(
        s.reply(),
        "@Codertocat\n\n- ❌ `/bytebase approve`: you opened this pull request, and the author's approval never counts. Ask a reviewer holding the role `dba` or `owner` to approve it.\n"
    );
    assert_eq!(s.h.count("approvals").await, 0);
    assert!(!satisfied(&s.row(SHA_A, "staging")));
    assert_eq!(
        s.audit().await.last().unwrap(),
        &(AUTHOR.to_string(), "approval.refused".to_string(), None)
    );
    s.finish();
}

#[tokio::test]
async fn the_authors_review_is_listed_as_not_counted() {
    let s = Scenario::open().await;
    s.review(AUTHOR, "APPROVED", 1).await;
    let summary = s.summary(SHA_A);
    assert!(
        summary.contains("- Codertocat (review, 2026-01-01 10:01 UTC): the pull request's author cannot approve it — development, staging, production"),
        "{summary}"
    );
    s.finish();
}

#[tokio::test]
async fn a_push_that_changes_a_migration_makes_earlier_approvals_stale() {
    let s = Scenario::open().await;
    s.review("dba1", "APPROVED", 1).await;
    s.review("owner1", "APPROVED", 2).await;
    assert_eq!(s.check(SHA_A).conclusion.as_deref(), Some("success"));

    s.push(SHA_B, 5).await;
    let run = s.check(SHA_B);
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    assert_eq!(
        s.row(SHA_B, "staging"),
        "| staging | ⏳ waiting | 1 | 0 | dba |"
    );
    let summary = s.summary(SHA_B);
    assert!(
        summary.contains("- dba1 (review, 2026-01-01 10:01 UTC): stale: given for other migration content than the current head's — development, staging, production"),
        "{summary}"
    );
    // Approving again after the push counts; a review of the old commit does not.
    s.review("dba1", "APPROVED", 6).await;
    assert!(!satisfied(&s.row(SHA_B, "staging")));
    s.review_on(SHA_B, "dba1", "APPROVED", 7).await;
    assert!(satisfied(&s.row(SHA_B, "staging")));
    s.finish();
}

#[tokio::test]
async fn changes_requested_cancels_an_approval() {
    let s = Scenario::open().await;
    s.review("dba1", "APPROVED", 1).await;
    assert!(satisfied(&s.row(SHA_A, "staging")));
    s.review("dba1", "CHANGES_REQUESTED", 2).await;
    assert!(!satisfied(&s.row(SHA_A, "staging")));
    assert!(
        s.summary(SHA_A)
            .contains("- dba1 (review, 2026-01-01 10:01 UTC): cancelled by a later change request"),
        "{}",
        s.summary(SHA_A)
    );
    assert!(
        s.audit()
            .await
            .contains(&("dba1".into(), "approval.revoked".into(), None))
    );
    s.finish();
}

#[tokio::test]
async fn a_dismissed_review_no_longer_counts() {
    let mut s = Scenario::open().await;
    let id = s.review("dba1", "APPROVED", 1).await;
    s.h.github.set_review_state(REPO, PR, id, "DISMISSED");
    s.review_event("dba1", id, ReviewState::Dismissed, 1).await;
    assert!(!satisfied(&s.row(SHA_A, "staging")));
    assert!(
        s.summary(SHA_A)
            .contains("dba1 (review, 2026-01-01 10:01 UTC): review dismissed")
    );
    // Approving again afterwards counts, and later review events keep it that way.
    s.comment("dba1", "/bytebase approve staging", 3).await;
    s.reply();
    s.review("dba2", "COMMENTED", 4).await;
    assert!(satisfied(&s.row(SHA_A, "staging")));
    s.finish();
}

#[tokio::test]
async fn revoke_production_unsatisfies_production_only() {
    let mut s = Scenario::open().await;
    s.review("dba1", "APPROVED", 1).await;
    s.review("owner1", "APPROVED", 2).await;
    s.comment("owner1", "/bytebase revoke production", 3).await;
    assert_eq!(
        s.reply(),
        "@owner1\n\n- ✅ `/bytebase revoke production`: approval withdrawn for production. Now: production: 1/2 (missing: owner).\n"
    );
    assert!(!satisfied(&s.row(SHA_A, "production")));
    assert!(satisfied(&s.row(SHA_A, "staging")));
    assert_eq!(s.check(SHA_A).conclusion.as_deref(), Some("failure"));
    s.finish();
}

#[tokio::test]
async fn a_quoted_command_does_nothing() {
    let s = Scenario::open().await;
    let before = s.h.github.requests().len();
    s.comment("dba1", "> /bytebase approve\n\nI agree with the above.", 1)
        .await;
    assert_eq!(s.h.count("approvals").await, 0);
    assert_eq!(s.h.github.requests().len(), before, "not a single request");
    s.finish();
}

#[tokio::test]
async fn a_deleted_comment_withdraws_its_approval() {
    let mut s = Scenario::open().await;
    let id = s.comment("dba1", "/bytebase approve staging", 1).await;
    s.reply();
    assert!(satisfied(&s.row(SHA_A, "staging")));
    s.comment_event(
        "dba1",
        id,
        "/bytebase approve staging",
        CommentAction::Deleted,
        2,
    )
    .await;
    assert!(!satisfied(&s.row(SHA_A, "staging")));
    assert_eq!(s.h.count("approvals").await, 0);
    assert!(s.audit().await.contains(&(
        "dba1".into(),
        "approval.revoked".into(),
        Some("staging".into())
    )));
    s.finish();
}

#[tokio::test]
async fn an_edited_comment_is_read_again() {
    let mut s = Scenario::open().await;
    let id = s.comment("dba1", "/bytebase approve", 1).await;
    s.reply();
    assert!(satisfied(&s.row(SHA_A, "staging")));
    s.comment_event("dba1", id, "Wait, not yet.", CommentAction::Edited, 2)
        .await;
    assert!(!satisfied(&s.row(SHA_A, "staging")));
    s.finish();
}

#[tokio::test]
async fn unknown_environment_and_command_get_helpful_replies() {
    let mut s = Scenario::open().await;
    s.comment("dba1", "/bytebase approve prodution\n/bytebase aprove", 1)
        .await;
    assert_eq!(
        s.reply(),
        "@dba1\n\n\
         - ❌ `/bytebase approve prodution`: unknown environment `prodution`; did you mean `production`? Configured environments: `development`, `staging`, `production`\n\
         - ❌ `/bytebase aprove`: unknown command `aprove`; did you mean `approve`? Commands: `approve`, `revoke`, `deploy`, `rollback`, `repair`, `plan`, `help`. `/bytebase help` explains them.\n"
    );
    assert_eq!(s.h.count("approvals").await, 0);
    s.finish();
}

#[tokio::test]
async fn a_user_without_a_role_is_told_who_can_approve() {
    let mut s = Scenario::open().await;
    s.comment("rando", "/bytebase approve production", 1).await;
    assert_eq!(
        s.reply(),
        "@rando\n\n- ❌ `/bytebase approve production`: you hold no role that counts for `production`. Approvals count from holding the role `dba` or `owner`.\n"
    );
    // A plain review from them is stored, and shown as not counted.
    s.review("rando", "APPROVED", 2).await;
    assert!(
        s.summary(SHA_A)
            .contains("rando (review, 2026-01-01 10:02 UTC): holds no role that counts here")
    );
    s.finish();
}

#[tokio::test]
async fn team_members_hold_the_teams_role() {
    let s = Scenario::open().await;
    s.h.github.add_team_member("acme/dbas", "carol");
    s.review("carol", "APPROVED", 1).await;
    assert_eq!(
        s.row(SHA_A, "staging"),
        "| staging | ✅ approved | 1 | 1: carol (dba) | — |"
    );
    s.finish();
}

#[tokio::test]
async fn write_permission_counts_where_the_environment_allows_it() {
    let policies = SEED_POLICIES.replace(
        "  - name: staging\n    approvals: 1\n    roles: [dba]\n",
        "  - name: staging\n    approvals: 1\n    allow_write_permission: true\n",
    );
    let s = Scenario::open_with(&policies).await;
    s.h.github.set_permission(REPO, "writer", "write");
    s.review("writer", "APPROVED", 1).await;
    assert_eq!(
        s.row(SHA_A, "staging"),
        "| staging | ✅ approved | 1 | 1: writer (write) | — |"
    );
    assert!(!satisfied(&s.row(SHA_A, "production")));
    s.finish();
}

#[tokio::test]
async fn help_deploy_and_several_commands_in_one_comment() {
    let mut s = Scenario::open().await;
    s.comment(
        "dba1",
        "/bytebase approve staging\n/bytebase deploy staging\n/bytebase help",
        1,
    )
    .await;
    let reply = s.reply();
    assert!(reply.starts_with("@dba1\n\n- ✅ `/bytebase approve staging`: approval recorded for staging. Now: staging: 1/1 ✓.\n- ℹ️ `/bytebase deploy staging`: `deploy` for `staging` is available after merge"), "{reply}");
    assert!(reply.contains("| `/bytebase rollback ENV` |"), "{reply}");
    s.finish();
}

#[tokio::test]
async fn plan_reruns_the_review() {
    let mut s = Scenario::open().await;
    s.h.github.set_pull(
        REPO,
        PR,
        support::fake_github::Pull {
            head_sha: SHA_A.to_string(),
            base_sha: support::base_sha(),
            head_repo: REPO.to_string(),
        },
    );
    let reviews_before = s.h.count("review_results").await;
    s.comment("dba1", "/bytebase plan", 1).await;
    assert_eq!(
        s.reply(),
        "@dba1\n\n- ℹ️ `/bytebase plan`: re-ran the review of `ec26c3e`.\n"
    );
    assert!(s.h.count("review_results").await > reviews_before);
    s.finish();
}

/// `/bytebase plan` with `dry_run:` configured: the head's migrations run on
/// a scratch copy of production's schema; the comment and the check run
/// show the lock each statement takes on an existing table; the target is
/// unchanged. A push (without `on_push`) shows no dry run.
#[tokio::test]
async fn plan_dry_runs_on_a_copy_of_the_schema_and_reports_locks() {
    let target = bytegate::store::testdb::TestDb::empty().await.unwrap();
    sqlx::raw_sql("CREATE TABLE big (id bigint PRIMARY KEY, a int)")
        .execute(&target.pool)
        .await
        .unwrap();
    let scratch = bytegate::store::testdb::TestDb::empty().await.unwrap();
    let policies = format!(
        "environments:\n  - name: development\n  - name: production\n    databases:\n      - {{ name: app, engine: postgres, url: \"{}\" }}\ndry_run: {{ environment: production, scratch_url: \"{}\" }}\n",
        target.url(),
        scratch.url()
    );
    let mut s = Scenario::open_with(&policies).await;
    assert!(!s.sticky().contains("Dry run"), "a push does not dry-run");
    s.h.github.put_file(
        REPO,
        SHA_A,
        MIGRATION,
        "ALTER TABLE big ADD COLUMN x int NOT NULL DEFAULT 0;\nALTER TABLE big ALTER COLUMN a TYPE bigint;\n",
    );
    s.h.github.set_pull(
        REPO,
        PR,
        support::fake_github::Pull {
            head_sha: SHA_A.to_string(),
            base_sha: support::base_sha(),
            head_repo: REPO.to_string(),
        },
    );
    s.comment("dba1", "/bytebase plan", 1).await;
    s.reply();
    let sticky = s.sticky();
    assert!(
        sticky.contains("### Dry run on a copy of `production`'s schema (`app`)"),
        "{sticky}"
    );
    assert!(
        sticky.contains("| `002_add_audit.sql:1` | ok | ⚠️ AccessExclusiveLock on `big` | — |"),
        "{sticky}"
    );
    assert!(
        sticky.contains("| `002_add_audit.sql:2` | ok |") && sticky.contains("| `big`"),
        "the type change rewrites big: {sticky}"
    );
    let review =
        s.h.github
            .latest_check_run(SHA_A, "bytegate/sql-review")
            .unwrap();
    assert!(
        review
            .summary
            .unwrap_or_default()
            .contains("⚠️ AccessExclusiveLock on `big`")
    );
    let (cols,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM information_schema.columns WHERE table_name = 'big'")
            .fetch_one(&target.pool)
            .await
            .unwrap();
    assert_eq!(cols, 2, "the target is unchanged");
    s.finish();
}

#[tokio::test]
async fn bytegates_own_comments_are_never_commands() {
    let s = Scenario::open().await;
    let before = s.h.github.requests().len();
    s.comment("bytegate[bot]", "/bytebase approve", 1).await;
    assert_eq!(s.h.github.requests().len(), before);
    assert_eq!(s.h.count("approvals").await, 0);
    s.h.github.assert_clean();
}

#[tokio::test]
async fn high_risk_adds_an_approval() {
    let policies = SEED_POLICIES.replace(
        "    roles: [dba, owner]\n",
        "    roles: [dba, owner]\n    high_risk_extra_approvals: 1\n",
    );
    let h = Harness::app_with(&policies).await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github
        .put_file(REPO, SHA_A, MIGRATION, "DROP TABLE users;\n");
    h.handle(&pull_request_event(&pr_payload(
        "pull_request.opened",
        SHA_A,
        &at(0),
    )))
    .await
    .unwrap();
    let run = h.github.latest_check_run(SHA_A, APPROVAL).unwrap();
    let summary = run.summary.unwrap();
    assert!(
        summary.contains("| production | ⏳ waiting | 3 (incl. +1 high risk) | 0 | dba, owner |"),
        "{summary}"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn github_team_membership_is_looked_up_and_cached() {
    let h = Harness::app().await;
    h.github.add_team_member("acme/dbas", "carol");
    let gh = h.ctx.config.forges.github.as_ref().unwrap();
    let forge = GithubForge::from_config(gh, RetryPolicy::fast()).unwrap();
    let event = pull_request_event(&pr_payload("pull_request.opened", SHA_A, &at(0)));
    let Event::PullRequest(e) = &event else {
        unreachable!()
    };
    let repo = &e.pr.repo;
    assert!(
        forge
            .is_team_member(repo, "acme/dbas", "carol")
            .await
            .unwrap()
    );
    assert!(
        forge
            .is_team_member(repo, "ACME/DBAS", "Carol")
            .await
            .unwrap()
    );
    assert!(
        !forge
            .is_team_member(repo, "acme/dbas", "dave")
            .await
            .unwrap()
    );
    assert_eq!(
        h.github
            .requests_of("teams/get-membership-for-user-in-org")
            .len(),
        2,
        "the second question about carol is answered from the cache"
    );
    assert!(
        forge
            .is_team_member(repo, "no-slash", "carol")
            .await
            .is_err()
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn a_review_before_the_first_sql_review_counts_once_the_pr_is_reviewed() {
    let h = Harness::app_with(SEED_POLICIES).await;
    h.github.set_pull(
        REPO,
        PR,
        support::fake_github::Pull {
            head_sha: SHA_A.to_string(),
            base_sha: support::base_sha(),
            head_repo: REPO.to_string(),
        },
    );
    let event = pull_request_event(&pr_payload("pull_request.opened", SHA_A, &at(0)));
    let Event::PullRequest(e) = &event else {
        unreachable!()
    };
    let id = h
        .github
        .add_review_at(REPO, PR, "dba1", "APPROVED", SHA_A, &at(1));
    h.handle(&Event::Review(ReviewEvent {
        pr: e.pr.clone(),
        reviewer: "dba1".into(),
        state: ReviewState::Approved,
        review_id: id,
        commit_sha: Some(SHA_A.into()),
        at: at(1).parse().unwrap(),
    }))
    .await
    .unwrap();
    assert!(
        h.github.latest_check_run(SHA_A, APPROVAL).is_none(),
        "nothing to approve before the migrations were reviewed"
    );
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, SQL);
    h.handle(&event).await.unwrap();
    let summary = h
        .github
        .latest_check_run(SHA_A, APPROVAL)
        .unwrap()
        .summary
        .unwrap();
    assert!(
        summary.contains("| staging | ✅ approved | 1 | 1: dba1 (dba) | — |"),
        "{summary}"
    );
    h.github.assert_clean();
}

#[tokio::test]
async fn token_mode_publishes_the_approval_as_a_commit_status() {
    let h = Harness::token().await;
    h.github
        .set_pr_files(REPO, PR, &[(MIGRATION, "added", None)]);
    h.github.put_file(REPO, SHA_A, MIGRATION, SQL);
    h.handle(&pull_request_event(&pr_payload(
        "pull_request.opened",
        SHA_A,
        &at(0),
    )))
    .await
    .unwrap();
    let statuses = h.github.statuses_of(APPROVAL);
    assert_eq!(statuses.len(), 1, "{statuses:#?}");
    // The token harness' environments need no approvals.
    assert_eq!(statuses[0]["state"], "success");
    assert_eq!(statuses[0]["sha"], SHA_A);
    h.github.assert_clean();
}

#[tokio::test]
async fn at_most_ten_commands_are_read_from_one_comment() {
    let mut s = Scenario::open().await;
    s.review("dba1", "APPROVED", 1).await;
    let body = "/bytebase revoke staging\n".repeat(12);
    s.comment("dba1", &body, 2).await;
    let reply = s.reply();
    assert_eq!(reply.matches("approval withdrawn").count(), 10, "{reply}");
    assert!(
        reply.ends_with("Only the first 10 commands of a comment are read; 2 more were ignored.\n"),
        "{reply}"
    );
    s.finish();
}

#[tokio::test]
async fn revoking_without_an_approval_says_so() {
    let mut s = Scenario::open().await;
    s.comment("dba1", "/bytebase revoke", 1).await;
    assert_eq!(
        s.reply(),
        "@dba1\n\n- ℹ️ `/bytebase revoke`: you have no approval here to withdraw.\n"
    );
    assert_eq!(s.h.count("approvals").await, 0);
    s.finish();
}

#[tokio::test]
async fn after_merge_an_approval_and_deploy_reach_the_rollout() {
    let mut s = Scenario::open().await;
    let mut p = pr_payload("pull_request.opened", SHA_A, &at(1));
    p["action"] = "closed".into();
    p["pull_request"]["state"] = "closed".into();
    p["pull_request"]["merged"] = true.into();
    p["pull_request"]["merge_commit_sha"] = "3333333333333333333333333333333333333333".into();
    s.h.github.put_file(
        REPO,
        "3333333333333333333333333333333333333333",
        MIGRATION,
        SQL,
    );
    s.h.handle(&pull_request_event(&p)).await.unwrap();
    s.comment(
        "dba1",
        "/bytebase approve staging\n/bytebase deploy staging",
        2,
    )
    .await;
    let reply = s.reply();
    assert!(
        reply.starts_with(
            "@dba1\n\n- ✅ `/bytebase approve staging`: approval recorded for staging."
        ),
        "{reply}"
    );
    let deploy_line = reply.lines().nth(3).unwrap_or_default().to_string();
    assert!(
        deploy_line.starts_with("- ℹ️ `/bytebase deploy staging`: ")
            && !deploy_line.contains("available after merge"),
        "{reply}"
    );
    s.h.github.assert_clean();
}

#[tokio::test]
async fn an_edit_that_keeps_the_commands_changes_nothing() {
    let mut s = Scenario::open().await;
    let id = s
        .comment("dba1", "/bytebase approve staging\nLGTM", 1)
        .await;
    s.reply();
    let audit_before = s.audit().await.len();
    s.comment_event(
        "dba1",
        id,
        "/bytebase approve staging\nLGTM, nice work",
        CommentAction::Edited,
        9,
    )
    .await;
    assert!(satisfied(&s.row(SHA_A, "staging")));
    let (at,): (chrono::DateTime<chrono::Utc>,) = sqlx::query_as("SELECT at FROM approvals")
        .fetch_one(&s.h.db.pool)
        .await
        .unwrap();
    assert_eq!(at, at_time(1), "the approval keeps its time");
    assert_eq!(s.audit().await.len(), audit_before);
    s.finish();
}

fn at_time(minute: u32) -> chrono::DateTime<chrono::Utc> {
    at(minute).parse().unwrap()
}

/// The seed's policies with `alice-dba` as a DBA.
fn policies_with_alice() -> String {
    SEED_POLICIES.replace("users: [dba1, dba2]", "users: [dba1, dba2, alice-dba]")
}

/// Audit rows of one action: `(actor, detail)`.
async fn audited(s: &Scenario, action: &str) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(&s.h.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn editing_someone_elses_comment_into_an_approval_forges_nothing() {
    let mut s = Scenario::open_with(&policies_with_alice()).await;
    let id = s.comment("alice-dba", "LGTM", 1).await;
    let before = s.check(SHA_A);
    // mallory (write access) edits alice-dba's comment: GitHub's `sender` is mallory.
    s.comment_event_by(
        "mallory",
        "alice-dba",
        id,
        "/bytebase approve staging",
        CommentAction::Edited,
        2,
    )
    .await;
    assert_eq!(
        s.reply(),
        "@mallory edited @alice-dba's comment; commands count only as the person who wrote them, so nothing changed.\n"
    );
    assert_eq!(s.h.count("approvals").await, 0, "no approval recorded");
    let after = s.check(SHA_A);
    assert_eq!(after, before, "the approval check is unchanged");
    assert_eq!(
        s.row(SHA_A, "staging"),
        "| staging | ⏳ waiting | 1 | 0 | dba |"
    );
    let refused = audited(&s, "command.edit_by_other_refused").await;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "mallory");
    assert_eq!(refused[0].1["author"], "alice-dba");
    assert_eq!(refused[0].1["comment_id"], id);
    assert!(
        !s.audit()
            .await
            .iter()
            .any(|(_, a, _)| a == "approval.granted"),
        "nothing granted"
    );
    s.finish();
}

#[tokio::test]
async fn an_edit_by_someone_else_keeps_the_authors_approval_and_a_deletion_by_anyone_withdraws() {
    let mut s = Scenario::open().await;
    let id = s.comment("dba1", "/bytebase approve staging", 1).await;
    s.reply();
    assert!(satisfied(&s.row(SHA_A, "staging")));
    // mallory edits dba1's approval away: it stays exactly as it was.
    s.comment_event_by(
        "mallory",
        "dba1",
        id,
        "Wait, not yet.",
        CommentAction::Edited,
        2,
    )
    .await;
    assert_eq!(
        s.reply(),
        "@mallory edited @dba1's comment; commands count only as the person who wrote them, so nothing changed.\n"
    );
    let rows: Vec<(
        String,
        Option<String>,
        String,
        chrono::DateTime<chrono::Utc>,
    )> = sqlx::query_as("SELECT user_login, environment, state, at FROM approvals")
        .fetch_all(&s.h.db.pool)
        .await
        .unwrap();
    assert_eq!(
        rows,
        [(
            "dba1".to_string(),
            Some("staging".to_string()),
            "approved".to_string(),
            at_time(1)
        )]
    );
    assert!(satisfied(&s.row(SHA_A, "staging")));
    assert_eq!(audited(&s, "command.edit_by_other_refused").await.len(), 1);
    // A deletion withdraws what its author said, whoever deleted it.
    s.comment_event_by(
        "mallory",
        "dba1",
        id,
        "Wait, not yet.",
        CommentAction::Deleted,
        3,
    )
    .await;
    assert_eq!(s.h.count("approvals").await, 0);
    assert!(!satisfied(&s.row(SHA_A, "staging")));
    assert!(s.audit().await.contains(&(
        "dba1".into(),
        "approval.revoked".into(),
        Some("staging".into())
    )));
    s.finish();
}

#[tokio::test]
async fn the_author_editing_her_own_comment_into_an_approval_counts() {
    let mut s = Scenario::open_with(&policies_with_alice()).await;
    let id = s.comment("alice-dba", "LGTM", 1).await;
    s.comment_event_by(
        "alice-dba",
        "alice-dba",
        id,
        "/bytebase approve staging",
        CommentAction::Edited,
        2,
    )
    .await;
    assert_eq!(
        s.reply(),
        "@alice-dba\n\n- ✅ `/bytebase approve staging`: approval recorded for staging. Now: staging: 1/1 ✓.\n"
    );
    assert!(satisfied(&s.row(SHA_A, "staging")));
    assert!(
        audited(&s, "command.edit_by_other_refused")
            .await
            .is_empty()
    );
    s.finish();
}

#[tokio::test]
async fn a_flood_of_commands_costs_bounded_lookups_and_is_answered_once() {
    use bytegate::flow::guard::{COMMAND_WINDOW, COMMANDS_PER_WINDOW, CommandGuard, ManualClock};
    // Write permission counts for staging: every refusal needs a permission lookup.
    let policies = SEED_POLICIES.replace(
        "  - name: staging\n    approvals: 1\n    roles: [dba]\n",
        "  - name: staging\n    approvals: 1\n    roles: [dba]\n    allow_write_permission: true\n",
    );
    let mut s = Scenario::open_with(&policies).await;
    let clock = std::sync::Arc::new(ManualClock::default());
    s.h.ctx.guard = CommandGuard::new(clock.clone());
    s.h.github.set_permission(REPO, "rando", "read");
    let lookups = |s: &Scenario| {
        (
            s.h.github
                .requests_of("repos/get-collaborator-permission-level")
                .len(),
            s.h.github
                .requests_of("teams/get-membership-for-user-in-org")
                .len(),
        )
    };
    let before = lookups(&s);
    for i in 0..50 {
        s.comment("rando", "/bytebase deploy staging", 1 + i % 50)
            .await;
    }
    let after = lookups(&s);
    assert_eq!(
        after.0 - before.0,
        1,
        "one permission lookup, then the cache"
    );
    assert!(after.1 - before.1 <= 1, "at most one team lookup");
    let replies = s.replies();
    assert_eq!(replies.len(), COMMANDS_PER_WINDOW + 1, "{replies:#?}");
    for r in &replies[..COMMANDS_PER_WINDOW] {
        assert_eq!(
            r,
            "@rando\n\n- ❌ `/bytebase deploy staging`: `deploy` needs the standing that approving needs: you hold no role that counts for `staging`. Approvals count from holding the role `dba` (or with write permission, for `staging`).\n"
        );
    }
    assert_eq!(
        replies[COMMANDS_PER_WINDOW],
        "@rando\n\nYou sent more than 10 comments with commands on this pull request within 10 minutes; these commands were not run. Commands in comments are read again after that.\n"
    );
    s.read = replies.len();
    assert_eq!(audited(&s, "command.limited").await.len(), 40);
    assert_eq!(audited(&s, "approval.refused").await.len(), 10);

    // Time passes (the window and the cache): commands are read, and looked up, again.
    clock.advance(COMMAND_WINDOW);
    s.comment("rando", "/bytebase deploy staging", 59).await;
    assert!(s.reply().contains("`deploy` needs the standing"));
    assert_eq!(lookups(&s).0 - before.0, 2);
    s.finish();
}

#[tokio::test]
async fn plan_reruns_are_limited_per_user() {
    use bytegate::flow::guard::PLANS_PER_WINDOW;
    let mut s = Scenario::open().await;
    s.h.github.set_pull(
        REPO,
        PR,
        support::fake_github::Pull {
            head_sha: SHA_A.to_string(),
            base_sha: support::base_sha(),
            head_repo: REPO.to_string(),
        },
    );
    for i in 0..PLANS_PER_WINDOW {
        s.comment("rando", "/bytebase plan", 1 + i as u32).await;
        assert!(s.reply().contains("re-ran the review"));
    }
    let reviews = s.h.count("review_results").await;
    s.comment("rando", "/bytebase plan", 9).await;
    assert_eq!(
        s.reply(),
        "@rando\n\n- ❌ `/bytebase plan`: `plan` re-runs the whole review; you asked for it more than 3 times on this pull request within 10 minutes. Try again later.\n"
    );
    assert_eq!(s.h.count("review_results").await, reviews, "no review ran");
    s.finish();
}

#[tokio::test]
async fn a_stalled_forge_call_while_publishing_does_not_hold_up_audit_appends() {
    use bytegate::store::audit::{self, AuditAction, AuditEntry};
    let s = Scenario::open().await;
    // The next comment listing (publishing the approval section) hangs.
    let mut stall = s.h.github.stall_next("issues/list-comments");
    let id =
        s.h.github
            .add_review_at(REPO, PR, "dba1", "APPROVED", SHA_A, &at(1));
    let event = Event::Review(ReviewEvent {
        pr: s.pr.clone(),
        reviewer: "dba1".to_string(),
        state: ReviewState::Approved,
        review_id: id,
        commit_sha: Some(SHA_A.to_string()),
        at: at_time(1),
    });
    let ctx = s.h.ctx.clone();
    let publishing = tokio::spawn(async move { bytegate::flow::handle_event(&ctx, &event).await });
    stall.entered().await;

    // Another task appends to the audit trail while that forge call hangs.
    let pool = s.h.db.pool.clone();
    let append = tokio::spawn(async move {
        let entry = AuditEntry {
            actor: "someone-else",
            action: AuditAction::DeliveryAccepted,
            forge: None,
            repo: None,
            number: None,
            environment: None,
            detail: serde_json::json!({}),
        };
        audit::append(&pool, &entry).await
    });
    // The append either finishes, or is seen waiting for the chain lock.
    let waiting_for_chain_lock = async {
        loop {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            )
            .fetch_one(&s.h.db.pool)
            .await
            .unwrap();
            if n > 0 {
                return;
            }
            tokio::task::yield_now().await;
        }
    };
    let appended = tokio::select! {
        r = append => r.unwrap().unwrap(),
        () = waiting_for_chain_lock => {
            stall.release();
            panic!("an audit append waits for the chain lock while a forge call is stalled")
        }
    };
    stall.release();
    publishing.await.unwrap().unwrap();

    // The stalled publish completed afterwards, with its decision audited.
    assert!(satisfied(&s.row(SHA_A, "staging")));
    assert!(
        s.sticky().contains("| staging | ✅ approved |"),
        "{}",
        s.sticky()
    );
    let (decided,): (i64,) = sqlx::query_as(
        "SELECT id FROM audit_log WHERE action = 'approval.decided' AND environment = 'staging'
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&s.h.db.pool)
    .await
    .unwrap();
    assert!(
        decided < appended,
        "the decision was audited before the forge was told"
    );
    let chain = audit::verify_chain(&s.h.db.pool, None).await.unwrap();
    assert_eq!(chain.broken, None);
    s.finish();
}
