//! End-to-end tests of `serve` over real sockets on 127.0.0.1: basic auth,
//! headers, rate and concurrency limits, connection limit, read timeout,
//! header size, graceful shutdown; TLS in `serve/tls.rs`.

#[path = "serve/tls.rs"]
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use beacon_config::web::WebConfig;
use beacon_webserve::{ServeOptions, serve};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Generous bound for anything that should happen promptly.
const WAIT: Duration = Duration::from_secs(10);

/// A server under test; `stop` shuts it down and checks it ended cleanly.
struct Running {
    addr: SocketAddr,
    stop_tx: oneshot::Sender<()>,
    task: JoinHandle<beacon_webserve::Result<()>>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop_tx.send(());
        let res = timeout(WAIT, self.task).await.expect("serve did not stop");
        res.expect("serve panicked").expect("serve failed");
    }
}

async fn start(app: Router, opts: ServeOptions) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, opts, async {
        let _ = stop_rx.await;
    }));
    Running {
        addr,
        stop_tx,
        task,
    }
}

/// Options with a parsed web config.
fn with_web(yaml: &str) -> ServeOptions {
    ServeOptions {
        web_config: Some(WebConfig::from_yaml_str(yaml, "web.yml").unwrap()),
        ..ServeOptions::default()
    }
}

/// `/` answers "ok"; `/hold` signals `entered` and waits for `release`.
fn app(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        )
        .route(
            "/hold",
            get(move || {
                let gate = gate.clone();
                async move {
                    gate.entered.notify_one();
                    gate.release.notified().await;
                    "released"
                }
            }),
        )
}

#[derive(Default)]
struct Gate {
    entered: Notify,
    release: Notify,
}

/// A response as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends one HTTP/1.1 request with `Connection: close` and reads the reply.
async fn request<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, path: &str, extra: &str) -> Reply {
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    // A TLS peer may close without close_notify; what was read still counts.
    let _ = timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("no reply");
    parse_reply(&buf)
}

fn parse_reply(buf: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    Reply {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

async fn get_plain(addr: SocketAddr, path: &str, extra: &str) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    request(&mut s, path, extra).await
}

/// `alice:s3cret` with a cheap bcrypt cost to keep the test fast.
fn auth_yaml() -> String {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    format!(
        "basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    )
}

fn basic(user: &str, pass: &str) -> String {
    // Known encodings, so the test does not depend on the server's decoder.
    let enc = match (user, pass) {
        ("alice", "s3cret") => "YWxpY2U6czNjcmV0",
        ("alice", "wrong") => "YWxpY2U6d3Jvbmc=",
        ("mallory", "s3cret") => "bWFsbG9yeTpzM2NyZXQ=",
        _ => unreachable!("add the encoding of {user}:{pass}"),
    };
    format!("Authorization: Basic {enc}\r\n")
}

#[tokio::test]
async fn basic_auth_good_bad_missing_and_unknown_user() {
    let srv = start(app(Arc::default()), with_web(&auth_yaml())).await;
    let check = |extra: String, status: u16| async move {
        let r = get_plain(srv.addr, "/", &extra).await;
        assert_eq!(r.status, status, "{extra}: {r:?}");
        // Configured headers are on every response, 401s included.
        assert_eq!(r.header("X-Frame-Options"), Some("deny"), "{r:?}");
        if status == 401 {
            assert_eq!(r.header("WWW-Authenticate"), Some("Basic"), "{r:?}");
            assert_eq!(r.body, "Unauthorized\n");
        }
    };
    check(String::new(), 401).await;
    check(basic("alice", "wrong"), 401).await;
    check(basic("mallory", "s3cret"), 401).await;
    check("Authorization: Bearer abc\r\n".into(), 401).await;
    check(basic("alice", "s3cret"), 200).await;
    check(basic("alice", "s3cret"), 200).await;
    srv.stop().await;
}

#[tokio::test]
async fn configured_headers_on_every_response() {
    let yaml = "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n";
    let srv = start(app(Arc::default()), with_web(yaml)).await;
    for (path, status) in [("/", 200), ("/missing", 404)] {
        let r = get_plain(srv.addr, path, "").await;
        assert_eq!(r.status, status);
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"), "{r:?}");
        assert_eq!(
            r.header("Strict-Transport-Security"),
            Some("max-age=31536000")
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn rate_limit_answers_429() {
    let yaml = "rate_limit:\n  burst: 2\n  interval: 1h\n";
    let srv = start(app(Arc::default()), with_web(yaml)).await;
    assert_eq!(get_plain(srv.addr, "/", "").await.status, 200);
    assert_eq!(get_plain(srv.addr, "/", "").await.status, 200);
    let r = get_plain(srv.addr, "/", "").await;
    assert_eq!((r.status, r.body.as_str()), (429, "Too Many Requests\n"));
    srv.stop().await;
}

#[tokio::test]
async fn max_concurrent_requests_answers_503() {
    let gate = Arc::new(Gate::default());
    let opts = ServeOptions {
        max_concurrent_requests: 1,
        ..ServeOptions::default()
    };
    let srv = start(app(gate.clone()), opts).await;
    let addr = srv.addr;
    let held = tokio::spawn(async move { get_plain(addr, "/hold", "").await });
    timeout(WAIT, gate.entered.notified()).await.unwrap();
    let r = get_plain(addr, "/", "").await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.body,
        "Limit of concurrent requests reached (1), try again later.\n"
    );
    gate.release.notify_one();
    assert_eq!(held.await.unwrap().status, 200);
    assert_eq!(get_plain(addr, "/", "").await.status, 200, "slot freed");
    srv.stop().await;
}

#[tokio::test]
async fn max_connections_holds_the_next_connection_until_one_closes() {
    let opts = ServeOptions {
        max_connections: 1,
        ..ServeOptions::default()
    };
    let srv = start(app(Arc::default()), opts).await;
    // The first connection stays open (keep-alive) after its request.
    let mut first = TcpStream::connect(srv.addr).await.unwrap();
    first
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = timeout(WAIT, first.read(&mut buf)).await.unwrap().unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // The second connects (the kernel's backlog) but is not served...
    let addr = srv.addr;
    let mut second = tokio::spawn(async move { get_plain(addr, "/", "").await });
    let waited = timeout(Duration::from_millis(300), &mut second).await;
    assert!(
        waited.is_err(),
        "second connection served while the first is open"
    );
    // ...until the first closes.
    drop(first);
    let r = timeout(WAIT, second).await.unwrap().unwrap();
    assert_eq!(r.status, 200);
    srv.stop().await;
}

#[tokio::test]
async fn slow_client_is_dropped_while_others_are_served() {
    let opts = ServeOptions {
        read_timeout: Some(Duration::from_millis(300)),
        ..ServeOptions::default()
    };
    let srv = start(app(Arc::default()), opts).await;
    let mut slow = TcpStream::connect(srv.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: te").await.unwrap();
    // Another client is served while the slow one dawdles.
    assert_eq!(get_plain(srv.addr, "/", "").await.status, 200);
    // The server gives up on the slow one: EOF (or a reset), no 200.
    let mut buf = Vec::new();
    let read = timeout(WAIT, slow.read_to_end(&mut buf))
        .await
        .expect("slow client was not dropped");
    let text = String::from_utf8_lossy(&buf);
    assert!(read.is_err() || !text.contains(" 200 "), "{text}");
    srv.stop().await;
}

#[tokio::test]
async fn slow_request_body_is_cut_off_by_the_read_timeout() {
    let opts = ServeOptions {
        read_timeout: Some(Duration::from_millis(300)),
        ..ServeOptions::default()
    };
    let srv = start(app(Arc::default()), opts).await;
    // A whole body in time is echoed.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let req =
        "POST /echo HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let r = parse_reply(&buf);
    assert_eq!((r.status, r.body.as_str()), (200, "hello"));
    // Two bytes of ten, then silence: the server stops waiting.
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let req = "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nhe";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("slow body was not cut off");
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains(" 200 "), "{text}");
    srv.stop().await;
}

#[tokio::test]
async fn oversized_header_is_431() {
    let srv = start(app(Arc::default()), ServeOptions::default()).await;
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let big = "a".repeat(2 << 20);
    let req = format!("GET / HTTP/1.1\r\nHost: test\r\nX-Big: {big}\r\n\r\n");
    let (mut rd, mut wr) = s.split();
    // Read while writing: the server answers before taking the whole head.
    let write = async {
        let _ = wr.write_all(req.as_bytes()).await;
    };
    let read = async {
        let mut buf = Vec::new();
        let _ = rd.read_to_end(&mut buf).await;
        buf
    };
    let (_, buf) = timeout(WAIT, async { tokio::join!(write, read) })
        .await
        .unwrap();
    assert_eq!(parse_reply(&buf).status, 431);
    // Headers just under the limit are fine.
    let ok = format!("X-Big: {}\r\n", "a".repeat(1 << 19));
    assert_eq!(get_plain(srv.addr, "/", &ok).await.status, 200);
    srv.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting_and_finishes_in_flight_requests() {
    let gate = Arc::new(Gate::default());
    let srv = start(app(gate.clone()), ServeOptions::default()).await;
    let addr = srv.addr;
    let held = tokio::spawn(async move { get_plain(addr, "/hold", "").await });
    timeout(WAIT, gate.entered.notified()).await.unwrap();
    let _ = srv.stop_tx.send(());
    // Accepting stops: new connections are refused once the listener closes.
    timeout(WAIT, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("listener still accepting after shutdown");
    assert!(
        !srv.task.is_finished(),
        "serve returned with a request in flight"
    );
    gate.release.notify_one();
    let r = held.await.unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "released"));
    timeout(WAIT, srv.task).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn web_config_file_edits_apply_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yml");
    std::fs::write(&file, auth_yaml()).unwrap();
    let opts = ServeOptions::default().with_web_config_file(&file).unwrap();
    let srv = start(app(Arc::default()), opts).await;
    let status = |user, pass| async move { get_plain(srv.addr, "/", &basic(user, pass)).await };
    assert_eq!(status("alice", "s3cret").await.status, 200);
    // Alice's password changes to "wrong" and the frame header goes.
    let hash = bcrypt::hash("wrong", 4).unwrap();
    std::fs::write(&file, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    assert_eq!(status("alice", "s3cret").await.status, 401);
    let r = status("alice", "wrong").await;
    assert_eq!((r.status, r.header("X-Frame-Options")), (200, None));
    // A broken edit keeps the settings in force.
    std::fs::write(&file, "basic_auth_users: [\n").unwrap();
    assert_eq!(status("alice", "wrong").await.status, 200);
    assert_eq!(status("alice", "s3cret").await.status, 401);
    srv.stop().await;
}

#[tokio::test]
async fn validate_rejects_bad_password_hash() {
    let opts = with_web("basic_auth_users:\n  bob: notahash\n");
    let err = beacon_webserve::validate(&opts).unwrap_err().to_string();
    assert!(
        err.contains("basic_auth_users") && err.contains("\"bob\""),
        "{err}"
    );
}
