//! Metric families as exporters produce them, before they become samples.
//!
//! This mirrors `io.prometheus.client.MetricFamily`: a name, help, type
//! and unit, then metrics that each carry a label set and a typed value.
//! Encoders turn families into text; the protobuf parser produces them.

use beacon_model::{Exemplar, Histogram, Labels, MetricType};

/// One metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name. For counters this may end in `_total`; encoders add
    /// or strip the suffix as their format requires.
    pub name: String,
    pub help: String,
    pub metric_type: MetricType,
    /// The unit (OpenMetrics `# UNIT`); empty when unknown.
    pub unit: String,
    pub metrics: Vec<Metric>,
}

/// One metric of a family: its own labels (without `__name__`) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub labels: Labels,
    pub value: MetricValue,
    /// Milliseconds since the epoch, when the exporter sets one.
    pub timestamp_ms: Option<i64>,
}

/// A classic histogram bucket: cumulative count of observations `<= upper_bound`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub cumulative_count: f64,
    pub exemplar: Option<Exemplar>,
}

/// A summary quantile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile {
    pub quantile: f64,
    pub value: f64,
}

/// A metric's value, by family type.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    Counter {
        value: f64,
        created_s: Option<f64>,
        exemplar: Option<Exemplar>,
    },
    Gauge(f64),
    Unknown(f64),
    Summary {
        count: f64,
        sum: f64,
        quantiles: Vec<Quantile>,
        created_s: Option<f64>,
    },
    /// Classic buckets (the `+Inf` bucket included), and optionally the
    /// native histogram the same observations make.
    Histogram {
        count: f64,
        sum: f64,
        buckets: Vec<Bucket>,
        created_s: Option<f64>,
        native: Option<Box<Histogram>>,
    },
    /// OpenMetrics info: the value is always 1.
    Info,
    /// OpenMetrics stateset: one label per state, value 1 or 0.
    StateSet(Vec<(String, bool)>),
}

impl MetricFamily {
    /// A family with no metrics yet.
    pub fn new(
        name: impl Into<String>,
        help: impl Into<String>,
        metric_type: MetricType,
    ) -> MetricFamily {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            metric_type,
            unit: String::new(),
            metrics: Vec::new(),
        }
    }

    /// Adds a metric with `labels` and a plain value of the family's type
    /// (counter, gauge or unknown).
    pub fn push_value(&mut self, labels: Labels, value: f64) -> &mut Self {
        let value = match self.metric_type {
            MetricType::Counter => MetricValue::Counter {
                value,
                created_s: None,
                exemplar: None,
            },
            MetricType::Gauge => MetricValue::Gauge(value),
            _ => MetricValue::Unknown(value),
        };
        self.metrics.push(Metric {
            labels,
            value,
            timestamp_ms: None,
        });
        self
    }
}
