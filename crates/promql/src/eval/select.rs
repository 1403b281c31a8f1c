//! Reading from storage: instant vector selectors (with lookback and
//! staleness), range selectors and subqueries, and the per-step windows
//! `(t - range, t]` that range functions consume.

use std::collections::HashMap;
use std::sync::Arc;

use beacon_model::{FloatHistogram, Labels, is_stale_nan};
use beacon_storage::ValueType as StoredType;

use super::{Evaluator, Sample, SeriesData, Val, Vector};
use crate::ast::{AtModifier, DurationExpr, Expr, MatrixSelector, SubqueryExpr, VectorSelector};
use crate::error::{Error, Result};

/// A range-vector argument: raw series plus how to cut per-step windows.
pub(crate) struct RangeArg {
    pub series: Vec<SeriesData>,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
    pub anchored: bool,
    pub smoothed: bool,
    /// Whether the argument is a plain range selector (for annotations).
    pub is_selector: bool,
    /// The function consuming the argument.
    pub func: &'static str,
}

impl Evaluator<'_> {
    pub(crate) fn dur_ms(&self, d: &Option<DurationExpr>) -> i64 {
        d.as_ref().map_or(0, |d| {
            d.eval_ms(self.query_step, self.query_end - self.query_start)
        })
    }

    pub(crate) fn at_ms(&self, at: Option<AtModifier>) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::Time(t) => t,
            AtModifier::Start => self.query_start,
            AtModifier::End => self.query_end,
        })
    }

    /// Reads the series matching `vs` with samples in `[mint, maxt]`.
    pub(crate) fn load(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
        keep_stale: bool,
    ) -> Result<Vec<SeriesData>> {
        let querier = self
            .q
            .querier(mint, maxt)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let selected = querier
            .select(&vs.matchers)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let mut out = Vec::with_capacity(selected.len());
        for mut s in selected {
            self.tick()?;
            let mut data = SeriesData {
                metric: s.labels,
                ..Default::default()
            };
            let mut vt = s.samples.seek(mint);
            loop {
                match vt {
                    StoredType::None => break,
                    StoredType::Float => {
                        let (t, v) = s.samples.at();
                        if t > maxt {
                            break;
                        }
                        if keep_stale || !is_stale_nan(v) {
                            data.floats.push((t, v));
                        }
                    }
                    StoredType::Histogram | StoredType::FloatHistogram => {
                        let (t, h) = s.samples.at_float_histogram();
                        if t > maxt {
                            break;
                        }
                        if keep_stale || !is_stale_nan(h.sum) {
                            data.hists.push((t, Arc::new(h)));
                        }
                    }
                }
                vt = s.samples.next();
            }
            if let Some(e) = s.samples.err() {
                return Err(Error::Storage(e.to_string()));
            }
            self.add_samples(data.floats.len() + data.hists.len())?;
            out.push(data);
        }
        Ok(out)
    }

    /// The first and last reference times of a selector over all steps.
    fn ref_bounds(&self, at: Option<i64>, offset: i64) -> (i64, i64) {
        match at {
            Some(a) => (a - offset, a - offset),
            None => (self.start - offset, self.end - offset),
        }
    }

    pub(crate) fn eval_vector_selector(&mut self, vs: &VectorSelector) -> Result<Val> {
        self.select_instant(vs, false).map(Val::Vector)
    }

    /// An instant selector per step; with `want_ts` each value is the
    /// sample's timestamp in seconds (for `timestamp()`).
    pub(crate) fn select_instant(
        &mut self,
        vs: &VectorSelector,
        want_ts: bool,
    ) -> Result<Vec<Vector>> {
        let offset = self.dur_ms(&vs.offset);
        let at = self.at_ms(vs.at);
        let lookback = self.opts.lookback_delta_ms;
        let (first, last) = self.ref_bounds(at, offset);
        let ahead = if vs.smoothed { lookback } else { 0 };
        let series = self.load(vs, first - lookback + 1, last + ahead, true)?;
        let n = self.n_steps();
        let mut out: Vec<Vector> = (0..n).map(|_| Vec::new()).collect();
        for s in series {
            let (mut fi, mut hi) = (0usize, 0usize);
            for (i, slot) in out.iter_mut().enumerate() {
                // Per step too: a subquery with a tiny step has millions.
                self.tick()?;
                let r = at.unwrap_or(self.start + self.step * i as i64) - offset;
                while fi < s.floats.len() && s.floats[fi].0 <= r {
                    fi += 1;
                }
                while hi < s.hists.len() && s.hists[hi].0 <= r {
                    hi += 1;
                }
                let f = (fi > 0)
                    .then(|| s.floats[fi - 1])
                    .filter(|p| p.0 > r - lookback);
                let h = (hi > 0)
                    .then(|| &s.hists[hi - 1])
                    .filter(|p| p.0 > r - lookback);
                if vs.smoothed && !want_ts {
                    let near = |t: i64| t > r - lookback && t <= r + lookback;
                    let has_f = s.floats.iter().any(|p| near(p.0));
                    let has_h = s.hists.iter().any(|p| near(p.0));
                    let name = s.metric.get("__name__").unwrap_or("");
                    if has_f && has_h {
                        self.warn(
                            format!("encountered a mix of histograms and floats for metric name {name:?}"),
                            vs.pos,
                        );
                        continue;
                    }
                    match smoothed_hist(&s.hists, hi, r, lookback) {
                        Some(Some(h)) => slot.push(Sample {
                            metric: s.metric.clone(),
                            f: 0.0,
                            h: Some(Box::new(h)),
                            drop_name: false,
                        }),
                        Some(None) => self.warn(
                            format!("vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"),
                            vs.pos,
                        ),
                        None => {
                            if let Some(v) = smoothed_value(&s.floats, fi, r, lookback) {
                                slot.push(Sample::float(s.metric.clone(), v));
                            }
                        }
                    }
                    continue;
                }
                let sample = match (f, h) {
                    (Some(f), Some(h)) if h.0 > f.0 => hist_sample(&s.metric, h.0, &h.1, want_ts),
                    (Some(f), _) => {
                        if is_stale_nan(f.1) {
                            continue;
                        }
                        let v = if want_ts { f.0 as f64 / 1000.0 } else { f.1 };
                        Some(Sample::float(s.metric.clone(), v))
                    }
                    (None, Some(h)) => hist_sample(&s.metric, h.0, &h.1, want_ts),
                    (None, None) => continue,
                };
                if let Some(sample) = sample {
                    slot.push(sample);
                }
            }
        }
        let total: usize = out.iter().map(Vec::len).sum();
        self.add_samples(total)?;
        Ok(out)
    }

    /// Evaluates a range argument (range selector or subquery).
    pub(crate) fn eval_range_arg(&mut self, e: &Expr) -> Result<RangeArg> {
        match e {
            Expr::Paren { expr, .. } => self.eval_range_arg(expr),
            Expr::Matrix(ms) => self.load_matrix(ms),
            Expr::Subquery(sq) => self.eval_subquery(sq),
            _ => Err(Error::Eval("expected range vector".into())),
        }
    }

    fn load_matrix(&mut self, ms: &MatrixSelector) -> Result<RangeArg> {
        let offset = self.dur_ms(&ms.vs.offset);
        let at = self.at_ms(ms.vs.at);
        let range = ms
            .range
            .eval_ms(self.query_step, self.query_end - self.query_start);
        let (first, last) = self.ref_bounds(at, offset);
        // Anchored and smoothed windows also look at the sample before the
        // window (and smoothed at the one after it).
        let extra = if ms.anchored || ms.smoothed {
            self.opts.lookback_delta_ms
        } else {
            0
        };
        let after = if ms.smoothed {
            self.opts.lookback_delta_ms
        } else {
            0
        };
        let series = self.load(&ms.vs, first - range + 1 - extra, last + after, false)?;
        Ok(RangeArg {
            series,
            range,
            offset,
            at,
            anchored: ms.anchored,
            smoothed: ms.smoothed,
            is_selector: true,
            func: "",
        })
    }

    /// Evaluates a subquery's inner expression at its own steps.
    pub(crate) fn eval_subquery(&mut self, sq: &SubqueryExpr) -> Result<RangeArg> {
        let offset = self.dur_ms(&sq.offset);
        let at = self.at_ms(sq.at);
        let qr = self.query_end - self.query_start;
        let range = sq.range.eval_ms(self.query_step, qr);
        let step = sq
            .step
            .as_ref()
            .map_or(self.opts.default_subquery_step_ms, |s| {
                s.eval_ms(self.query_step, qr)
            });
        if step <= 0 {
            return Err(Error::Eval(format!(
                "subquery step must be positive, got {}",
                beacon_model::format_duration_ms(step)
            )));
        }
        let (s, e) = match at {
            Some(a) => (a, a),
            None => (self.start, self.end),
        };
        let lo = s - offset - range;
        let mut new_start = step * (lo / step);
        if new_start <= lo {
            new_start += step;
        }
        let new_end = e - offset;
        let mut series = Vec::new();
        if new_end >= new_start {
            let mut child = self.child(new_start, new_end, step);
            let v = child.eval(&sq.expr);
            let steps = match v {
                Ok(Val::Vector(steps)) => steps,
                Ok(Val::Scalar(vals)) => vals
                    .into_iter()
                    .map(|v| vec![super::Sample::float(Labels::empty(), v)])
                    .collect(),
                Ok(_) => Vec::new(),
                Err(e) => return Err(e),
            };
            series = steps_to_series(&child, steps);
            self.absorb(child);
        }
        Ok(RangeArg {
            series,
            range,
            offset,
            at,
            anchored: false,
            smoothed: false,
            is_selector: false,
            func: "",
        })
    }

    /// A range selector evaluated at one time (a top-level instant query).
    pub(crate) fn matrix_at(&mut self, ms: &MatrixSelector, t: i64) -> Result<Vec<SeriesData>> {
        let arg = self.load_matrix(ms)?;
        Ok(window_series(&arg, t))
    }

    /// A subquery's series cut to the window at time `t`.
    pub(crate) fn window_all(
        &mut self,
        series: &RangeArg,
        _sq: &SubqueryExpr,
        t: i64,
    ) -> Vec<SeriesData> {
        window_series(series, t)
    }
}

/// The value of a `smoothed` instant selector at `r`: linear
/// interpolation between the samples around `r` (the newest one when
/// nothing follows). `fi` counts the samples at or before `r`.
fn smoothed_value(floats: &[(i64, f64)], fi: usize, r: i64, lookback: i64) -> Option<f64> {
    let before = (fi > 0)
        .then(|| floats[fi - 1])
        .filter(|p| p.0 > r - lookback && !is_stale_nan(p.1))?;
    if before.0 == r {
        return Some(before.1);
    }
    match floats
        .get(fi)
        .filter(|p| p.0 <= r + lookback && !is_stale_nan(p.1))
    {
        Some(after) => Some(
            before.1 + (after.1 - before.1) * (r - before.0) as f64 / (after.0 - before.0) as f64,
        ),
        None => Some(before.1),
    }
}

/// [`smoothed_value`] for histograms; `hi` counts samples at or before
/// `r`. `Some(None)` when the neighbours cannot be interpolated (mixed
/// exponential and custom buckets).
fn smoothed_hist(
    hs: &[(i64, Arc<FloatHistogram>)],
    hi: usize,
    r: i64,
    lookback: i64,
) -> Option<Option<FloatHistogram>> {
    let before = (hi > 0)
        .then(|| &hs[hi - 1])
        .filter(|p| p.0 > r - lookback)?;
    if before.0 == r {
        return Some(Some((*before.1).clone()));
    }
    match hs.get(hi).filter(|p| p.0 <= r + lookback) {
        Some(after) => {
            let frac = (r - before.0) as f64 / (after.0 - before.0) as f64;
            // Histograms that are not gauges are counters: a drop is a reset.
            let counter = after.1.counter_reset_hint != beacon_model::CounterResetHint::Gauge;
            Some(interpolate_hist(&before.1, &after.1, frac, counter))
        }
        None => Some(Some((*before.1).clone())),
    }
}

/// Linear interpolation at `t`; with `counter` a drop is a reset, so the
/// line runs from 0 up to the later value.
fn interpolate(p1: (i64, f64), p2: (i64, f64), t: i64, counter: bool) -> f64 {
    let (mut y1, y2) = (p1.1, p2.1);
    if counter && y2 < y1 {
        y1 = 0.0;
    }
    y1 + (y2 - y1) * (t - p1.0) as f64 / (p2.0 - p1.0) as f64
}

/// Cuts an `anchored`/`smoothed` window `[mint, maxt]` out of `floats`
/// (which reach one lookback beyond it), with synthetic samples exactly on
/// both boundaries: the nearest earlier sample's value (anchored) or an
/// interpolation (smoothed).
pub(crate) fn extend_floats(
    floats: &[(i64, f64)],
    mint: i64,
    maxt: i64,
    smoothed: bool,
    counter: bool,
    out: &mut Vec<(i64, f64)>,
) {
    out.clear();
    if floats.is_empty() {
        return;
    }
    let n = floats.len() - 1;
    let mut first = floats[..n]
        .partition_point(|p| p.0 <= mint)
        .saturating_sub(1);
    let mut last = n;
    if smoothed {
        last = floats[..n].partition_point(|p| p.0 < maxt);
        // No data at or before the window's end: nothing to smooth.
        if floats[first].0 > maxt {
            return;
        }
    } else if floats[last].0 > maxt {
        last = floats.partition_point(|p| p.0 <= maxt).saturating_sub(1);
    }
    if floats[last].0 <= mint {
        return;
    }
    let left = if smoothed && floats[first].0 < mint {
        interpolate(floats[first], floats[first + 1], mint, counter)
    } else {
        floats[first].1
    };
    let right = if smoothed && last > 0 && floats[last].0 > maxt {
        interpolate(floats[last - 1], floats[last], maxt, counter)
    } else {
        floats[last].1
    };
    if floats[first].0 <= mint {
        first += 1;
    }
    let mut end = last + 1;
    if floats[last].0 >= maxt {
        end = last;
    }
    out.push((mint, left));
    if end > first {
        out.extend_from_slice(&floats[first..end]);
    }
    out.push((maxt, right));
}

/// `p1 + (p2 - p1) * frac` for histograms; with `counter` a reset
/// between them makes the line start from an empty histogram. `None` when
/// the two cannot be combined.
fn interpolate_hist(
    p1: &FloatHistogram,
    p2: &FloatHistogram,
    frac: f64,
    counter: bool,
) -> Option<FloatHistogram> {
    let mut b = p2.clone();
    b.mul(frac);
    if counter && p2.detect_reset(p1) {
        return Some(b);
    }
    let mut a = p1.clone();
    a.mul(1.0 - frac);
    a.add_signed(&b, 1.0).ok()?;
    a.compact();
    Some(a)
}

/// The histogram counterpart of [`extend_floats`]: the window `[mint,
/// maxt]` with samples placed exactly on both boundaries. Empty when the
/// window has no data or the boundary histograms cannot be combined.
pub(crate) fn extend_hists(
    hs: &[(i64, Arc<FloatHistogram>)],
    mint: i64,
    maxt: i64,
    smoothed: bool,
    counter: bool,
) -> Vec<(i64, Arc<FloatHistogram>)> {
    if hs.is_empty() {
        return Vec::new();
    }
    let n = hs.len() - 1;
    let mut first = hs[..n].partition_point(|p| p.0 <= mint).saturating_sub(1);
    let mut last = n;
    if smoothed {
        last = hs[..n].partition_point(|p| p.0 < maxt);
        if hs[first].0 > maxt {
            return Vec::new();
        }
    }
    if hs[last].0 <= mint {
        return Vec::new();
    }
    let frac = |a: i64, b: i64, t: i64| (t - a) as f64 / (b - a) as f64;
    let left = if smoothed && hs[first].0 < mint {
        let (p1, p2) = (&hs[first], &hs[first + 1]);
        match interpolate_hist(&p1.1, &p2.1, frac(p1.0, p2.0, mint), counter) {
            Some(h) => Arc::new(h),
            None => return Vec::new(),
        }
    } else {
        hs[first].1.clone()
    };
    let right = if smoothed && last > 0 && hs[last].0 > maxt {
        let (p1, p2) = (&hs[last - 1], &hs[last]);
        match interpolate_hist(&p1.1, &p2.1, frac(p1.0, p2.0, maxt), counter) {
            Some(h) => Arc::new(h),
            None => return Vec::new(),
        }
    } else {
        hs[last].1.clone()
    };
    if hs[first].0 <= mint {
        first += 1;
    }
    let end = if hs[last].0 >= maxt { last } else { last + 1 };
    let mut out = Vec::with_capacity(end.saturating_sub(first) + 2);
    out.push((mint, left));
    if end > first {
        out.extend_from_slice(&hs[first..end]);
    }
    out.push((maxt, right));
    out
}

fn hist_sample(
    metric: &Labels,
    t: i64,
    h: &Arc<beacon_model::FloatHistogram>,
    want_ts: bool,
) -> Option<Sample> {
    if is_stale_nan(h.sum) {
        return None;
    }
    if want_ts {
        return Some(Sample::float(metric.clone(), t as f64 / 1000.0));
    }
    Some(Sample {
        metric: metric.clone(),
        f: 0.0,
        h: Some(Box::new((**h).clone())),
        drop_name: false,
    })
}

/// Every series' samples inside the window that ends at `t`, dropping
/// series left empty.
fn window_series(arg: &RangeArg, t: i64) -> Vec<SeriesData> {
    let r = arg.at.unwrap_or(t) - arg.offset;
    let lo = r - arg.range;
    arg.series
        .iter()
        .filter_map(|s| {
            let floats: Vec<(i64, f64)> = s
                .floats
                .iter()
                .filter(|p| p.0 > lo && p.0 <= r)
                .copied()
                .collect();
            let hists: Vec<_> = s
                .hists
                .iter()
                .filter(|p| p.0 > lo && p.0 <= r)
                .cloned()
                .collect();
            (!floats.is_empty() || !hists.is_empty()).then(|| SeriesData {
                metric: s.metric.clone(),
                floats,
                hists,
                drop_name: s.drop_name,
            })
        })
        .collect()
}

/// Groups per-step vectors into series (a subquery's output).
pub(crate) fn steps_to_series(ev: &Evaluator<'_>, steps: Vec<Vector>) -> Vec<SeriesData> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<SeriesData> = Vec::new();
    for (i, vec) in steps.into_iter().enumerate() {
        let t = ev.ts(i);
        for s in vec {
            let idx = *index.entry(s.metric.clone()).or_insert_with(|| {
                out.push(SeriesData {
                    metric: s.metric.clone(),
                    drop_name: s.drop_name,
                    ..Default::default()
                });
                out.len() - 1
            });
            match s.h {
                Some(mut h) => {
                    // A subquery may repeat a sample at several steps, so a
                    // stored reset hint no longer describes the step before;
                    // resets are detected from the values instead.
                    if h.counter_reset_hint != beacon_model::CounterResetHint::Gauge {
                        h.counter_reset_hint = beacon_model::CounterResetHint::Unknown;
                    }
                    out[idx].hists.push((t, Arc::new(*h)))
                }
                None => out[idx].floats.push((t, s.f)),
            }
        }
    }
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    out
}

/// Cuts per-step windows `(ref - range, ref]` out of one series, calling
/// `f(step, floats, hists)` for each step. Pointers only move forward.
pub(crate) fn for_each_window<F>(
    ev: &Evaluator<'_>,
    arg: &RangeArg,
    s: &SeriesData,
    mut f: F,
) -> Result<()>
where
    F: FnMut(usize, &[(i64, f64)], &[(i64, Arc<beacon_model::FloatHistogram>)]) -> Result<()>,
{
    if arg.anchored || arg.smoothed {
        let lookback = ev.opts.lookback_delta_ms;
        let counter = matches!(arg.func, "rate" | "increase");
        let mut buf = Vec::new();
        for i in 0..ev.n_steps() {
            let r = arg.at.unwrap_or(ev.ts(i)) - arg.offset;
            let lo = r - arg.range;
            let ahead = if arg.smoothed { lookback } else { 0 };
            let a = s.floats.partition_point(|p| p.0 <= lo - lookback);
            let b = s.floats.partition_point(|p| p.0 <= r + ahead);
            let ha = s.hists.partition_point(|p| p.0 <= lo - lookback);
            let hb = s.hists.partition_point(|p| p.0 <= r + ahead);
            if arg.anchored && a < b && ha < hb {
                // Floats and histograms together: anchor on the newest
                // sample of either kind at or before the window start.
                let (fl, hs) = (&s.floats[a..b], &s.hists[ha..hb]);
                let last_f = fl.iter().rev().find(|p| p.0 <= lo).map(|p| p.0);
                let last_h = hs.iter().rev().find(|p| p.0 <= lo).map(|p| p.0);
                let anchor = last_f.max(last_h).unwrap_or(i64::MIN);
                let fl: Vec<(i64, f64)> = fl.iter().filter(|p| p.0 >= anchor).copied().collect();
                let hs: Vec<_> = hs.iter().filter(|p| p.0 >= anchor).cloned().collect();
                f(i, &fl, &hs)?;
                continue;
            }
            extend_floats(&s.floats[a..b], lo, r, arg.smoothed, counter, &mut buf);
            let hbuf = extend_hists(&s.hists[ha..hb], lo, r, arg.smoothed, counter);
            f(i, &buf, &hbuf)?;
        }
        return Ok(());
    }
    let (mut flo, mut fhi, mut hlo, mut hhi) = (0usize, 0usize, 0usize, 0usize);
    for i in 0..ev.n_steps() {
        let r = arg.at.unwrap_or(ev.ts(i)) - arg.offset;
        let lo = r - arg.range;
        if arg.at.is_some() && i > 0 {
            // Same window every step.
        } else {
            while fhi < s.floats.len() && s.floats[fhi].0 <= r {
                fhi += 1;
            }
            while flo < fhi && s.floats[flo].0 <= lo {
                flo += 1;
            }
            while hhi < s.hists.len() && s.hists[hhi].0 <= r {
                hhi += 1;
            }
            while hlo < hhi && s.hists[hlo].0 <= lo {
                hlo += 1;
            }
        }
        f(i, &s.floats[flo..fhi], &s.hists[hlo..hhi])?;
    }
    Ok(())
}
