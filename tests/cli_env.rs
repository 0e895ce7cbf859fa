//! The built binary's environment variables, as operators spell them.

use bytegate::store::testdb::TestDb;
use std::process::Command;

#[tokio::test]
async fn bb_debug_accepts_the_usual_spellings() {
    for value in ["1", "yes", "on", "true", "0", "off", "no"] {
        let db = TestDb::empty().await.unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_bytegate"))
            .args(["migrate", "--pg-url", &db.url()])
            .env("BB_DEBUG", value)
            .output()
            .expect("run bytegate");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "BB_DEBUG={value}: {stderr}");
        // The meta schema is there: the command ran, not just parsed.
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'webhook_deliveries'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(n, 1, "BB_DEBUG={value}");
    }
}
