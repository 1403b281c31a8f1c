//! The manager's self-metrics, under Prometheus's names and its
//! `rule_group="<file>;<name>"` label, as exposition metric families.

use beacon_exposition::family::{MetricFamily, MetricValue};
use beacon_model::{Labels, MetricType};

use crate::group::Group;
use crate::manager::Manager;

fn group_label(g: &Group) -> Labels {
    Labels::from_pairs([("rule_group", format!("{};{}", g.file(), g.name()))])
}

/// Families for `groups`, in a stable order.
pub fn families(groups: &[Group]) -> Vec<MetricFamily> {
    type Get = fn(&Group) -> f64;
    let simple: [(&str, &str, MetricType, Get); 9] = [
        (
            "prometheus_rule_evaluations_total",
            "The total number of rule evaluations.",
            MetricType::Counter,
            |g| g.metrics.evaluations as f64,
        ),
        (
            "prometheus_rule_evaluation_failures_total",
            "The total number of rule evaluation failures.",
            MetricType::Counter,
            |g| g.metrics.evaluation_failures as f64,
        ),
        (
            "prometheus_rule_group_iterations_total",
            "The total number of scheduled rule group evaluations, whether executed or missed.",
            MetricType::Counter,
            |g| (g.metrics.iterations + g.metrics.iterations_missed) as f64,
        ),
        (
            "prometheus_rule_group_iterations_missed_total",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            MetricType::Counter,
            |g| g.metrics.iterations_missed as f64,
        ),
        (
            "prometheus_rule_group_last_duration_seconds",
            "The duration of the last rule group evaluation.",
            MetricType::Gauge,
            |g| g.last_duration.as_secs_f64(),
        ),
        (
            "prometheus_rule_group_interval_seconds",
            "The interval of a rule group.",
            MetricType::Gauge,
            |g| g.interval_ms as f64 / 1000.0,
        ),
        (
            "prometheus_rule_group_rules",
            "The number of rules.",
            MetricType::Gauge,
            |g| g.rule_count() as f64,
        ),
        (
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "The timestamp of the last rule group evaluation in seconds.",
            MetricType::Gauge,
            |g| g.last_eval_ms.map_or(0.0, |t| t as f64 / 1000.0),
        ),
        (
            "prometheus_rule_group_last_evaluation_samples",
            "The number of samples returned during the last rule group evaluation.",
            MetricType::Gauge,
            |g| g.metrics.last_samples as f64,
        ),
    ];
    let mut out = Vec::with_capacity(simple.len() + 1);
    for (name, help, ty, get) in simple {
        let mut f = MetricFamily::new(name, help, ty);
        for g in groups {
            f.push_value(group_label(g), get(g));
        }
        out.push(f);
    }
    let mut f = MetricFamily::new(
        "prometheus_rule_evaluation_duration_seconds",
        "The duration for a rule to execute.",
        MetricType::Summary,
    );
    for g in groups {
        f.metrics.push(beacon_exposition::family::Metric {
            labels: group_label(g),
            value: MetricValue::Summary {
                count: g.metrics.eval_seconds_count as f64,
                sum: g.metrics.eval_seconds_sum,
                quantiles: Vec::new(),
                created_s: None,
            },
            timestamp_ms: None,
        });
    }
    out.push(f);
    out
}

impl Manager {
    /// Appends the rule manager's metric families to `out`.
    pub fn collect(&self, out: &mut Vec<MetricFamily>) {
        let mut groups = self.groups();
        groups.sort_by(|a, b| (a.file(), a.name()).cmp(&(b.file(), b.name())));
        out.extend(families(&groups));
    }
}
