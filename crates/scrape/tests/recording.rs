//! What a scrape hands to storage beyond samples, checked with an
//! appendable that records every call: metadata (type, help, unit) for
//! new series and after a change only, exemplars from OpenMetrics and
//! protobuf, and native histograms from a protobuf target (with the
//! classic buckets when `always_scrape_classic_histograms` is set).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use beacon_discovery::TargetGroup;
use beacon_discovery::manager::JobGroups;
use beacon_exposition::encode_protobuf;
use beacon_exposition::family::{Bucket, Metric, MetricFamily, MetricValue};
use beacon_exposition::negotiate::ScrapeProtocol;
use beacon_model::{
    Exemplar, FloatHistogram, Histogram, Labels, Metadata, MetricType, SeriesRef, Span,
};
use beacon_scrape::{ManagerOptions, ScrapeManager, ScrapeOptions};
use beacon_storage::{Appendable, Appender};

const T0: i64 = 1_700_000_000_000;

/// One call a scrape made on its appender, labels as text.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Float(String, f64),
    Histogram(String, Histogram),
    Exemplar(String, Exemplar),
    Metadata(String, Metadata),
}

/// Keeps the calls of committed batches.
#[derive(Default)]
struct Recorder {
    calls: parking_lot::Mutex<Vec<Call>>,
}

struct RecordingAppender<'a> {
    to: &'a Recorder,
    batch: Vec<Call>,
}

fn next_ref(labels: &Labels) -> SeriesRef {
    SeriesRef(labels.hash64() | 1)
}

impl Appender for RecordingAppender<'_> {
    fn append(
        &mut self,
        _: SeriesRef,
        l: &Labels,
        _t: i64,
        v: f64,
    ) -> beacon_storage::Result<SeriesRef> {
        self.batch.push(Call::Float(l.to_string(), v));
        Ok(next_ref(l))
    }
    fn append_histogram(
        &mut self,
        _: SeriesRef,
        l: &Labels,
        _t: i64,
        h: Option<&Histogram>,
        _fh: Option<&FloatHistogram>,
    ) -> beacon_storage::Result<SeriesRef> {
        let h = h.expect("integer histograms in these tests").clone();
        self.batch.push(Call::Histogram(l.to_string(), h));
        Ok(next_ref(l))
    }
    fn append_exemplar(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        e: &Exemplar,
    ) -> beacon_storage::Result<SeriesRef> {
        assert_eq!(r, next_ref(l), "exemplar carries the series' ref");
        self.batch.push(Call::Exemplar(l.to_string(), e.clone()));
        Ok(r)
    }
    fn update_metadata(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        m: &Metadata,
    ) -> beacon_storage::Result<SeriesRef> {
        assert_eq!(r, next_ref(l), "metadata carries the series' ref");
        self.batch.push(Call::Metadata(l.to_string(), m.clone()));
        Ok(r)
    }
    fn commit(&mut self) -> beacon_storage::Result<()> {
        self.to.calls.lock().append(&mut self.batch);
        Ok(())
    }
    fn rollback(&mut self) -> beacon_storage::Result<()> {
        self.batch.clear();
        Ok(())
    }
}

impl Appendable for Recorder {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(RecordingAppender {
            to: self,
            batch: Vec::new(),
        })
    }
}

impl Recorder {
    /// Takes the calls so far, leaving out the synthetic report series.
    fn take(&self) -> Vec<Call> {
        let report = |l: &str| l.starts_with("up{") || l.starts_with("scrape_");
        std::mem::take(&mut *self.calls.lock())
            .into_iter()
            .filter(|c| match c {
                Call::Float(l, _) => !report(l),
                _ => true,
            })
            .collect()
    }
}

/// A target serving whatever `body` holds, with its content type.
async fn target(body: Body) -> String {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let (ct, b) = body.lock().clone();
            async move { ([(header::CONTENT_TYPE, ct)], b) }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    addr
}

type Body = Arc<parking_lot::Mutex<(String, Vec<u8>)>>;

async fn setup(o: ScrapeOptions, ct: &str, body: &[u8]) -> (Arc<Recorder>, ScrapeManager, Body) {
    let rec = Arc::new(Recorder::default());
    let now = Arc::new(AtomicI64::new(T0));
    let m = ScrapeManager::new(
        rec.clone(),
        ManagerOptions {
            run_loops: false,
            clock: Arc::new(move || now.fetch_add(1000, Ordering::SeqCst)),
            offset_seed: 0,
            hostname: "host".into(),
        },
    );
    let shared: Body = Arc::new(parking_lot::Mutex::new((ct.to_owned(), body.to_vec())));
    let addr = target(shared.clone()).await;
    m.apply_options(std::slice::from_ref(&o)).await.unwrap();
    let mut g = JobGroups::new();
    g.insert(
        o.job_name.clone(),
        vec![TargetGroup::from_addresses(
            "0",
            [addr.as_str()],
            Labels::empty(),
        )],
    );
    m.sync(&g).await;
    (rec, m, shared)
}

fn opts() -> ScrapeOptions {
    let mut o = ScrapeOptions::new("j");
    o.scrape_timeout = Duration::from_secs(5);
    o
}

fn meta(t: MetricType, help: &str, unit: &str) -> Metadata {
    Metadata {
        metric_type: t,
        help: help.into(),
        unit: unit.into(),
    }
}

/// The metadata calls among `calls`, as (series name, metadata).
fn metadata_calls(calls: &[Call]) -> Vec<(String, Metadata)> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Metadata(l, m) => Some((l.clone(), m.clone())),
            _ => None,
        })
        .collect()
}

const TEXT: &str = "# HELP reqs_total Requests.\n# TYPE reqs_total counter\nreqs_total{code=\"200\"} 1\nreqs_total{code=\"500\"} 2\nuntyped_after 3\n# HELP temp Temperature.\n# TYPE temp gauge\ntemp 20\n";

#[tokio::test]
async fn metadata_goes_to_storage_for_new_series_and_after_changes() {
    let (rec, m, body) = setup(opts(), "text/plain; version=0.0.4", TEXT.as_bytes()).await;
    let instance = m.targets().active[0]
        .labels
        .get("instance")
        .unwrap()
        .to_owned();
    let series =
        |name: &str, extra: &str| format!("{name}{{{extra}instance=\"{instance}\", job=\"j\"}}");
    m.scrape_all().await;
    let counter = meta(MetricType::Counter, "Requests.", "");
    let gauge = meta(MetricType::Gauge, "Temperature.", "");
    let want_all = vec![
        (series("reqs_total", "code=\"200\", "), counter.clone()),
        (series("reqs_total", "code=\"500\", "), counter.clone()),
        (series("temp", ""), gauge.clone()),
    ];
    // `untyped_after` follows the counter's lines but is not part of the
    // family: it gets no metadata rather than the counter's.
    assert_eq!(metadata_calls(&rec.take()), want_all);

    // Nothing changed: nothing written.
    m.scrape_all().await;
    assert_eq!(metadata_calls(&rec.take()), vec![]);

    // The counter's help changes: all its series, and only those, again.
    body.lock().1 = TEXT.replace("Requests.", "All requests.").into_bytes();
    m.scrape_all().await;
    let new_counter = meta(MetricType::Counter, "All requests.", "");
    assert_eq!(
        metadata_calls(&rec.take()),
        want_all[..2]
            .iter()
            .map(|(s, _)| (s.clone(), new_counter.clone()))
            .collect::<Vec<_>>()
    );
    // A new series of an unchanged family gets its metadata.
    body.lock().1 = format!("{TEXT}temp{{room=\"b\"}} 21\n")
        .replace("Requests.", "All requests.")
        .into_bytes();
    m.scrape_all().await;
    assert_eq!(
        metadata_calls(&rec.take()),
        vec![(
            format!("temp{{instance=\"{instance}\", job=\"j\", room=\"b\"}}"),
            gauge
        )]
    );
}

#[tokio::test]
async fn openmetrics_exemplars_and_units_reach_storage() {
    let om = "# TYPE req_seconds counter\n# UNIT req_seconds seconds\n# HELP req_seconds Time.\nreq_seconds_total 4.5 # {trace_id=\"abc\"} 0.25 1700000000.123\n# EOF\n";
    let (rec, m, _) = setup(
        opts(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        om.as_bytes(),
    )
    .await;
    m.scrape_all().await;
    let calls = rec.take();
    let ex: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c, Call::Exemplar(..)))
        .collect();
    assert_eq!(ex.len(), 1, "{calls:?}");
    let Call::Exemplar(series, e) = ex[0] else {
        unreachable!()
    };
    assert!(series.starts_with("req_seconds_total{"), "{series}");
    assert_eq!(e.labels.to_string(), "{trace_id=\"abc\"}");
    assert_eq!((e.value, e.t), (0.25, Some(1_700_000_000_123)));
    assert_eq!(
        metadata_calls(&calls)[0].1,
        meta(MetricType::Counter, "Time.", "seconds")
    );
    assert_eq!(m.targets().active[0].health.as_str(), "up");
}

/// A histogram exposed both ways: classic buckets (one with an exemplar)
/// and the native form, schema 0 with two positive spans.
fn histogram_family() -> MetricFamily {
    let native = Histogram {
        schema: 0,
        zero_threshold: 1e-128,
        zero_count: 1,
        count: 6,
        sum: 12.5,
        positive_spans: vec![
            Span {
                offset: 0,
                length: 2,
            },
            Span {
                offset: 1,
                length: 1,
            },
        ],
        positive_buckets: vec![2, -1, 1],
        ..Histogram::default()
    };
    let ex = Exemplar {
        labels: Labels::from_pairs([("trace_id", "t1")]),
        value: 0.7,
        t: Some(T0 - 500),
    };
    let mut f = MetricFamily::new("lat_seconds", "Latency.", MetricType::Histogram);
    f.metrics.push(Metric {
        labels: Labels::from_pairs([("path", "/")]),
        value: MetricValue::Histogram {
            count: 6.0,
            sum: 12.5,
            buckets: vec![
                Bucket {
                    upper_bound: 1.0,
                    cumulative_count: 3.0,
                    exemplar: Some(ex),
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    cumulative_count: 6.0,
                    exemplar: None,
                },
            ],
            created_s: None,
            native: Some(Box::new(native)),
        },
        timestamp_ms: None,
    });
    f
}

const PROTO_CT: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

async fn scrape_proto(classic: bool) -> Vec<Call> {
    let mut o = opts();
    o.scrape_protocols = vec![
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];
    o.always_scrape_classic_histograms = classic;
    let body = encode_protobuf(&[histogram_family()]);
    let (rec, m, _) = setup(o, PROTO_CT, &body).await;
    m.scrape_all().await;
    assert_eq!(m.targets().active[0].last_error, "");
    rec.take()
}

#[tokio::test]
async fn protobuf_native_histograms_with_and_without_classic_buckets() {
    let calls = scrape_proto(false).await;
    let hists: Vec<&Histogram> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Histogram(l, h) if l.starts_with("lat_seconds{") && l.contains("path=\"/\"") => {
                Some(h)
            }
            _ => None,
        })
        .collect();
    assert_eq!(hists.len(), 1, "{calls:?}");
    let h = hists[0];
    assert_eq!((h.schema, h.count, h.sum, h.zero_count), (0, 6, 12.5, 1));
    assert_eq!(
        h.positive_spans,
        [
            Span {
                offset: 0,
                length: 2
            },
            Span {
                offset: 1,
                length: 1
            }
        ]
    );
    assert_eq!(h.positive_buckets, [2, -1, 1]);
    let floats: Vec<&String> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Float(l, _) => Some(l),
            _ => None,
        })
        .collect();
    assert!(floats.is_empty(), "no classic series: {floats:?}");
    assert_eq!(
        metadata_calls(&calls)[0].1,
        meta(MetricType::Histogram, "Latency.", "")
    );

    // With always_scrape_classic_histograms the classic series come too,
    // the bucket exemplar on its `_bucket` series.
    let calls = scrape_proto(true).await;
    let value = |name: &str, le: Option<&str>| {
        calls.iter().find_map(|c| match c {
            Call::Float(l, v)
                if l.starts_with(&format!("{name}{{"))
                    && le.is_none_or(|le| l.contains(&format!("le=\"{le}\""))) =>
            {
                Some(*v)
            }
            _ => None,
        })
    };
    assert_eq!(
        value("lat_seconds_bucket", Some("1.0")),
        Some(3.0),
        "{calls:?}"
    );
    assert_eq!(value("lat_seconds_bucket", Some("+Inf")), Some(6.0));
    assert_eq!(value("lat_seconds_count", None), Some(6.0));
    assert_eq!(value("lat_seconds_sum", None), Some(12.5));
    assert!(calls.iter().any(|c| matches!(c, Call::Histogram(..))));
    let ex = calls.iter().find_map(|c| match c {
        Call::Exemplar(l, e) if l.contains("le=\"1.0\"") => Some(e),
        _ => None,
    });
    assert_eq!(ex.map(|e| e.value), Some(0.7), "{calls:?}");
}
