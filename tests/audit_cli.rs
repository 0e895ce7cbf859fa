//! `bytegate audit verify` as an operator runs it (the binary, PG_URL), on a
//! chain a superuser tampered with (issue 11 item 6).

use bytegate::store::audit::{self, AuditAction, AuditEntry};
use bytegate::store::testdb::TestDb;
use serde_json::json;

fn verify(db: &TestDb, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bytegate"))
        .args(["audit", "verify"])
        .args(extra)
        .env("PG_URL", db.url())
        .env_remove("BB_DEBUG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn rows(db: &TestDb, n: i64) {
    for i in 0..n {
        audit::append(
            &db.pool,
            &AuditEntry::new("bytegate", AuditAction::ReviewStarted).with_detail(json!({"n": i})),
        )
        .await
        .unwrap();
    }
}

/// A superuser's edit with the append-only trigger switched off.
async fn as_superuser(db: &TestDb, sql: &str) {
    let mut tx = db.pool.begin().await.unwrap();
    for s in [
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        sql,
        "ALTER TABLE audit_log ENABLE TRIGGER USER",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_stripped_chain_fails_verification() {
    let db = TestDb::migrated().await.unwrap();
    rows(&db, 4).await;
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 0, "{out}");

    as_superuser(&db, "UPDATE audit_log SET hash = NULL, prev_hash = NULL").await;
    as_superuser(
        &db,
        "UPDATE audit_log SET actor = 'mallory' WHERE id = (SELECT min(id) FROM audit_log)",
    )
    .await;
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN"), "{out}");
}

#[tokio::test]
async fn removing_the_newest_rows_is_caught_with_expect_head() {
    let db = TestDb::migrated().await.unwrap();
    rows(&db, 4).await;
    let (_, head) = audit::head_hash(&db.pool).await.unwrap().unwrap();
    let (code, out) = verify(&db, &["--expect-head", &head]);
    assert_eq!(code, 0, "{out}");

    as_superuser(
        &db,
        "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    )
    .await;
    // The links alone still hold...
    let (code, out) = verify(&db, &[]);
    assert_eq!(code, 0, "{out}");
    // ...the published head does not.
    let (code, out) = verify(&db, &["--expect-head", &head]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not in the chain"), "{out}");
}
