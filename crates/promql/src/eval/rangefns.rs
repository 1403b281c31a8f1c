//! Functions over range vectors: `rate` and friends (with Prometheus's
//! extrapolation), `*_over_time`, `deriv`, `predict_linear`, `changes`,
//! `resets`, `double_exponential_smoothing`.

use std::sync::Arc;

use beacon_model::FloatHistogram;

use super::aggr::{kahan_inc, quantile};
use super::select::{RangeArg, for_each_window};
use super::{Evaluator, Sample, Val, Vector};
use crate::ast::Call;
use crate::error::{Error, Result};
use crate::printer::format_float;

type Hists<'a> = &'a [(i64, Arc<FloatHistogram>)];

/// What a range function computes for one window.
pub(crate) enum Out {
    None,
    F(f64),
    H(FloatHistogram),
}

/// The mean of `vals`, summing directly while the sum stays finite and
/// switching to an incremental mean on overflow (as Prometheus does).
pub(crate) fn mean(vals: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c, mut m, mut count, mut incremental) = (0.0, 0.0, 0.0, 0.0, false);
    for f in vals {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_inc(f, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            m = if count > 1.0 {
                sum / (count - 1.0)
            } else {
                0.0
            };
            c = if count > 1.0 { c / (count - 1.0) } else { 0.0 };
        }
        let q = (count - 1.0) / count;
        (m, c) = kahan_inc(f / count, q * m, q * c);
    }
    if incremental {
        m + c
    } else {
        sum / count + c / count
    }
}

/// Slope and intercept of the least-squares line through `samples`, with
/// x measured in seconds from `intercept_t`.
pub(crate) fn linear_regression(samples: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init = samples[0].1;
    let mut const_y = true;
    for (i, &(t, f)) in samples.iter().enumerate() {
        if const_y && i > 0 && f != init {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(f, sy, cy);
        (sxy, cxy) = kahan_inc(x * f, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Names of range functions that keep the metric name.
fn keeps_name(name: &str) -> bool {
    matches!(name, "last_over_time" | "first_over_time")
}

impl Evaluator<'_> {
    /// Evaluates a function whose range argument is at `idx`.
    pub(crate) fn eval_range_call(&mut self, c: &Call, idx: usize) -> Result<Val> {
        let name = c.func.name;
        let mut scalars: Vec<Vec<f64>> = Vec::new();
        for (i, a) in c.args.iter().enumerate() {
            if i != idx {
                scalars.push(self.eval_scalar(a)?);
            }
        }
        let mut arg = self.eval_range_arg(&c.args[idx])?;
        arg.func = name;
        self.check_range_modifiers(name, &arg)?;
        if name == "quantile_over_time" {
            for q in &scalars[0] {
                if !(0.0..=1.0).contains(q) || q.is_nan() {
                    self.warn(
                        format!(
                            "quantile value should be between 0 and 1, got {}",
                            format_float(*q)
                        ),
                        c.args[0].pos(),
                    );
                }
            }
        }
        if name == "double_exponential_smoothing" {
            check_factor("smoothing", &scalars[0])?;
            check_factor("trend", &scalars[1])?;
        }
        let n = self.n_steps();
        let mut out: Vec<Vector> = (0..n).map(|_| Vec::new()).collect();
        if name == "absent_over_time" {
            return self.absent_over_time(c, &arg);
        }
        let keep = keeps_name(name);
        let mut annotations: Vec<Annotation> = Vec::new();
        for s in &arg.series {
            self.tick()?;
            let metric_name = s.metric.get("__name__").unwrap_or("").to_owned();
            for_each_window(self, &arg, s, |i, floats, hists| {
                let ts = arg.at.unwrap_or(self.ts(i)) - arg.offset;
                let ctx = Ctx {
                    name,
                    floats,
                    hists,
                    range_end: ts,
                    range: arg.range,
                    step_ts: self.ts(i),
                    scalars: [0, 1].map(|k| scalars.get(k).map_or(f64::NAN, |v| v[i])),
                    metric_name: &metric_name,
                    extended: arg.anchored || arg.smoothed,
                };
                let r = range_fn(&ctx, &mut annotations)?;
                let (f, h) = match r {
                    Out::None => return Ok(()),
                    Out::F(f) => (f, None),
                    Out::H(h) => (0.0, Some(Box::new(h))),
                };
                out[i].push(Sample {
                    metric: s.metric.clone(),
                    f,
                    h,
                    drop_name: !keep || s.drop_name,
                });
                Ok(())
            })?;
        }
        let pos = c.args[idx].pos();
        for a in annotations {
            match a {
                Annotation::Warn(m) => self.warn(m, pos),
                Annotation::Info(m) => self.info(m, pos),
            }
        }
        if name == "rate" || name == "increase" {
            self.counter_name_info(&arg, pos);
        }
        Ok(Val::Vector(out))
    }

    fn check_range_modifiers(&self, name: &str, arg: &RangeArg) -> Result<()> {
        if arg.anchored && !matches!(name, "changes" | "delta" | "increase" | "rate" | "resets") {
            return Err(Error::Eval(format!(
                "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with {name}"
            )));
        }
        if arg.smoothed && !matches!(name, "delta" | "increase" | "rate") {
            return Err(Error::Eval(format!(
                "smoothed modifier can only be used with: delta, increase, rate - not with {name}"
            )));
        }
        Ok(())
    }

    /// Prometheus's hint that `rate`/`increase` input may not be a counter.
    fn counter_name_info(&mut self, arg: &RangeArg, pos: crate::ast::PosRange) {
        if !arg.is_selector {
            return;
        }
        for s in &arg.series {
            if s.floats.is_empty() {
                continue;
            }
            let name = s.metric.get("__name__").unwrap_or("");
            let ok = ["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suf| name.ends_with(suf));
            let typ = s.metric.get("__type__");
            if !ok && typ != Some("counter") {
                self.info(
                    format!(
                        "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
                    ),
                    pos,
                );
            }
        }
    }

    fn absent_over_time(&mut self, c: &Call, arg: &RangeArg) -> Result<Val> {
        let n = self.n_steps();
        let labels = super::funcs::absent_labels(&c.args[0]);
        let mut out: Vec<Vector> = (0..n).map(|_| Vec::new()).collect();
        let mut present = vec![false; n];
        for s in &arg.series {
            for_each_window(self, arg, s, |i, f, h| {
                if !f.is_empty() || !h.is_empty() {
                    present[i] = true;
                }
                Ok(())
            })?;
        }
        for (i, p) in present.iter().enumerate() {
            if !p {
                out[i].push(Sample::float(labels.clone(), 1.0));
            }
        }
        Ok(Val::Vector(out))
    }
}

fn check_factor(what: &str, vals: &[f64]) -> Result<()> {
    for v in vals {
        if *v <= 0.0 || *v >= 1.0 || v.is_nan() {
            let short = if what == "smoothing" { "sf" } else { "tf" };
            return Err(Error::Eval(format!(
                "invalid {what} factor. Expected: 0 < {short} < 1, got: {v:.6}"
            )));
        }
    }
    Ok(())
}

/// An annotation raised inside a window computation.
pub(crate) enum Annotation {
    Warn(String),
    Info(String),
}

/// One window's inputs.
pub(crate) struct Ctx<'a> {
    pub name: &'a str,
    pub floats: &'a [(i64, f64)],
    pub hists: Hists<'a>,
    /// The window's end (step time minus offset).
    pub range_end: i64,
    pub range: i64,
    pub step_ts: i64,
    /// The function's scalar arguments at this step (NaN when absent).
    pub scalars: [f64; 2],
    pub metric_name: &'a str,
    /// The window came from an `anchored`/`smoothed` selector and already
    /// has samples on both boundaries.
    pub extended: bool,
}

fn range_fn(c: &Ctx<'_>, annos: &mut Vec<Annotation>) -> Result<Out> {
    let fl = c.floats;
    let name = c.name;
    let has_h = !c.hists.is_empty();
    let has_f = !fl.is_empty();
    if !has_h && !has_f {
        return Ok(Out::None);
    }
    match name {
        "rate" | "increase" | "delta" if c.extended && !c.hists.is_empty() => {
            return Ok(super::hist::extended_hist_rate(
                c,
                name != "delta",
                name == "rate",
                annos,
            ));
        }
        "rate" | "increase" | "delta" if c.extended => {
            return Ok(extended_rate(c, name != "delta", name == "rate"));
        }
        "rate" | "increase" | "delta" => {
            return Ok(extrapolated_rate(c, name != "delta", name == "rate", annos));
        }
        "irate" | "idelta" => return Ok(instant_value(c, name == "irate", annos)),
        "count_over_time" => return Ok(Out::F((fl.len() + c.hists.len()) as f64)),
        "present_over_time" => return Ok(Out::F(1.0)),
        "last_over_time" | "ts_of_last_over_time" => {
            let lf = fl.last();
            let lh = c.hists.last();
            let use_h = match (lf, lh) {
                (Some(f), Some(h)) => h.0 > f.0,
                (None, Some(_)) => true,
                _ => false,
            };
            if name == "ts_of_last_over_time" {
                let t = if use_h {
                    lh.map(|h| h.0)
                } else {
                    lf.map(|f| f.0)
                };
                return Ok(t.map_or(Out::None, |t| Out::F(t as f64 / 1000.0)));
            }
            return Ok(if use_h {
                lh.map_or(Out::None, |h| Out::H((*h.1).clone()))
            } else {
                lf.map_or(Out::None, |f| Out::F(f.1))
            });
        }
        "first_over_time" | "ts_of_first_over_time" => {
            let ff = fl.first();
            let fh = c.hists.first();
            let use_h = match (ff, fh) {
                (Some(f), Some(h)) => h.0 < f.0,
                (None, Some(_)) => true,
                _ => false,
            };
            if name == "ts_of_first_over_time" {
                let t = if use_h {
                    fh.map(|h| h.0)
                } else {
                    ff.map(|f| f.0)
                };
                return Ok(t.map_or(Out::None, |t| Out::F(t as f64 / 1000.0)));
            }
            return Ok(if use_h {
                fh.map_or(Out::None, |h| Out::H((*h.1).clone()))
            } else {
                ff.map_or(Out::None, |f| Out::F(f.1))
            });
        }
        "sum_over_time" | "avg_over_time" if has_h => {
            return Ok(super::hist::hist_over_time(c, annos));
        }
        "changes" | "resets" if has_h => return Ok(super::hist::hist_changes(c)),
        _ => {}
    }
    if has_h {
        if has_f {
            annos.push(Annotation::Info(format!(
                "ignored histograms in a range containing both floats and histograms for metric name {:?}",
                c.metric_name
            )));
        } else {
            return Ok(Out::None);
        }
    }
    if fl.is_empty() {
        return Ok(Out::None);
    }
    let vals = || fl.iter().map(|p| p.1);
    Ok(Out::F(match name {
        "sum_over_time" => {
            let (mut s, mut comp) = (0.0, 0.0);
            for v in vals() {
                (s, comp) = kahan_inc(v, s, comp);
            }
            s + comp
        }
        "avg_over_time" => mean(vals()),
        "min_over_time" | "max_over_time" => {
            let mut m = fl[0].1;
            for v in vals() {
                let better = if name == "max_over_time" {
                    v > m
                } else {
                    v < m
                };
                if better || m.is_nan() {
                    m = v;
                }
            }
            m
        }
        "ts_of_min_over_time" | "ts_of_max_over_time" => {
            let (mut t, mut m) = fl[0];
            for &(pt, v) in fl {
                let better = if name == "ts_of_max_over_time" {
                    v >= m
                } else {
                    v <= m
                };
                if better || m.is_nan() {
                    m = v;
                    t = pt;
                }
            }
            let _ = m;
            t as f64 / 1000.0
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut m, mut cm, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for v in vals() {
                count += 1.0;
                let delta = v - (m + cm);
                (m, cm) = kahan_inc(delta / count, m, cm);
                (aux, caux) = kahan_inc(delta * (v - (m + cm)), aux, caux);
            }
            let var = (aux + caux) / count;
            if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            }
        }
        "quantile_over_time" => {
            let mut v: Vec<f64> = vals().collect();
            quantile(c.scalars[0], &mut v)
        }
        "mad_over_time" if vals().any(f64::is_nan) => f64::NAN,
        "mad_over_time" => {
            let mut v: Vec<f64> = vals().collect();
            let med = quantile(0.5, &mut v);
            let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
            quantile(0.5, &mut dev)
        }
        "changes" => {
            let mut n = 0.0;
            for w in fl.windows(2) {
                let (p, cur) = (w[0].1, w[1].1);
                if cur != p && !(cur.is_nan() && p.is_nan()) {
                    n += 1.0;
                }
            }
            n
        }
        "resets" => fl.windows(2).filter(|w| w[1].1 < w[0].1).count() as f64,
        "deriv" => {
            if fl.len() < 2 {
                return Ok(Out::None);
            }
            linear_regression(fl, fl[0].0).0
        }
        "predict_linear" => {
            if fl.len() < 2 {
                return Ok(Out::None);
            }
            let (slope, icpt) = linear_regression(fl, c.step_ts);
            slope * c.scalars[0] + icpt
        }
        "double_exponential_smoothing" => {
            if fl.len() < 2 {
                return Ok(Out::None);
            }
            double_exp(fl, c.scalars[0], c.scalars[1])
        }
        _ => return Ok(Out::None),
    }))
}

fn double_exp(fl: &[(i64, f64)], sf: f64, tf: f64) -> f64 {
    let (mut s0, mut s1) = (0.0, fl[0].1);
    let mut b = fl[1].1 - fl[0].1;
    for (i, p) in fl.iter().enumerate().skip(1) {
        let x = sf * p.1;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    s1
}

/// `rate`, `increase` and `delta` with Prometheus's extrapolation to the
/// window boundaries.
fn extrapolated_rate(c: &Ctx<'_>, counter: bool, rate: bool, annos: &mut Vec<Annotation>) -> Out {
    let fl = c.floats;
    let hs = c.hists;
    if !fl.is_empty() && !hs.is_empty() {
        annos.push(Annotation::Warn(format!(
            "encountered a mix of histograms and floats for metric name {:?}",
            c.metric_name
        )));
        return Out::None;
    }
    let range_start = c.range_end - c.range;
    let (first_t, last_t, n_minus_one, mut result, mut hres, first_val);
    if hs.len() > 1 {
        n_minus_one = hs.len() - 1;
        first_t = hs[0].0;
        last_t = hs[n_minus_one].0;
        match super::hist::hist_rate(hs, counter, c.metric_name, annos) {
            Some(h) => hres = Some(h),
            None => return Out::None,
        }
        result = 0.0;
        first_val = hs[0].1.count;
    } else if fl.len() > 1 {
        n_minus_one = fl.len() - 1;
        first_t = fl[0].0;
        last_t = fl[n_minus_one].0;
        result = fl[n_minus_one].1 - fl[0].1;
        hres = None;
        first_val = fl[0].1;
        if counter {
            let mut prev = fl[0].1;
            for p in &fl[1..] {
                if p.1 < prev {
                    result += prev;
                }
                prev = p.1;
            }
        }
    } else {
        return Out::None;
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (c.range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / n_minus_one as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if counter {
        let total = hres.as_ref().map_or(result, |h| h.count);
        if total > 0.0 && first_val >= 0.0 {
            let to_zero = sampled * (first_val / total);
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if rate {
        factor /= c.range as f64 / 1000.0;
    }
    match hres.as_mut() {
        Some(h) => {
            h.mul(factor);
            Out::H(hres.unwrap_or_default())
        }
        None => {
            result *= factor;
            Out::F(result)
        }
    }
}

/// `rate`, `increase` and `delta` over an extended window: the change
/// between the boundary samples, corrected for counter resets, without
/// extrapolation.
fn extended_rate(c: &Ctx<'_>, counter: bool, rate: bool) -> Out {
    let fl = c.floats;
    if fl.len() < 2 {
        return Out::None;
    }
    let mut result = fl[fl.len() - 1].1 - fl[0].1;
    if counter {
        for w in fl.windows(2) {
            if w[1].1 < w[0].1 {
                result += w[0].1;
            }
        }
    }
    if rate {
        result /= c.range as f64 / 1000.0;
    }
    Out::F(result)
}

/// A sample of either kind: time, float value, histogram value.
type LastSample<'a> = (i64, Option<f64>, Option<&'a Arc<FloatHistogram>>);

/// `irate` and `idelta`: from the last two samples.
fn instant_value(c: &Ctx<'_>, rate: bool, annos: &mut Vec<Annotation>) -> Out {
    let fl = c.floats;
    let hs = c.hists;
    // The last two samples of either kind, in time order.
    let mut last: Vec<LastSample<'_>> = Vec::with_capacity(4);
    for p in fl.iter().rev().take(2) {
        last.push((p.0, Some(p.1), None));
    }
    for p in hs.iter().rev().take(2) {
        last.push((p.0, None, Some(&p.1)));
    }
    last.sort_by_key(|x| std::cmp::Reverse(x.0));
    if last.len() < 2 {
        return Out::None;
    }
    let (cur, prev) = (&last[0], &last[1]);
    let interval = cur.0 - prev.0;
    if interval == 0 {
        return Out::None;
    }
    match (cur.1, prev.1, cur.2, prev.2) {
        (Some(a), Some(b), _, _) => {
            let mut v = if rate && a < b { a } else { a - b };
            if rate {
                v /= interval as f64 / 1000.0;
            }
            Out::F(v)
        }
        (None, None, Some(a), Some(b)) => super::hist::hist_instant(a, b, interval, rate, c, annos),
        _ => {
            annos.push(Annotation::Warn(format!(
                "encountered a mix of histograms and floats for metric name {:?}",
                c.metric_name
            )));
            Out::None
        }
    }
}
