//! Alerting rules: the alert state machine (inactive → pending → firing,
//! `keep_firing_for`, resolved alerts kept for notification), label and
//! annotation templates, and the `ALERTS` / `ALERTS_FOR_STATE` series.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use beacon_model::{Labels, LabelsBuilder, METRIC_NAME};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::rule::{EvalEnv, RuleStatus, query_vector};
use crate::rulefmt::RuleSpec;
use crate::template::{Expander, QueryFn, QuerySample, Template, Value, str_map};

/// How long a resolved alert is kept (and re-sent) so Alertmanager learns
/// it resolved even across a few failed notifications.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;
/// The metric holding one sample per pending or firing alert.
pub const ALERT_METRIC_NAME: &str = "ALERTS";
/// The metric holding each active alert's `activeAt` (seconds), used to
/// restore `for` state after a restart.
pub const ALERT_FOR_STATE_METRIC_NAME: &str = "ALERTS_FOR_STATE";
/// The label holding an alert's name.
pub const ALERT_NAME_LABEL: &str = "alertname";
/// The label holding an alert's state in `ALERTS`.
pub const ALERT_STATE_LABEL: &str = "alertstate";

/// An alert's state; the order is "how active".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: a label set the rule's query returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub labels: Labels,
    /// Expanded annotations; unlike labels, empty values are kept.
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    pub value: f64,
    pub active_at_ms: i64,
    pub fired_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    pub last_sent_ms: Option<i64>,
    pub valid_until_ms: i64,
    pub keep_firing_since_ms: Option<i64>,
}

impl Alert {
    /// Prometheus's `needsSending`: never pending alerts; resolved ones
    /// once more after resolving; others every resend delay.
    fn needs_sending(&self, ts_ms: i64, resend_delay_ms: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(r) = self.resolved_at_ms
            && self.last_sent_ms.is_none_or(|s| r > s)
        {
            return true;
        }
        self.last_sent_ms
            .is_none_or(|s| s + resend_delay_ms < ts_ms)
    }
}

/// An alert as handed to the notifier.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertToSend {
    pub labels: Labels,
    /// Expanded annotations; unlike labels, empty values are kept.
    pub annotations: BTreeMap<String, String>,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub generator_url: String,
}

/// An alerting rule and its active alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub spec: RuleSpec,
    pub status: RuleStatus,
    label_tmpls: Vec<(String, Result<Template>)>,
    annotation_tmpls: Vec<(String, Result<Template>)>,
    /// Alerts keyed by their full label set.
    pub(crate) active: HashMap<Labels, Alert>,
    /// `ALERTS` series are written only once `for` state was restored (or
    /// needed no restoring), as Prometheus does.
    pub(crate) restored: bool,
    pub(crate) prev_series: HashSet<Labels>,
}

fn parse_all(name: &str, m: &BTreeMap<String, String>) -> Vec<(String, Result<Template>)> {
    m.iter()
        .map(|(k, v)| (k.clone(), Template::parse(name, v)))
        .collect()
}

impl AlertingRule {
    pub fn new(spec: RuleSpec) -> AlertingRule {
        let name = format!("__alert_{}", spec.name);
        AlertingRule {
            label_tmpls: parse_all(&name, &spec.labels),
            annotation_tmpls: parse_all(&name, &spec.annotations),
            spec,
            status: RuleStatus::default(),
            active: HashMap::new(),
            restored: true,
            prev_series: HashSet::new(),
        }
    }

    /// Every alert the rule holds, resolved ones included, sorted by labels.
    pub fn alerts_snapshot(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.active.values().cloned().collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// The most active state among the rule's alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Pending and firing alerts, sorted by labels.
    pub fn active_alerts(&self) -> Vec<&Alert> {
        let mut v: Vec<&Alert> = self
            .active
            .values()
            .filter(|a| a.state != AlertState::Inactive)
            .collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    fn expand(&self, tmpl: &Result<Template>, ex: &Expander<'_>) -> String {
        let name = format!("__alert_{}", self.spec.name);
        match tmpl {
            Err(e) => format!("<error expanding template: error parsing template {name}: {e}>"),
            Ok(t) => match t.execute(ex) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(alert = %self.spec.name, error = %e, "expanding alert template failed");
                    format!("<error expanding template: error executing template {name}: {e}>")
                }
            },
        }
    }

    /// Labels and annotations of the alert one query sample raises.
    fn alert_labels(
        &self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        metric: &Labels,
        value: f64,
    ) -> (Labels, BTreeMap<String, String>) {
        let query = |q: &str| -> std::result::Result<Vec<QuerySample>, String> {
            let v = query_vector(env, q, ts_ms).map_err(|e| e.to_string())?;
            Ok(v.into_iter()
                .map(|s| QuerySample {
                    labels: to_map(&s.labels),
                    value: s.f,
                })
                .collect())
        };
        let ex = alert_expander(env, metric, value, &query);
        let mut b = LabelsBuilder::new();
        for l in metric.iter().filter(|l| l.name != METRIC_NAME) {
            b.set(l.name, l.value);
        }
        for (k, t) in &self.label_tmpls {
            b.set(k, &self.expand(t, &ex));
        }
        b.set(ALERT_NAME_LABEL, &self.spec.name);
        let annotations = self
            .annotation_tmpls
            .iter()
            .map(|(k, t)| (k.clone(), self.expand(t, &ex)))
            .collect();
        (b.build(), annotations)
    }

    /// Evaluates at `ts_ms` (querying at `ts_ms - offset_ms`), advances the
    /// state machine and returns the `ALERTS`/`ALERTS_FOR_STATE` samples.
    pub fn eval(
        &mut self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>> {
        let qt = ts_ms - offset_ms;
        let res = query_vector(env, &self.spec.expr, qt)?;
        let mut current: HashMap<Labels, (BTreeMap<String, String>, f64)> =
            HashMap::with_capacity(res.len());
        for s in &res {
            let (labels, annotations) = self.alert_labels(env, ts_ms, &s.labels, s.f);
            if current.insert(labels, (annotations, s.f)).is_some() {
                return Err(Error::Eval(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                ));
            }
        }
        for (labels, (annotations, value)) in &current {
            match self.active.get_mut(labels) {
                Some(a) if a.state != AlertState::Inactive => {
                    a.value = *value;
                    a.annotations = annotations.clone();
                }
                _ => {
                    self.active.insert(
                        labels.clone(),
                        Alert {
                            labels: labels.clone(),
                            annotations: annotations.clone(),
                            state: AlertState::Pending,
                            value: *value,
                            active_at_ms: ts_ms,
                            fired_at_ms: None,
                            resolved_at_ms: None,
                            last_sent_ms: None,
                            valid_until_ms: 0,
                            keep_firing_since_ms: None,
                        },
                    );
                }
            }
        }
        self.advance(ts_ms, &current, limit)
    }

    /// The state machine step for every known alert.
    fn advance(
        &mut self,
        ts_ms: i64,
        current: &HashMap<Labels, (BTreeMap<String, String>, f64)>,
        limit: usize,
    ) -> Result<Vec<(Labels, f64)>> {
        let (hold, keep) = (self.spec.for_ms, self.spec.keep_firing_for_ms);
        let mut out = Vec::new();
        let mut active_count = 0;
        let mut remove = Vec::new();
        for (key, a) in &mut self.active {
            if current.contains_key(key) {
                a.keep_firing_since_ms = None;
            } else {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && keep > 0 {
                    let since = *a.keep_firing_since_ms.get_or_insert(ts_ms);
                    keep_firing = ts_ms - since < keep;
                }
                let expired = a
                    .resolved_at_ms
                    .is_some_and(|r| ts_ms - r > RESOLVED_RETENTION_MS);
                if a.state == AlertState::Pending || expired {
                    remove.push(key.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at_ms = Some(ts_ms);
                }
                if !keep_firing {
                    continue;
                }
            }
            active_count += 1;
            if a.state == AlertState::Pending && ts_ms - a.active_at_ms >= hold {
                a.state = AlertState::Firing;
                a.fired_at_ms = Some(ts_ms);
            }
            if self.restored {
                out.push(alert_series(a, ALERT_METRIC_NAME, true));
                out.push((
                    alert_series(a, ALERT_FOR_STATE_METRIC_NAME, false).0,
                    (a.active_at_ms.div_euclid(1000)) as f64,
                ));
            }
        }
        for k in remove {
            self.active.remove(&k);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(Error::Eval(format!(
                "exceeded limit of {limit} with {active_count} alerts"
            )));
        }
        Ok(out)
    }

    /// Alerts due for (re)sending at `ts_ms`; marks them sent.
    pub fn alerts_to_send(
        &mut self,
        env: &EvalEnv<'_>,
        ts_ms: i64,
        interval_ms: i64,
    ) -> Vec<AlertToSend> {
        let delta = env.resend_delay_ms.max(interval_ms);
        let url = format!(
            "{}/graph?g0.expr={}&g0.tab=1",
            env.external_url.trim_end_matches('/'),
            query_escape(&self.spec.expr)
        );
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if !a.needs_sending(ts_ms, env.resend_delay_ms) {
                continue;
            }
            a.last_sent_ms = Some(ts_ms);
            a.valid_until_ms = ts_ms + 4 * delta;
            out.push(AlertToSend {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at_ms: a.fired_at_ms.unwrap_or(a.active_at_ms),
                ends_at_ms: a.resolved_at_ms.unwrap_or(a.valid_until_ms),
                generator_url: url.clone(),
            });
        }
        out.sort_by(|x, y| x.labels.cmp(&y.labels));
        out
    }
}

fn to_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|l| (l.name.to_owned(), l.value.to_owned()))
        .collect()
}

/// Prometheus's alert template data: `.Labels`, `.ExternalLabels`,
/// `.ExternalURL`, `.Value`, and the `$labels`, `$externalLabels`,
/// `$externalURL`, `$value` variables it defines before every template.
fn alert_expander<'a>(
    env: &EvalEnv<'_>,
    metric: &Labels,
    value: f64,
    query: QueryFn<'a>,
) -> Expander<'a> {
    let lm = str_map(&to_map(metric));
    let em = str_map(&to_map(env.external_labels));
    let url = Value::Str(env.external_url.to_owned());
    Expander {
        data: Value::Record(Arc::new(vec![
            ("Labels", lm.clone()),
            ("ExternalLabels", em.clone()),
            ("ExternalURL", url.clone()),
            ("Value", Value::Float(value)),
        ])),
        vars: vec![
            ("$labels".into(), lm),
            ("$externalLabels".into(), em),
            ("$externalURL".into(), url),
            ("$value".into(), Value::Float(value)),
        ],
        query: Some(query),
        external_url: env.external_url.to_owned(),
    }
}

/// `ALERTS{alertstate=...}` (value 1) or `ALERTS_FOR_STATE` labels.
fn alert_series(a: &Alert, name: &str, with_state: bool) -> (Labels, f64) {
    let mut b = LabelsBuilder::new();
    for l in a.labels.iter() {
        b.set(l.name, l.value);
    }
    b.set(METRIC_NAME, name);
    if with_state {
        b.set(ALERT_STATE_LABEL, a.state.as_str());
    }
    (b.build(), 1.0)
}

/// Go's `url.QueryEscape`, for generator URLs.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
