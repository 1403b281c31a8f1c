//! The protobuf parser on hand-built messages: native histograms (integer
//! and float), classic buckets beside them, summaries, exemplars and
//! created timestamps.

use beacon_exposition::proto;
use beacon_exposition::{Entry, NativeHistogram, ProtobufParser};
use beacon_model::{Labels, Span};
use prost::Message;

fn body(fams: &[proto::MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fams {
        f.encode_length_delimited(&mut out).expect("encode");
    }
    out
}

fn native_family() -> proto::MetricFamily {
    proto::MetricFamily {
        name: Some("rpc_seconds".into()),
        help: Some("RPC latency.".into()),
        r#type: Some(proto::MetricType::Histogram as i32),
        unit: None,
        metric: vec![proto::Metric {
            label: vec![proto::LabelPair {
                name: Some("svc".into()),
                value: Some("a".into()),
            }],
            timestamp_ms: Some(1234),
            histogram: Some(proto::Histogram {
                sample_count: Some(5),
                sample_sum: Some(2.5),
                schema: Some(1),
                zero_threshold: Some(1e-128),
                zero_count: Some(1),
                positive_span: vec![proto::BucketSpan {
                    offset: Some(-1),
                    length: Some(2),
                }],
                positive_delta: vec![3, -2],
                bucket: vec![proto::Bucket {
                    cumulative_count: Some(4),
                    upper_bound: Some(1.0),
                    ..Default::default()
                }],
                created_timestamp: Some(proto::Timestamp {
                    seconds: 10,
                    nanos: 5_000_000,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }],
    }
}

#[test]
fn native_histogram_and_classic_buckets() {
    let input = body(&[native_family()]);
    let entries: Vec<Entry<'_>> = ProtobufParser::new(&input)
        .map(|e| e.expect("entry"))
        .collect();
    assert!(matches!(&entries[0], Entry::Help { help, .. } if help == "RPC latency."));
    assert_eq!(entries.len(), 3, "{entries:?}");
    let Entry::Histogram(h) = &entries[2] else {
        panic!("{:?}", entries[2]);
    };
    assert_eq!(h.series, r#"rpc_seconds{svc="a"}"#);
    assert_eq!(h.labels, Labels::from_pairs([("svc", "a")]));
    assert_eq!(h.timestamp_ms, Some(1234));
    assert_eq!(h.created_ms, Some(10_005));
    let NativeHistogram::Int(nh) = &h.histogram else {
        panic!("want integer histogram");
    };
    assert_eq!(nh.schema, 1);
    assert_eq!(
        nh.positive_spans,
        vec![Span {
            offset: -1,
            length: 2
        }]
    );
    assert_eq!(nh.positive_buckets, vec![3, -2]);

    let with_classic: Vec<String> = ProtobufParser::new(&input)
        .with_classic_histograms(true)
        .filter_map(|e| match e.expect("entry") {
            Entry::Sample(s) => Some(format!("{} {}", s.series, s.value)),
            _ => None,
        })
        .collect();
    assert_eq!(
        with_classic,
        [
            r#"rpc_seconds_bucket{le="1.0", svc="a"} 4"#,
            r#"rpc_seconds_bucket{le="+Inf", svc="a"} 5"#,
            r#"rpc_seconds_sum{svc="a"} 2.5"#,
            r#"rpc_seconds_count{svc="a"} 5"#,
        ]
    );
}

#[test]
fn float_histogram_and_invalid_spans() {
    let mut f = native_family();
    let h = f.metric[0].histogram.as_mut().expect("histogram");
    h.sample_count = None;
    h.sample_count_float = Some(5.0);
    h.positive_delta.clear();
    h.positive_count = vec![3.0, 1.0];
    let input = body(&[f.clone()]);
    let last = ProtobufParser::new(&input)
        .last()
        .expect("entries")
        .expect("ok");
    assert!(
        matches!(last, Entry::Histogram(h) if matches!(h.histogram, NativeHistogram::Float(_)))
    );

    // Spans that promise three buckets but carry two.
    let h = f.metric[0].histogram.as_mut().expect("histogram");
    h.positive_span[0].length = Some(3);
    let input = body(&[f]);
    let err = ProtobufParser::new(&input)
        .find_map(Result::err)
        .expect("error");
    assert!(
        err.to_string()
            .starts_with("protobuf message at offset 0: invalid histogram"),
        "{err}"
    );
}

#[test]
fn summary_counter_exemplar() {
    let fams = [
        proto::MetricFamily {
            name: Some("jobs_total".into()),
            r#type: Some(proto::MetricType::Counter as i32),
            metric: vec![proto::Metric {
                counter: Some(proto::Counter {
                    value: Some(7.0),
                    exemplar: Some(proto::Exemplar {
                        label: vec![proto::LabelPair {
                            name: Some("trace_id".into()),
                            value: Some("t1".into()),
                        }],
                        value: Some(1.0),
                        timestamp: Some(proto::Timestamp::from_ms(-1500)),
                    }),
                    created_timestamp: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        },
        proto::MetricFamily {
            name: Some("rpc".into()),
            r#type: Some(proto::MetricType::Summary as i32),
            metric: vec![proto::Metric {
                summary: Some(proto::Summary {
                    sample_count: Some(3),
                    sample_sum: Some(1.5),
                    quantile: vec![proto::Quantile {
                        quantile: Some(0.5),
                        value: Some(0.25),
                    }],
                    created_timestamp: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        },
    ];
    let input = body(&fams);
    let got: Vec<String> = ProtobufParser::new(&input)
        .filter_map(|e| match e.expect("entry") {
            Entry::Sample(s) => {
                let ex = s.exemplar.map(|e| e.to_model());
                Some(format!(
                    "{} {} {:?}",
                    s.series,
                    s.value,
                    ex.map(|e| (e.labels.to_string(), e.t))
                ))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            r#"jobs_total 7 Some(("{trace_id=\"t1\"}", Some(-1500)))"#,
            r#"rpc{quantile="0.5"} 0.25 None"#,
            "rpc_sum 1.5 None",
            "rpc_count 3 None",
        ]
    );
}
