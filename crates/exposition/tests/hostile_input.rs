//! Bad input must give a clear error quickly, never a panic or unbounded
//! memory: truncation at every byte, binary garbage, a 100 MB line,
//! repeated labels, 100k labels, lying protobuf length prefixes.

use beacon_exposition::encode::{Format, encode};
use beacon_exposition::family::MetricFamily;
use beacon_exposition::{
    Error, LABELS_PER_SERIES_MAX, LINE_BYTES_MAX, PROTOBUF_MESSAGE_BYTES_MAX, ParseFormat, Parser,
    encode_protobuf,
};
use beacon_model::{Labels, MetricType};

const FORMATS: [ParseFormat; 4] = [
    ParseFormat::Text,
    ParseFormat::OpenMetrics,
    ParseFormat::OpenMetricsStrict,
    ParseFormat::Protobuf,
];

/// Runs a parser to the end; returns the first error, if any.
fn first_error(format: ParseFormat, input: &[u8]) -> Option<Error> {
    Parser::new(format, input).find_map(Result::err)
}

fn sample_families() -> Vec<MetricFamily> {
    let mut f = MetricFamily::new("requests_total", "Requests \"all\".", MetricType::Counter);
    f.push_value(
        Labels::from_pairs([("code", "200"), ("path", "/a\\b\n")]),
        5.0,
    );
    let mut g = MetricFamily::new("temp", "T.", MetricType::Gauge);
    g.push_value(Labels::empty(), -1.5);
    vec![f, g]
}

#[test]
fn every_truncation_is_handled() {
    let fams = sample_families();
    let bodies = [
        (
            ParseFormat::Text,
            encode(Format::Text004, &fams).into_bytes(),
        ),
        (
            ParseFormat::OpenMetricsStrict,
            encode(Format::OpenMetrics, &fams).into_bytes(),
        ),
        (ParseFormat::Protobuf, encode_protobuf(&fams)),
    ];
    for (format, body) in bodies {
        for cut in 0..body.len() {
            // Must not panic; the error (if any) is what it is.
            let _ = first_error(format, &body[..cut]);
        }
        assert_eq!(first_error(format, &body), None, "{format:?}");
    }
    // A cut OpenMetrics body always lacks its `# EOF`.
    let om = encode(Format::OpenMetrics, &fams).into_bytes();
    assert!(first_error(ParseFormat::OpenMetrics, &om[..om.len() - 7]).is_some());
}

#[test]
fn binary_garbage_is_rejected_without_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in [1usize, 7, 64, 1000, 65_536] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for format in FORMATS {
            let _ = first_error(format, &bytes);
        }
    }
}

#[test]
fn a_100_mb_line_hits_the_line_limit() {
    let mut line = vec![b'a'; 100 << 20];
    line.extend_from_slice(b" 1\n");
    for format in [ParseFormat::Text, ParseFormat::OpenMetrics] {
        let e = first_error(format, &line).expect("error");
        assert_eq!(
            e,
            Error::LineTooLong {
                line: 1,
                limit: LINE_BYTES_MAX
            }
        );
        assert_eq!(
            e.to_string(),
            format!("1:1: line is longer than the limit of {LINE_BYTES_MAX} bytes")
        );
    }
}

#[test]
fn repeated_labels_are_rejected() {
    let mut s = String::from("a{");
    for _ in 0..1_000 {
        s.push_str("b=\"1\",");
    }
    s.push_str("} 1\n");
    let e = first_error(ParseFormat::Text, s.as_bytes()).expect("error");
    assert!(e.to_string().contains("duplicate label name \"b\""), "{e}");
}

#[test]
fn too_many_labels_are_rejected() {
    let mut s = String::from("a{");
    for i in 0..100_000 {
        s.push_str(&format!("l{i}=\"v\","));
    }
    s.push_str("} 1\n# EOF\n");
    for format in [ParseFormat::Text, ParseFormat::OpenMetrics] {
        match first_error(format, s.as_bytes()) {
            Some(Error::TooManyLabels { line: 1, limit, .. }) => {
                assert_eq!(limit, LABELS_PER_SERIES_MAX)
            }
            other => panic!("{format:?}: {other:?}"),
        }
    }
}

#[test]
fn lying_protobuf_lengths_are_rejected() {
    // A length prefix of 2^40 bytes.
    let huge = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    match first_error(ParseFormat::Protobuf, &huge) {
        Some(Error::MessageTooLarge {
            offset: 0, limit, ..
        }) => {
            assert_eq!(limit, PROTOBUF_MESSAGE_BYTES_MAX)
        }
        other => panic!("{other:?}"),
    }
    // Ten bytes of continuation bits: not a varint.
    assert!(matches!(
        first_error(ParseFormat::Protobuf, &[0xff; 11]),
        Some(Error::Protobuf { .. })
    ));
    // A length longer than what follows.
    assert!(matches!(
        first_error(ParseFormat::Protobuf, &[10, 1, 2]),
        Some(Error::Protobuf { .. })
    ));
}

#[test]
fn protobuf_with_thousands_of_labels_is_cheap() {
    use beacon_exposition::proto;
    use prost::Message;
    let label = |i: usize| proto::LabelPair {
        name: Some(format!("l{i}")),
        value: Some("v".into()),
    };
    let metric = |n: usize| proto::Metric {
        label: (0..n).map(label).collect(),
        gauge: Some(proto::Gauge { value: Some(1.0) }),
        ..Default::default()
    };
    let fam = proto::MetricFamily {
        name: Some("g".into()),
        r#type: Some(proto::MetricType::Gauge as i32),
        metric: (0..50).map(|_| metric(LABELS_PER_SERIES_MAX)).collect(),
        ..Default::default()
    };
    let mut body = Vec::new();
    fam.encode_length_delimited(&mut body).expect("encode");
    assert_eq!(first_error(ParseFormat::Protobuf, &body), None);
    let mut over = fam.clone();
    over.metric = vec![metric(LABELS_PER_SERIES_MAX + 1)];
    let mut body = Vec::new();
    over.encode_length_delimited(&mut body).expect("encode");
    assert!(
        first_error(ParseFormat::Protobuf, &body)
            .is_some_and(|e| e.to_string().contains("more than"))
    );
}
