//! Interoperability with the real Prometheus (Debian's 2.42): it scrapes
//! itself every second and remote-writes to a small axum server whose
//! `POST /api/v1/write` calls `Receiver::handle_write` into a
//! `MemStorage`. Prometheus also scrapes that server's `/metrics` (a
//! counter with an exemplar and a native histogram, in protobuf), so the
//! test waits until Prometheus's own series, the exemplar and the
//! histogram have all arrived through remote write 1.0.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use beacon_model::{
    CounterResetHint, Exemplar, FloatHistogram, Histogram, Labels, Matcher, MetricType, Span,
};
use beacon_remote::Receiver;
use beacon_storage::{ExemplarQueryable, MemStorage, Queryable, ValueType};

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// How long Prometheus may take to start, scrape and send.
const ARRIVAL_WAIT: Duration = Duration::from_secs(60);

/// Stops the Prometheus process (by its PID) however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Sink {
    receiver: Receiver,
    db: MemStorage,
}

async fn write(State(sink): State<Arc<Sink>>, headers: HeaderMap, body: Bytes) -> Response {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let out = sink.receiver.handle_write(
        get(header::CONTENT_TYPE),
        get(header::CONTENT_ENCODING),
        &body,
        &sink.db,
    );
    let mut resp = (StatusCode::from_u16(out.status).unwrap(), out.body).into_response();
    for (name, value) in out.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    resp
}

/// The scrape target: a counter with an exemplar and a native histogram,
/// in the protobuf exposition format (the only one carrying native
/// histograms, which Prometheus asks for when they are enabled).
async fn target_metrics() -> Response {
    use beacon_exposition::family::{Metric, MetricFamily, MetricValue};
    let mut counter = MetricFamily::new("demo_requests_total", "Requests.", MetricType::Counter);
    counter.metrics.push(Metric {
        labels: Labels::empty(),
        value: MetricValue::Counter {
            value: 42.0,
            created_s: None,
            exemplar: Some(Exemplar {
                labels: Labels::from_pairs([("trace_id", "abc123")]),
                value: 1.5,
                t: Some(beacon_model::Timestamp::now().ms()),
            }),
        },
        timestamp_ms: None,
    });
    let mut hist = MetricFamily::new("demo_latency_seconds", "Latency.", MetricType::Histogram);
    hist.metrics.push(Metric {
        labels: Labels::empty(),
        value: MetricValue::Histogram {
            count: 5.0,
            sum: 2.5,
            buckets: Vec::new(),
            created_s: None,
            native: Some(Box::new(demo_histogram())),
        },
        timestamp_ms: None,
    });
    let body = beacon_exposition::encode_protobuf(&[counter, hist]);
    (
        [(
            header::CONTENT_TYPE,
            beacon_exposition::protobuf::PROTOBUF_CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

fn demo_histogram() -> Histogram {
    Histogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: 1,
        count: 5,
        sum: 2.5,
        positive_spans: vec![Span {
            offset: -1,
            length: 2,
        }],
        negative_spans: vec![],
        positive_buckets: vec![3, -2],
        negative_buckets: vec![],
        custom_values: vec![],
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The newest float value of the series selected by `matchers`, if any.
fn newest(db: &MemStorage, matchers: &[Matcher]) -> Option<(String, f64)> {
    let q = db.querier(0, i64::MAX / 2).unwrap();
    let mut series = q.select(matchers).unwrap();
    let s = series.first_mut()?;
    let mut last = None;
    while s.samples.next() == ValueType::Float {
        last = Some(s.samples.at().1);
    }
    Some((s.labels.to_string(), last?))
}

fn start_prometheus(dir: &Path, write_port: u16) -> (Running, u16) {
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
         \x20 - job_name: demo\n    static_configs:\n      - targets: ['127.0.0.1:{write_port}']\n\
         remote_write:\n  - url: http://127.0.0.1:{write_port}/api/v1/write\n    send_exemplars: true\n    send_native_histograms: true\n    queue_config:\n      batch_send_deadline: 1s\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(PROMETHEUS)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--enable-feature=native-histograms,exemplar-storage")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {PROMETHEUS}: {e}"));
    (Running(child), port)
}

/// The newest native histogram of `name` (as a float histogram).
fn newest_histogram(db: &MemStorage, name: &str) -> Option<FloatHistogram> {
    let q = db.querier(0, i64::MAX / 2).unwrap();
    let mut series = q.select(&[Matcher::equal("__name__", name)]).unwrap();
    let s = series.first_mut()?;
    let mut last = None;
    while matches!(
        s.samples.next(),
        ValueType::Histogram | ValueType::FloatHistogram
    ) {
        last = Some(s.samples.at_float_histogram().1);
    }
    last
}

fn newest_exemplar(db: &MemStorage, name: &str) -> Option<Exemplar> {
    let sets = [vec![Matcher::equal("__name__", name)]];
    let found = db.select_exemplars(0, i64::MAX / 2, &sets).unwrap();
    found.first()?.exemplars.last().cloned()
}

/// What the test waits for; each part `None` until it has arrived.
#[derive(Debug)]
struct Arrived {
    build_info: Option<(String, f64)>,
    up: Option<(String, f64)>,
    histogram: Option<FloatHistogram>,
    exemplar: Option<Exemplar>,
}

impl Arrived {
    fn look(db: &MemStorage) -> Arrived {
        let up = [
            Matcher::equal("__name__", "up"),
            Matcher::equal("job", "prometheus"),
        ];
        Arrived {
            build_info: newest(db, &[Matcher::equal("__name__", "prometheus_build_info")]),
            up: newest(db, &up),
            histogram: newest_histogram(db, "demo_latency_seconds"),
            exemplar: newest_exemplar(db, "demo_requests_total"),
        }
    }

    fn complete(&self) -> bool {
        self.build_info.is_some()
            && self.up.is_some()
            && self.histogram.is_some()
            && self.exemplar.is_some()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_remote_writes_its_own_series() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} is missing: install the Debian package `prometheus` (2.42) to run this interoperability test"
    );
    let sink = Arc::new(Sink {
        receiver: Receiver::new(),
        db: MemStorage::new(),
    });
    let app = axum::Router::new()
        .route("/api/v1/write", axum::routing::post(write))
        .route("/metrics", axum::routing::get(target_metrics))
        .with_state(Arc::clone(&sink));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let write_port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let (prometheus, _port) = start_prometheus(dir.path(), write_port);
    let deadline = Instant::now() + ARRIVAL_WAIT;
    let arrived = loop {
        let a = Arrived::look(&sink.db);
        if a.complete() {
            break a;
        }
        if Instant::now() > deadline {
            let log =
                std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
            panic!(
                "not everything was remote-written after {ARRIVAL_WAIT:?}: {a:?}\nprometheus log:\n{log}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(prometheus);
    server.abort();

    // `complete()` said every part is there.
    let build_info = arrived.build_info.unwrap();
    let up = arrived.up.unwrap();
    let histogram = arrived.histogram.unwrap();
    let exemplar = arrived.exemplar.unwrap();
    assert!(build_info.0.contains("version=\"2."), "{build_info:?}");
    assert_eq!(build_info.1, 1.0);
    assert!(up.0.contains("instance=\"127.0.0.1:"), "{up:?}");
    assert_eq!(up.1, 1.0);
    assert_eq!(histogram, demo_histogram().to_float());
    assert_eq!(
        exemplar.labels,
        Labels::from_pairs([("trace_id", "abc123")])
    );
    assert_eq!(exemplar.value, 1.5);
    let mut fams = Vec::new();
    sink.receiver.collect(&mut fams);
    let text = beacon_exposition::encode::encode(beacon_exposition::encode::Format::Text004, &fams);
    assert!(
        text.contains("beacon_remote_write_requests_total{code=\"204\",version=\"1.0\"}"),
        "{text}"
    );
    assert!(
        !text.contains("code=\"4") && !text.contains("code=\"5"),
        "a request failed:\n{text}"
    );
}
