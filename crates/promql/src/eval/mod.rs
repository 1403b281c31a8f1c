//! The evaluator: walks the syntax tree once, computing every node for all
//! steps of the query at the same time (a node's value is one instant
//! vector per step), so each series' samples are read and decoded once.

mod aggr;
mod binop;
mod funcs;
mod hist;
mod info;
mod rangefns;
mod select;
mod trim;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use beacon_model::{FloatHistogram, Labels};
use beacon_storage::Queryable;

use crate::ast::{Expr, PosRange};
use crate::engine::{CancelToken, EngineOptions};
use crate::error::{Error, Result};
use crate::value::{QueryResult, RangeSeries, Value, VectorSample};

/// One element of an instant vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub metric: Labels,
    pub f: f64,
    pub h: Option<Box<FloatHistogram>>,
    /// Delayed `__name__` removal: drop the name when the query finishes.
    pub drop_name: bool,
}

impl Sample {
    pub fn float(metric: Labels, f: f64) -> Sample {
        Sample {
            metric,
            f,
            h: None,
            drop_name: false,
        }
    }
}

/// An instant vector.
pub(crate) type Vector = Vec<Sample>;

/// One series of raw samples: a selected series or a subquery's output.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeriesData {
    pub metric: Labels,
    pub floats: Vec<(i64, f64)>,
    pub hists: Vec<(i64, Arc<FloatHistogram>)>,
    pub drop_name: bool,
}

/// A node's value over all steps.
#[derive(Debug)]
pub(crate) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    Str(String),
    /// One vector per step.
    Vector(Vec<Vector>),
    /// Raw series (a top-level range selector or subquery).
    Matrix(Vec<SeriesData>),
}

/// Samples a value holds in memory: vector elements and raw points.
/// Scalars and strings are not counted, as in Prometheus.
fn val_samples(v: &Val) -> usize {
    match v {
        Val::Scalar(_) | Val::Str(_) => 0,
        Val::Vector(steps) => steps.iter().map(Vec::len).sum(),
        Val::Matrix(series) => series.iter().map(|s| s.floats.len() + s.hists.len()).sum(),
    }
}

/// How often (in processed series) the evaluator checks the deadline.
const CHECK_EVERY: usize = 256;

pub(crate) struct Evaluator<'a> {
    q: &'a dyn Queryable,
    opts: &'a EngineOptions,
    src: &'a str,
    /// The steps this evaluator computes: `start, start+step, ..., end`.
    start: i64,
    end: i64,
    step: i64,
    /// The whole query's bounds, for `@ start()`, `@ end()`, `step()`, `range()`.
    query_start: i64,
    query_end: i64,
    query_step: i64,
    deadline: Instant,
    cancel: CancelToken,
    /// Samples currently held in memory (see `eval`), checked against
    /// `EngineOptions::max_samples`.
    samples: usize,
    ticks: usize,
    warnings: Vec<String>,
    infos: Vec<String>,
}

impl<'a> Evaluator<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        q: &'a dyn Queryable,
        opts: &'a EngineOptions,
        src: &'a str,
        start: i64,
        end: i64,
        step: i64,
        deadline: Instant,
        cancel: CancelToken,
    ) -> Evaluator<'a> {
        Evaluator {
            q,
            opts,
            src,
            start,
            end,
            step,
            query_start: start,
            query_end: end,
            query_step: step,
            deadline,
            cancel,
            samples: 0,
            ticks: 0,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    /// Number of steps.
    pub fn n_steps(&self) -> usize {
        if self.step == 0 {
            1
        } else {
            usize::try_from((self.end - self.start) / self.step + 1).unwrap_or(1)
        }
    }

    /// Timestamp of step `i`.
    pub fn ts(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }

    /// Checks the timeout and cancellation.
    pub fn tick(&mut self) -> Result<()> {
        self.ticks += 1;
        // Checked on the first call and then every CHECK_EVERY calls.
        if self.ticks % CHECK_EVERY == 1 {
            if self.cancel.is_canceled() {
                return Err(Error::Canceled);
            }
            if Instant::now() >= self.deadline {
                return Err(Error::Timeout);
            }
        }
        Ok(())
    }

    /// Accounts for `n` more samples in memory.
    pub fn add_samples(&mut self, n: usize) -> Result<()> {
        self.samples = self.samples.saturating_add(n);
        if self.samples > self.opts.max_samples {
            return Err(Error::TooManySamples {
                limit: self.opts.max_samples,
            });
        }
        Ok(())
    }

    fn position(&self, pos: PosRange) -> String {
        let e = crate::error::ParseError::at(self.src, pos.start, "");
        format!("{}:{}", e.line, e.col)
    }

    /// Records a warning annotation at `pos`.
    pub fn warn(&mut self, msg: impl AsRef<str>, pos: PosRange) {
        let text = format!("PromQL warning: {} ({})", msg.as_ref(), self.position(pos));
        if !self.warnings.contains(&text) {
            self.warnings.push(text);
        }
    }

    /// Records an info annotation at `pos`.
    pub fn info(&mut self, msg: impl AsRef<str>, pos: PosRange) {
        let text = format!("PromQL info: {} ({})", msg.as_ref(), self.position(pos));
        if !self.infos.contains(&text) {
            self.infos.push(text);
        }
    }

    /// An evaluator for a subquery's steps that shares limits and
    /// annotations with this one (they are merged back by `absorb`).
    fn child(&self, start: i64, end: i64, step: i64) -> Evaluator<'a> {
        Evaluator {
            q: self.q,
            opts: self.opts,
            src: self.src,
            start,
            end,
            step,
            query_start: self.query_start,
            query_end: self.query_end,
            query_step: self.query_step,
            deadline: self.deadline,
            cancel: self.cancel.clone(),
            samples: self.samples,
            ticks: self.ticks,
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    fn absorb(&mut self, child: Evaluator<'_>) {
        self.samples = child.samples;
        self.ticks = child.ticks;
        for w in child.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        for i in child.infos {
            if !self.infos.contains(&i) {
                self.infos.push(i);
            }
        }
    }

    /// Evaluates the whole query and shapes the result.
    pub fn run(&mut self, e: &Expr, instant: bool) -> Result<QueryResult> {
        if !instant
            && matches!(
                e.value_type(),
                crate::ast::ValueType::Matrix | crate::ast::ValueType::String
            )
        {
            return Err(Error::Eval(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                e.value_type().name()
            )));
        }
        let v = self.eval(e)?;
        let value = match v {
            Val::Scalar(s) if instant => Value::Scalar {
                t: self.start,
                v: s[0],
            },
            Val::Scalar(s) => Value::Matrix(vec![RangeSeries {
                labels: Labels::empty(),
                floats: s
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (self.ts(i), *v))
                    .collect(),
                histograms: Vec::new(),
            }]),
            Val::Str(s) => Value::String {
                t: self.start,
                v: s,
            },
            Val::Vector(mut steps) if instant => {
                let vec = finish_names(steps.pop().unwrap_or_default())?;
                Value::Vector(
                    vec.into_iter()
                        .map(|s| VectorSample {
                            labels: s.metric,
                            t: self.start,
                            f: s.f,
                            h: s.h,
                        })
                        .collect(),
                )
            }
            Val::Vector(steps) => Value::Matrix(self.steps_to_matrix(steps)?),
            Val::Matrix(series) => Value::Matrix(
                series
                    .into_iter()
                    .map(|s| RangeSeries {
                        labels: if s.drop_name {
                            s.metric.without_metric_name()
                        } else {
                            s.metric
                        },
                        floats: s.floats,
                        histograms: s
                            .hists
                            .into_iter()
                            .map(|(t, h)| (t, (*h).clone()))
                            .collect(),
                    })
                    .collect(),
            ),
        };
        Ok(QueryResult {
            value,
            warnings: std::mem::take(&mut self.warnings),
            infos: std::mem::take(&mut self.infos),
        })
    }

    /// Turns per-step vectors into series sorted by labels.
    ///
    /// Samples are grouped by their labels first; pending `__name__`
    /// removal is then applied once per series, and series that end up
    /// with the same labels are merged unless they share a timestamp.
    fn steps_to_matrix(&mut self, steps: Vec<Vector>) -> Result<Vec<RangeSeries>> {
        let mut index: HashMap<(Labels, bool), usize> = HashMap::new();
        let mut out: Vec<(RangeSeries, bool)> = Vec::new();
        // Steps usually list the same series in the same order: try the
        // series at this position in the previous step before hashing.
        let mut prev_ids: Vec<usize> = Vec::new();
        let mut ids: Vec<usize> = Vec::new();
        for (i, vec) in steps.into_iter().enumerate() {
            let t = self.ts(i);
            ids.clear();
            for (j, s) in vec.into_iter().enumerate() {
                let guess = prev_ids
                    .get(j)
                    .copied()
                    .filter(|&g| out[g].1 == s.drop_name && out[g].0.labels == s.metric);
                let key = (s.metric, s.drop_name);
                let idx = match guess.or_else(|| index.get(&key).copied()) {
                    Some(i) => i,
                    None => {
                        out.push((
                            RangeSeries {
                                labels: key.0.clone(),
                                ..Default::default()
                            },
                            key.1,
                        ));
                        index.insert(key, out.len() - 1);
                        out.len() - 1
                    }
                };
                ids.push(idx);
                match s.h {
                    Some(h) => out[idx].0.histograms.push((t, *h)),
                    None => out[idx].0.floats.push((t, s.f)),
                }
            }
            std::mem::swap(&mut prev_ids, &mut ids);
        }
        let mut merged: HashMap<Labels, usize> = HashMap::with_capacity(out.len());
        let mut result: Vec<RangeSeries> = Vec::with_capacity(out.len());
        for (mut series, drop) in out {
            if drop {
                series.labels = drop_metric_name(&series.labels);
            }
            match merged.get(&series.labels) {
                None => {
                    merged.insert(series.labels.clone(), result.len());
                    result.push(series);
                }
                Some(&i) => merge_series(&mut result[i], series)?,
            }
        }
        result.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(result)
    }

    /// Evaluates one node for all steps.
    /// Evaluates `e`, keeping the sample count at what is held in memory
    /// rather than what was ever loaded: once a node's result exists, the
    /// inputs it was computed from are dropped, so the count goes back to
    /// what was held before the node plus the size of its result. Peaks
    /// inside the node (its inputs plus anything loaded) were already
    /// checked by `add_samples` as they happened.
    pub fn eval(&mut self, e: &Expr) -> Result<Val> {
        let before = self.samples;
        let v = self.eval_node(e)?;
        self.samples = before;
        self.add_samples(val_samples(&v))?;
        Ok(v)
    }

    fn eval_node(&mut self, e: &Expr) -> Result<Val> {
        self.tick()?;
        match e {
            Expr::Number { val, .. } => Ok(Val::Scalar(vec![*val; self.n_steps()])),
            Expr::String { val, .. } => Ok(Val::Str(val.clone())),
            Expr::Paren { expr, .. } => self.eval(expr),
            Expr::Unary { neg, expr, .. } => {
                let v = self.eval(expr)?;
                Ok(if *neg { negate(v) } else { v })
            }
            Expr::Vector(vs) => self.eval_vector_selector(vs),
            Expr::Matrix(ms) => {
                let t = self.start;
                let series = self.matrix_at(ms, t)?;
                Ok(Val::Matrix(series))
            }
            Expr::Subquery(sq) => {
                let series = self.eval_subquery(sq)?;
                let t = self.start;
                Ok(Val::Matrix(self.window_all(&series, sq, t)))
            }
            Expr::Binary(b) => self.eval_binary(b),
            Expr::Aggregate(a) => self.eval_aggregate(a),
            Expr::Call(c) => self.eval_call(c),
        }
    }

    /// Evaluates an expression that must be a scalar.
    pub fn eval_scalar(&mut self, e: &Expr) -> Result<Vec<f64>> {
        match self.eval(e)? {
            Val::Scalar(s) => Ok(s),
            _ => Err(Error::Eval("expected scalar".into())),
        }
    }

    /// Evaluates an expression that must be an instant vector.
    pub fn eval_vector(&mut self, e: &Expr) -> Result<Vec<Vector>> {
        match self.eval(e)? {
            Val::Vector(v) => Ok(v),
            _ => Err(Error::Eval("expected instant vector".into())),
        }
    }
}

fn negate(v: Val) -> Val {
    match v {
        Val::Scalar(s) => Val::Scalar(s.into_iter().map(|x| -x).collect()),
        Val::Vector(steps) => Val::Vector(
            steps
                .into_iter()
                .map(|vec| {
                    vec.into_iter()
                        .map(|mut s| {
                            s.f = -s.f;
                            if let Some(h) = &mut s.h {
                                h.mul(-1.0);
                                h.counter_reset_hint = beacon_model::CounterResetHint::Gauge;
                            }
                            s.drop_name = true;
                            s
                        })
                        .collect()
                })
                .collect(),
        ),
        other => other,
    }
}

/// Merges two series that have the same labels; they must not both have a
/// point at the same step.
fn merge_series(into: &mut RangeSeries, from: RangeSeries) -> Result<()> {
    let dup = || Error::Eval("vector cannot contain metrics with the same labelset".into());
    let times: std::collections::HashSet<i64> = into
        .floats
        .iter()
        .map(|p| p.0)
        .chain(into.histograms.iter().map(|p| p.0))
        .collect();
    if from
        .floats
        .iter()
        .map(|p| p.0)
        .chain(from.histograms.iter().map(|p| p.0))
        .any(|t| times.contains(&t))
    {
        return Err(dup());
    }
    into.floats.extend(from.floats);
    into.floats.sort_by_key(|p| p.0);
    into.histograms.extend(from.histograms);
    into.histograms.sort_by_key(|p| p.0);
    Ok(())
}

/// Applies delayed `__name__` removal and rejects duplicate label sets.
pub(crate) fn finish_names(vec: Vector) -> Result<Vector> {
    let any_drop = vec.iter().any(|s| s.drop_name);
    let mut out = vec;
    if any_drop {
        for s in &mut out {
            if s.drop_name {
                s.metric = drop_metric_name(&s.metric);
                s.drop_name = false;
            }
        }
        check_duplicates(&out)?;
    }
    Ok(out)
}

/// Drops `__name__` (and `__type__`/`__unit__`, which travel with it).
pub(crate) fn drop_metric_name(l: &Labels) -> Labels {
    if !l.has("__name__") && !l.has("__type__") && !l.has("__unit__") {
        return l.clone();
    }
    l.drop_names(&["__name__", "__type__", "__unit__"])
}

/// Fails when two samples share a label set.
pub(crate) fn check_duplicates(vec: &Vector) -> Result<()> {
    if vec.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(vec.len());
    for s in vec {
        if !seen.insert(&s.metric) {
            return Err(Error::Eval(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}
