//! Property: a native histogram survives the trip model → remote-write
//! protobuf → snappy body → decode → model unchanged, in both protocol
//! versions and both flavours (integer deltas, float counts).

use beacon_model::{CounterResetHint, FloatHistogram, Histogram, Span};
use beacon_remote::codec;
use beacon_remote::proto::{
    self, HistogramValue, RequestV2, TimeSeries, TimeSeriesV2, WriteRequest,
};
use proptest::prelude::*;

fn hint() -> impl Strategy<Value = CounterResetHint> {
    prop_oneof![
        Just(CounterResetHint::Unknown),
        Just(CounterResetHint::CounterReset),
        Just(CounterResetHint::NotCounterReset),
        Just(CounterResetHint::Gauge),
    ]
}

fn spans() -> impl Strategy<Value = Vec<Span>> {
    prop::collection::vec((-5i32..5, 0u32..4), 0..4).prop_map(|v| {
        v.into_iter()
            .map(|(offset, length)| Span { offset, length })
            .collect()
    })
}

fn int_histogram() -> impl Strategy<Value = Histogram> {
    (
        hint(),
        -4i32..=8,
        0.0f64..1.0,
        any::<u32>(),
        any::<u32>(),
        any::<f64>(),
        spans(),
        spans(),
    )
        .prop_flat_map(|(h, schema, zt, zc, count, sum, ps, ns)| {
            let (np, nn): (usize, usize) = (
                ps.iter().map(|s| s.length as usize).sum(),
                ns.iter().map(|s| s.length as usize).sum(),
            );
            (
                prop::collection::vec(-1000i64..1000, np),
                prop::collection::vec(-1000i64..1000, nn),
            )
                .prop_map(move |(pb, nb)| Histogram {
                    counter_reset_hint: h,
                    schema,
                    zero_threshold: zt,
                    zero_count: u64::from(zc),
                    count: u64::from(count),
                    sum,
                    positive_spans: ps.clone(),
                    negative_spans: ns.clone(),
                    positive_buckets: pb,
                    negative_buckets: nb,
                    custom_values: Vec::new(),
                })
        })
}

fn float_histogram() -> impl Strategy<Value = FloatHistogram> {
    (int_histogram(), prop::collection::vec(-10.0f64..10.0, 0..4)).prop_map(|(h, mut cv)| {
        let mut f = h.to_float();
        // Custom bounds ride along whatever the schema; the codec does not judge.
        cv.sort_by(f64::total_cmp);
        f.custom_values = cv;
        f
    })
}

/// Both versions' round trip of one wire histogram.
fn round_trip(h: proto::Histogram) -> (HistogramValue, HistogramValue) {
    let v1 = WriteRequest {
        timeseries: vec![TimeSeries {
            histograms: vec![h.clone()],
            ..Default::default()
        }],
        metadata: vec![],
    };
    let v1 = codec::decode_v1(&codec::encode_v1(&v1)).unwrap();
    let v2 = RequestV2 {
        symbols: vec![String::new()],
        timeseries: vec![TimeSeriesV2 {
            histograms: vec![h],
            ..Default::default()
        }],
    };
    let v2 = codec::decode_v2(&codec::encode_v2(&v2)).unwrap();
    (
        v1.timeseries[0].histograms[0].to_model(),
        v2.timeseries[0].histograms[0].to_model(),
    )
}

/// Compares through `Debug` so NaN sums compare equal to themselves.
fn same(a: &HistogramValue, b: &HistogramValue) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// proto3 leaves a scalar equal to its default off the wire, and -0.0
/// equals 0.0, so a negative zero arrives as +0.0 (Go's encoder does the
/// same). Repeated doubles are packed and keep their sign.
fn unsigned_zero(x: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn int_histograms_survive(h in int_histogram(), t in any::<i64>()) {
        let want = HistogramValue::Int(Histogram {
            sum: unsigned_zero(h.sum),
            zero_threshold: unsigned_zero(h.zero_threshold),
            ..h.clone()
        });
        let (v1, v2) = round_trip(proto::Histogram::from_int(t, &h));
        prop_assert!(same(&v1, &want), "{v1:?} != {want:?}");
        prop_assert!(same(&v2, &want), "{v2:?} != {want:?}");
    }

    #[test]
    fn float_histograms_survive(h in float_histogram(), t in any::<i64>()) {
        let want = HistogramValue::Float(FloatHistogram {
            sum: unsigned_zero(h.sum),
            zero_threshold: unsigned_zero(h.zero_threshold),
            ..h.clone()
        });
        let (v1, v2) = round_trip(proto::Histogram::from_float(t, &h));
        prop_assert!(same(&v1, &want), "{v1:?} != {want:?}");
        prop_assert!(same(&v2, &want), "{v2:?} != {want:?}");
    }
}
