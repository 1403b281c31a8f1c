//! A rule group: its rules evaluated in order at one timestamp, the
//! appends and staleness markers that produces, state carried across
//! reloads, and restoring alerts' `for` state after a restart.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use beacon_model::{Labels, Matcher, SeriesRef, stale_nan};
use beacon_storage::{AppendError, Appender, Error as StorageError, SampleIterator, ValueType};

use crate::alerting::{ALERT_FOR_STATE_METRIC_NAME, AlertToSend, AlertingRule};
use crate::error::Error;
use crate::rule::{EvalEnv, RecordingRule, RuleStatus};
use crate::rulefmt::{GroupSpec, RuleKind, RuleSpec};

/// One rule of a group.
#[derive(Debug, Clone)]
pub enum Rule {
    Recording(RecordingRule),
    Alerting(AlertingRule),
}

impl Rule {
    pub fn spec(&self) -> &RuleSpec {
        match self {
            Rule::Recording(r) => &r.spec,
            Rule::Alerting(r) => &r.spec,
        }
    }

    pub fn status(&self) -> &RuleStatus {
        match self {
            Rule::Recording(r) => &r.status,
            Rule::Alerting(r) => &r.status,
        }
    }

    fn prev_series(&mut self) -> &mut HashSet<Labels> {
        match self {
            Rule::Recording(r) => &mut r.prev_series,
            Rule::Alerting(r) => &mut r.prev_series,
        }
    }

    /// The identity used to carry state over a reload: kind, name, labels.
    fn key(&self) -> (bool, String, Vec<(String, String)>) {
        let s = self.spec();
        let labels = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (s.kind == RuleKind::Alerting, s.name.clone(), labels)
    }
}

/// Counters and gauges the group exports as Prometheus's `rule_group` metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupMetrics {
    pub iterations: u64,
    pub iterations_missed: u64,
    pub evaluations: u64,
    pub evaluation_failures: u64,
    pub eval_seconds_sum: f64,
    pub eval_seconds_count: u64,
    /// Samples the rules produced in the last evaluation.
    pub last_samples: u64,
}

/// A group of rules evaluated together at one interval.
#[derive(Debug, Clone)]
pub struct Group {
    pub spec: GroupSpec,
    pub interval_ms: i64,
    pub query_offset_ms: i64,
    pub rules: Vec<Rule>,
    pub last_eval_ms: Option<i64>,
    pub last_duration: Duration,
    pub metrics: GroupMetrics,
    /// Series of rules that disappeared on reload, marked stale next eval.
    stale_series: Vec<Labels>,
}

/// Prometheus's append errors that only mean "this sample is redundant":
/// they are logged, not a rule failure.
fn ignorable(e: &StorageError) -> bool {
    matches!(
        e,
        StorageError::Append(
            AppendError::OutOfOrderSample
                | AppendError::DuplicateSampleForTimestamp
                | AppendError::OutOfBounds
        )
    )
}

impl Group {
    /// Builds a group; rules get the group's labels under their own.
    pub fn new(spec: GroupSpec, default_interval_ms: i64, default_query_offset_ms: i64) -> Group {
        let rules = spec
            .rules
            .iter()
            .map(|r| {
                let mut r = r.clone();
                for (k, v) in &spec.labels {
                    r.labels.entry(k.clone()).or_insert_with(|| v.clone());
                }
                match r.kind {
                    RuleKind::Recording => Rule::Recording(RecordingRule::new(r)),
                    RuleKind::Alerting => Rule::Alerting(AlertingRule::new(r)),
                }
            })
            .collect();
        Group {
            interval_ms: spec.interval_ms.unwrap_or(default_interval_ms).max(1),
            query_offset_ms: spec.query_offset_ms.unwrap_or(default_query_offset_ms),
            spec,
            rules,
            last_eval_ms: None,
            last_duration: Duration::ZERO,
            metrics: GroupMetrics::default(),
            stale_series: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn file(&self) -> &str {
        &self.spec.file
    }

    /// Takes over `old`'s alerts, series and metrics for rules that match
    /// by kind, name and labels; series of unmatched rules go stale.
    pub fn copy_state(&mut self, old: &Group) {
        let mut by_key: HashMap<_, Vec<&Rule>> = HashMap::new();
        for r in &old.rules {
            by_key.entry(r.key()).or_default().push(r);
        }
        for r in &mut self.rules {
            let Some(olds) = by_key.get_mut(&r.key()) else {
                continue;
            };
            if olds.is_empty() {
                continue;
            }
            let o = olds.remove(0);
            match (r, o) {
                (Rule::Recording(n), Rule::Recording(o)) => {
                    n.status = o.status.clone();
                    n.prev_series = o.prev_series.clone();
                }
                (Rule::Alerting(n), Rule::Alerting(o)) => {
                    n.status = o.status.clone();
                    n.prev_series = o.prev_series.clone();
                    n.active = o.active.clone();
                    n.restored = o.restored;
                }
                _ => {}
            }
        }
        for rest in by_key.into_values().flatten() {
            let mut rest = rest.clone();
            self.stale_series.extend(rest.prev_series().drain());
        }
        self.stale_series.extend(old.stale_series.iter().cloned());
        self.metrics = old.metrics.clone();
        self.last_eval_ms = old.last_eval_ms;
        self.last_duration = old.last_duration;
    }

    /// Evaluates every rule at `ts_ms` and returns the alerts to send.
    pub fn eval(&mut self, env: &EvalEnv<'_>, ts_ms: i64) -> Vec<AlertToSend> {
        let started = Instant::now();
        let qt = ts_ms - self.query_offset_ms;
        let mut to_send = Vec::new();
        self.metrics.last_samples = 0;
        for i in 0..self.rules.len() {
            let t0 = Instant::now();
            self.metrics.evaluations += 1;
            let err = self.eval_rule(env, i, ts_ms, &mut to_send).err();
            if err.is_some() {
                self.metrics.evaluation_failures += 1;
            }
            let took = t0.elapsed();
            self.metrics.eval_seconds_sum += took.as_secs_f64();
            self.metrics.eval_seconds_count += 1;
            let status = match &mut self.rules[i] {
                Rule::Recording(r) => &mut r.status,
                Rule::Alerting(r) => &mut r.status,
            };
            status.record(ts_ms, took, err.map(|e| e.to_string()));
        }
        // Series of rules dropped by a reload go stale after the rules ran,
        // unless a rule of this group produced them again.
        if !self.stale_series.is_empty() {
            let mut stale = std::mem::take(&mut self.stale_series);
            stale.retain(|l| !self.rules.iter_mut().any(|r| r.prev_series().contains(l)));
            write_stale(env, &stale, qt);
        }
        self.metrics.iterations += 1;
        self.last_eval_ms = Some(ts_ms);
        self.last_duration = started.elapsed();
        to_send
    }

    fn eval_rule(
        &mut self,
        env: &EvalEnv<'_>,
        i: usize,
        ts_ms: i64,
        to_send: &mut Vec<AlertToSend>,
    ) -> Result<(), Error> {
        let qt = ts_ms - self.query_offset_ms;
        let (limit, interval) = (self.spec.limit, self.interval_ms);
        let samples: Vec<(Labels, f64, Option<Box<beacon_model::FloatHistogram>>)> =
            match &mut self.rules[i] {
                Rule::Recording(r) => r
                    .eval(env, qt, limit)?
                    .into_iter()
                    .map(|s| (s.labels, s.f, s.h))
                    .collect(),
                Rule::Alerting(r) => {
                    let out = r.eval(env, ts_ms, self.query_offset_ms, limit)?;
                    to_send.extend(r.alerts_to_send(env, ts_ms, interval));
                    out.into_iter().map(|(l, v)| (l, v, None)).collect()
                }
            };
        let mut app = env.appendable.appender();
        let mut current = HashSet::with_capacity(samples.len());
        for (labels, f, h) in samples {
            let res = match &h {
                Some(h) => app.append_histogram(SeriesRef::NONE, &labels, qt, None, Some(h)),
                None => app.append(SeriesRef::NONE, &labels, qt, f),
            };
            match res {
                Ok(_) => {}
                Err(e) if ignorable(&e) => {
                    tracing::debug!(series = %labels, error = %e, "rule sample not appended");
                }
                Err(e) => {
                    let _ = app.rollback();
                    return Err(e.into());
                }
            }
            current.insert(labels);
        }
        let prev = std::mem::take(self.rules[i].prev_series());
        for gone in prev.difference(&current) {
            if let Err(e) = app.append(SeriesRef::NONE, gone, qt, stale_nan())
                && !ignorable(&e)
            {
                tracing::warn!(series = %gone, error = %e, "writing staleness marker failed");
            }
        }
        self.metrics.last_samples += current.len() as u64;
        *self.rules[i].prev_series() = current;
        app.commit()?;
        Ok(())
    }

    /// Writes staleness markers for every series the group produced, at
    /// `ts_ms`: the group was removed.
    pub fn mark_stale(&mut self, env: &EvalEnv<'_>, ts_ms: i64) {
        let mut all: Vec<Labels> = std::mem::take(&mut self.stale_series);
        for r in &mut self.rules {
            all.extend(r.prev_series().drain());
        }
        write_stale(env, &all, ts_ms);
    }

    /// Restores alerts' `activeAt` from `ALERTS_FOR_STATE` after a restart,
    /// like Prometheus's `RestoreForState`.
    pub fn restore_for_state(
        &mut self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        grace_ms: i64,
        tolerance_ms: i64,
    ) {
        let q = match env.queryable.querier(ts_ms - tolerance_ms, ts_ms) {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(group = %self.spec.name, error = %e, "restoring alert state: querier failed");
                return;
            }
        };
        for r in &mut self.rules {
            let Rule::Alerting(r) = r else { continue };
            let hold = r.spec.for_ms;
            if hold < grace_ms {
                r.restored = true;
                continue;
            }
            for a in r.active.values_mut() {
                let mut matchers = vec![Matcher::equal(
                    beacon_model::METRIC_NAME,
                    ALERT_FOR_STATE_METRIC_NAME,
                )];
                matchers.extend(a.labels.iter().map(|l| Matcher::equal(l.name, l.value)));
                let Ok(series) = q.select(&matchers) else {
                    continue;
                };
                let Some(s) = series
                    .into_iter()
                    .find(|s| s.labels.len() == a.labels.len() + 1)
                else {
                    continue;
                };
                let Some((down_ms, v)) = last_float(s.samples) else {
                    continue;
                };
                let down_s = down_ms.div_euclid(1000);
                let restored_s = v as i64;
                let remaining = hold - (down_s - restored_s) * 1000;
                a.active_at_ms = if remaining <= 0 {
                    restored_s * 1000
                } else if remaining < grace_ms {
                    ts_ms + grace_ms - hold
                } else {
                    restored_s * 1000 + (ts_ms - down_s * 1000)
                };
            }
            r.restored = true;
        }
    }

    /// Holds back `ALERTS` series until `restore_for_state` ran, as a
    /// freshly started server does.
    pub fn prepare_restore(&mut self) {
        for r in &mut self.rules {
            if let Rule::Alerting(a) = r {
                a.restored = false;
            }
        }
    }

    /// The group's rule count, for metrics.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

/// The last non-stale float sample of a series.
fn last_float(mut it: Box<dyn SampleIterator>) -> Option<(i64, f64)> {
    let mut last = None;
    loop {
        match it.next() {
            ValueType::None => return last,
            ValueType::Float => {
                let (t, v) = it.at();
                if !beacon_model::is_stale_nan(v) {
                    last = Some((t, v));
                }
            }
            _ => {}
        }
    }
}

fn write_stale(env: &EvalEnv<'_>, series: &[Labels], ts_ms: i64) {
    if series.is_empty() {
        return;
    }
    let mut app: Box<dyn Appender + '_> = env.appendable.appender();
    for l in series {
        if let Err(e) = app.append(SeriesRef::NONE, l, ts_ms, stale_nan())
            && !ignorable(&e)
        {
            tracing::warn!(series = %l, error = %e, "writing staleness marker failed");
        }
    }
    if let Err(e) = app.commit() {
        tracing::warn!(error = %e, "committing staleness markers failed");
    }
}
