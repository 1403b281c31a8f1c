//! The HTTP surface, served in-process on a free loopback port: landing
//! page, content negotiation, gzip, `collect[]` filtering, the textfile
//! collector's error path through a real scrape, and unknown paths.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use beacon_node_exporter::collector::{self, Config};
use beacon_node_exporter::scrape::Registry;
use beacon_node_exporter::server::{AppState, router};

/// Status line, headers (lower-cased) and body of one GET.
struct Reply {
    status: String,
    headers: String,
    body: Vec<u8>,
}

fn get(port: u16, path: &str, extra_headers: &str) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra_headers}\r\n"
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    let mut body = raw[split + 4..].to_vec();
    let headers = headers.to_ascii_lowercase();
    if headers.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Reply {
        status: status.to_string(),
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..pos]).trim(), 16).unwrap_or(0);
        let start = pos + 2;
        if n == 0 || b.len() < start + n {
            break;
        }
        out.extend_from_slice(&b[start..start + n]);
        b = &b[(start + n + 2).min(b.len())..];
    }
    out
}

/// Serves the fixture trees with a textfile directory holding a good and
/// a malformed file; returns the port.
fn serve(rt: &tokio::runtime::Runtime) -> u16 {
    let td = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let cfg = Arc::new(Config {
        procfs: td.join("proc"),
        sysfs: td.join("sys"),
        rootfs: td.join("rootfs"),
        textfile_directory: Some(td.join("textfile")),
        ..Config::default()
    });
    let cols = ["loadavg", "meminfo", "textfile", "os"]
        .iter()
        .filter_map(|n| collector::build(n, &cfg))
        .collect();
    let state = Arc::new(AppState {
        registry: Registry::new(cols, Duration::from_secs(5)),
        telemetry_path: "/metrics".into(),
        in_flight: Some(tokio::sync::Semaphore::new(4)),
        max_requests: 4,
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move { axum::serve(listener, router(state)).await });
    port
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn text_openmetrics_gzip_and_filters() {
    let rt = runtime();
    let port = serve(&rt);

    let r = get(port, "/metrics", "");
    assert!(r.status.contains("200"), "{}", r.status);
    assert!(
        r.headers
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        r.headers
    );
    let text = String::from_utf8(r.body).expect("utf-8");
    assert!(
        text.contains("# TYPE node_load1 gauge\nnode_load1 "),
        "{text}"
    );
    // The malformed file is reported, the good one and the rest intact.
    assert!(text.contains("node_textfile_scrape_error 1\n"), "{text}");
    assert!(text.contains("raid_ok 1\n"), "{text}");
    assert!(text.contains("node_scrape_collector_success{collector=\"meminfo\"} 1\n"));
    assert!(text.contains("node_scrape_collector_success{collector=\"textfile\"} 1\n"));

    let r = get(
        port,
        "/metrics",
        "Accept: application/openmetrics-text;version=1.0.0\r\n",
    );
    assert!(
        r.headers
            .contains("content-type: application/openmetrics-text"),
        "{}",
        r.headers
    );
    assert!(String::from_utf8_lossy(&r.body).ends_with("# EOF\n"));

    let r = get(port, "/metrics", "Accept-Encoding: gzip\r\n");
    assert!(
        r.headers.contains("content-encoding: gzip"),
        "{}",
        r.headers
    );
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut unzipped)
        .expect("valid gzip");
    assert!(unzipped.contains("node_load1 "));

    let r = get(port, "/metrics?collect[]=loadavg", "");
    let text = String::from_utf8(r.body).expect("utf-8");
    assert!(
        text.contains("node_load1 ") && !text.contains("node_memory_"),
        "{text}"
    );
    let r = get(port, "/metrics?exclude[]=loadavg", "");
    let text = String::from_utf8(r.body).expect("utf-8");
    assert!(!text.contains("node_load1 ") && text.contains("node_memory_MemTotal_bytes"));
    let r = get(port, "/metrics?collect[]=nosuch", "");
    assert!(r.status.contains("400"), "{}", r.status);
}

#[test]
fn landing_page_and_unknown_paths() {
    let rt = runtime();
    let port = serve(&rt);
    let r = get(port, "/", "");
    assert!(r.status.contains("200"));
    assert!(String::from_utf8_lossy(&r.body).contains("href=\"/metrics\""));
    let r = get(port, "/nope", "");
    assert!(r.status.contains("404"), "{}", r.status);
}

/// A collector that holds its scrape until the test lets it go.
struct Held {
    entered: std::sync::mpsc::SyncSender<()>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl collector::Collector for Held {
    fn name(&self) -> &'static str {
        "held"
    }
    fn update(
        &self,
        out: &mut beacon_node_exporter::metric_set::MetricSet,
    ) -> beacon_node_exporter::Result<()> {
        let _ = self.entered.send(());
        let rx = self.release.lock().unwrap_or_else(|p| p.into_inner());
        let _ = rx.recv_timeout(Duration::from_secs(30));
        out.gauge("held_ok", "Whether the held scrape finished.", &[], 1.0);
        Ok(())
    }
}

#[test]
fn max_requests_refuses_scrapes_beyond_the_limit() {
    let rt = runtime();
    let (entered_tx, entered_rx) = std::sync::mpsc::sync_channel(1);
    let (release_tx, release_rx) = std::sync::mpsc::channel();
    let held: Arc<dyn collector::Collector> = Arc::new(Held {
        entered: entered_tx,
        release: std::sync::Mutex::new(release_rx),
    });
    let state = Arc::new(AppState {
        registry: Registry::new(vec![held], Duration::from_secs(20)),
        telemetry_path: "/metrics".into(),
        in_flight: Some(tokio::sync::Semaphore::new(1)),
        max_requests: 1,
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move { axum::serve(listener, router(state)).await });

    let first = std::thread::spawn(move || get(port, "/metrics", ""));
    entered_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("first scrape started");
    let r = get(port, "/metrics", "");
    assert!(r.status.contains("503"), "{}", r.status);
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "Limit of concurrent requests reached (1), try again later.\n"
    );
    // Only scrapes count against the limit.
    assert!(get(port, "/", "").status.contains("200"));
    release_tx.send(()).expect("release");
    let r = first.join().expect("first scrape");
    assert!(r.status.contains("200"), "{}", r.status);
    assert!(String::from_utf8_lossy(&r.body).contains("held_ok 1"));
}
