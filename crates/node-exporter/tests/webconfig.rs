//! `--web.config.file` through the real binary on a free loopback port:
//! a TLS scrape with basic auth (certificate made here with rcgen), the
//! 401 without credentials, and a broken web config stopping start-up
//! with one line on stderr.

#![cfg(feature = "web-config")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_beacon-node-exporter");
/// How long the exporter may take to start listening.
const STARTUP_MAX: Duration = Duration::from_secs(20);
/// Generous bound for one request.
const REQUEST_MAX: Duration = Duration::from_secs(30);

/// Kills the child (by its PID) when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

fn start(port: u16, web_config: &Path) -> Running {
    let child = Command::new(BIN)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.config.file={}", web_config.display()))
        .args(["--collector.disable-defaults", "--collector.loadavg"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the exporter");
    let running = Running(child);
    let deadline = Instant::now() + STARTUP_MAX;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "exporter did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// A self-signed certificate for `localhost`, a web config using it with
/// user `alice` (password `s3cret`), all in `dir`.
fn write_config(dir: &Path) -> rustls::pki_types::CertificateDer<'static> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen");
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).expect("write key");
    // Cost 4 keeps the test fast; the server accepts any bcrypt cost.
    let hash = bcrypt::hash("s3cret", 4).expect("bcrypt");
    let yaml = format!(
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\nbasic_auth_users:\n  alice: {hash}\n"
    );
    std::fs::write(dir.join("web.yml"), yaml).expect("write web config");
    ck.cert.der().clone()
}

/// One GET over TLS; returns the status code and the body.
fn get_tls(
    port: u16,
    root: &rustls::pki_types::CertificateDer<'static>,
    auth: &str,
) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).expect("trust the test certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client connection");
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(REQUEST_MAX)).expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}\r\n"
    )
    .expect("send request");
    let mut raw = Vec::new();
    // The server may close without close_notify; what arrived counts.
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn tls_scrape_with_basic_auth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = write_config(dir.path());
    let port = free_port();
    let _exporter = start(port, &dir.path().join("web.yml"));

    // alice:s3cret, base64-encoded.
    let (status, body) = get_tls(port, &root, "Authorization: Basic YWxpY2U6czNjcmV0\r\n");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("node_load1 "), "{body}");

    let (status, _) = get_tls(port, &root, "");
    assert_eq!(status, 401);
    // alice:wrong
    let (status, _) = get_tls(port, &root, "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n");
    assert_eq!(status, 401);

    // Plain HTTP on the TLS port gets no metrics.
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(REQUEST_MAX)).expect("timeout");
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("node_load1"));
}

/// Runs the binary with `yaml` as its web config and returns its exit
/// status and stderr; it must not start serving.
fn start_fails(yaml: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("web.yml");
    std::fs::write(&path, yaml).expect("write web config");
    let out = Command::new(BIN)
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
        .arg(format!("--web.config.file={}", path.display()))
        .args(["--collector.disable-defaults", "--log.level=error"])
        .stdin(Stdio::null())
        .output()
        .expect("run the exporter");
    assert!(!out.status.success(), "a bad web config must stop start-up");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.contains("--web.config.file"), "{stderr}");
    stderr
}

#[test]
fn bad_web_config_stops_startup_with_one_line() {
    for (yaml, want) in [
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing-key.pem\n",
            "missing",
        ),
        ("basic_auth_users:\n  bob: not-a-bcrypt-hash\n", "bob"),
        ("tls_server_config: [\n", "web.yml"),
        ("no_such_field: 1\n", "no_such_field"),
    ] {
        let err = start_fails(yaml);
        assert!(err.contains(want), "{yaml:?}: {err}");
    }
}
