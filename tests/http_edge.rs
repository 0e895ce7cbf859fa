//! The HTTP edge under hostile clients, over real sockets against the
//! in-process server: stalled headers and bodies are cut off, connections
//! past the limit are answered 503 at once, and the bytes held before the
//! signature check stay within the configured budget, and deliveries past
//! `server.max_in_flight` are shed with 503 instead of queueing.

use bytegate::config::Config;
use bytegate::server::AppState;
use bytegate::store::testdb::TestDb;
use bytegate::webhook::signature::sign_github;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A guard against a hung test, far above every configured timeout: never
/// what a test measures.
const GUARD: Duration = Duration::from_secs(20);

struct Edge {
    db: TestDb,
    addr: SocketAddr,
    state: AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn edge(server_yaml: &str) -> Edge {
    let yaml = format!(
        "project: {{key: T, name: Test}}\n\
         server: {server_yaml}\n\
         forges:\n  github:\n    webhook_secret: s3cret\n    token: t\n"
    );
    let config = Arc::new(Config::from_yaml(&yaml, "test", &|_| None).unwrap());
    let db = TestDb::migrated().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = AppState::new(db.pool.clone(), config);
    tokio::spawn(bytegate::server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Edge {
        db,
        addr,
        state,
        _stop: stop,
    }
}

/// Headers announcing `len` body bytes and the first `sent` of them; the
/// client then goes silent.
async fn stalled_post(addr: SocketAddr, len: usize, sent: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n\
         X-GitHub-Delivery: d\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    );
    // A server that refuses at once may close before all of this is written.
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(&vec![b' '; sent]).await;
    s
}

/// Everything the server sends until it closes the connection.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept a stalled connection open");
    String::from_utf8_lossy(&out).into_owned()
}

async fn health(addr: SocketAddr) -> u16 {
    let resp = reqwest::get(format!("http://{addr}/health")).await.unwrap();
    resp.status().as_u16()
}

#[tokio::test]
async fn stalled_bodies_get_408_connections_past_the_limit_get_503_and_health_still_answers() {
    // Timeouts long enough that all six clients and the probe are connected
    // before the first slot frees, even on a loaded machine.
    let e = edge("{max_connections: 3, body_read_timeout: 5s, header_read_timeout: 5s}").await;
    let mut slow = Vec::new();
    for _ in 0..6 {
        slow.push(stalled_post(e.addr, 1000, 10).await);
    }
    // Saturated: /health still tells the truth (the service and its
    // database are fine), on a connection that is then closed.
    let mut probe = TcpStream::connect(e.addr).await.unwrap();
    probe
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut probe).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""status":"ok""#), "{answer}");

    let mut answers = Vec::new();
    for s in &mut slow {
        answers.push(until_closed(s).await);
    }
    let timed_out = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 408"))
        .count();
    let refused = answers
        .iter()
        .filter(|a| {
            a.starts_with("HTTP/1.1 503") && a.to_ascii_lowercase().contains("retry-after: 1")
        })
        .count();
    assert_eq!((timed_out, refused), (3, 3), "answers: {answers:?}");
    // Every slot came back: the service answers again.
    assert_eq!(health(e.addr).await, 200);
}

#[tokio::test]
async fn stalled_headers_are_disconnected() {
    let e = edge("{header_read_timeout: 300ms}").await;
    let mut s = TcpStream::connect(e.addr).await.unwrap();
    s.write_all(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-Git")
        .await
        .unwrap();
    let answer = until_closed(&mut s).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert_eq!(health(e.addr).await, 200);
}

#[tokio::test]
async fn bodies_past_the_byte_budget_are_shed_with_503_and_the_budget_returns_to_zero() {
    let e =
        edge("{body_budget_bytes: 100000, max_body_bytes: 1000000, body_read_timeout: 30s}").await;
    // First large unsigned post: its declared length is reserved before reading.
    let mut first = stalled_post(e.addr, 80_000, 1_000).await;
    tokio::time::timeout(GUARD, async {
        while e.state.body_bytes_in_flight() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first body never reserved its bytes");
    assert_eq!(e.state.body_bytes_in_flight(), 80_000);

    // The second does not fit: shed at once, nothing more held.
    let mut second = stalled_post(e.addr, 80_000, 1_000).await;
    let shed = until_closed(&mut second).await;
    assert!(shed.starts_with("HTTP/1.1 503"), "{shed}");
    assert!(
        shed.to_ascii_lowercase().contains("retry-after: 1"),
        "{shed}"
    );
    assert_eq!(e.state.body_bytes_in_flight(), 80_000);

    // The first completes: refused for its signature, and its bytes return.
    first.write_all(&vec![b' '; 79_000]).await.unwrap();
    let mut buf = [0u8; 12];
    tokio::time::timeout(GUARD, first.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"HTTP/1.1 401");
    assert_eq!(e.state.body_bytes_in_flight(), 0);
}

/// Posts a signed `pull_request.opened` delivery (GitHub's own example).
async fn signed_delivery(addr: SocketAddr, id: &str) -> reqwest::Response {
    let path = format!(
        "{}/tests/fixtures/github/upstream/pull_request.opened.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/github"))
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", id)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", sign_github(b"s3cret", &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Statements waiting for the deliveries table's lock.
async fn waiting_on_the_lock(conn: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks
         WHERE relation = 'webhook_deliveries'::regclass AND NOT granted",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

async fn stored_ids(conn: &mut sqlx::PgConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT delivery_id FROM webhook_deliveries ORDER BY delivery_id")
        .fetch_all(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn deliveries_past_max_in_flight_get_503_at_once_and_nothing_is_stored() {
    use sqlx::Connection;
    let e = edge("{max_in_flight: 2}").await;
    // A slow database: the deliveries table is locked, so the first two
    // deliveries wait on their insert, in flight.
    let mut lock = sqlx::PgConnection::connect(&e.db.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE webhook_deliveries IN EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    let held: Vec<_> = ["held-1", "held-2"]
        .into_iter()
        .map(|id| tokio::spawn(signed_delivery(e.addr, id)))
        .collect();
    tokio::time::timeout(GUARD, async {
        while waiting_on_the_lock(&mut lock).await < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first two deliveries never reached the database");
    assert_eq!(e.state.in_flight.available_permits(), 0);

    // The third is answered while the database is still locked: it never
    // waited for it.
    let shed = tokio::time::timeout(GUARD, signed_delivery(e.addr, "shed-1"))
        .await
        .expect("a delivery past max_in_flight was queued, not shed");
    assert_eq!(shed.status().as_u16(), 503);
    assert_eq!(
        shed.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(shed.text().await.unwrap().contains("busy"));

    // The database comes back: the two in flight are stored, the shed one not.
    sqlx::raw_sql("COMMIT").execute(&mut lock).await.unwrap();
    for h in held {
        let r = tokio::time::timeout(GUARD, h).await.unwrap().unwrap();
        assert_eq!(r.status().as_u16(), 202);
    }
    assert_eq!(stored_ids(&mut lock).await, ["held-1", "held-2"]);
    assert_eq!(e.state.in_flight.available_permits(), 2);

    // Its redelivery is taken once slots are free.
    let again = signed_delivery(e.addr, "shed-1").await;
    assert_eq!(again.status().as_u16(), 202);
    assert_eq!(stored_ids(&mut lock).await, ["held-1", "held-2", "shed-1"]);
}
