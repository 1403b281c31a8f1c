//! Native and classic histogram support in the evaluator: histogram
//! arithmetic in binary operators and aggregations, `rate` over
//! histograms, and the `histogram_*` functions.

use std::collections::HashMap;
use std::sync::Arc;

use beacon_model::{FloatHistogram, Labels};

use super::rangefns::{Annotation, Ctx, Out};
use super::{Evaluator, Sample, Val, Vector};
use crate::ast::{BinOp, BinaryExpr, Call, PosRange};
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
            out.counter_reset_hint = derived_hint(h);
            Some((0.0, Some(Box::new(out))))
        }
        (BinOp::Div, Some(h), None) => {
            let mut out = h.clone();
            out.div(rf);
            out.counter_reset_hint = derived_hint(h);
            if rf == 0.0 {
                // Every bucket becomes Inf or NaN; Prometheus keeps only the
                // totals and the zero bucket.
                out.positive_spans.clear();
                out.positive_buckets.clear();
                out.negative_spans.clear();
                out.negative_buckets.clear();
            }
            Some((0.0, Some(Box::new(out))))
        }
        (BinOp::TrimUpper | BinOp::TrimLower, Some(h), None) => {
            let out = super::trim::trim(h, rf, b.op == BinOp::TrimUpper);
            Some((0.0, Some(Box::new(out))))
        }
        (BinOp::Eql | BinOp::Neq, Some(l), Some(r)) => {
            let eq = same_histogram(l, r);
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
    let refs: Vec<&FloatHistogram> = c.hists.iter().map(|h| &*h.1).collect();
    let scale = if c.name == "avg_over_time" {
        1.0 / refs.len() as f64
    } else {
        1.0
    };
    match beacon_model::histogram::sum_histograms(&refs, scale) {
        Ok((mut h, reconciled)) => {
            if reconciled {
                annos.push(Annotation::Info(
                    "mismatched custom buckets were reconciled during aggregation".into(),
                ));
            }
            h.counter_reset_hint = combined_hint(refs.iter().map(|h| h.counter_reset_hint));
            h.compact();
            Out::H(h)
        }
        Err(_) => {
            annos.push(Annotation::Warn(format!(
                "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                c.metric_name
            )));
            Out::None
        }
    }
}

/// Equality of histogram values, ignoring the counter-reset hint.
fn same_histogram(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    a.counter_reset_hint == b.counter_reset_hint && a == b || {
        let mut b2 = b.clone();
        b2.counter_reset_hint = a.counter_reset_hint;
        *a == b2
    }
}

/// `changes` and `resets` over a window holding histograms (and maybe
/// floats): samples are taken in time order, and a switch between a float
/// and a histogram counts as a change and as a reset.
pub(crate) fn hist_changes(c: &Ctx<'_>) -> Out {
    enum Point<'a> {
        F(f64),
        H(&'a FloatHistogram),
    }
    let mut points: Vec<(i64, Point<'_>)> = c
        .floats
        .iter()
        .map(|p| (p.0, Point::F(p.1)))
        .chain(c.hists.iter().map(|p| (p.0, Point::H(&p.1))))
        .collect();
    points.sort_by_key(|p| p.0);
    let changes = c.name == "changes";
    let mut n = 0.0;
    for w in points.windows(2) {
        let hit = match (&w[0].1, &w[1].1) {
            (Point::F(a), Point::F(b)) if changes => a != b && !(a.is_nan() && b.is_nan()),
            (Point::F(a), Point::F(b)) => b < a,
            (Point::H(a), Point::H(b)) if changes => !same_histogram(a, b),
            (Point::H(a), Point::H(b)) => b.detect_reset(a),
            _ => true,
        };
        if hit {
            n += 1.0;
        }
    }
    Out::F(n)
}

/// The raw increase (or, for gauges, the change) of a histogram series
/// over a window, as Prometheus's `histogramRate`: last minus first, plus
/// the value before every counter reset. A reset right after the first
/// sample makes the first sample count as empty, so its bucket layout
/// does not matter. `None` when the histograms cannot be combined.
pub(crate) fn hist_rate(
    hs: &[(i64, Arc<FloatHistogram>)],
    counter: bool,
    metric_name: &str,
    annos: &mut Vec<Annotation>,
) -> Option<FloatHistogram> {
    use beacon_model::CounterResetHint::Gauge;
    let mixed = || {
        Annotation::Warn(format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {metric_name:?}"
        ))
    };
    let not_counter = || {
        Annotation::Warn(format!(
            "this native histogram metric is not a counter: {metric_name:?}"
        ))
    };
    let last = &hs[hs.len() - 1].1;
    let mut prev: FloatHistogram = (*hs[0].1).clone();
    if counter && (prev.counter_reset_hint == Gauge || last.counter_reset_hint == Gauge) {
        annos.push(not_counter());
    }
    if counter && hs.len() > 1 && hs[1].1.detect_reset(&prev) {
        prev = FloatHistogram {
            schema: hs[1].1.schema,
            custom_values: hs[1].1.custom_values.clone(),
            ..Default::default()
        };
    }
    let custom = prev.uses_custom_buckets();
    if last.uses_custom_buckets() != custom {
        annos.push(mixed());
        return None;
    }
    for (_, h) in &hs[1..hs.len() - 1] {
        if counter && h.counter_reset_hint == Gauge {
            annos.push(not_counter());
        }
        if h.uses_custom_buckets() != custom {
            annos.push(mixed());
            return None;
        }
    }
    let mut out = (**last).clone();
    match out.add_signed(&prev, -1.0) {
        Ok(true) => annos.push(Annotation::Info(
            "mismatched custom buckets were reconciled during subtraction".into(),
        )),
        Ok(false) => {}
        Err(_) => {
            annos.push(mixed());
            return None;
        }
    }
    if counter {
        let mut p: &FloatHistogram = &prev;
        for (_, cur) in &hs[1..] {
            if cur.detect_reset(p) {
                match out.add_signed(p, 1.0) {
                    Ok(true) => annos.push(Annotation::Info(
                        "mismatched custom buckets were reconciled during addition".into(),
                    )),
                    Ok(false) => {}
                    Err(_) => {
                        annos.push(mixed());
                        return None;
                    }
                }
            }
            p = cur;
        }
    } else if hs[0].1.counter_reset_hint != Gauge || last.counter_reset_hint != Gauge {
        annos.push(Annotation::Warn(format!(
            "this native histogram metric is not a gauge: {metric_name:?}"
        )));
    }
    out.counter_reset_hint = Gauge;
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
    use beacon_model::CounterResetHint::Gauge;
    let gauges = [cur, prev].map(|h| h.counter_reset_hint == Gauge);
    if rate && gauges.iter().any(|g| *g) {
        annos.push(Annotation::Warn(format!(
            "this native histogram metric is not a counter: {:?}",
            c.metric_name
        )));
    }
    if !rate && !gauges.iter().all(|g| *g) {
        annos.push(Annotation::Warn(format!(
            "this native histogram metric is not a gauge: {:?}",
            c.metric_name
        )));
    }
    let mut out = cur.clone();
    let reset = rate && cur.detect_reset(prev);
    if !reset {
        match out.add_signed(prev, -1.0) {
            Ok(true) => annos.push(Annotation::Info(
                "mismatched custom buckets were reconciled during subtraction".into(),
            )),
            Ok(false) => {}
            Err(_) => {
                annos.push(Annotation::Warn(format!(
                    "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
                    c.metric_name
                )));
                return Out::None;
            }
        }
    }
    if rate {
        out.div(interval as f64 / 1000.0);
    }
    out.counter_reset_hint = beacon_model::CounterResetHint::Gauge;
    out.compact();
    Out::H(out)
}

impl Evaluator<'_> {
    /// Sums histograms (each scaled by `scale`) for an aggregation,
    /// raising Prometheus's annotations; `None` when they cannot be added.
    pub(crate) fn sum_hists(
        &mut self,
        hs: &[&FloatHistogram],
        scale: f64,
        name: &str,
        pos: PosRange,
        what: &str,
    ) -> Option<FloatHistogram> {
        match beacon_model::histogram::sum_histograms(hs, scale) {
            Ok((mut h, reconciled)) => {
                if reconciled {
                    self.info(
                        format!("mismatched custom buckets were reconciled during {what}"),
                        pos,
                    );
                }
                h.counter_reset_hint = combined_hint(hs.iter().map(|h| h.counter_reset_hint));
                h.compact();
                Some(h)
            }
            Err(_) => {
                self.warn(
                    format!("vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"),
                    pos,
                );
                None
            }
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
                    out.push(self.histogram_quantile_step(HistOp::Quantile(q[i]), vec, pos)?);
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
                    )?);
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
                for mut s in self.histogram_quantile_step(HistOp::Quantile(qv), vec.clone(), pos)? {
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

    /// A quantile or fraction of one native histogram, with the
    /// annotations for NaN observations (a NaN sum with fewer observations
    /// in buckets than the count).
    fn native_hist_op(&mut self, op: HistOp, h: &FloatHistogram, name: &str, pos: PosRange) -> f64 {
        let observed = h.zero_count
            + h.positive_buckets.iter().sum::<f64>()
            + h.negative_buckets.iter().sum::<f64>();
        let has_nan = h.sum.is_nan() && observed < h.count;
        match op {
            HistOp::Quantile(q) => {
                if has_nan && (0.0..=1.0).contains(&q) {
                    if q * h.count > observed {
                        self.info(
                            format!("input to histogram_quantile has NaN observations, result is NaN for metric name {name:?}"),
                            pos,
                        );
                        return f64::NAN;
                    }
                    self.info(
                        format!("input to histogram_quantile has NaN observations, result is skewed higher for metric name {name:?}"),
                        pos,
                    );
                }
                hist_quantile(q, h)
            }
            HistOp::Fraction(lo, hi) => {
                if has_nan {
                    self.info(
                        format!("input to histogram_fraction has NaN observations, which are excluded from all fractions for metric name {name:?}"),
                        pos,
                    );
                }
                hist_fraction(lo, hi, h)
            }
        }
    }

    fn histogram_quantile_step(
        &mut self,
        op: HistOp,
        vec: Vector,
        pos: PosRange,
    ) -> Result<Vector> {
        let mut out = Vec::new();
        // Classic buckets grouped by their labels without `le`.
        let mut groups: Vec<ClassicGroup> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut natives: Vec<Sample> = Vec::new();
        for s in vec {
            if let Some(h) = &s.h {
                let name = s.metric.get("__name__").unwrap_or("");
                let v = self.native_hist_op(op, h, name, pos);
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
                let name = s.metric.get("__name__").unwrap_or("").to_owned();
                groups.push((key, name, Vec::new()));
                groups.len() - 1
            });
            // Two series with the same labels apart from their name collide
            // once the name is dropped.
            if groups[i]
                .2
                .iter()
                .any(|b: &(f64, f64)| b.0.to_bits() == upper.to_bits())
                && s.metric.get("__name__").unwrap_or("") != groups[i].1
            {
                return Err(crate::error::Error::Eval(
                    "vector cannot contain metrics with the same labelset".into(),
                ));
            }
            groups[i].2.push((upper, s.f));
        }
        let native_keys: std::collections::HashSet<Labels> = natives
            .iter()
            .map(|s| super::drop_metric_name(&s.metric))
            .collect();
        let mut groups_seen = std::collections::HashSet::new();
        for (labels, name, mut buckets) in groups {
            if native_keys.contains(&labels) {
                groups_seen.insert(labels.clone());
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
                    format!("input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}"),
                    pos,
                );
            }
            out.push(Sample::float(labels, v));
        }
        // Native and classic histograms of the same series are ambiguous:
        // both are dropped (with the warning above).
        let mixed: std::collections::HashSet<Labels> = groups_seen;
        out.extend(
            natives
                .into_iter()
                .filter(|s| !mixed.contains(&super::drop_metric_name(&s.metric))),
        );
        Ok(out)
    }
}

/// Classic buckets of one series group: labels without `le`, the metric
/// name, and `(upper bound, cumulative count)` pairs.
type ClassicGroup = (Labels, String, Vec<(f64, f64)>);

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
        let val = if h.uses_custom_buckets() {
            // The first custom bucket starts at 0 when its bound is positive.
            let lower = if b.lower == f64::NEG_INFINITY && b.upper > 0.0 {
                0.0
            } else {
                b.lower
            };
            (lower + b.upper) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
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
    let buckets = native_buckets(h);
    buckets_fraction(lo, hi, &buckets, h.count)
}

/// A native histogram's non-empty buckets as `(lower, upper, count)`,
/// with Prometheus's natural bounds: a zero bucket of a one-sided
/// histogram ends at 0, and the first custom bucket starts at 0 when its
/// upper bound is positive.
fn native_buckets(h: &FloatHistogram) -> Vec<FracBucket> {
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
            let exponential = !h.uses_custom_buckets()
                && lower != 0.0
                && upper != 0.0
                && lower.signum() == upper.signum();
            (lower, upper, b.count, exponential)
        })
        .collect()
}

/// The share of `total` observations in `(lo, hi]`, interpolating
/// linearly inside buckets; a bucket of infinite width counts only when the
/// range covers it completely.
/// `(lower, upper, count, exponential)`: a bucket for fraction estimates;
/// exponential buckets interpolate in log space.
type FracBucket = (f64, f64, f64, bool);

fn buckets_fraction(lo: f64, hi: f64, buckets: &[FracBucket], total: f64) -> f64 {
    if total == 0.0 || lo.is_nan() || hi.is_nan() {
        return f64::NAN;
    }
    if lo >= hi {
        return 0.0;
    }
    let mut inside = 0.0;
    for &(lower, upper, count, exponential) in buckets {
        let (a, b) = (lo.max(lower), hi.min(upper));
        if b < a || (b == a && lower != upper) {
            continue;
        }
        if a <= lower && b >= upper {
            inside += count;
        } else if (upper == f64::INFINITY && hi == f64::INFINITY)
            || (lower == f64::NEG_INFINITY && lo == f64::NEG_INFINITY)
        {
            // An infinitely wide bucket counts whole when the range reaches
            // its open end, and not at all otherwise.
            inside += count;
        } else if exponential {
            let ln = |v: f64| v.abs().ln();
            inside += count * ((ln(b) - ln(a)) / (ln(upper) - ln(lower))).abs();
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
        list.push((lower, upper, count - prev_count, false));
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

/// The counter-reset hint of a histogram derived from `h` by scaling or
/// aggregation: a gauge stays a gauge, anything else becomes unknown.
pub(crate) fn derived_hint(h: &FloatHistogram) -> beacon_model::CounterResetHint {
    match h.counter_reset_hint {
        beacon_model::CounterResetHint::Gauge => beacon_model::CounterResetHint::Gauge,
        _ => beacon_model::CounterResetHint::Unknown,
    }
}

/// The hint of a sum of histograms: a gauge if any input is one, "not a
/// reset" if all inputs say so, unknown otherwise.
pub(crate) fn combined_hint(
    hints: impl Iterator<Item = beacon_model::CounterResetHint>,
) -> beacon_model::CounterResetHint {
    use beacon_model::CounterResetHint as H;
    let mut all_not_reset = true;
    for h in hints {
        if h == H::Gauge {
            return H::Gauge;
        }
        all_not_reset &= h == H::NotCounterReset;
    }
    if all_not_reset {
        H::NotCounterReset
    } else {
        H::Unknown
    }
}

/// `rate`/`increase`/`delta` over an `anchored`/`smoothed` histogram
/// window (boundary samples already in place): last minus first, plus
/// the value before every counter reset.
pub(crate) fn extended_hist_rate(
    c: &Ctx<'_>,
    counter: bool,
    rate: bool,
    annos: &mut Vec<Annotation>,
) -> Out {
    let hs = c.hists;
    if !c.floats.is_empty() {
        annos.push(Annotation::Warn(format!(
            "encountered a mix of histograms and floats for metric name {:?}",
            c.metric_name
        )));
        return Out::None;
    }
    if hs.len() < 2 {
        return Out::None;
    }
    use beacon_model::CounterResetHint::Gauge;
    if !counter && hs.iter().any(|h| h.1.counter_reset_hint != Gauge) {
        annos.push(Annotation::Warn(format!(
            "this native histogram metric is not a gauge: {:?}",
            c.metric_name
        )));
    }
    if counter && hs.iter().any(|h| h.1.counter_reset_hint == Gauge) {
        annos.push(Annotation::Warn(format!(
            "this native histogram metric is not a counter: {:?}",
            c.metric_name
        )));
    }
    let mixed = || {
        Annotation::Warn(format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}",
            c.metric_name
        ))
    };
    let mut out = (*hs[hs.len() - 1].1).clone();
    if out.add_signed(&hs[0].1, -1.0).is_err() {
        annos.push(mixed());
        return Out::None;
    }
    if counter {
        for w in hs.windows(2) {
            if w[1].1.detect_reset(&w[0].1) && out.add_signed(&w[0].1, 1.0).is_err() {
                annos.push(mixed());
                return Out::None;
            }
        }
    }
    if rate {
        out.div(c.range as f64 / 1000.0);
    }
    out.counter_reset_hint = beacon_model::CounterResetHint::Gauge;
    out.compact();
    Out::H(out)
}
