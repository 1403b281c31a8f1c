//! End to end: a local HTTP target on 127.0.0.1 (axum for well-behaved
//! targets, a raw TCP responder for hostile ones), the scrape manager with
//! an injected clock and loops disabled (each scrape is a direct call),
//! and `MemStorage` as the appendable.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use beacon_config::relabel::{Action, Regex, RelabelConfig};
use beacon_discovery::TargetGroup;
use beacon_discovery::manager::JobGroups;
use beacon_exposition::family::MetricFamily;
use beacon_exposition::negotiate::ScrapeProtocol;
use beacon_model::{Labels, Matcher, MetricType, is_stale_nan};
use beacon_scrape::{ManagerOptions, ScrapeManager, ScrapeOptions};
use beacon_storage::{MemStorage, Queryable, ValueType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const T0: i64 = 1_700_000_000_000;

/// A manager whose clock advances one second per reading.
fn manager(db: &Arc<MemStorage>) -> ScrapeManager {
    let now = Arc::new(AtomicI64::new(T0));
    ScrapeManager::new(
        db.clone(),
        ManagerOptions {
            run_loops: false,
            clock: Arc::new(move || now.fetch_add(1000, Ordering::SeqCst)),
            offset_seed: 0,
            hostname: "host".into(),
        },
    )
}

fn groups(job: &str, addrs: &[String]) -> JobGroups {
    let mut g = JobGroups::new();
    g.insert(
        job.to_owned(),
        vec![TargetGroup::from_addresses(
            "0",
            addrs.iter().map(String::as_str),
            Labels::empty(),
        )],
    );
    g
}

/// Every stored series whose name is `name`, with its samples.
fn series(db: &MemStorage, name: &str) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let q = db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
    let mut out = Vec::new();
    for mut s in q.select(&[Matcher::equal("__name__", name)]).unwrap() {
        let mut v = Vec::new();
        while s.samples.next() == ValueType::Float {
            v.push(s.samples.at());
        }
        out.push((s.labels, v));
    }
    out
}

fn last_value(db: &MemStorage, name: &str) -> f64 {
    let s = series(db, name);
    assert_eq!(s.len(), 1, "{name}: {s:?}");
    s[0].1.last().unwrap().1
}

async fn serve(app: Router) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr.to_string()
}

const TEXT: &str = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 10 1699999990000\nhttp_requests_total{code=\"500\"} 2 1699999990000\n# TYPE temp gauge\ntemp 21.5\n";

/// A `drop` rule on one source label (RelabelConfig has private fields,
/// so no struct update syntax).
#[allow(clippy::field_reassign_with_default)]
fn drop_rule(source: &str, regex: &str) -> RelabelConfig {
    let mut r = RelabelConfig::default();
    r.source_labels = vec![source.into()];
    r.regex = Regex::new(regex).unwrap();
    r.action = Action::Drop;
    r
}

fn opts(job: &str) -> ScrapeOptions {
    let mut o = ScrapeOptions::new(job);
    o.scrape_timeout = Duration::from_secs(5);
    o
}

async fn one_target(o: ScrapeOptions, app: Router) -> (Arc<MemStorage>, ScrapeManager, String) {
    let db = Arc::new(MemStorage::new());
    let m = manager(&db);
    let addr = serve(app).await;
    m.apply_options(std::slice::from_ref(&o)).await.unwrap();
    m.sync(&groups(&o.job_name, std::slice::from_ref(&addr)))
        .await;
    (db, m, addr)
}

#[tokio::test]
async fn samples_land_with_target_labels_and_report_series() {
    let app = Router::new().route(
        "/metrics",
        get(|| async { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], TEXT) }),
    );
    let (db, m, addr) = one_target(opts("node"), app).await;
    m.scrape_all().await;
    let reqs = series(&db, "http_requests_total");
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].0,
        Labels::from_pairs([
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("instance", addr.as_str()),
            ("job", "node")
        ])
    );
    // Explicit timestamps are honoured; the rest get the scrape time.
    assert_eq!(reqs[0].1, vec![(1_699_999_990_000, 10.0)]);
    assert_eq!(series(&db, "temp")[0].1, vec![(T0, 21.5)]);
    assert_eq!(last_value(&db, "up"), 1.0);
    assert_eq!(last_value(&db, "scrape_samples_scraped"), 3.0);
    assert_eq!(
        last_value(&db, "scrape_samples_post_metric_relabeling"),
        3.0
    );
    assert_eq!(last_value(&db, "scrape_series_added"), 3.0);
    assert!(last_value(&db, "scrape_duration_seconds") >= 0.0);
    let t = m.targets();
    assert_eq!(t.active.len(), 1);
    assert_eq!(t.active[0].health.as_str(), "up");
    assert_eq!(t.active[0].scrape_url, format!("http://{addr}/metrics"));
    assert_eq!(
        t.active[0].discovered_labels.get("__metrics_path__"),
        Some("/metrics")
    );
    let meta = m.metadata();
    let names: Vec<(&str, MetricType, &str)> = meta
        .iter()
        .map(|r| {
            (
                r.metadata.metric.as_str(),
                r.metadata.metric_type,
                r.metadata.help.as_str(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("http_requests_total", MetricType::Counter, "Requests."),
            ("temp", MetricType::Gauge, "")
        ]
    );
    // Steady state: the second scrape hits the cache and adds nothing new.
    m.scrape_all().await;
    assert_eq!(last_value(&db, "scrape_series_added"), 0.0);
    assert_eq!(series(&db, "temp")[0].1.len(), 2);
}

#[tokio::test]
async fn honor_labels_conflicts() {
    let body = "m{job=\"app\",instance=\"x\",exported_job=\"y\"} 1\n";
    for (honor, want) in [
        (
            false,
            vec![
                ("exported_exported_job", "app"),
                ("exported_instance", "x"),
                ("exported_job", "y"),
                ("job", "j"),
            ],
        ),
        (
            true,
            vec![("exported_job", "y"), ("instance", "x"), ("job", "app")],
        ),
    ] {
        let app = Router::new().route("/metrics", get(move || async move { body }));
        let mut o = opts("j");
        o.honor_labels = honor;
        let (db, m, addr) = one_target(o, app).await;
        m.scrape_all().await;
        let s = series(&db, "m");
        let mut pairs: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        pairs.push(("__name__".into(), "m".into()));
        if !honor {
            pairs.push(("instance".into(), addr.clone()));
        }
        assert_eq!(
            s[0].0,
            Labels::from_pairs(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str()))),
            "honor_labels={honor}"
        );
    }
}

#[tokio::test]
async fn metric_relabel_drop() {
    let app = Router::new().route("/metrics", get(|| async { "keep_me 1\ndrop_me 2\n" }));
    let mut o = opts("j");
    o.metric_relabel_configs = vec![drop_rule("__name__", "drop_.*")];
    let (db, m, _) = one_target(o, app).await;
    m.scrape_all().await;
    m.scrape_all().await;
    assert_eq!(series(&db, "keep_me").len(), 1);
    assert!(series(&db, "drop_me").is_empty());
    assert_eq!(last_value(&db, "scrape_samples_scraped"), 2.0);
    assert_eq!(
        last_value(&db, "scrape_samples_post_metric_relabeling"),
        1.0
    );
}

/// Polls until `f` holds, failing after a generous deadline.
async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn staleness_when_series_or_target_disappears() {
    let body = Arc::new(parking_lot::Mutex::new("a 1\nb 2\n".to_owned()));
    let b2 = body.clone();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let b = b2.lock().clone();
            async move { b }
        }),
    );
    let mut o = opts("j");
    o.scrape_interval = Duration::from_millis(300);
    o.scrape_timeout = Duration::from_millis(300);
    let (db, m, addr) = one_target(o, app).await;
    m.scrape_all().await;
    *body.lock() = "a 1\n".into();
    m.scrape_all().await;
    let b = &series(&db, "b")[0].1;
    assert_eq!(b.len(), 2);
    assert_eq!(b[1].0, T0 + 1000);
    assert!(is_stale_nan(b[1].1));
    assert!(!is_stale_nan(series(&db, "a")[0].1[1].1));

    // The target goes away: nothing is written at once; once its next
    // scrape was due and another interval has passed, everything it
    // wrote goes stale at the due time (last scrape at T0+1000, +300ms).
    let removed = std::time::Instant::now();
    m.sync(&JobGroups::new()).await;
    assert!(m.targets().active.is_empty());
    assert_eq!(series(&db, "a")[0].1.len(), 2, "no marker yet");
    wait_until("end-of-run markers", || m.pending_staleness() == 0).await;
    assert!(removed.elapsed() >= Duration::from_millis(300));
    for name in ["a", "up", "scrape_duration_seconds"] {
        let s = &series(&db, name)[0].1;
        let last = *s.last().unwrap();
        assert!(is_stale_nan(last.1), "{name}: {s:?}");
        assert_eq!(last.0, T0 + 1000 + 300, "{name}");
    }

    // A target that goes and comes back before then gets no markers.
    m.sync(&groups("j", std::slice::from_ref(&addr))).await;
    m.scrape_all().await;
    let before = series(&db, "a")[0].1.len();
    m.sync(&JobGroups::new()).await;
    m.sync(&groups("j", std::slice::from_ref(&addr))).await;
    wait_until("end-of-run task", || m.pending_staleness() == 0).await;
    let a = &series(&db, "a")[0].1;
    assert_eq!(a.len(), before, "{a:?}");
    assert!(!is_stale_nan(a.last().unwrap().1));

    // Shutdown writes no markers, and drops pending ones.
    m.scrape_all().await;
    let before = series(&db, "a")[0].1.len();
    m.sync(&JobGroups::new()).await;
    assert_eq!(m.pending_staleness(), 1);
    m.stop().await;
    assert_eq!(m.pending_staleness(), 0);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(series(&db, "a")[0].1.len(), before);
}

#[tokio::test]
async fn reload_keeps_unchanged_jobs_scraping() {
    let app = Router::new().route("/metrics", get(|| async { "a 1\n" }));
    let (db, m, _) = one_target(opts("j"), app).await;
    m.scrape_all().await;
    m.apply_options(&[opts("j")]).await.unwrap();
    let mut changed = opts("j");
    changed.honor_labels = true;
    m.apply_options(&[changed]).await.unwrap();
    m.scrape_all().await;
    let a = &series(&db, "a")[0].1;
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|s| !is_stale_nan(s.1)), "{a:?}");
    assert_eq!(m.stats().prometheus_target_scrape_pool_reloads_total, 1);
}

#[tokio::test]
async fn gzip_bodies() {
    let app = Router::new().route(
        "/metrics",
        get(|headers: HeaderMap| async move {
            let accepts = headers
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .contains("gzip");
            assert!(accepts, "scraper must ask for gzip");
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(b"zipped 42\n").unwrap();
            (
                [
                    (header::CONTENT_ENCODING, "gzip"),
                    (header::CONTENT_TYPE, "text/plain; version=0.0.4"),
                ],
                e.finish().unwrap(),
            )
        }),
    );
    let (db, m, _) = one_target(opts("j"), app).await;
    m.scrape_all().await;
    assert_eq!(last_value(&db, "zipped"), 42.0);
}

/// Serves a format chosen by the highest-priority type in `Accept`.
async fn negotiate(headers: HeaderMap) -> impl IntoResponse {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if accept.starts_with("application/vnd.google.protobuf") {
        let mut f = MetricFamily::new("fmt_proto", "Proto.", MetricType::Gauge);
        f.push_value(Labels::empty(), 3.0);
        let body = beacon_exposition::encode_protobuf(&[f]);
        (
            [(
                header::CONTENT_TYPE,
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            )],
            body,
        )
    } else if accept.starts_with("application/openmetrics-text") {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            b"# TYPE fmt_om gauge\nfmt_om 2\n# EOF\n".to_vec(),
        )
    } else {
        (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            b"fmt_text 1\n".to_vec(),
        )
    }
}

#[tokio::test]
async fn content_negotiation() {
    for (protocol, metric, value) in [
        (ScrapeProtocol::PrometheusProto, "fmt_proto", 3.0),
        (ScrapeProtocol::OpenMetricsText1_0_0, "fmt_om", 2.0),
        (ScrapeProtocol::PrometheusText0_0_4, "fmt_text", 1.0),
    ] {
        let mut o = opts("j");
        o.scrape_protocols = vec![protocol];
        let (db, m, _) = one_target(o, Router::new().route("/metrics", get(negotiate))).await;
        m.scrape_all().await;
        assert_eq!(last_value(&db, metric), value, "{protocol:?}");
    }
}

/// How the raw responder misbehaves.
#[derive(Clone, Copy)]
enum Hostile {
    /// Streams 1 GiB of valid lines.
    Huge,
    /// A small gzip body that inflates to 256 MiB.
    GzipBomb,
    /// Sends headers and one line, then nothing, forever.
    Hang,
}

async fn hostile(kind: Hostile) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let bomb = Arc::new(if matches!(kind, Hostile::GzipBomb) {
        gzip_bomb()
    } else {
        Vec::new()
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let bomb = bomb.clone();
            tokio::spawn(async move {
                let mut req = [0u8; 4096];
                let _ = s.read(&mut req).await;
                let enc = if matches!(kind, Hostile::GzipBomb) {
                    "Content-Encoding: gzip\r\n"
                } else {
                    ""
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{enc}Connection: close\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                match kind {
                    Hostile::Huge => {
                        let chunk = "x 1\n".repeat(16 << 10);
                        for _ in 0..((1u64 << 30) / chunk.len() as u64) {
                            if s.write_all(chunk.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                    Hostile::GzipBomb => {
                        let _ = s.write_all(&bomb).await;
                    }
                    Hostile::Hang => {
                        let _ = s.write_all(b"partial 1\n").await;
                        tokio::time::sleep(Duration::from_secs(120)).await;
                    }
                }
            });
        }
    });
    addr
}

fn gzip_bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![b'\n'; 1 << 20];
    for _ in 0..256 {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

/// Scrapes a bad target next to a good one: the bad one reports `up` 0
/// and `want_error`, the good one is untouched.
async fn check_bad(bad_addr: String, o: ScrapeOptions, want_error: &str) {
    let db = Arc::new(MemStorage::new());
    let m = manager(&db);
    let good = serve(Router::new().route("/metrics", get(|| async { "good 1\n" }))).await;
    m.apply_options(std::slice::from_ref(&o)).await.unwrap();
    m.sync(&groups(&o.job_name, &[good.clone(), bad_addr.clone()]))
        .await;
    m.scrape_all().await;
    for (labels, samples) in series(&db, "up") {
        let want = if labels.get("instance") == Some(good.as_str()) {
            1.0
        } else {
            0.0
        };
        assert_eq!(
            samples.last().unwrap().1,
            want,
            "{labels}: {:?}",
            m.targets().active
        );
    }
    assert_eq!(last_value(&db, "good"), 1.0);
    let t = m.targets();
    let bad = t
        .active
        .iter()
        .find(|t| t.labels.get("instance") == Some(bad_addr.as_str()))
        .unwrap();
    assert_eq!(bad.health.as_str(), "down");
    assert!(
        bad.last_error.contains(want_error),
        "{} !~ {want_error}",
        bad.last_error
    );
    // No sample of the bad body was kept.
    for name in ["x", "partial", "m", "garbage", "fb"] {
        assert!(series(&db, name).is_empty(), "{name}");
    }
}

async fn body_target(body: &'static [u8]) -> String {
    typed_target(body, Some("text/plain; version=0.0.4")).await
}

/// A target serving `body` with the given `Content-Type` (none: no
/// header at all).
async fn typed_target(body: &'static [u8], content_type: Option<&'static str>) -> String {
    serve(Router::new().route(
        "/metrics",
        get(move || async move {
            let mut r = axum::response::Response::new(axum::body::Body::from(body));
            if let Some(ct) = content_type {
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, ct.parse().unwrap());
            }
            r
        }),
    ))
    .await
}

#[tokio::test]
async fn missing_content_type_needs_a_fallback_protocol() {
    // Prometheus 3: no usable Content-Type and no fallback fails the scrape.
    check_bad(
        typed_target(b"m 1\n", None).await,
        opts("j"),
        "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target",
    )
    .await;
    check_bad(
        typed_target(b"m 1\n", Some("text/html; charset=utf-8")).await,
        opts("j"),
        "sending unsupported Content-Type \"text/html; charset=utf-8\"",
    )
    .await;
    // With a fallback the body parses in that format.
    for (ct, fallback, body) in [
        (None, ScrapeProtocol::PrometheusText0_0_4, &b"fb 7\n"[..]),
        (
            Some("bogus"),
            ScrapeProtocol::OpenMetricsText1_0_0,
            b"fb 7\n# EOF\n",
        ),
        (
            Some("application/json"),
            ScrapeProtocol::PrometheusText1_0_0,
            b"fb 7\n",
        ),
    ] {
        let mut o = opts("j");
        o.fallback_scrape_protocol = Some(fallback);
        let db = Arc::new(MemStorage::new());
        let m = manager(&db);
        let addr = typed_target(body, ct).await;
        m.apply_options(std::slice::from_ref(&o)).await.unwrap();
        m.sync(&groups("j", &[addr])).await;
        m.scrape_all().await;
        assert_eq!(last_value(&db, "fb"), 7.0, "{ct:?}");
        assert_eq!(last_value(&db, "up"), 1.0);
    }
    // An empty body needs no type.
    let db = Arc::new(MemStorage::new());
    let m = manager(&db);
    m.apply_options(&[opts("j")]).await.unwrap();
    m.sync(&groups("j", &[typed_target(b"", None).await])).await;
    m.scrape_all().await;
    assert_eq!(last_value(&db, "up"), 1.0);
}

#[tokio::test]
async fn bad_targets_fail_alone() {
    let mut limited = opts("j");
    limited.limits.body_size_limit_bytes = 1 << 20;
    check_bad(
        hostile(Hostile::Huge).await,
        limited.clone(),
        "body size limit exceeded",
    )
    .await;
    check_bad(
        hostile(Hostile::GzipBomb).await,
        limited,
        "body size limit exceeded",
    )
    .await;
    let mut quick = opts("j");
    quick.scrape_timeout = Duration::from_millis(500);
    check_bad(hostile(Hostile::Hang).await, quick, "timed out").await;
    check_bad(
        body_target(b"garbage {{{ not metrics\n").await,
        opts("j"),
        "parsing text exposition",
    )
    .await;
    check_bad(
        body_target(b"m{a=\"\xff\"} 1\n").await,
        opts("j"),
        "invalid UTF-8",
    )
    .await;
    check_bad(
        body_target(b"m 1\nm 2\n").await,
        opts("j"),
        "duplicate series",
    )
    .await;
    let mut few = opts("j");
    few.limits.sample_limit = 1;
    check_bad(
        body_target(b"m{a=\"1\"} 1\nm{a=\"2\"} 1\n").await,
        few,
        "sample_limit exceeded",
    )
    .await;
    let mut short = opts("j");
    short.limits.label_value_length_limit = 20;
    check_bad(
        body_target(b"m{a=\"a much longer label value\"} 1\n").await,
        short,
        "label_value_length_limit",
    )
    .await;
}

#[tokio::test]
async fn failed_scrape_marks_previous_series_stale() {
    let ok = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ok2 = ok.clone();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let good = ok2.load(Ordering::SeqCst);
            async move { if good { "a 1\n" } else { "a{ 1\n" } }
        }),
    );
    let (db, m, _) = one_target(opts("j"), app).await;
    m.scrape_all().await;
    ok.store(false, Ordering::SeqCst);
    m.scrape_all().await;
    let a = &series(&db, "a")[0].1;
    assert!(is_stale_nan(a.last().unwrap().1), "{a:?}");
    assert_eq!(last_value(&db, "up"), 0.0);
}

#[tokio::test]
async fn relabelled_away_targets_are_listed_as_dropped() {
    let mut o = opts("j");
    o.relabel_configs = vec![drop_rule("__address__", "drop.*")];
    o.params.insert("module".into(), vec!["m1".into()]);
    let db = Arc::new(MemStorage::new());
    let m = manager(&db);
    m.apply_options(&[o]).await.unwrap();
    m.sync(&groups("j", &["keep:1".into(), "drop:2".into()]))
        .await;
    let t = m.targets();
    assert_eq!(t.active.len(), 1);
    assert_eq!(t.active[0].scrape_url, "http://keep:1/metrics?module=m1");
    assert_eq!(t.dropped.len(), 1);
    assert_eq!(
        t.dropped[0].discovered_labels.get("__address__"),
        Some("drop:2")
    );
    assert_eq!(
        t.dropped[0].discovered_labels.get("__param_module"),
        Some("m1")
    );
    assert_eq!(
        m.stats().prometheus_target_scrape_pool_targets.get("j"),
        Some(&1)
    );
}
