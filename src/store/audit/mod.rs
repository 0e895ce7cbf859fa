//! The audit trail: every state change appends one row to `audit_log`.

use super::StoreError;
use super::change_requests::ChangeRequest;
use crate::event::PrRef;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Acquire, FromRow, PgExecutor, PgPool, Postgres};
use std::fmt;
use std::str::FromStr;

/// Declares [`AuditAction`] from one table of `Variant => "stored.name"`, so
/// the list of every action ([`AuditAction::ALL`]) and the names can never
/// miss a variant.
macro_rules! audit_actions {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// What happened. Stored as its dotted name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(#[doc = $doc])* $variant,)*
        }

        impl AuditAction {
            /// Every action, for parsing and listings (generated: complete by construction).
            pub const ALL: &'static [AuditAction] = &[$(AuditAction::$variant,)*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditAction::$variant => $name,)*
                }
            }
        }
    };
}

audit_actions! {
    /// A webhook delivery that asked for work was accepted and its job started.
    DeliveryAccepted => "delivery.accepted",
    /// A review of a head commit started.
    ReviewStarted => "review.started",
    /// A review finished and was published.
    ReviewCompleted => "review.completed",
    /// A review failed (the job may be retried).
    ReviewFailed => "review.failed",
    /// A late review of an older commit published its check but left the comment alone.
    ReviewSuperseded => "review.superseded",
    /// The sticky comment was posted.
    CommentCreated => "comment.created",
    /// The sticky comment was edited.
    CommentUpdated => "comment.updated",
    /// The PR was closed without merge.
    ChangeRequestClosed => "change_request.closed",
    /// The PR was merged.
    ChangeRequestMerged => "change_request.merged",
    /// The PR was reopened.
    ChangeRequestReopened => "change_request.reopened",
    /// A user approved (a review or a comment command), for one or all environments.
    ApprovalGranted => "approval.granted",
    /// An approval was withdrawn (revoke, changes requested, dismissal, deleted comment).
    ApprovalRevoked => "approval.revoked",
    /// A command was refused (author self-approval, missing role, unknown environment...).
    ApprovalRefused => "approval.refused",
    /// An environment's approval decision changed (satisfied or not).
    ApprovalDecided => "approval.decided",
    /// A merged PR's rollout was created.
    RolloutCreated => "rollout.created",
    /// A rollout stage waits (approvals, deploy window, an older migration); the reason is in the detail.
    StageWaiting => "stage.waiting",
    /// A rollout stage started deploying.
    StageStarted => "stage.started",
    /// A rollout stage deployed every database of its environment.
    StageSucceeded => "stage.succeeded",
    /// A rollout stage failed or was refused; the rollout stops.
    StageFailed => "stage.failed",
    /// One migration was applied to one database (with the sha256 of its SQL).
    DeployApplied => "deploy.applied",
    /// A deploy to one database was refused (drift, out of order, dirty) or failed.
    DeployRefused => "deploy.refused",
    /// Someone asked for a stage to deploy (`/bytebase deploy ENV`).
    DeployRequested => "deploy.requested",
    /// An operator decided about a migration that reached a branch without a PR.
    MigrationDecided => "migration.decided",
    /// Someone asked for an environment's deploy to be rolled back (`/bytebase rollback ENV`).
    RollbackRequested => "rollback.requested",
    /// A rollback was refused before anything ran (policy, order, irreversible migrations).
    RollbackRefused => "rollback.refused",
    /// One migration was undone on one database (with where its reverse came from).
    RollbackApplied => "rollback.applied",
    /// A rollback failed on a database (the failing revert left nothing behind).
    RollbackFailed => "rollback.failed",
    /// Every database of a stage's environment had the change undone.
    StageRolledBack => "stage.rolled_back",
    /// The cleaner dropped an expired prior backup.
    BackupDropped => "backup.dropped",
    /// Someone edited another person's comment (commands count only as their
    /// writer): nothing changed. The actor is the editor.
    EditByOtherRefused => "command.edit_by_other_refused",
    /// A user's command comments on one PR went over the per-window limit:
    /// their commands were not run.
    CommandLimited => "command.limited",
    /// An operator recorded a decision about a dirty target (`bytegate repair`).
    TargetRepaired => "target.repaired",
    /// A job that drives a rollout failed for good; the PR was told how to retry.
    RolloutGaveUp => "rollout.gave_up",
    /// A logical backup of a target database was taken (scheduled or manual).
    BackupCreated => "backup.created",
    /// A backup was restored into a database (`bytegate backup restore`).
    BackupRestored => "backup.restored",
    /// A target's schema before a stage differed from what bytegate's previous
    /// deploy to it left: a change made outside bytegate (reported, not blocking).
    DriftDetected => "drift.detected",
    /// An operator created an API token (`bytegate token create`); the
    /// detail names it and its scope, never its secret.
    ApiTokenCreated => "api_token.created",
    /// An operator revoked an API token (`bytegate token revoke`).
    ApiTokenRevoked => "api_token.revoked",
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown audit action `{s}`"))
    }
}

mod verify;
pub use verify::{ChainBreak, ChainReport, head_hash, verify_chain};

/// The actor recorded in the audit trail for the bot's own actions.
pub const BOT_ACTOR: &str = "bytegate";

/// One entry to append.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// Who did it (a user login, or `bytegate` for the bot).
    pub actor: &'a str,
    /// What.
    pub action: AuditAction,
    /// Forge name.
    pub forge: Option<&'a str>,
    /// Repository.
    pub repo: Option<&'a str>,
    /// PR number.
    pub number: Option<i64>,
    /// Environment concerned.
    pub environment: Option<&'a str>,
    /// Details (sha, counts, ids).
    pub detail: Value,
}

impl<'a> AuditEntry<'a> {
    /// An entry about nothing in particular (no forge, repository or PR),
    /// with an empty detail; add to it with the builder methods.
    pub fn new(actor: &'a str, action: AuditAction) -> AuditEntry<'a> {
        AuditEntry {
            actor,
            action,
            forge: None,
            repo: None,
            number: None,
            environment: None,
            detail: Value::Object(serde_json::Map::new()),
        }
    }

    /// An entry about pull request `number` of `repo` on `forge`: the one
    /// constructor every flow uses for PR entries.
    pub fn for_pr(
        actor: &'a str,
        action: AuditAction,
        forge: &'a str,
        repo: &'a str,
        number: i64,
    ) -> AuditEntry<'a> {
        AuditEntry::new(actor, action)
            .in_repo(forge, repo)
            .with_number(Some(number))
    }

    /// [`AuditEntry::for_pr`] from an event's PR reference.
    pub fn for_pr_ref(actor: &'a str, action: AuditAction, pr: &'a PrRef) -> AuditEntry<'a> {
        // The same number the change request is stored under.
        let number = pr.number as i64;
        AuditEntry::for_pr(
            actor,
            action,
            pr.repo.forge.as_str(),
            &pr.repo.full_name,
            number,
        )
    }

    /// [`AuditEntry::for_pr`] for a stored change request.
    pub fn for_change_request(
        actor: &'a str,
        action: AuditAction,
        cr: &'a ChangeRequest,
    ) -> AuditEntry<'a> {
        AuditEntry::for_pr(actor, action, &cr.forge, &cr.repo, cr.number)
    }

    /// The forge and repository concerned.
    pub fn in_repo(mut self, forge: &'a str, repo: &'a str) -> AuditEntry<'a> {
        self.forge = Some(forge);
        self.repo = Some(repo);
        self
    }

    /// The PR number concerned, if any.
    pub fn with_number(mut self, number: Option<i64>) -> AuditEntry<'a> {
        self.number = number;
        self
    }

    /// The environment concerned, if any.
    pub fn in_environment(mut self, environment: Option<&'a str>) -> AuditEntry<'a> {
        self.environment = environment;
        self
    }

    /// The details (sha, counts, ids).
    pub fn with_detail(mut self, detail: Value) -> AuditEntry<'a> {
        self.detail = detail;
        self
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct AuditRecord {
    /// Primary key (append order).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What (an [`AuditAction`] name).
    pub action: String,
    /// Forge.
    pub forge: Option<String>,
    /// Repository.
    pub repo: Option<String>,
    /// PR number.
    pub number: Option<i64>,
    /// Environment.
    pub environment: Option<String>,
    /// Details.
    pub detail: Value,
}

/// The `prev_hash` of the first row of the chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Transaction-level advisory lock that orders appends, so each row's
/// `prev_hash` is the hash of the row before it in id order.
const CHAIN_LOCK: i64 = 0x6175_6469_745f_6c67;

/// Appends an entry (inside the caller's transaction when given one: then it
/// becomes visible, and the chain lock is released, when that commits).
/// Each row stores the previous row's hash and its own (see [`row_hash`]).
pub async fn append<'a, A>(db: A, e: &AuditEntry<'_>) -> Result<i64, StoreError>
where
    A: Acquire<'a, Database = Postgres>,
{
    let mut tx = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHAIN_LOCK)
        .execute(&mut *tx)
        .await?;
    // A fresh statement after the lock: under READ COMMITTED it sees the
    // previous appender's committed row.
    let last: Option<(Option<String>,)> =
        sqlx::query_as("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let prev_hash = last
        .and_then(|(h,)| h)
        .unwrap_or_else(|| GENESIS_HASH.to_string());
    let now = Utc::now();
    // The database keeps microseconds: hash exactly what it will return.
    let at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let content = Canonical {
        at,
        actor: e.actor,
        action: e.action.as_str(),
        forge: e.forge,
        repo: e.repo,
        number: e.number,
        environment: e.environment,
        detail: &e.detail,
    };
    let hash = row_hash(&prev_hash, &content);
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO audit_log (at, actor, action, forge, repo, number, environment, detail,
                                prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(at)
    .bind(e.actor)
    .bind(e.action.as_str())
    .bind(e.forge)
    .bind(e.repo)
    .bind(e.number)
    .bind(e.environment)
    .bind(&e.detail)
    .bind(&prev_hash)
    .bind(&hash)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The hashed content of a row: every column but the id and the hashes.
#[derive(Debug, Clone, Copy)]
pub struct Canonical<'a> {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// Forge.
    pub forge: Option<&'a str>,
    /// Repository.
    pub repo: Option<&'a str>,
    /// PR number.
    pub number: Option<i64>,
    /// Environment.
    pub environment: Option<&'a str>,
    /// Details.
    pub detail: &'a Value,
}

impl Canonical<'_> {
    /// A JSON array of the fields in a fixed order, object keys sorted, no
    /// spaces: the same bytes for the same row, however JSONB reorders keys.
    pub fn to_text(&self) -> String {
        let opt = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_string()));
        let head = [
            Value::String(self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
            Value::String(self.actor.to_string()),
            Value::String(self.action.to_string()),
            opt(self.forge),
            opt(self.repo),
            self.number.map_or(Value::Null, Value::from),
            opt(self.environment),
        ];
        let mut out = String::from("[");
        for v in &head {
            write_canonical(v, &mut out);
            out.push(',');
        }
        write_canonical(self.detail, &mut out);
        out.push(']');
        out
    }
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(x) = map.get(k) {
                    write_canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `sha256(prev_hash || "\n" || canonical content)`, hex.
pub fn row_hash(prev_hash: &str, content: &Canonical<'_>) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(content.to_text().as_bytes());
    hex::encode(h.finalize())
}

/// Which entries [`export_page`] returns.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries of this PR number.
    pub number: Option<i64>,
    /// Only entries of this repository.
    pub repo: Option<String>,
}

/// Up to `limit` entries with an id above `after_id`, oldest first, each as a
/// JSON object (every column, the hashes included), for export.
pub async fn export_page(
    pool: &PgPool,
    filter: &ExportFilter,
    after_id: i64,
    limit: i64,
) -> Result<Vec<(i64, Value)>, StoreError> {
    let rows: Vec<(i64, Value)> = sqlx::query_as(
        "SELECT id, to_jsonb(a) FROM audit_log a
         WHERE id > $1 AND ($2::timestamptz IS NULL OR at >= $2)
           AND ($3::bigint IS NULL OR number = $3) AND ($4::text IS NULL OR repo = $4)
         ORDER BY id LIMIT $5",
    )
    .bind(after_id)
    .bind(filter.since)
    .bind(filter.number)
    .bind(&filter.repo)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// A PR's entries, oldest first.
pub async fn for_pr<'e>(
    db: impl PgExecutor<'e>,
    forge: &str,
    repo: &str,
    number: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    Ok(sqlx::query_as::<_, AuditRecord>(
        "SELECT id, at, actor, action, forge, repo, number, environment, detail
         FROM audit_log WHERE forge = $1 AND repo = $2 AND number = $3 ORDER BY id",
    )
    .bind(forge)
    .bind(repo)
    .bind(number)
    .fetch_all(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for &a in AuditAction::ALL {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(a));
        }
        assert!("nope".parse::<AuditAction>().is_err());
        // Complete: the generated list holds the variant the hand-kept one lost.
        assert!(AuditAction::ALL.contains(&AuditAction::DeliveryAccepted));
        let names: std::collections::BTreeSet<_> =
            AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), AuditAction::ALL.len(), "names are unique");
    }

    #[tokio::test]
    async fn entries_are_appended_and_listed_per_pr_in_order() {
        let db = crate::store::testdb::TestDb::migrated().await.unwrap();
        for action in [AuditAction::ReviewStarted, AuditAction::ReviewCompleted] {
            append(
                &db.pool,
                &AuditEntry {
                    actor: "bytegate",
                    action,
                    forge: Some("github"),
                    repo: Some("o/r"),
                    number: Some(3),
                    environment: None,
                    detail: serde_json::json!({"head_sha": "aaa"}),
                },
            )
            .await
            .unwrap();
        }
        let rows = for_pr(&db.pool, "github", "o/r", 3).await.unwrap();
        let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["review.started", "review.completed"]);
        assert_eq!(rows[0].detail["head_sha"], "aaa");
        assert!(
            for_pr(&db.pool, "github", "o/r", 4)
                .await
                .unwrap()
                .is_empty()
        );
    }

    fn sample(n: i64) -> AuditEntry<'static> {
        AuditEntry {
            actor: "bytegate",
            action: AuditAction::StageStarted,
            forge: Some("github"),
            repo: Some("o/r"),
            number: Some(n),
            environment: Some("production"),
            detail: serde_json::json!({"z": 1, "a": {"y": [1, 2.5, "x"], "b": null}}),
        }
    }

    #[test]
    fn canonical_text_sorts_keys_and_fixes_the_field_order() {
        let detail = serde_json::json!({"b": 1, "a": {"d": true, "c": "é\""}});
        let c = Canonical {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            actor: "dana",
            action: "approval.granted",
            forge: Some("github"),
            repo: None,
            number: Some(7),
            environment: None,
            detail: &detail,
        };
        assert_eq!(
            c.to_text(),
            r#"["2023-11-14T22:13:20.123456Z","dana","approval.granted","github",null,7,null,{"a":{"c":"é\"","d":true},"b":1}]"#
        );
        assert_ne!(row_hash(GENESIS_HASH, &c), row_hash(&"1".repeat(64), &c));
    }

    #[tokio::test]
    async fn the_chain_verifies_and_concurrent_appends_stay_in_order() {
        let db = crate::store::testdb::TestDb::migrated().await.unwrap();
        let appends: Vec<_> = (0..20)
            .map(|n| {
                let pool = db.pool.clone();
                tokio::spawn(async move { append(&pool, &sample(n)).await.unwrap() })
            })
            .collect();
        for a in appends {
            a.await.unwrap();
        }
        // Inside a caller's transaction too.
        let mut tx = db.pool.begin().await.unwrap();
        append(&mut *tx, &sample(99)).await.unwrap();
        tx.commit().await.unwrap();
        let report = verify_chain(&db.pool, None).await.unwrap();
        assert_eq!(report.broken, None);
        assert_eq!(report.verified, 21);
        assert!(report.head.is_some());
    }

    #[tokio::test]
    async fn updates_and_deletes_are_refused() {
        let db = crate::store::testdb::TestDb::migrated().await.unwrap();
        append(&db.pool, &sample(1)).await.unwrap();
        for sql in [
            "UPDATE audit_log SET actor = 'mallory'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ] {
            let e = sqlx::query(sql).execute(&db.pool).await.unwrap_err();
            assert!(e.to_string().contains("append-only"), "{sql}: {e}");
        }
    }

    /// What a superuser can do: switch the trigger off, change the table, switch it on.
    async fn tamper(pool: &PgPool, sql: &str, id: i64) {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER USER")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("ALTER TABLE audit_log ENABLE TRIGGER USER")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn five_rows() -> (crate::store::testdb::TestDb, Vec<i64>) {
        let db = crate::store::testdb::TestDb::migrated().await.unwrap();
        let mut ids = Vec::new();
        for n in 0..5 {
            ids.push(append(&db.pool, &sample(n)).await.unwrap());
        }
        (db, ids)
    }

    #[tokio::test]
    async fn an_altered_row_is_found() {
        let (db, ids) = five_rows().await;
        tamper(
            &db.pool,
            r#"UPDATE audit_log SET detail = '{"approved_by": "mallory"}' WHERE id = $1"#,
            ids[2],
        )
        .await;
        let report = verify_chain(&db.pool, None).await.unwrap();
        let broken = report.broken.unwrap();
        assert_eq!(broken.id, ids[2]);
        assert!(broken.reason.contains("altered"), "{}", broken.reason);
        assert_eq!(report.verified, 2);
    }

    #[tokio::test]
    async fn a_removed_row_breaks_the_link_of_the_next() {
        let (db, ids) = five_rows().await;
        tamper(&db.pool, "DELETE FROM audit_log WHERE id = $1", ids[2]).await;
        let broken = verify_chain(&db.pool, None).await.unwrap().broken.unwrap();
        assert_eq!(broken.id, ids[3]);
        assert!(broken.reason.contains("removed"), "{}", broken.reason);
    }

    /// Issue 11 item 6: NULLing every hash (and altering a row) must not
    /// leave a chain that "verifies" as empty.
    #[tokio::test]
    async fn a_stripped_chain_is_broken() {
        let (db, ids) = five_rows().await;
        tamper(
            &db.pool,
            "UPDATE audit_log SET hash = NULL, prev_hash = NULL WHERE id >= $1",
            ids[0],
        )
        .await;
        tamper(
            &db.pool,
            "UPDATE audit_log SET actor = 'mallory' WHERE id = $1",
            ids[1],
        )
        .await;
        let report = verify_chain(&db.pool, None).await.unwrap();
        let broken = report.broken.expect("a stripped chain is broken");
        assert_eq!(broken.id, ids[0]);
        assert!(broken.reason.contains("stripped"), "{}", broken.reason);
        assert_eq!(report.unchained, 0);
    }

    /// Removing the newest rows keeps every link intact; a head published
    /// earlier catches it, and later appends do not trip it.
    #[tokio::test]
    async fn an_expected_head_catches_removal_of_the_newest_rows() {
        let (db, ids) = five_rows().await;
        let (_, head) = head_hash(&db.pool).await.unwrap().unwrap();
        append(&db.pool, &sample(5)).await.unwrap();
        let report = verify_chain(&db.pool, Some(&head)).await.unwrap();
        assert_eq!(report.broken, None);
        assert_eq!(report.after_expected, Some(1));

        tamper(&db.pool, "DELETE FROM audit_log WHERE id >= $1", ids[4]).await;
        assert_eq!(verify_chain(&db.pool, None).await.unwrap().broken, None);
        let broken = verify_chain(&db.pool, Some(&head))
            .await
            .unwrap()
            .broken
            .expect("the published head is gone");
        assert!(
            broken.reason.contains("not in the chain"),
            "{}",
            broken.reason
        );
    }
}
