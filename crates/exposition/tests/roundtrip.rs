//! Round trips: families → encode → parse gives the same families, and
//! parsing the re-encoded result gives them again, for text 0.0.4,
//! OpenMetrics and protobuf (proptest), plus hand-written OpenMetrics
//! cases for the types only it has.

use beacon_exposition::encode::{Format, encode};
use beacon_exposition::family::{Bucket, Metric, MetricFamily, MetricValue, Quantile};
use beacon_exposition::{ParseFormat, encode_protobuf, parse_to_families, sample_belongs_to};
use beacon_model::{Exemplar, Labels, MetricType};
use proptest::prelude::*;

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]{1,8}",
        "[ -~]{1,12}",
        Just("quote\" back\\slash \\n new\nline".to_owned()),
        Just("ü ☃ # } {".to_owned()),
    ]
}

fn labels() -> impl Strategy<Value = Labels> {
    proptest::collection::btree_map(
        prop_oneof!["[a-k][a-z0-9_]{0,6}", Just("label.with.dots".to_owned())],
        label_value(),
        0..4,
    )
    .prop_map(Labels::from_pairs)
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-1e6..1e6f64),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (0u32..1000).prop_map(f64::from),
    ]
}

fn timestamp() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        Just(None),
        (-2_000_000_000_000i64..2_000_000_000_000).prop_map(Some)
    ]
}

fn histogram() -> impl Strategy<Value = MetricValue> {
    (
        proptest::collection::btree_set(-1000i32..1000, 0..5),
        0u32..100,
        value(),
    )
        .prop_map(|(bounds, step, sum)| {
            let mut buckets: Vec<Bucket> = bounds
                .iter()
                .enumerate()
                .map(|(i, b)| Bucket {
                    upper_bound: f64::from(*b) / 8.0,
                    cumulative_count: f64::from(step) * i as f64,
                    exemplar: None,
                })
                .collect();
            let count = f64::from(step) * buckets.len() as f64;
            buckets.push(Bucket {
                upper_bound: f64::INFINITY,
                cumulative_count: count,
                exemplar: None,
            });
            MetricValue::Histogram {
                count,
                sum,
                buckets,
                created_s: None,
                native: None,
            }
        })
}

fn summary() -> impl Strategy<Value = MetricValue> {
    (
        proptest::collection::btree_set(0u32..=100, 0..4),
        0u32..1000,
        value(),
    )
        .prop_map(|(qs, count, sum)| MetricValue::Summary {
            count: f64::from(count),
            sum,
            quantiles: qs
                .iter()
                .map(|q| Quantile {
                    quantile: f64::from(*q) / 100.0,
                    value: f64::from(*q) * 1.5,
                })
                .collect(),
            created_s: None,
        })
}

fn family(i: usize) -> impl Strategy<Value = MetricFamily> {
    let help = prop_oneof![
        Just(String::new()),
        "[a-zA-Z][ -~]{0,20}",
        Just("multi\nline \\ \"help\"".to_owned())
    ];
    (
        0..5usize,
        help,
        proptest::collection::btree_map(labels(), timestamp(), 0..4),
    )
        .prop_flat_map(move |(kind, help, series)| {
            let (name, t) = match kind {
                0 => (format!("fam{i}_total"), MetricType::Counter),
                1 => (format!("fam{i}"), MetricType::Gauge),
                2 => (format!("fam{i}"), MetricType::Unknown),
                3 => (format!("fam{i}_seconds"), MetricType::Histogram),
                _ => (format!("fam{i}"), MetricType::Summary),
            };
            let n = series.len();
            let values = proptest::collection::vec(
                match t {
                    MetricType::Histogram => histogram().boxed(),
                    MetricType::Summary => summary().boxed(),
                    MetricType::Counter => value()
                        .prop_map(|v| MetricValue::Counter {
                            value: v,
                            created_s: None,
                            exemplar: None,
                        })
                        .boxed(),
                    MetricType::Gauge => value().prop_map(MetricValue::Gauge).boxed(),
                    _ => value().prop_map(MetricValue::Unknown).boxed(),
                },
                n,
            );
            (Just((name, t, help, series)), values)
        })
        .prop_map(|((name, t, help, series), values)| {
            let mut f = MetricFamily::new(name, help, t);
            f.metrics = series
                .into_iter()
                .zip(values)
                .map(|((labels, ts), value)| Metric {
                    labels,
                    value,
                    timestamp_ms: ts,
                })
                .collect();
            f
        })
}

fn families() -> impl Strategy<Value = Vec<MetricFamily>> {
    (1usize..5).prop_flat_map(|n| (0..n).map(family).collect::<Vec<_>>())
}

fn round_trip(fams: &[MetricFamily], format: ParseFormat) -> Vec<MetricFamily> {
    let bytes = match format {
        ParseFormat::Text => encode(Format::Text004, fams).into_bytes(),
        ParseFormat::Protobuf => encode_protobuf(fams),
        _ => encode(Format::OpenMetrics, fams).into_bytes(),
    };
    match parse_to_families(format, &bytes) {
        Ok(f) => f,
        Err(e) => panic!("{e}\n{}", String::from_utf8_lossy(&bytes)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn text_round_trip(fams in families()) {
        let once = round_trip(&fams, ParseFormat::Text);
        prop_assert_eq!(&once, &fams);
        prop_assert_eq!(round_trip(&once, ParseFormat::Text), once);
    }

    #[test]
    fn openmetrics_round_trip(fams in families()) {
        let once = round_trip(&fams, ParseFormat::OpenMetrics);
        prop_assert_eq!(&once, &fams);
        // Generated values may break OpenMetrics' value rules (negative
        // counters, sums beside negative buckets), so the lenient parser.
        prop_assert_eq!(round_trip(&once, ParseFormat::OpenMetrics), once);
    }

    #[test]
    fn protobuf_round_trip(fams in families()) {
        let once = round_trip(&fams, ParseFormat::Protobuf);
        prop_assert_eq!(&once, &fams);
    }
}

#[test]
fn openmetrics_only_types_round_trip() {
    let ex = Exemplar {
        labels: Labels::from_pairs([("trace_id", "abc")]),
        value: 0.5,
        t: Some(1_500),
    };
    let mut c = MetricFamily::new("req_total", "Requests.", MetricType::Counter);
    c.metrics.push(Metric {
        labels: Labels::from_pairs([("code", "200")]),
        value: MetricValue::Counter {
            value: 3.0,
            created_s: Some(1.25),
            exemplar: Some(ex.clone()),
        },
        timestamp_ms: None,
    });
    let mut i = MetricFamily::new("build_info", "Build.", MetricType::Info);
    i.metrics.push(Metric {
        labels: Labels::from_pairs([("version", "1.2")]),
        value: MetricValue::Info,
        timestamp_ms: None,
    });
    let mut s = MetricFamily::new("state", "State.", MetricType::StateSet);
    s.metrics.push(Metric {
        labels: Labels::empty(),
        value: MetricValue::StateSet(vec![("a".into(), true), ("b".into(), false)]),
        timestamp_ms: None,
    });
    let mut g = MetricFamily::new("queue_bytes", "Queue.", MetricType::GaugeHistogram);
    g.unit = "bytes".into();
    g.metrics.push(Metric {
        labels: Labels::empty(),
        value: MetricValue::Histogram {
            count: 2.0,
            sum: 7.0,
            buckets: vec![
                Bucket {
                    upper_bound: 1.0,
                    cumulative_count: 1.0,
                    exemplar: Some(ex),
                },
                Bucket {
                    upper_bound: f64::INFINITY,
                    cumulative_count: 2.0,
                    exemplar: None,
                },
            ],
            created_s: None,
            native: None,
        },
        timestamp_ms: None,
    });
    let fams = vec![c, i, s, g];
    let once = round_trip(&fams, ParseFormat::OpenMetricsStrict);
    assert_eq!(once, fams);
    assert_eq!(round_trip(&once, ParseFormat::OpenMetricsStrict), fams);
}

#[test]
fn sample_membership_by_format() {
    let cases = [
        (
            "a",
            MetricType::Counter,
            "a_total",
            ParseFormat::OpenMetrics,
            true,
        ),
        (
            "a",
            MetricType::Counter,
            "a",
            ParseFormat::OpenMetrics,
            false,
        ),
        (
            "a_total",
            MetricType::Counter,
            "a_total",
            ParseFormat::Text,
            true,
        ),
        (
            "h",
            MetricType::Histogram,
            "h_bucket",
            ParseFormat::Text,
            true,
        ),
        (
            "h",
            MetricType::Histogram,
            "h_created",
            ParseFormat::Text,
            false,
        ),
        (
            "h",
            MetricType::Histogram,
            "h_created",
            ParseFormat::OpenMetrics,
            true,
        ),
        ("s", MetricType::Summary, "s", ParseFormat::Text, true),
        (
            "i",
            MetricType::Info,
            "i_info",
            ParseFormat::OpenMetricsStrict,
            true,
        ),
    ];
    for (family, t, sample, format, want) in cases {
        assert_eq!(
            sample_belongs_to(family, t, sample, format),
            want,
            "{family} {t} {sample} {format:?}"
        );
    }
}
