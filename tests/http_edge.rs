//! The HTTP edge under hostile clients, over real sockets against the
//! in-process server: stalled headers and bodies are cut off, connections
//! past the limit are answered 503 at once, and the bytes held before the
//! signature check stay within the configured budget.

use bytegate::config::Config;
use bytegate::server::AppState;
use bytegate::store::testdb::TestDb;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A guard against a hung test, far above every configured timeout: never
/// what a test measures.
const GUARD: Duration = Duration::from_secs(20);

struct Edge {
    _db: TestDb,
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
        _db: db,
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
async fn stalled_bodies_get_408_and_connections_past_the_limit_get_503_at_once() {
    // Timeouts long enough that all six clients and the probe are connected
    // before the first slot frees, even on a loaded machine.
    let e = edge("{max_connections: 3, body_read_timeout: 5s, header_read_timeout: 5s}").await;
    let mut slow = Vec::new();
    for _ in 0..6 {
        slow.push(stalled_post(e.addr, 1000, 10).await);
    }
    // Saturated: /health is refused at once with Retry-After, never left hanging.
    // (A raw socket: the answer may come before the request is written.)
    let mut probe = TcpStream::connect(e.addr).await.unwrap();
    let _ = probe
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let busy = until_closed(&mut probe).await;
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(
        busy.to_ascii_lowercase().contains("retry-after: 1"),
        "{busy}"
    );

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
        .filter(|a| a.starts_with("HTTP/1.1 503"))
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
