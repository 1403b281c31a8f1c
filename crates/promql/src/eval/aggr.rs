//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, ...), computed
//! per step over groups of series.

use std::collections::HashMap;

use beacon_model::{FloatHistogram, Labels};

use super::{Evaluator, Sample, Val, Vector};
use crate::ast::{AggOp, AggregateExpr};
use crate::error::{Error, Result};
use crate::printer::format_float;

/// Neumaier-compensated addition: returns the new sum and compensation.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The φ-quantile of `values` (sorted in place), as Prometheus computes it.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // Go's sort.Float64s puts NaN first.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Running state of one group.
struct Group {
    metric: Labels,
    count: f64,
    value: f64,
    comp: f64,
    mean: f64,
    incremental: bool,
    hists: Vec<FloatHistogram>,
    has_float: bool,
    has_hist: bool,
    values: Vec<f64>,
    name_for_warn: String,
    /// Delayed name removal still pending for the group's samples.
    drop_name: bool,
}

impl Group {
    fn new(metric: Labels, name: String) -> Group {
        Group {
            metric,
            count: 0.0,
            value: 0.0,
            comp: 0.0,
            mean: 0.0,
            incremental: false,
            hists: Vec::new(),
            has_float: false,
            has_hist: false,
            values: Vec::new(),
            name_for_warn: name,
            drop_name: false,
        }
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_aggregate(&mut self, a: &AggregateExpr) -> Result<Val> {
        let param = match &a.param {
            Some(p) => Some(self.eval(p)?),
            None => None,
        };
        let steps = self.eval_vector(&a.expr)?;
        let mut keys = GroupIndex::default();
        let mut out = Vec::with_capacity(steps.len());
        for (i, vec) in steps.into_iter().enumerate() {
            self.tick()?;
            let p = match &param {
                Some(Val::Scalar(s)) => Param::Num(s[i]),
                Some(Val::Str(s)) => Param::Str(s.clone()),
                _ => Param::None,
            };
            out.push(self.aggregate_step(a, vec, &p, &mut keys)?);
        }
        Ok(Val::Vector(out))
    }

    fn group_key(a: &AggregateExpr, l: &Labels) -> Labels {
        let names: Vec<&str> = a.grouping.iter().map(String::as_str).collect();
        if a.without {
            let mut names = names;
            names.extend(["__name__", "__type__", "__unit__"]);
            l.drop_names(&names)
        } else {
            l.keep(&names)
        }
    }

    fn aggregate_step(
        &mut self,
        a: &AggregateExpr,
        vec: Vector,
        p: &Param,
        keys: &mut GroupIndex,
    ) -> Result<Vector> {
        match a.op {
            AggOp::Topk | AggOp::Bottomk | AggOp::Limitk | AggOp::LimitRatio => {
                return self.select_k(a, vec, p, keys);
            }
            AggOp::CountValues => return self.count_values(a, vec, p, keys),
            _ => {}
        }
        if let (AggOp::Quantile, Param::Num(q)) = (a.op, p)
            && (!(0.0..=1.0).contains(q) || q.is_nan())
        {
            self.warn(
                format!(
                    "quantile value should be between 0 and 1, got {}",
                    format_float(*q)
                ),
                a.param.as_ref().map_or(a.pos, |e| e.pos()),
            );
        }
        let mut groups: Vec<Group> = Vec::new();
        // Group ids are stable across steps; `slot` maps them to this
        // step's groups, so each sample costs one hash lookup.
        let mut slot: Vec<usize> = Vec::new();
        for s in vec {
            let id = keys.id(a, &s.metric);
            if slot.len() < keys.keys.len() {
                slot.resize(keys.keys.len(), usize::MAX);
            }
            if slot[id] == usize::MAX {
                let name = s.metric.get("__name__").unwrap_or("").to_owned();
                groups.push(Group::new(keys.keys[id].clone(), name));
                slot[id] = groups.len() - 1;
            }
            let gi = slot[id];
            groups[gi].drop_name |= s.drop_name;
            self.accumulate(a, &mut groups[gi], s);
        }
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            if let Some(s) = self.finish_group(a, g, p) {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn accumulate(&mut self, a: &AggregateExpr, g: &mut Group, s: Sample) {
        g.count += 1.0;
        if let Some(h) = s.h {
            g.has_hist = true;
            if matches!(a.op, AggOp::Sum | AggOp::Avg) {
                g.hists.push(*h);
            }
            return;
        }
        g.has_float = true;
        let f = s.f;
        match a.op {
            AggOp::Sum => {
                (g.value, g.comp) = kahan_inc(f, g.value, g.comp);
            }
            AggOp::Avg => {
                if !g.incremental {
                    let (nv, nc) = kahan_inc(f, g.value, g.comp);
                    if !nv.is_infinite() {
                        g.value = nv;
                        g.comp = nc;
                        return;
                    }
                    g.incremental = true;
                    let prev = g.count - 1.0;
                    g.mean = if prev > 0.0 { g.value / prev } else { 0.0 };
                    g.comp = if prev > 0.0 { g.comp / prev } else { 0.0 };
                }
                let q = (g.count - 1.0) / g.count;
                (g.mean, g.comp) = kahan_inc(f / g.count, q * g.mean, q * g.comp);
            }
            AggOp::Min if g.count == 1.0 || g.value > f || g.value.is_nan() => g.value = f,
            AggOp::Max if g.count == 1.0 || g.value < f || g.value.is_nan() => g.value = f,
            AggOp::Stddev | AggOp::Stdvar => {
                let n = g.values.len() as f64 + 1.0;
                g.values.push(f);
                if n == 1.0 {
                    g.mean = f;
                    g.value = 0.0;
                } else {
                    let delta = f - g.mean;
                    g.mean += delta / n;
                    g.value += delta * (f - g.mean);
                }
            }
            AggOp::Quantile => g.values.push(f),
            _ => {}
        }
    }

    fn finish_group(&mut self, a: &AggregateExpr, mut g: Group, p: &Param) -> Option<Sample> {
        let mixed = g.has_float && g.has_hist;
        let op = a.op;
        if mixed && matches!(op, AggOp::Sum | AggOp::Avg) {
            self.warn(
                format!(
                    "encountered a mix of histograms and floats for metric name {:?}",
                    g.name_for_warn
                ),
                a.pos,
            );
            return None;
        }
        let float_only = matches!(
            op,
            AggOp::Min | AggOp::Max | AggOp::Stddev | AggOp::Stdvar | AggOp::Quantile
        );
        if g.has_hist && float_only {
            self.info(
                format!("ignored histogram in {} aggregation", op.as_str()),
                a.pos,
            );
            if !g.has_float {
                return None;
            }
        }
        let f = match op {
            AggOp::Sum | AggOp::Avg if g.has_hist => {
                let scale = if op == AggOp::Avg { 1.0 / g.count } else { 1.0 };
                let refs: Vec<&FloatHistogram> = g.hists.iter().collect();
                let h = self.sum_hists(&refs, scale, &g.name_for_warn, a.pos, "aggregation")?;
                return Some(hist_result(g.metric, Some(h)));
            }
            AggOp::Sum => g.value + g.comp,
            AggOp::Avg if g.incremental => g.mean + g.comp,
            AggOp::Avg => g.value / g.count + g.comp / g.count,
            AggOp::Count => g.count,
            AggOp::Group => 1.0,
            AggOp::Min | AggOp::Max => g.value,
            AggOp::Stdvar | AggOp::Stddev if g.values.iter().any(|v| !v.is_finite()) => f64::NAN,
            AggOp::Stdvar => g.value / g.values.len() as f64,
            AggOp::Stddev => (g.value / g.values.len() as f64).sqrt(),
            AggOp::Quantile => {
                let q = if let Param::Num(q) = p { *q } else { f64::NAN };
                quantile(q, &mut g.values)
            }
            _ => return None,
        };
        Some(Sample {
            drop_name: g.drop_name && g.metric.has("__name__"),
            ..Sample::float(g.metric, f)
        })
    }

    /// `topk`, `bottomk`, `limitk`, `limit_ratio`: keep some input samples.
    fn select_k(
        &mut self,
        a: &AggregateExpr,
        vec: Vector,
        p: &Param,
        keys: &mut GroupIndex,
    ) -> Result<Vector> {
        let Param::Num(pv) = *p else {
            return Ok(Vec::new());
        };
        if pv.is_nan() {
            let what = if a.op == AggOp::LimitRatio {
                "Ratio"
            } else {
                "Parameter"
            };
            return Err(Error::Eval(format!("{what} value is NaN")));
        }
        let mut groups: Vec<Vec<Sample>> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut saw_hist = false;
        for s in vec {
            if s.h.is_some() && matches!(a.op, AggOp::Topk | AggOp::Bottomk) {
                saw_hist = true;
                continue;
            }
            let key = keys.key(a, &s.metric).clone();
            let gi = *index.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[gi].push(s);
        }
        if saw_hist {
            self.info(
                format!("ignored histogram in {} aggregation", a.op.as_str()),
                a.pos,
            );
        }
        if a.op == AggOp::LimitRatio {
            let mut r = pv;
            if !(-1.0..=1.0).contains(&r) {
                r = r.clamp(-1.0, 1.0);
                self.warn(
                    format!(
                        "ratio value should be between -1 and 1, got {}, capping to {}",
                        format_float(pv),
                        format_float(r)
                    ),
                    a.param.as_ref().map_or(a.pos, |e| e.pos()),
                );
            }
            return Ok(groups
                .into_iter()
                .flatten()
                .filter(|s| ratio_keep(r, &s.metric))
                .collect());
        }
        let k = if pv >= 9.0e18 {
            usize::MAX
        } else {
            pv.max(0.0) as usize
        };
        let mut out = Vec::new();
        for mut g in groups {
            match a.op {
                AggOp::Topk => g.sort_by(|x, y| cmp_desc(x.f, y.f)),
                // NaN sorts last for bottomk too.
                AggOp::Bottomk => g.sort_by(|x, y| cmp_asc_nan_last(x.f, y.f)),
                _ => {}
            }
            g.truncate(k);
            out.extend(g);
        }
        Ok(out)
    }

    fn count_values(
        &mut self,
        a: &AggregateExpr,
        vec: Vector,
        p: &Param,
        keys: &mut GroupIndex,
    ) -> Result<Vector> {
        let Param::Str(label) = p else {
            return Ok(Vec::new());
        };
        if !super::funcs::valid_label_name(label) {
            return Err(Error::Eval(format!(
                "invalid label name {}",
                crate::printer::quote(label)
            )));
        }
        let mut counts: Vec<(Labels, f64)> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        for s in vec {
            let key = keys.key(a, &s.metric).clone();
            let value = match &s.h {
                Some(h) => super::hist::hist_string(h),
                None => format_float(s.f),
            };
            let mut b = key.builder();
            b.set(label, &value);
            let l = b.build();
            let i = *index.entry(l.clone()).or_insert_with(|| {
                counts.push((l, 0.0));
                counts.len() - 1
            });
            counts[i].1 += 1.0;
        }
        Ok(counts
            .into_iter()
            .map(|(l, c)| Sample::float(l, c))
            .collect())
    }
}

/// Sorts descending with NaN last.
fn cmp_desc(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Sorts ascending with NaN last.
fn cmp_asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Whether `limit_ratio(r, ...)` keeps a series: a stable per-series
/// offset in [0, 1) compared against the ratio.
fn ratio_keep(r: f64, l: &Labels) -> bool {
    let off = super::hist::labels_hash_offset(l);
    (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r)
}

fn hist_result(metric: Labels, h: Option<FloatHistogram>) -> Sample {
    Sample {
        metric,
        f: 0.0,
        h: h.map(Box::new),
        drop_name: false,
    }
}

/// Maps series to aggregation groups, remembering both across steps.
#[derive(Default)]
pub(crate) struct GroupIndex {
    by_series: HashMap<Labels, usize>,
    by_key: HashMap<Labels, usize>,
    /// Group labels by id.
    keys: Vec<Labels>,
}

impl GroupIndex {
    /// The group id of a series.
    fn id(&mut self, a: &AggregateExpr, metric: &Labels) -> usize {
        if let Some(&id) = self.by_series.get(metric) {
            return id;
        }
        let key = Evaluator::group_key(a, metric);
        let id = match self.by_key.get(&key) {
            Some(&id) => id,
            None => {
                self.keys.push(key.clone());
                self.by_key.insert(key, self.keys.len() - 1);
                self.keys.len() - 1
            }
        };
        self.by_series.insert(metric.clone(), id);
        id
    }

    /// The group labels of a series.
    fn key(&mut self, a: &AggregateExpr, metric: &Labels) -> &Labels {
        let id = self.id(a, metric);
        &self.keys[id]
    }
}

/// An aggregation's parameter at one step.
pub(crate) enum Param {
    None,
    Num(f64),
    Str(String),
}
