//! The receiver end to end over `MemStorage`: round trips of both protocol
//! versions (samples, native histograms, exemplars, metadata) and every
//! refusal with the status Prometheus answers.

use std::sync::Arc;

use beacon_model::{
    CounterResetHint, Exemplar, FloatHistogram, Histogram, Labels, Matcher, Metadata, MetricType,
    SeriesRef, Span,
};
use beacon_remote::proto::{
    self, Label, RequestV2, Sample, TimeSeries, TimeSeriesV2, WriteRequest,
};
use beacon_remote::{Receiver, WriteOutcome, codec};
use beacon_storage::{
    Appendable, Appender, ExemplarQueryable, MemStorage, Queryable, SampleValue, ValueType,
};
use parking_lot::Mutex;

const NOW: i64 = 1_700_000_000_000;
const V1: Option<&str> = Some("application/x-protobuf");
const V2: Option<&str> = Some("application/x-protobuf;proto=io.prometheus.write.v2.Request");
const SNAPPY: Option<&str> = Some("snappy");

/// `MemStorage` plus a record of `update_metadata` calls, which
/// `MemStorage` accepts but does not keep.
#[derive(Default, Clone)]
struct Store {
    db: MemStorage,
    metadata: Arc<Mutex<Vec<(Labels, Metadata)>>>,
}

struct StoreAppender<'a> {
    inner: Box<dyn Appender + 'a>,
    metadata: &'a Mutex<Vec<(Labels, Metadata)>>,
    pending: Vec<(Labels, Metadata)>,
}

impl Appender for StoreAppender<'_> {
    fn append(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        t: i64,
        v: f64,
    ) -> beacon_storage::Result<SeriesRef> {
        self.inner.append(r, l, t, v)
    }
    fn append_histogram(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        t: i64,
        h: Option<&Histogram>,
        fh: Option<&FloatHistogram>,
    ) -> beacon_storage::Result<SeriesRef> {
        self.inner.append_histogram(r, l, t, h, fh)
    }
    fn append_exemplar(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        e: &Exemplar,
    ) -> beacon_storage::Result<SeriesRef> {
        self.inner.append_exemplar(r, l, e)
    }
    fn update_metadata(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        m: &Metadata,
    ) -> beacon_storage::Result<SeriesRef> {
        self.pending.push((l.clone(), m.clone()));
        Ok(r)
    }
    fn commit(&mut self) -> beacon_storage::Result<()> {
        self.inner.commit()?;
        self.metadata.lock().append(&mut self.pending);
        Ok(())
    }
    fn rollback(&mut self) -> beacon_storage::Result<()> {
        self.pending.clear();
        self.inner.rollback()
    }
}

impl Appendable for Store {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(StoreAppender {
            inner: self.db.appender(),
            metadata: &self.metadata,
            pending: Vec::new(),
        })
    }
}

impl Store {
    /// Every stored sample of series `name`, as (labels, t, value).
    fn samples(&self, name: &str) -> Vec<(String, i64, SampleValue)> {
        let q = self.db.querier(i64::MIN / 2, i64::MAX / 2).unwrap();
        let mut out = Vec::new();
        for mut s in q.select(&[Matcher::equal("__name__", name)]).unwrap() {
            loop {
                let v = match s.samples.next() {
                    ValueType::None => break,
                    ValueType::Float => SampleValue::Float(s.samples.at().1),
                    ValueType::Histogram => {
                        SampleValue::Histogram(Arc::new(s.samples.at_histogram().1))
                    }
                    ValueType::FloatHistogram => {
                        SampleValue::FloatHistogram(Arc::new(s.samples.at_float_histogram().1))
                    }
                };
                out.push((s.labels.to_string(), s.samples.at_t(), v));
            }
        }
        out
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(n, v)| Label {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect()
}

fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels(pairs),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
        ..Default::default()
    }
}

fn int_histogram() -> Histogram {
    Histogram {
        counter_reset_hint: CounterResetHint::NotCounterReset,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 2,
        count: 12,
        sum: 18.5,
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
        negative_spans: vec![Span {
            offset: -1,
            length: 1,
        }],
        positive_buckets: vec![2, 1, -1],
        negative_buckets: vec![3],
        custom_values: vec![],
    }
}

fn float_histogram() -> FloatHistogram {
    FloatHistogram {
        counter_reset_hint: CounterResetHint::Gauge,
        schema: -53,
        zero_threshold: 0.0,
        zero_count: 0.0,
        count: 4.5,
        sum: 10.0,
        positive_spans: vec![Span {
            offset: 0,
            length: 3,
        }],
        negative_spans: vec![],
        positive_buckets: vec![1.5, 2.0, 1.0],
        negative_buckets: vec![],
        custom_values: vec![0.5, 1.0],
    }
}

fn send(store: &Store, ct: Option<&str>, enc: Option<&str>, body: &[u8]) -> WriteOutcome {
    Receiver::new().handle_write_at(ct, enc, body, store, NOW)
}

fn header<'a>(out: &'a WriteOutcome, name: &str) -> Option<&'a str> {
    out.headers
        .iter()
        .find(|h| h.0 == name)
        .map(|h| h.1.as_str())
}

#[test]
fn v1_round_trip_samples_histograms_exemplars() {
    let store = Store::default();
    let mut up = series(
        &[("job", "a"), ("__name__", "up")],
        &[(1000, 1.0), (2000, 0.0)],
    );
    up.exemplars.push(proto::Exemplar {
        labels: labels(&[("trace_id", "abc")]),
        value: 0.5,
        timestamp: 1500,
    });
    let mut lat = series(&[("__name__", "latency")], &[]);
    lat.histograms
        .push(proto::Histogram::from_int(1000, &int_histogram()));
    lat.histograms
        .push(proto::Histogram::from_float(2000, &float_histogram()));
    let req = WriteRequest {
        timeseries: vec![up, lat],
        metadata: vec![],
    };
    let out = send(&store, V1, SNAPPY, &codec::encode_v1(&req));
    assert_eq!((out.status, out.body.as_str()), (204, ""));
    assert!(out.headers.is_empty(), "1.0 has no written headers");
    assert_eq!(
        store.samples("up"),
        [
            (r#"up{job="a"}"#.to_string(), 1000, SampleValue::Float(1.0)),
            (r#"up{job="a"}"#.to_string(), 2000, SampleValue::Float(0.0)),
        ]
    );
    assert_eq!(
        store.samples("latency"),
        [
            (
                "latency".to_string(),
                1000,
                SampleValue::Histogram(Arc::new(int_histogram()))
            ),
            (
                "latency".to_string(),
                2000,
                SampleValue::FloatHistogram(Arc::new(float_histogram()))
            ),
        ]
    );
    let ex = store
        .db
        .select_exemplars(0, 5000, &[vec![Matcher::equal("__name__", "up")]])
        .unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].exemplars,
        [Exemplar {
            labels: Labels::from_pairs([("trace_id", "abc")]),
            value: 0.5,
            t: Some(1500)
        }]
    );
}

/// A 2.0 request built through the symbols table.
fn v2_request() -> RequestV2 {
    let mut syms = codec::SymbolTable::new();
    let up = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
    let lat = Labels::from_pairs([("__name__", "latency")]);
    let ts_up = TimeSeriesV2 {
        labels_refs: syms.label_refs(&up),
        samples: vec![Sample {
            value: 1.0,
            timestamp: 1000,
        }],
        exemplars: vec![proto::ExemplarV2 {
            labels_refs: syms.label_refs(&Labels::from_pairs([("trace_id", "t1")])),
            value: 1.0,
            timestamp: 1000,
        }],
        metadata: Some(proto::MetadataV2 {
            r#type: proto::MetadataType::Gauge as i32,
            help_ref: syms.symbolize("Target is up."),
            unit_ref: 0,
        }),
        ..Default::default()
    };
    let ts_lat = TimeSeriesV2 {
        labels_refs: syms.label_refs(&lat),
        histograms: vec![proto::Histogram::from_int(1000, &int_histogram())],
        metadata: Some(proto::MetadataV2 {
            r#type: proto::MetadataType::Histogram as i32,
            help_ref: 0,
            unit_ref: syms.symbolize("seconds"),
        }),
        ..Default::default()
    };
    RequestV2 {
        symbols: syms.into_symbols(),
        timeseries: vec![ts_up, ts_lat],
    }
}

#[test]
fn v2_round_trip_with_metadata_and_written_headers() {
    let store = Store::default();
    let out = send(&store, V2, SNAPPY, &codec::encode_v2(&v2_request()));
    assert_eq!((out.status, out.body.as_str()), (204, ""));
    assert_eq!(
        header(&out, "X-Prometheus-Remote-Write-Samples-Written"),
        Some("1")
    );
    assert_eq!(
        header(&out, "X-Prometheus-Remote-Write-Histograms-Written"),
        Some("1")
    );
    assert_eq!(
        header(&out, "X-Prometheus-Remote-Write-Exemplars-Written"),
        Some("1")
    );
    assert_eq!(
        store.samples("up"),
        [(r#"up{job="a"}"#.to_string(), 1000, SampleValue::Float(1.0))]
    );
    assert_eq!(
        store.samples("latency"),
        [(
            "latency".to_string(),
            1000,
            SampleValue::Histogram(Arc::new(int_histogram()))
        )]
    );
    let meta = store.metadata.lock().clone();
    assert_eq!(
        meta,
        [
            (
                Labels::from_pairs([("__name__", "up"), ("job", "a")]),
                Metadata {
                    metric_type: MetricType::Gauge,
                    help: "Target is up.".into(),
                    unit: String::new()
                }
            ),
            (
                Labels::from_pairs([("__name__", "latency")]),
                Metadata {
                    metric_type: MetricType::Histogram,
                    help: String::new(),
                    unit: "seconds".into()
                }
            ),
        ]
    );
}

/// One refused request: status and a piece of the body Prometheus sends.
fn check(ct: Option<&str>, enc: Option<&str>, body: &[u8], status: u16, body_part: &str) {
    let store = Store::default();
    let out = send(&store, ct, enc, body);
    assert_eq!(out.status, status, "{ct:?} {enc:?}: {}", out.body);
    assert!(
        out.body.contains(body_part),
        "{:?} lacks {body_part:?}",
        out.body
    );
    assert!(out.body.ends_with('\n'));
}

#[test]
fn refusals_carry_prometheus_status_codes() {
    let good_v1 = codec::encode_v1(&WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(1000, 1.0)])],
        metadata: vec![],
    });
    check(
        Some("text/plain"),
        SNAPPY,
        &good_v1,
        415,
        "expected application/x-protobuf",
    );
    check(
        Some("application/x-protobuf;proto=foo.Bar"),
        SNAPPY,
        &good_v1,
        415,
        "unknown remote write protobuf message foo.Bar",
    );
    check(
        Some("application/x-protobuf;proto"),
        SNAPPY,
        &good_v1,
        415,
        "key-values",
    );
    check(
        V1,
        Some("gzip"),
        &good_v1,
        415,
        "gzip encoding (compression) is not accepted",
    );
    check(V1, Some("zstd"), &good_v1, 415, "only snappy is acceptable");
    check(V1, SNAPPY, b"\x05not snappy", 400, "snappy");
    check(V1, SNAPPY, b"", 400, "snappy");
    // A huge declared size is refused before anything is allocated.
    check(
        V1,
        SNAPPY,
        b"\xff\xff\xff\xff\x0f\x00",
        400,
        "exceeds the limit of 33554432 bytes",
    );
    check(
        V1,
        SNAPPY,
        &codec::snappy_encode(b"\x0a\x05\x0a"),
        400,
        "decoding prometheus.WriteRequest",
    );
    check(
        V2,
        SNAPPY,
        &codec::snappy_encode(b"\x22\x02\xff\xfe"),
        400,
        "decoding io.prometheus.write.v2.Request",
    );
    let bad_ref = RequestV2 {
        symbols: vec![String::new(), "__name__".into()],
        timeseries: vec![TimeSeriesV2 {
            labels_refs: vec![1, 7],
            ..Default::default()
        }],
    };
    check(
        V2,
        SNAPPY,
        &codec::encode_v2(&bad_ref),
        400,
        "symbol reference 7 out of range",
    );
    let odd = RequestV2 {
        symbols: vec![String::new(), "__name__".into()],
        timeseries: vec![TimeSeriesV2 {
            labels_refs: vec![1],
            ..Default::default()
        }],
    };
    check(V2, SNAPPY, &codec::encode_v2(&odd), 400, "odd length 1");
}

#[test]
fn versions_not_accepted_are_415() {
    let store = Store::default();
    let only_v1 = Receiver::with_accepted(&[beacon_remote::Protocol::V1]);
    let out = only_v1.handle_write_at(V2, SNAPPY, &codec::encode_v2(&v2_request()), &store, NOW);
    assert_eq!(
        (out.status, out.body.as_str()),
        (
            415,
            "io.prometheus.write.v2.Request protobuf message is not accepted by this server; \
             accepted [prometheus.WriteRequest]\n"
        )
    );
    assert_eq!(store.db.series_count(), 0);
}

#[test]
fn missing_headers_default_to_v1_snappy() {
    let store = Store::default();
    let body = codec::encode_v1(&WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(1000, 1.0)])],
        metadata: vec![],
    });
    assert_eq!(send(&store, None, None, &body).status, 204);
    assert_eq!(
        send(
            &store,
            Some(" application/x-protobuf ; proto=prometheus.WriteRequest"),
            Some("SNAPPY"),
            &body
        )
        .status,
        204
    );
    assert_eq!(store.samples("up").len(), 1);
}

#[test]
fn v1_out_of_order_rejects_the_whole_request() {
    let store = Store::default();
    let first = WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(2000, 1.0)])],
        metadata: vec![],
    };
    assert_eq!(
        send(&store, V1, SNAPPY, &codec::encode_v1(&first)).status,
        204
    );
    let second = WriteRequest {
        timeseries: vec![
            series(&[("__name__", "other")], &[(1000, 5.0)]),
            series(&[("__name__", "up")], &[(1000, 1.0)]),
        ],
        metadata: vec![],
    };
    let out = send(&store, V1, SNAPPY, &codec::encode_v1(&second));
    assert_eq!(
        (out.status, out.body.as_str()),
        (400, "out of order sample\n")
    );
    assert!(
        store.samples("other").is_empty(),
        "1.0 rolls back the whole request"
    );
    let dup = WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(2000, 3.0)])],
        metadata: vec![],
    };
    let out = send(&store, V1, SNAPPY, &codec::encode_v1(&dup));
    assert_eq!(
        (out.status, out.body.as_str()),
        (400, "duplicate sample for timestamp\n")
    );
    let future = WriteRequest {
        timeseries: vec![series(
            &[("__name__", "up")],
            &[(NOW + beacon_remote::MAX_AHEAD_MS + 1, 1.0)],
        )],
        metadata: vec![],
    };
    let out = send(&store, V1, SNAPPY, &codec::encode_v1(&future));
    assert_eq!(
        (out.status, out.body.as_str()),
        (400, "out of bounds: timestamp is too far in the future\n")
    );
}

#[test]
fn v1_invalid_labels_skip_the_series_only() {
    let store = Store::default();
    let req = WriteRequest {
        timeseries: vec![
            series(&[("job", "no-name")], &[(1000, 1.0)]),
            series(
                &[("__name__", "dup"), ("a", "1"), ("a", "2")],
                &[(1000, 1.0)],
            ),
            series(&[("__name__", "up")], &[(1000, 1.0)]),
        ],
        metadata: vec![],
    };
    let receiver = Receiver::new();
    let out = receiver.handle_write_at(V1, SNAPPY, &codec::encode_v1(&req), &store, NOW);
    assert_eq!(out.status, 204);
    assert_eq!(store.samples("up").len(), 1);
    assert!(store.samples("dup").is_empty());
    let text = metrics_text(&receiver);
    assert!(
        text.contains("prometheus_api_remote_write_invalid_labels_samples_total 2\n"),
        "{text}"
    );
    assert!(
        text.contains("beacon_remote_write_requests_total{code=\"204\",version=\"1.0\"} 1\n"),
        "{text}"
    );
}

#[test]
fn v2_partial_write_reports_each_problem() {
    let store = Store::default();
    let mut syms = codec::SymbolTable::new();
    let up = Labels::from_pairs([("__name__", "up")]);
    let seed = RequestV2 {
        timeseries: vec![TimeSeriesV2 {
            labels_refs: syms.label_refs(&up),
            samples: vec![Sample {
                value: 1.0,
                timestamp: 2000,
            }],
            ..Default::default()
        }],
        symbols: syms.into_symbols(),
    };
    assert_eq!(
        send(&store, V2, SNAPPY, &codec::encode_v2(&seed)).status,
        204
    );

    let mut syms = codec::SymbolTable::new();
    let no_name = syms.label_refs(&Labels::from_pairs([("job", "x")]));
    let ok = syms.label_refs(&Labels::from_pairs([("__name__", "ok")]));
    let up_refs = syms.label_refs(&up);
    let mut dup = up_refs.clone();
    dup.extend(up_refs.iter().copied());
    let sample = |t| Sample {
        value: 1.0,
        timestamp: t,
    };
    let req = RequestV2 {
        timeseries: vec![
            TimeSeriesV2 {
                labels_refs: no_name,
                samples: vec![sample(1000)],
                ..Default::default()
            },
            TimeSeriesV2 {
                labels_refs: dup,
                samples: vec![sample(1000)],
                ..Default::default()
            },
            TimeSeriesV2 {
                labels_refs: up_refs,
                samples: vec![sample(1000), sample(3000)],
                ..Default::default()
            },
            TimeSeriesV2 {
                labels_refs: ok,
                samples: vec![sample(1000)],
                ..Default::default()
            },
        ],
        symbols: syms.into_symbols(),
    };
    let out = send(&store, V2, SNAPPY, &codec::encode_v2(&req));
    assert_eq!(out.status, 400);
    assert_eq!(
        out.body,
        "invalid metric name or labels, got {job=\"x\"}\n\
         invalid labels for series, labels {__name__=\"up\", __name__=\"up\"}, duplicated label __name__\n\
         out of order sample for series up\n"
    );
    assert_eq!(
        header(&out, "X-Prometheus-Remote-Write-Samples-Written"),
        Some("2")
    );
    assert_eq!(store.samples("up").len(), 2, "the in-order sample was kept");
    assert_eq!(store.samples("ok").len(), 1);
}

fn metrics_text(receiver: &Receiver) -> String {
    let mut fams = Vec::new();
    receiver.collect(&mut fams);
    beacon_exposition::encode::encode(beacon_exposition::encode::Format::Text004, &fams)
}

#[test]
fn garbage_never_panics() {
    // Every prefix and a few bit flips of a valid body of each version.
    let store = Store::default();
    for body in [
        codec::encode_v1(&WriteRequest {
            timeseries: vec![series(&[("__name__", "up")], &[(1000, 1.0)])],
            metadata: vec![],
        }),
        codec::encode_v2(&v2_request()),
    ] {
        for cut in 0..body.len() {
            for ct in [V1, V2] {
                let _ = send(&store, ct, SNAPPY, &body[..cut]);
                let mut flipped = body.clone();
                flipped[cut] ^= 0x5a;
                let _ = send(&store, ct, SNAPPY, &flipped);
            }
        }
    }
}

/// A store whose commit always fails, as a closed database's does.
struct ClosedOnCommit(MemStorage);

struct ClosedAppender<'a>(Box<dyn Appender + 'a>);

impl Appender for ClosedAppender<'_> {
    fn append(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        t: i64,
        v: f64,
    ) -> beacon_storage::Result<SeriesRef> {
        self.0.append(r, l, t, v)
    }
    fn append_histogram(
        &mut self,
        r: SeriesRef,
        l: &Labels,
        t: i64,
        h: Option<&Histogram>,
        fh: Option<&FloatHistogram>,
    ) -> beacon_storage::Result<SeriesRef> {
        self.0.append_histogram(r, l, t, h, fh)
    }
    fn commit(&mut self) -> beacon_storage::Result<()> {
        self.0.rollback()?;
        Err(beacon_storage::Error::Closed)
    }
    fn rollback(&mut self) -> beacon_storage::Result<()> {
        self.0.rollback()
    }
}

impl Appendable for ClosedOnCommit {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(ClosedAppender(self.0.appender()))
    }
}

#[test]
fn storage_failure_is_500_and_retryable() {
    let store = ClosedOnCommit(MemStorage::new());
    let r = Receiver::new();
    let v1 = WriteRequest {
        timeseries: vec![series(&[("__name__", "up")], &[(1000, 1.0)])],
        metadata: vec![],
    };
    let out = r.handle_write_at(V1, SNAPPY, &codec::encode_v1(&v1), &store, NOW);
    assert_eq!((out.status, out.body.as_str()), (500, "storage closed\n"));
    let out = r.handle_write_at(V2, SNAPPY, &codec::encode_v2(&v2_request()), &store, NOW);
    assert_eq!((out.status, out.body.as_str()), (500, "storage closed\n"));
    // Nothing was committed, and the headers say so.
    assert_eq!(
        header(&out, "X-Prometheus-Remote-Write-Samples-Written"),
        Some("0")
    );
    assert_eq!(out.stats, beacon_remote::WriteStats::default());
    assert_eq!(store.0.series_count(), 0);
}

#[test]
fn invalid_histogram_is_400() {
    let store = Store::default();
    let mut h = int_histogram();
    h.positive_buckets.pop(); // spans promise 3 buckets
    let mut ts = series(&[("__name__", "latency")], &[]);
    ts.histograms.push(proto::Histogram::from_int(1000, &h));
    let req = WriteRequest {
        timeseries: vec![ts.clone()],
        metadata: vec![],
    };
    let out = send(&store, V1, SNAPPY, &codec::encode_v1(&req));
    assert_eq!(
        (out.status, out.body.as_str()),
        (
            400,
            "invalid histogram: positive side: spans need 3 buckets, have 2\n"
        )
    );
    // 2.0 reports the series too.
    let mut syms = codec::SymbolTable::new();
    let refs = syms.label_refs(&Labels::from_pairs([("__name__", "latency")]));
    let req = RequestV2 {
        timeseries: vec![TimeSeriesV2 {
            labels_refs: refs,
            histograms: ts.histograms,
            ..Default::default()
        }],
        symbols: syms.into_symbols(),
    };
    let out = send(&store, V2, SNAPPY, &codec::encode_v2(&req));
    assert_eq!(out.status, 400);
    assert!(out.body.ends_with("for series latency\n"), "{}", out.body);
    assert!(store.samples("latency").is_empty());
}
