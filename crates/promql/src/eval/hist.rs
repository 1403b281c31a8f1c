//! Native and classic histogram support in the evaluator: histogram
//! arithmetic in binary operators and aggregations, `rate` over
//! histograms, and the `histogram_*` functions.

use std::collections::HashMap;
use std::sync::Arc;

use beacon_model::{FloatHistogram, Labels};

use super::rangefns::{Annotation, Ctx, Out};
use super::{Evaluator, Sample, Val, Vector};
use crate::ast::{AggregateExpr, BinOp, BinaryExpr, Call, PosRange};
use crate::error::Result;
use crate::printer::format_float;

/// Tolerance under which classic bucket counts are treated as equal.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Prometheus's `almost.Equal`.
fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < eps * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

/// A histogram rendered the way Prometheus's `FloatHistogram.String` does.
pub(crate) fn hist_string(h: &FloatHistogram) -> String {
    let mut parts = vec![format!(
        "{{count:{}, sum:{}",
        format_float(h.count),
        format_float(h.sum)
    )];
    for b in h.all_buckets() {
        if b.count == 0.0 && b.index != 0 {
            continue;
        }
        let l = if b.lower_inclusive { "[" } else { "(" };
        let r = if b.upper_inclusive { "]" } else { ")" };
        parts.push(format!(
            "{l}{},{}{r}:{}",
            format_float(b.lower),
            format_float(b.upper),
            format_float(b.count)
        ));
    }
    format!("{}}}", parts.join(", "))
}

/// A per-series number in [0, 1) derived from the label hash, stable
/// across queries (used by `limit_ratio`).
pub(crate) fn labels_hash_offset(l: &Labels) -> f64 {
    // Prometheus hashes `name 0xff value 0xff ...` with xxHash64; using
    // the same hash makes `limit_ratio` pick the same series.
    let mut buf = Vec::with_capacity(l.as_bytes().len() + 2 * l.len());
    for lb in l.iter() {
        buf.extend_from_slice(lb.name.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(lb.value.as_bytes());
        buf.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&buf, 0) as f64 / u64::MAX as f64
}

/// A binary operation with a histogram on at least one side.
pub(crate) fn hist_binop(
    ev: &mut Evaluator<'_>,
    b: &BinaryExpr,
    lf: f64,
    lh: Option<&FloatHistogram>,
    rf: f64,
    rh: Option<&FloatHistogram>,
) -> Option<(f64, Option<Box<FloatHistogram>>)> {
    match (b.op, lh, rh) {
        (BinOp::Add | BinOp::Sub, Some(l), Some(r)) => {
            let mut out = l.clone();
            let sign = if b.op == BinOp::Add { 1.0 } else { -1.0 };
            match out.add_signed(r, sign) {
                Ok(reconciled) => {
                    if reconciled {
                        let what = if sign > 0.0 {
                            "addition"
                        } else {
                            "subtraction"
                        };
                        ev.info(
                            format!("mismatched custom buckets were reconciled during {what}"),
                            b.op_pos_expr(),
                        );
                    }
                    out.counter_reset_hint = beacon_model::CounterResetHint::Gauge;
                    out.compact();
                    Some((0.0, Some(Box::new(out))))
                }
                Err(_) => {
                    ev.warn(
                        "vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\"",
                        b.op_pos_expr(),
                    );
                    None
                }
            }
        }
        (BinOp::Mul, Some(h), None) | (BinOp::Mul, None, Some(h)) => {
            let f = if lh.is_some() { rf } else { lf };
            let mut out = h.clone();
            out.mul(f);
            Some((0.0, Some(Box::new(out))))
        }
        (BinOp::Div, Some(h), None) => {
            let mut out = h.clone();
            out.div(rf);
            Some((0.0, Some(Box::new(out))))
        }
        (BinOp::TrimUpper | BinOp::TrimLower, Some(h), None) => {
            let out = trim(h, rf, b.op == BinOp::TrimUpper);
            Some((0.0, Some(Box::new(out))))
        }
        (BinOp::Eql | BinOp::Neq, Some(l), Some(r)) => {
            let eq = l == r;
            let keep = if b.op == BinOp::Eql { eq } else { !eq };
            if b.return_bool {
                return Some((if keep { 1.0 } else { 0.0 }, None));
            }
            keep.then(|| (0.0, Some(Box::new(l.clone()))))
        }
        _ => {
            let op = b.op.as_str();
            let (lt, rt) = (
                if lh.is_some() { "histogram" } else { "float" },
                if rh.is_some() { "histogram" } else { "float" },
            );
            ev.info(
                format!("incompatible sample types encountered for binary operator {op:?}: {lt} {op} {rt}"),
                b.op_pos_expr(),
            );
            None
        }
    }
}

impl BinaryExpr {
    /// The position annotations of this operation point at.
    fn op_pos_expr(&self) -> PosRange {
        PosRange {
            start: self.lhs.pos().start,
            end: self.rhs.pos().end,
        }
    }
}

/// `sum_over_time` and `avg_over_time` over histograms.
pub(crate) fn hist_over_time(c: &Ctx<'_>, annos: &mut Vec<Annotation>) -> Out {
    if !c.floats.is_empty() {
        annos.push(Annotation::Warn(format!(
            "encountered a mix of histograms and floats for metric name {:?}",
            c.metric_name
        )));
        return Out::None;
    }
    let mut acc = (*c.hists[0].1).clone();
    for (_, h) in &c.hists[1..] {
        if acc.add_signed(h, 1.0).is_err() {
            annos.push(Annotation::Warn(format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                c.metric_name
            )));
            return Out::None;
        }
    }
    if c.name == "avg_over_time" {
        acc.div(c.hists.len() as f64);
    }
    acc.compact();
    Out::H(acc)
}

/// `changes` and `resets` over histograms.
pub(crate) fn hist_changes(c: &Ctx<'_>) -> Out {
    let hs = c.hists;
    let mut n = 0.0;
    for w in hs.windows(2) {
        let changed = if c.name == "changes" {
            *w[0].1 != *w[1].1
        } else {
            w[1].1.detect_reset(&w[0].1)
        };
        if changed {
            n += 1.0;
        }
    }
    Out::F(n)
}

/// The raw increase of a histogram series over a window, with counter
/// resets handled; `None` when the histograms cannot be combined.
pub(crate) fn hist_rate(
    hs: &[(i64, Arc<FloatHistogram>)],
    counter: bool,
    metric_name: &str,
    annos: &mut Vec<Annotation>,
) -> Option<FloatHistogram> {
    let first = &hs[0].1;
    let last = &hs[hs.len() - 1].1;
    if counter {
        let not_counter = hs
            .iter()
            .any(|(_, h)| h.counter_reset_hint == beacon_model::CounterResetHint::Gauge);
        if not_counter {
            annos.push(Annotation::Warn(format!(
                "this native histogram metric is not a counter: {metric_name:?}"
            )));
        }
    } else if hs
        .iter()
        .any(|(_, h)| h.counter_reset_hint != beacon_model::CounterResetHint::Gauge)
    {
        annos.push(Annotation::Warn(format!(
            "this native histogram metric is not a gauge: {metric_name:?}"
        )));
    }
    let mut out = (**last).clone();
    if out.add_signed(first, -1.0).is_err() {
        annos.push(Annotation::Warn(format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {metric_name:?}"
        )));
        return None;
    }
    if counter {
        for w in hs.windows(2) {
            if w[1].1.detect_reset(&w[0].1) {
                let _ = out.add_signed(&w[0].1, 1.0);
            }
        }
    }
    out.counter_reset_hint = beacon_model::CounterResetHint::Gauge;
    out.compact();
    Some(out)
}

/// `irate`/`idelta` over histograms.
pub(crate) fn hist_instant(
    cur: &FloatHistogram,
    prev: &FloatHistogram,
    interval: i64,
    rate: bool,
    c: &Ctx<'_>,
    annos: &mut Vec<Annotation>,
) -> Out {
    let mut out = cur.clone();
    let reset = rate && cur.detect_reset(prev);
    if !reset && out.add_signed(prev, -1.0).is_err() {
        annos.push(Annotation::Warn(format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            c.metric_name
        )));
        return Out::None;
    }
    if rate {
        out.div(interval as f64 / 1000.0);
    }
    out.counter_reset_hint = beacon_model::CounterResetHint::Gauge;
    out.compact();
    Out::H(out)
}

impl Evaluator<'_> {
    /// Adds `h` into a `sum`/`avg` aggregation's running histogram.
    pub(crate) fn hist_accumulate(
        &mut self,
        a: &AggregateExpr,
        _count: f64,
        acc: &mut Option<FloatHistogram>,
        h: &FloatHistogram,
    ) {
        match acc {
            None => *acc = Some(h.clone()),
            Some(cur) => match cur.add_signed(h, 1.0) {
                Ok(true) => self.info(
                    "mismatched custom buckets were reconciled during aggregation",
                    a.pos,
                ),
                Ok(false) => {}
                Err(_) => {
                    self.warn(
                        "vector contains a mix of histograms with exponential and custom buckets schemas for metric name \"\"",
                        a.pos,
                    );
                }
            },
        }
    }

    pub(crate) fn eval_histogram_call(&mut self, c: &Call) -> Result<Val> {
        let name = c.func.name;
        match name {
            "histogram_quantile" => {
                let q = self.eval_scalar(&c.args[0])?;
                let steps = self.eval_vector(&c.args[1])?;
                for qv in &q {
                    if !(0.0..=1.0).contains(qv) || qv.is_nan() {
                        self.warn(
                            format!(
                                "quantile value should be between 0 and 1, got {}",
                                format_float(*qv)
                            ),
                            c.args[0].pos(),
                        );
                    }
                }
                let pos = c.args[1].pos();
                let mut out = Vec::with_capacity(steps.len());
                for (i, vec) in steps.into_iter().enumerate() {
                    out.push(self.histogram_quantile_step(HistOp::Quantile(q[i]), vec, pos));
                }
                Ok(Val::Vector(out))
            }
            "histogram_quantiles" => self.histogram_quantiles(c),
            "histogram_fraction" => {
                let lo = self.eval_scalar(&c.args[0])?;
                let hi = self.eval_scalar(&c.args[1])?;
                let steps = self.eval_vector(&c.args[2])?;
                let pos = c.args[2].pos();
                let mut out = Vec::with_capacity(steps.len());
                for (i, vec) in steps.into_iter().enumerate() {
                    out.push(self.histogram_quantile_step(
                        HistOp::Fraction(lo[i], hi[i]),
                        vec,
                        pos,
                    ));
                }
                Ok(Val::Vector(out))
            }
            _ => {
                let steps = self.eval_vector(&c.args[0])?;
                Ok(Val::Vector(
                    steps
                        .into_iter()
                        .map(|vec| native_only(vec, |h| hist_stat(name, h)))
                        .collect(),
                ))
            }
        }
    }

    /// `histogram_quantiles(v, "label", q1, q2, ...)`: one output series
    /// per quantile, told apart by `label`.
    fn histogram_quantiles(&mut self, c: &Call) -> Result<Val> {
        let label = match self.eval(&c.args[1])? {
            Val::Str(s) => s,
            _ => String::new(),
        };
        let mut qs = Vec::new();
        for a in &c.args[2..] {
            let q = self.eval_scalar(a)?;
            for qv in &q {
                if !(0.0..=1.0).contains(qv) || qv.is_nan() {
                    self.warn(
                        format!(
                            "quantile value should be between 0 and 1, got {}",
                            format_float(*qv)
                        ),
                        a.pos(),
                    );
                }
            }
            qs.push(q);
        }
        let steps = self.eval_vector(&c.args[0])?;
        let pos = c.args[0].pos();
        let mut out = Vec::with_capacity(steps.len());
        for (i, vec) in steps.into_iter().enumerate() {
            if vec.iter().any(|s| s.metric.has(&label)) {
                return Err(crate::error::Error::Eval(format!(
                    "label {label:?} already exists in the input of histogram_quantiles"
                )));
            }
            let mut res = Vec::new();
            for q in &qs {
                let qv = q[i];
                let text = quantile_label(qv);
                for mut s in self.histogram_quantile_step(HistOp::Quantile(qv), vec.clone(), pos) {
                    let mut b = s.metric.builder();
                    b.set(&label, &text);
                    s.metric = b.build();
                    res.push(s);
                }
            }
            out.push(res);
        }
        Ok(Val::Vector(out))
    }

    fn histogram_quantile_step(&mut self, op: HistOp, vec: Vector, pos: PosRange) -> Vector {
        let mut out = Vec::new();
        // Classic buckets grouped by their labels without `le`.
        let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut natives: Vec<Sample> = Vec::new();
        for s in vec {
            if let Some(h) = &s.h {
                let v = match op {
                    HistOp::Quantile(q) => hist_quantile(q, h),
                    HistOp::Fraction(lo, hi) => hist_fraction(lo, hi, h),
                };
                natives.push(Sample {
                    metric: s.metric.clone(),
                    f: v,
                    h: None,
                    drop_name: true,
                });
                continue;
            }
            let le = s.metric.get("le").unwrap_or("");
            let Some(upper) = parse_le(le) else {
                let name = s.metric.get("__name__").unwrap_or("").to_owned();
                self.warn(
                    format!("bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {name:?}"),
                    pos,
                );
                continue;
            };
            let key = super::drop_metric_name(&s.metric.drop_names(&["le"]));
            let i = *index.entry(key.clone()).or_insert_with(|| {
                groups.push((key, Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push((upper, s.f));
        }
        let native_keys: std::collections::HashSet<Labels> = natives
            .iter()
            .map(|s| super::drop_metric_name(&s.metric))
            .collect();
        for (labels, mut buckets) in groups {
            if native_keys.contains(&labels) {
                let name = labels.get("__name__").unwrap_or("").to_owned();
                self.warn(
                    format!("vector contains a mix of classic and native histograms for metric name {name:?}"),
                    pos,
                );
                continue;
            }
            let (v, forced) = match op {
                HistOp::Quantile(q) => bucket_quantile(q, &mut buckets),
                HistOp::Fraction(lo, hi) => (classic_fraction(lo, hi, &mut buckets), false),
            };
            if forced {
                self.info(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"\"",
                    pos,
                );
            }
            out.push(Sample::float(labels, v));
        }
        out.extend(natives);
        out
    }
}

/// What to compute from each histogram.
#[derive(Clone, Copy)]
enum HistOp {
    Quantile(f64),
    Fraction(f64, f64),
}

/// A quantile as a label value: always with a decimal point (`0.0`, `0.25`).
fn quantile_label(q: f64) -> String {
    let s = format_float(q);
    if s.contains(['.', 'e', 'I', 'N']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => crate::lexer::parse_number_text(s).or_else(|| s.parse().ok()),
    }
}

/// Applies `f` to every histogram sample, dropping float samples.
fn native_only(vec: Vector, f: impl Fn(&FloatHistogram) -> Option<f64>) -> Vector {
    vec.into_iter()
        .filter_map(|s| {
            let h = s.h?;
            let v = f(&h)?;
            Some(Sample {
                metric: s.metric,
                f: v,
                h: None,
                drop_name: true,
            })
        })
        .collect()
}

fn hist_stat(name: &str, h: &FloatHistogram) -> Option<f64> {
    Some(match name {
        "histogram_count" => h.count,
        "histogram_sum" => h.sum,
        "histogram_avg" => h.sum / h.count,
        "histogram_stddev" | "histogram_stdvar" => {
            let var = hist_variance(h);
            if name == "histogram_stddev" {
                var.sqrt()
            } else {
                var
            }
        }
        _ => return None,
    })
}

/// The variance estimated from bucket midpoints (geometric means for
/// exponential buckets), as Prometheus's `histogram_stdvar`.
fn hist_variance(h: &FloatHistogram) -> f64 {
    if h.count == 0.0 {
        return f64::NAN;
    }
    let mean = h.sum / h.count;
    let (mut var, mut comp) = (0.0, 0.0);
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        let val = if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else if h.uses_custom_buckets() {
            (b.lower + b.upper) / 2.0
        } else {
            let v = (b.lower * b.upper).abs().sqrt();
            if b.upper < 0.0 { -v } else { v }
        };
        let delta = val - mean;
        (var, comp) = super::aggr::kahan_inc(b.count * delta * delta, var, comp);
    }
    (var + comp) / h.count
}

/// The fraction of observations between `lo` and `hi` in a native
/// histogram.
fn hist_fraction(lo: f64, hi: f64, h: &FloatHistogram) -> f64 {
    let buckets: Vec<(f64, f64, f64)> = native_buckets(h);
    buckets_fraction(lo, hi, &buckets, h.count)
}

/// A native histogram's non-empty buckets as `(lower, upper, count)`,
/// with Prometheus's natural bounds: a zero bucket of a one-sided
/// histogram ends at 0, and the first custom bucket starts at 0 when its
/// upper bound is positive.
fn native_buckets(h: &FloatHistogram) -> Vec<(f64, f64, f64)> {
    let neg_only = h.positive_buckets.is_empty() && !h.negative_buckets.is_empty();
    let pos_only = h.negative_buckets.is_empty() && !h.positive_buckets.is_empty();
    h.all_buckets()
        .into_iter()
        .filter(|b| b.count != 0.0)
        .map(|b| {
            let (mut lower, mut upper) = (b.lower, b.upper);
            if !h.uses_custom_buckets() && lower < 0.0 && upper > 0.0 {
                if pos_only {
                    lower = 0.0;
                } else if neg_only {
                    upper = 0.0;
                }
            }
            if h.uses_custom_buckets() && lower == f64::NEG_INFINITY && upper > 0.0 {
                lower = 0.0;
            }
            (lower, upper, b.count)
        })
        .collect()
}

/// The share of `total` observations in `(lo, hi]`, interpolating
/// linearly inside buckets; a bucket of infinite width counts only when the
/// range covers it completely.
fn buckets_fraction(lo: f64, hi: f64, buckets: &[(f64, f64, f64)], total: f64) -> f64 {
    if total == 0.0 || lo.is_nan() || hi.is_nan() {
        return f64::NAN;
    }
    if lo >= hi {
        return 0.0;
    }
    let mut inside = 0.0;
    for &(lower, upper, count) in buckets {
        let (a, b) = (lo.max(lower), hi.min(upper));
        if b < a || (b == a && lower != upper) {
            continue;
        }
        if a <= lower && b >= upper {
            inside += count;
        } else if (upper - lower).is_finite() && upper > lower {
            inside += count * (b - a) / (upper - lower);
        }
    }
    inside / total
}

/// `histogram_fraction` over classic buckets `(upper bound, cumulative
/// count)`.
fn classic_fraction(lo: f64, hi: f64, buckets: &mut [(f64, f64)]) -> f64 {
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let mut list = Vec::with_capacity(buckets.len());
    let (mut prev_upper, mut prev_count) = (f64::NAN, 0.0);
    for (i, &(upper, count)) in buckets.iter().enumerate() {
        let lower = if i > 0 {
            prev_upper
        } else if upper > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        if i > 0 && upper == prev_upper {
            continue;
        }
        list.push((lower, upper, count - prev_count));
        prev_upper = upper;
        prev_count = count;
    }
    buckets_fraction(lo, hi, &list, prev_count)
}

/// The q-quantile of a native histogram: find the bucket holding the
/// rank (from the top for q >= 0.5, which is more precise, unless NaN
/// observations make the top unreliable) and interpolate inside it.
fn hist_quantile(q: f64, h: &FloatHistogram) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let buckets: Vec<_> = h
        .all_buckets()
        .into_iter()
        .filter(|b| b.count != 0.0)
        .collect();
    if buckets.is_empty() {
        return f64::NAN;
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut chosen = buckets[0];
    let mut visit = |b: &beacon_model::histogram::Bucket| {
        count += b.count;
        chosen = *b;
        count >= rank
    };
    if forward {
        for b in &buckets {
            if visit(b) {
                break;
            }
        }
    } else {
        for b in buckets.iter().rev() {
            if visit(b) {
                break;
            }
        }
    }
    let mut b = chosen;
    if !h.uses_custom_buckets() && b.lower < 0.0 && b.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            b.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            b.upper = 0.0;
        }
    } else if h.uses_custom_buckets() {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return b.upper;
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return b.lower;
        }
    }
    count = count.min(h.count);
    if count < rank {
        return b.upper;
    }
    if forward {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    let fraction = rank / b.count;
    if !h.uses_custom_buckets() && b.lower > 0.0 && b.upper > 0.0 {
        // Exponential interpolation within exponential buckets.
        let lg = b.lower.ln();
        return (lg + (b.upper.ln() - lg) * fraction).exp();
    }
    if !h.uses_custom_buckets() && b.lower < 0.0 && b.upper < 0.0 {
        let lg = (-b.upper).ln();
        let ug = (-b.lower).ln();
        return -(ug - (ug - lg) * fraction).exp();
    }
    b.lower + (b.upper - b.lower) * fraction
}

/// Classic `histogram_quantile` over `(upper bound, cumulative count)`
/// buckets; the flag says monotonicity had to be forced.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    // Merge buckets with the same bound.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(u, c) in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == u => last.1 += c,
            _ => merged.push((u, c)),
        }
    }
    let mut forced = false;
    let mut prev = merged[0].1;
    for b in merged.iter_mut().skip(1) {
        let cur = b.1;
        if cur == prev {
            continue;
        }
        if almost_equal(prev, cur, SMALL_DELTA_TOLERANCE) {
            b.1 = prev;
            continue;
        }
        if cur < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = cur;
    }
    if merged.len() < 2 {
        return (f64::NAN, forced);
    }
    let total = merged[merged.len() - 1].1;
    if total == 0.0 || total.is_nan() {
        return (f64::NAN, forced);
    }
    let mut rank = q * total;
    let n = merged.len();
    let b = merged[..n - 1].partition_point(|x| x.1 < rank);
    if b == n - 1 {
        return (merged[n - 2].0, forced);
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return (merged[0].0, forced);
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

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
    // A split bucket reaching +Inf is dropped; one reaching -Inf is kept
    // whole when trimming from above and dropped when trimming from below.
    if b.upper == f64::INFINITY || (!keep_below && b.lower == f64::NEG_INFINITY) {
        return (0.0, lo, hi);
    }
    if b.lower == f64::NEG_INFINITY {
        return (1.0, lo, hi);
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
fn trim(h: &FloatHistogram, x: f64, keep_below: bool) -> FloatHistogram {
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
        if custom && lower == f64::NEG_INFINITY && b.upper > 0.0 && x >= 0.0 {
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
