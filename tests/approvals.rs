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
        let id = self
            .h
            .github
            .add_review_at(REPO, PR, user, state, SHA_A, &at(minute));
        self.review_event(user, id, ReviewState::parse(state).unwrap(), minute)
            .await;
        id
    }

    async fn review_event(&self, user: &str, id: u64, state: ReviewState, minute: u32) {
        let event = Event::Review(ReviewEvent {
            pr: self.pr.clone(),
            reviewer: user.to_string(),
            state,
            review_id: id,
            commit_sha: Some(SHA_A.to_string()),
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
        summary.contains("- dba1 (review, 2026-01-01 10:01 UTC): stale: given before the migrations changed at 2026-01-01 10:05 UTC — development, staging, production"),
        "{summary}"
    );
    // Approving again after the push counts.
    s.review("dba1", "APPROVED", 6).await;
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
         - ❌ `/bytebase aprove`: unknown command `aprove`; did you mean `approve`? Commands: `approve`, `revoke`, `deploy`, `rollback`, `plan`, `help`. `/bytebase help` explains them.\n"
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
