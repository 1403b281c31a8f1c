//! What recording and alerting rules share: health, the evaluation
//! environment, and running a rule's query to an instant vector; plus the
//! recording rule itself.

use std::collections::HashSet;
use std::time::Duration;

use beacon_model::{Labels, LabelsBuilder, METRIC_NAME};
use beacon_promql::{Engine, Value, VectorSample};
use beacon_storage::{Appendable, Queryable};

use crate::error::{Error, Result};
use crate::rulefmt::RuleSpec;

/// A rule's (or group's) health after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    #[default]
    Unknown,
    Ok,
    Err,
}

/// What the API shows about a rule's last evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStatus {
    pub health: Health,
    pub last_error: Option<String>,
    pub eval_duration: Duration,
    /// When the rule was last evaluated (the group's timestamp, ms).
    pub last_eval_ms: Option<i64>,
}

impl RuleStatus {
    pub(crate) fn record(&mut self, ts_ms: i64, took: Duration, err: Option<String>) {
        self.health = if err.is_some() {
            Health::Err
        } else {
            Health::Ok
        };
        self.last_error = err;
        self.eval_duration = took;
        self.last_eval_ms = Some(ts_ms);
    }
}

/// Everything a rule evaluation reads and writes through.
pub struct EvalEnv<'a> {
    pub queryable: &'a dyn Queryable,
    pub appendable: &'a dyn Appendable,
    pub engine: &'a Engine,
    pub external_labels: &'a Labels,
    /// `--web.external-url`, for templates and alerts' generator URLs.
    pub external_url: &'a str,
    /// `--rules.alert.resend-delay` in ms.
    pub resend_delay_ms: i64,
}

impl std::fmt::Debug for EvalEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalEnv")
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

/// Runs `expr` at `t_ms`. A scalar becomes one sample without labels, as
/// Prometheus's rule query function does; strings and matrices are errors.
pub(crate) fn query_vector(env: &EvalEnv<'_>, expr: &str, t_ms: i64) -> Result<Vec<VectorSample>> {
    let res = env.engine.instant_query(env.queryable, expr, t_ms)?;
    match res.value {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![VectorSample {
            labels: Labels::empty(),
            t,
            f: v,
            h: None,
        }]),
        other => Err(Error::Eval(format!(
            "rule result is not a vector or scalar: {}",
            match other {
                Value::String { .. } => "string",
                _ => "matrix",
            }
        ))),
    }
}

/// A recording rule: writes its query's result under a new metric name.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    pub spec: RuleSpec,
    pub status: RuleStatus,
    /// Series written by the last successful evaluation, for staleness.
    pub(crate) prev_series: HashSet<Labels>,
}

impl RecordingRule {
    pub fn new(spec: RuleSpec) -> RecordingRule {
        RecordingRule {
            spec,
            status: RuleStatus::default(),
            prev_series: HashSet::new(),
        }
    }

    /// The samples this rule records at `t_ms` (the group's timestamp minus
    /// its query offset), with `__name__` and the rule's labels applied.
    pub fn eval(&self, env: &EvalEnv<'_>, t_ms: i64, limit: usize) -> Result<Vec<VectorSample>> {
        let mut out = query_vector(env, &self.spec.expr, t_ms)?;
        let mut seen = HashSet::with_capacity(out.len());
        for s in &mut out {
            let mut b = LabelsBuilder::new();
            for l in s.labels.iter() {
                b.set(l.name, l.value);
            }
            b.set(METRIC_NAME, &self.spec.name);
            for (k, v) in &self.spec.labels {
                b.set(k, v);
            }
            s.labels = b.build();
            s.t = t_ms;
            if !seen.insert(s.labels.clone()) {
                return Err(Error::Eval(
                    "vector contains metrics with the same labelset after applying rule labels"
                        .into(),
                ));
            }
        }
        if limit > 0 && out.len() > limit {
            return Err(Error::Eval(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            )));
        }
        Ok(out)
    }
}
