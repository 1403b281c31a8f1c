//! The histogram trim operators `</` and `>/`: drop the observations
//! above (below) a value, interpolating inside the bucket the value splits
//! (in log space for exponential buckets) and re-estimating the sum from
//! the buckets that remain.

use beacon_model::FloatHistogram;

/// One bucket of a histogram being trimmed: bounds, count, and whether
/// it is an exponential (log-scale) bucket.
struct TrimBucket {
    lower: f64,
    upper: f64,
    count: f64,
    exponential: bool,
}

/// The share of a bucket kept by a trim at `x`, and the kept bounds.
fn trim_share(b: &TrimBucket, x: f64, keep_below: bool) -> (f64, f64, f64) {
    let (lo, hi) = if keep_below {
        (b.lower, b.upper.min(x))
    } else {
        (b.lower.max(x), b.upper)
    };
    if hi < lo || (hi == lo && b.lower != b.upper) {
        return (0.0, lo, hi);
    }
    if lo <= b.lower && hi >= b.upper {
        return (1.0, lo, hi);
    }
    // A split bucket with an infinite bound cannot be interpolated: it is
    // kept whole when the kept side is the infinite one, dropped otherwise.
    match (b.lower == f64::NEG_INFINITY, b.upper == f64::INFINITY) {
        (true, true) => return (0.0, lo, hi),
        (true, false) => return (if keep_below { 1.0 } else { 0.0 }, lo, hi),
        (false, true) => return (if keep_below { 0.0 } else { 1.0 }, lo, hi),
        (false, false) => {}
    }
    let share = if b.exponential {
        let (a, c) = (b.lower.abs().ln(), b.upper.abs().ln());
        ((hi.abs().ln() - lo.abs().ln()) / (c - a)).abs()
    } else {
        (hi - lo) / (b.upper - b.lower)
    };
    (share, lo, hi)
}

/// The value that stands for observations in `[lo, hi]`: the geometric
/// mean for exponential buckets, the middle otherwise, and the finite
/// bound when the other is infinite.
fn representative(lo: f64, hi: f64, exponential: bool) -> f64 {
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    if hi == f64::INFINITY {
        return lo;
    }
    if exponential && lo.signum() == hi.signum() && lo != 0.0 && hi != 0.0 {
        let g = (lo * hi).sqrt();
        return if hi < 0.0 { -g } else { g };
    }
    (lo + hi) / 2.0
}

/// `h </ x` (`keep_below`) and `h >/ x`: removes the observations above
/// (below) `x`, interpolating inside the bucket that `x` splits, and
/// re-estimates the sum from the remaining buckets.
pub(crate) fn trim(h: &FloatHistogram, x: f64, keep_below: bool) -> FloatHistogram {
    let custom = h.uses_custom_buckets();
    let neg_only = h.positive_buckets.is_empty() && !h.negative_buckets.is_empty();
    let pos_only = h.negative_buckets.is_empty() && !h.positive_buckets.is_empty();
    let mut zero = TrimBucket {
        lower: if pos_only { 0.0 } else { -h.zero_threshold },
        upper: if neg_only { 0.0 } else { h.zero_threshold },
        count: h.zero_count,
        exponential: false,
    };
    let bucket = |b: beacon_model::histogram::Bucket| {
        let mut lower = b.lower;
        // The first custom bucket is assumed to start at 0 when its upper
        // bound is positive (and finite), unless a trim from below cuts
        // into negative values.
        if custom
            && lower == f64::NEG_INFINITY
            && b.upper > 0.0
            && b.upper.is_finite()
            && (keep_below || x >= 0.0)
        {
            lower = 0.0;
        }
        TrimBucket {
            lower,
            upper: b.upper,
            count: b.count,
            exponential: !custom,
        }
    };
    let pos: Vec<(i32, TrimBucket)> = h
        .positive_bucket_list()
        .into_iter()
        .map(|b| (b.index, bucket(b)))
        .collect();
    let neg: Vec<(i32, TrimBucket)> = h
        .negative_bucket_list()
        .into_iter()
        .map(|b| (b.index, bucket(b)))
        .collect();
    let noop = std::iter::once(&zero)
        .chain(pos.iter().map(|p| &p.1))
        .chain(neg.iter().map(|p| &p.1))
        .all(|b| b.count == 0.0 || trim_share(b, x, keep_below).0 == 1.0);
    if noop {
        return h.clone();
    }
    let mut out = FloatHistogram {
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        custom_values: h.custom_values.clone(),
        counter_reset_hint: h.counter_reset_hint,
        ..Default::default()
    };
    let (mut sum, mut count) = (0.0, 0.0);
    let mut apply = |b: &TrimBucket| -> f64 {
        if b.count == 0.0 {
            return 0.0;
        }
        let (share, lo, hi) = trim_share(b, x, keep_below);
        let c = b.count * share;
        if c != 0.0 {
            sum += c * representative(lo, hi, b.exponential);
        }
        count += c;
        c
    };
    zero.count = apply(&zero);
    let mut side = |list: &[(i32, TrimBucket)]| -> Vec<(i32, f64)> {
        list.iter().map(|(i, b)| (*i, apply(b))).collect()
    };
    let p = side(&pos);
    let mut n = side(&neg);
    n.sort_by_key(|x| x.0);
    out.zero_count = zero.count;
    out.positive_spans = vec![];
    set_side(&mut out, &p, true);
    set_side(&mut out, &n, false);
    out.sum = sum;
    out.count = count;
    out.compact();
    out
}

/// Stores `(index, count)` pairs as one side's spans and buckets.
fn set_side(h: &mut FloatHistogram, pairs: &[(i32, f64)], positive: bool) {
    let mut spans: Vec<beacon_model::Span> = Vec::new();
    let mut counts = Vec::new();
    let mut next: Option<i32> = None;
    for &(i, c) in pairs {
        match (next, spans.last_mut()) {
            (Some(n), Some(last)) if n == i => last.length += 1,
            (Some(n), _) => spans.push(beacon_model::Span {
                offset: i - n,
                length: 1,
            }),
            (None, _) => spans.push(beacon_model::Span {
                offset: i,
                length: 1,
            }),
        }
        counts.push(c);
        next = Some(i + 1);
    }
    if positive {
        h.positive_spans = spans;
        h.positive_buckets = counts;
    } else {
        h.negative_spans = spans;
        h.negative_buckets = counts;
    }
}
