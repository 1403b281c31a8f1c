//! The data of `/api/v1/rules` and `/api/v1/alerts`, as typed `Serialize`
//! structs whose JSON matches Prometheus's field for field, and the rules
//! endpoint's filters.

use std::collections::BTreeMap;

use beacon_model::{Labels, Matcher};
use serde::Serialize;

use crate::alerting::{Alert, AlertingRule};
use crate::gofmt::{format_e_shortest, rfc3339_ms};
use crate::group::{Group, Rule};
use crate::manager::Manager;
use crate::rule::{Health, RuleStatus};
use crate::rulefmt::RuleSpec;

/// `type=alert|record`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleTypeFilter {
    #[default]
    All,
    Alert,
    Record,
}

/// The rules endpoint's filters; empty lists match everything.
#[derive(Debug, Clone, Default)]
pub struct RulesFilter {
    pub rule_type: RuleTypeFilter,
    /// `rule_name[]`
    pub rule_names: Vec<String>,
    /// `rule_group[]`
    pub rule_groups: Vec<String>,
    /// `file[]`
    pub files: Vec<String>,
    pub exclude_alerts: bool,
    /// `match[]`: a rule is kept when its labels satisfy any one set.
    pub matchers: Vec<Vec<Matcher>>,
}

/// `{"groups": [...]}`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulesResponse {
    pub groups: Vec<RuleGroupJson>,
}

/// One group of `/api/v1/rules`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleGroupJson {
    pub name: String,
    pub file: String,
    pub rules: Vec<RuleJson>,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub interval: f64,
    pub limit: usize,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub evaluation_time: f64,
    pub last_evaluation: String,
}

/// A rule of `/api/v1/rules`; alerting and recording rules have different
/// fields, told apart by `type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RuleJson {
    Alerting(AlertingRuleJson),
    Recording(RecordingRuleJson),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertingRuleJson {
    pub state: &'static str,
    pub name: String,
    pub query: String,
    /// `for`, seconds.
    #[serde(serialize_with = "go_float")]
    pub duration: f64,
    #[serde(serialize_with = "go_float")]
    pub keep_firing_for: f64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `null` with `exclude_alerts`.
    pub alerts: Option<Vec<AlertJson>>,
    pub health: Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(serialize_with = "go_float")]
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingRuleJson {
    pub name: String,
    pub query: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub health: Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(serialize_with = "go_float")]
    pub evaluation_time: f64,
    pub last_evaluation: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// One alert, in both endpoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertJson {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    /// Go's `%e` shortest form, e.g. `1e+00`.
    pub value: String,
}

/// `{"alerts": [...]}`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertsResponse {
    pub alerts: Vec<AlertJson>,
}

/// Writes a float as Go's `encoding/json` does for whole numbers (`60`,
/// not `60.0`), so responses compare byte for byte with Prometheus's.
fn go_float<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    // 2^53: every whole float below it is exactly an integer.
    const EXACT_INT_MAX: f64 = 9_007_199_254_740_992.0;
    if v.fract() == 0.0 && v.abs() < EXACT_INT_MAX {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// Go's zero `time.Time`, which Prometheus prints for "never evaluated".
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time(ms: Option<i64>) -> String {
    ms.map_or_else(|| GO_ZERO_TIME.to_owned(), rfc3339_ms)
}

fn map(l: &Labels) -> BTreeMap<String, String> {
    l.iter()
        .map(|l| (l.name.to_owned(), l.value.to_owned()))
        .collect()
}

fn query_text(spec: &RuleSpec) -> String {
    beacon_promql::format_query(&spec.expr).unwrap_or_else(|_| spec.expr.clone())
}

/// The JSON of one alert.
pub fn alert_json(a: &Alert) -> AlertJson {
    AlertJson {
        labels: map(&a.labels),
        annotations: a.annotations.clone(),
        state: a.state.as_str(),
        active_at: Some(rfc3339_ms(a.active_at_ms)),
        keep_firing_since: a.keep_firing_since_ms.map(rfc3339_ms),
        value: format_e_shortest(a.value),
    }
}

fn alerting_json(r: &AlertingRule, exclude_alerts: bool) -> RuleJson {
    let st: &RuleStatus = &r.status;
    RuleJson::Alerting(AlertingRuleJson {
        state: r.state().as_str(),
        name: r.spec.name.clone(),
        query: query_text(&r.spec),
        duration: r.spec.for_ms as f64 / 1000.0,
        keep_firing_for: r.spec.keep_firing_for_ms as f64 / 1000.0,
        labels: r.spec.labels.clone(),
        annotations: r.spec.annotations.clone(),
        alerts: (!exclude_alerts).then(|| r.active_alerts().into_iter().map(alert_json).collect()),
        health: st.health,
        last_error: st.last_error.clone(),
        evaluation_time: st.eval_duration.as_secs_f64(),
        last_evaluation: time(st.last_eval_ms),
        kind: "alerting",
    })
}

fn recording_json(spec: &RuleSpec, st: &RuleStatus) -> RuleJson {
    RuleJson::Recording(RecordingRuleJson {
        name: spec.name.clone(),
        query: query_text(spec),
        labels: spec.labels.clone(),
        health: st.health,
        last_error: st.last_error.clone(),
        evaluation_time: st.eval_duration.as_secs_f64(),
        last_evaluation: time(st.last_eval_ms),
        kind: "recording",
    })
}

fn keep_rule(f: &RulesFilter, r: &Rule) -> bool {
    let spec = r.spec();
    if !f.rule_names.is_empty() && !f.rule_names.contains(&spec.name) {
        return false;
    }
    let wanted = match r {
        Rule::Alerting(_) => f.rule_type != RuleTypeFilter::Record,
        Rule::Recording(_) => f.rule_type != RuleTypeFilter::Alert,
    };
    if !wanted {
        return false;
    }
    f.matchers.is_empty()
        || f.matchers.iter().any(|set| {
            set.iter()
                .all(|m| m.matches(spec.labels.get(&m.name).map_or("", String::as_str)))
        })
}

/// The rules response for `groups`, filtered.
pub fn rules_response(groups: &[Group], f: &RulesFilter) -> RulesResponse {
    let mut sorted: Vec<&Group> = groups.iter().collect();
    sorted.sort_by(|a, b| (a.file(), a.name()).cmp(&(b.file(), b.name())));
    let mut out = Vec::new();
    for g in sorted {
        if !f.rule_groups.is_empty() && !f.rule_groups.iter().any(|n| n == g.name()) {
            continue;
        }
        if !f.files.is_empty() && !f.files.iter().any(|n| n == g.file()) {
            continue;
        }
        let rules: Vec<RuleJson> = g
            .rules
            .iter()
            .filter(|r| keep_rule(f, r))
            .map(|r| match r {
                Rule::Alerting(a) => alerting_json(a, f.exclude_alerts),
                Rule::Recording(rr) => recording_json(&rr.spec, &rr.status),
            })
            .collect();
        // Groups whose rules were all filtered out are left out, as in Prometheus.
        if rules.is_empty() {
            continue;
        }
        out.push(RuleGroupJson {
            name: g.name().to_owned(),
            file: g.file().to_owned(),
            rules,
            interval: g.interval_ms as f64 / 1000.0,
            limit: g.spec.limit,
            evaluation_time: g.last_duration.as_secs_f64(),
            last_evaluation: time(g.last_eval_ms),
        });
    }
    RulesResponse { groups: out }
}

/// The alerts response: every pending or firing alert.
pub fn alerts_response(groups: &[Group]) -> AlertsResponse {
    let mut sorted: Vec<&Group> = groups.iter().collect();
    sorted.sort_by(|a, b| (a.file(), a.name()).cmp(&(b.file(), b.name())));
    let alerts = sorted
        .iter()
        .flat_map(|g| g.rules.iter())
        .filter_map(|r| match r {
            Rule::Alerting(a) => Some(a),
            Rule::Recording(_) => None,
        })
        .flat_map(|a| a.active_alerts().into_iter().map(alert_json))
        .collect();
    AlertsResponse { alerts }
}

impl Manager {
    /// `/api/v1/rules` data.
    pub fn rules_api(&self, filter: &RulesFilter) -> RulesResponse {
        rules_response(&self.groups(), filter)
    }

    /// `/api/v1/alerts` data.
    pub fn alerts_api(&self) -> AlertsResponse {
        alerts_response(&self.groups())
    }
}
