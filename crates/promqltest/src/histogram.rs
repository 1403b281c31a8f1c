//! The little native-histogram arithmetic the runner needs on its own:
//! adding and subtracting literals for `{{A}}+{{B}}xK` series, lowering a
//! schema, widening a zero bucket, comparing a result with an expected
//! literal (the way the test format defines it) and printing a histogram in
//! the literal notation for diffs.
//!
//! The bucket layout is handled through a sparse map from absolute bucket
//! index to count, which keeps every operation a few lines long. The runner
//! never works on large histograms, so the maps cost nothing that matters.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use beacon_model::histogram::{CUSTOM_BUCKETS_SCHEMA, bucket_upper_bound};
use beacon_model::{CounterResetHint, FloatHistogram, Span};

use crate::compare::{floats_equal, format_float};

/// Bucket counts by absolute bucket index.
type Buckets = BTreeMap<i32, f64>;

/// Expands spans and absolute counts into a sparse map (zeros kept).
fn to_map(spans: &[Span], counts: &[f64]) -> Buckets {
    let mut out = Buckets::new();
    let mut idx: i32 = 0;
    let mut counts = counts.iter();
    for (n, span) in spans.iter().enumerate() {
        idx = if n == 0 {
            span.offset
        } else {
            idx.saturating_add(span.offset)
        };
        for _ in 0..span.length {
            if let Some(c) = counts.next() {
                out.insert(idx, *c);
            }
            idx = idx.saturating_add(1);
        }
    }
    out
}

/// Packs a sparse map back into spans of consecutive indexes.
fn from_map(map: &Buckets) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::with_capacity(map.len());
    let mut next: Option<i32> = None;
    for (&idx, &c) in map {
        match next {
            Some(n) if n == idx => {
                if let Some(last) = spans.last_mut() {
                    last.length += 1;
                }
            }
            Some(n) => spans.push(Span {
                offset: idx - n,
                length: 1,
            }),
            None => spans.push(Span {
                offset: idx,
                length: 1,
            }),
        }
        counts.push(c);
        next = Some(idx.saturating_add(1));
    }
    (spans, counts)
}

/// Maps bucket `idx` of schema `from` to the bucket of the coarser schema
/// `to` that contains it. Each step down in schema merges pairs of buckets;
/// with bucket `i` covering `(base^(i-1), base^i]`, the merged index is
/// `ceil(i / 2^delta)`, which the shift computes for negative `i` as well.
fn reduced_index(idx: i32, from: i32, to: i32) -> i32 {
    let delta = (from - to).clamp(0, 31);
    ((idx - 1) >> delta) + 1
}

/// A histogram's buckets, brought to `schema` and zero threshold `zt`.
struct Normalised {
    positive: Buckets,
    negative: Buckets,
    zero_count: f64,
}

fn normalise(h: &FloatHistogram, schema: i32, zt: f64) -> Normalised {
    let lower = |map: Buckets| -> Buckets {
        if h.schema == schema || h.uses_custom_buckets() {
            return map;
        }
        let mut out = Buckets::new();
        for (i, c) in map {
            *out.entry(reduced_index(i, h.schema, schema)).or_insert(0.0) += c;
        }
        out
    };
    let mut n = Normalised {
        positive: lower(to_map(&h.positive_spans, &h.positive_buckets)),
        negative: lower(to_map(&h.negative_spans, &h.negative_buckets)),
        zero_count: h.zero_count,
    };
    if h.zero_threshold < zt && !h.uses_custom_buckets() {
        // Buckets that now lie inside the wider zero bucket join it.
        for side in [&mut n.positive, &mut n.negative] {
            side.retain(|&i, c| {
                if bucket_upper_bound(schema, &[], i) <= zt {
                    n.zero_count += *c;
                    false
                } else {
                    true
                }
            });
        }
    }
    n
}

/// The hint of a sum, following Prometheus: equal hints stay, a gauge on
/// either side makes a gauge, anything else is unknown.
fn combined_hint(a: CounterResetHint, b: CounterResetHint) -> CounterResetHint {
    if a == b {
        a
    } else if a == CounterResetHint::Gauge || b == CounterResetHint::Gauge {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    }
}

/// `a + sign * b`, bucket by bucket, at the coarser of the two schemas and
/// the wider of the two zero thresholds.
pub fn combine(
    a: &FloatHistogram,
    b: &FloatHistogram,
    sign: f64,
) -> Result<FloatHistogram, String> {
    if a.uses_custom_buckets() != b.uses_custom_buckets() {
        return Err("cannot combine exponential and custom-bucket histograms".into());
    }
    if a.uses_custom_buckets() && a.custom_values != b.custom_values {
        return Err("cannot combine histograms with different custom bucket bounds".into());
    }
    let schema = a.schema.min(b.schema);
    let zt = a.zero_threshold.max(b.zero_threshold);
    let mut na = normalise(a, schema, zt);
    let nb = normalise(b, schema, zt);
    for (mine, theirs) in [
        (&mut na.positive, nb.positive),
        (&mut na.negative, nb.negative),
    ] {
        for (i, c) in theirs {
            *mine.entry(i).or_insert(0.0) += sign * c;
        }
    }
    let (positive_spans, positive_buckets) = from_map(&na.positive);
    let (negative_spans, negative_buckets) = from_map(&na.negative);
    Ok(FloatHistogram {
        counter_reset_hint: combined_hint(a.counter_reset_hint, b.counter_reset_hint),
        schema,
        zero_threshold: zt,
        zero_count: na.zero_count + sign * nb.zero_count,
        count: a.count + sign * b.count,
        sum: a.sum + sign * b.sum,
        positive_spans,
        negative_spans,
        positive_buckets,
        negative_buckets,
        custom_values: a.custom_values.clone(),
    })
}

/// The non-empty buckets of one side, by absolute index.
fn non_empty(spans: &[Span], counts: &[f64]) -> Buckets {
    let mut map = to_map(spans, counts);
    map.retain(|_, c| *c != 0.0);
    map
}

/// The same histogram with empty buckets dropped and touching spans merged.
pub fn compact(h: &FloatHistogram) -> FloatHistogram {
    let (positive_spans, positive_buckets) =
        from_map(&non_empty(&h.positive_spans, &h.positive_buckets));
    let (negative_spans, negative_buckets) =
        from_map(&non_empty(&h.negative_spans, &h.negative_buckets));
    FloatHistogram {
        positive_spans,
        positive_buckets,
        negative_spans,
        negative_buckets,
        ..h.clone()
    }
}

fn buckets_equal(a: &Buckets, b: &Buckets) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ia, ca), (ib, cb))| ia == ib && floats_equal(*ca, *cb))
}

/// The test format's histogram equality: after compaction, schema and zero
/// threshold exactly equal, counts within tolerance, the same bucket layout,
/// custom bounds equal, and the hint only when the expectation spelled it.
pub fn histograms_equal(exp: &FloatHistogram, got: &FloatHistogram, hint_set: bool) -> bool {
    if exp.schema != got.schema
        || !floats_equal(exp.count, got.count)
        || !floats_equal(exp.sum, got.sum)
    {
        return false;
    }
    if exp.uses_custom_buckets() && exp.custom_values != got.custom_values {
        return false;
    }
    if exp.zero_threshold != got.zero_threshold || !floats_equal(exp.zero_count, got.zero_count) {
        return false;
    }
    let sides_equal = |es: &[Span], ec: &[f64], gs: &[Span], gc: &[f64]| {
        buckets_equal(&non_empty(es, ec), &non_empty(gs, gc))
    };
    if !sides_equal(
        &exp.positive_spans,
        &exp.positive_buckets,
        &got.positive_spans,
        &got.positive_buckets,
    ) || !sides_equal(
        &exp.negative_spans,
        &exp.negative_buckets,
        &got.negative_spans,
        &got.negative_buckets,
    ) {
        return false;
    }
    !hint_set || exp.counter_reset_hint == got.counter_reset_hint
}

fn hint_name(h: CounterResetHint) -> &'static str {
    match h {
        CounterResetHint::Unknown => "unknown",
        CounterResetHint::CounterReset => "reset",
        CounterResetHint::NotCounterReset => "not_reset",
        CounterResetHint::Gauge => "gauge",
    }
}

fn write_list(out: &mut String, key: &str, values: &[f64]) {
    let items: Vec<String> = values.iter().map(|v| format_float(*v)).collect();
    let _ = write!(out, " {key}:[{}]", items.join(" "));
}

/// Writes one side's buckets as one dense run (gaps filled with zeros),
/// which is how literals spell them.
fn write_side(
    out: &mut String,
    spans: &[Span],
    counts: &[f64],
    buckets_key: &str,
    offset_key: &str,
) {
    let map = non_empty(spans, counts);
    let (Some(first), Some(last)) = (map.keys().next(), map.keys().next_back()) else {
        return;
    };
    let (first, last) = (*first, *last);
    if first != 0 {
        let _ = write!(out, " {offset_key}:{first}");
    }
    let dense: Vec<f64> = (first..=last)
        .map(|i| map.get(&i).copied().unwrap_or(0.0))
        .collect();
    write_list(out, buckets_key, &dense);
}

/// Prints `h` in the literal notation (`{{schema:0 count:3 sum:2 …}}`),
/// leaving out fields at their default.
pub fn format_histogram(h: &FloatHistogram) -> String {
    let mut out = String::from("{{");
    if h.schema != 0 {
        let _ = write!(out, " schema:{}", h.schema);
    }
    let _ = write!(
        out,
        " count:{} sum:{}",
        format_float(h.count),
        format_float(h.sum)
    );
    if h.zero_count != 0.0 {
        let _ = write!(out, " z_bucket:{}", format_float(h.zero_count));
    }
    if h.zero_threshold != 0.0 {
        let _ = write!(out, " z_bucket_w:{}", format_float(h.zero_threshold));
    }
    if h.schema == CUSTOM_BUCKETS_SCHEMA {
        write_list(&mut out, "custom_values", &h.custom_values);
    }
    write_side(
        &mut out,
        &h.positive_spans,
        &h.positive_buckets,
        "buckets",
        "offset",
    );
    write_side(
        &mut out,
        &h.negative_spans,
        &h.negative_buckets,
        "n_buckets",
        "n_offset",
    );
    if h.counter_reset_hint != CounterResetHint::Unknown {
        let _ = write!(
            out,
            " counter_reset_hint:{}",
            hint_name(h.counter_reset_hint)
        );
    }
    out.push_str("}}");
    // Every field was written with a leading space; the first follows
    // "{{" directly, as literals are written.
    out.replacen("{{ ", "{{", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(schema: i32, offset: i32, buckets: &[f64]) -> FloatHistogram {
        let (spans, counts) = if buckets.is_empty() {
            (vec![], vec![])
        } else {
            (
                vec![Span {
                    offset,
                    length: buckets.len() as u32,
                }],
                buckets.to_vec(),
            )
        };
        FloatHistogram {
            schema,
            count: buckets.iter().sum(),
            sum: 1.0,
            positive_spans: spans,
            positive_buckets: counts,
            ..Default::default()
        }
    }

    fn check(got: &FloatHistogram, expected: &str) {
        assert_eq!(format_histogram(got), expected);
    }

    #[test]
    fn add_same_schema_merges_by_index() {
        let sum = combine(&hist(0, 0, &[1.0, 2.0]), &hist(0, 1, &[1.0, 1.0]), 1.0).unwrap();
        check(&sum, "{{count:5 sum:2 buckets:[1 3 1]}}");
        let diff = combine(&sum, &hist(0, 1, &[1.0, 1.0]), -1.0).unwrap();
        check(&diff, "{{count:3 sum:1 buckets:[1 2]}}");
    }

    #[test]
    fn add_lowers_the_finer_schema() {
        // Schema 0 buckets 1 and 2 ((1,2] and (2,4]) both land in schema -1
        // bucket 1 ((1,4]).
        let sum = combine(&hist(-1, 1, &[1.0]), &hist(0, 1, &[2.0, 2.0]), 1.0).unwrap();
        check(&sum, "{{schema:-1 count:5 sum:2 offset:1 buckets:[5]}}");
        assert_eq!(reduced_index(0, 0, -1), 0);
        assert_eq!(reduced_index(-1, 0, -1), 0);
        assert_eq!(reduced_index(-2, 0, -1), -1);
        assert_eq!(reduced_index(5, 2, 0), 2);
    }

    #[test]
    fn custom_buckets_must_agree() {
        let mut a = hist(CUSTOM_BUCKETS_SCHEMA, 0, &[1.0]);
        a.custom_values = vec![5.0, 10.0];
        let mut b = a.clone();
        assert!(combine(&a, &b, 1.0).is_ok());
        b.custom_values = vec![5.0];
        assert!(combine(&a, &b, 1.0).is_err());
        assert!(combine(&a, &hist(0, 0, &[1.0]), 1.0).is_err());
    }

    #[test]
    fn equality_ignores_empty_buckets_and_unspelled_hints() {
        let a = hist(0, 0, &[0.0, 1.0, 0.0, 2.0]);
        let mut b = hist(0, 1, &[1.0, 0.0, 2.0]);
        assert!(histograms_equal(&a, &b, false));
        b.counter_reset_hint = CounterResetHint::Gauge;
        assert!(histograms_equal(&a, &b, false));
        assert!(!histograms_equal(&a, &b, true));
        let c = hist(0, 1, &[1.0, 0.0, 2.5]);
        assert!(!histograms_equal(&a, &c, false));
        assert_eq!(compact(&a).positive_spans.len(), 2);
    }

    #[test]
    fn wider_zero_bucket_swallows_small_buckets() {
        let mut a = hist(0, -2, &[1.0, 1.0, 1.0]);
        a.zero_threshold = 0.0;
        let mut b = hist(0, 0, &[]);
        b.zero_threshold = 0.5;
        let sum = combine(&a, &b, 1.0).unwrap();
        // Buckets -2 ((1/8,1/4]) and -1 ((1/4,1/2]) fall inside 0.5.
        check(
            &sum,
            "{{count:3 sum:2 z_bucket:2 z_bucket_w:0.5 buckets:[1]}}",
        );
    }
}
