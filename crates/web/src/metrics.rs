//! The web layer's own metrics with Prometheus's names, so existing
//! dashboards work: requests by handler and code, request durations, and
//! the query engine's duration summary and concurrency gauges.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use beacon_exposition::family::{Bucket, Metric, MetricFamily, MetricValue, Quantile};
use beacon_model::{Labels, MetricType};
use parking_lot::Mutex;

/// Bucket bounds of `prometheus_http_request_duration_seconds`, as in
/// Prometheus.
pub const HTTP_DURATION_BUCKETS: &[f64] = &[0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0];

/// How many recent observations a summary keeps for its quantiles.
pub const SUMMARY_WINDOW_MAX: usize = 1024;

/// Quantiles reported by summaries, as Prometheus's engine reports them.
const SUMMARY_QUANTILES: &[f64] = &[0.5, 0.9, 0.99];

/// The engine phases Prometheus's summary labels as `slice`.
pub const QUERY_SLICES: &[&str] = &["inner_eval", "prepare_time", "queue_time", "result_sort"];

#[derive(Debug, Default)]
struct Histo {
    counts: Vec<u64>,
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Summary {
    window: VecDeque<f64>,
    count: u64,
    sum: f64,
}

impl Summary {
    fn observe(&mut self, v: f64) {
        if self.window.len() == SUMMARY_WINDOW_MAX {
            self.window.pop_front();
        }
        self.window.push_back(v);
        self.count += 1;
        self.sum += v;
    }

    fn quantiles(&self) -> Vec<Quantile> {
        let mut sorted: Vec<f64> = self.window.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        SUMMARY_QUANTILES
            .iter()
            .map(|&q| {
                let value = if sorted.is_empty() {
                    f64::NAN
                } else {
                    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
                    sorted[i - 1]
                };
                Quantile { quantile: q, value }
            })
            .collect()
    }
}

/// HTTP and engine metrics, updated by the router's middleware and the
/// query handlers.
#[derive(Debug, Default)]
pub struct WebMetrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histo>>,
    query_slices: Mutex<BTreeMap<&'static str, Summary>>,
    queries_in_flight: AtomicU64,
    pub(crate) queries_max: AtomicU64,
}

impl WebMetrics {
    /// Counts one finished request.
    pub fn observe_request(&self, handler: &str, code: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .entry((handler.to_owned(), code))
            .or_default() += 1;
        let mut d = self.durations.lock();
        let h = d.entry(handler.to_owned()).or_default();
        if h.counts.is_empty() {
            h.counts = vec![0; HTTP_DURATION_BUCKETS.len()];
        }
        for (c, &b) in h.counts.iter_mut().zip(HTTP_DURATION_BUCKETS) {
            if seconds <= b {
                *c += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Records one phase of a query.
    pub fn observe_query(&self, slice: &'static str, seconds: f64) {
        self.query_slices
            .lock()
            .entry(slice)
            .or_default()
            .observe(seconds);
    }

    pub(crate) fn query_started(&self) {
        self.queries_in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn query_finished(&self) {
        self.queries_in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Appends the families.
    pub fn collect(&self, out: &mut Vec<MetricFamily>) {
        let mut reqs = MetricFamily::new(
            "prometheus_http_requests_total",
            "Counter of HTTP requests.",
            MetricType::Counter,
        );
        for ((handler, code), n) in self.requests.lock().iter() {
            let code = code.to_string();
            let labels = Labels::from_pairs([("code", code.as_str()), ("handler", handler)]);
            reqs.push_value(labels, *n as f64);
        }
        out.push(reqs);
        out.push(self.duration_family());
        out.push(self.query_family());
        let mut q = MetricFamily::new(
            "prometheus_engine_queries",
            "The current number of queries being executed or waiting.",
            MetricType::Gauge,
        );
        q.push_value(
            Labels::empty(),
            self.queries_in_flight.load(Ordering::Relaxed) as f64,
        );
        out.push(q);
        let mut m = MetricFamily::new(
            "prometheus_engine_queries_concurrent_max",
            "The max number of concurrent queries.",
            MetricType::Gauge,
        );
        m.push_value(
            Labels::empty(),
            self.queries_max.load(Ordering::Relaxed) as f64,
        );
        out.push(m);
    }

    fn duration_family(&self) -> MetricFamily {
        let mut f = MetricFamily::new(
            "prometheus_http_request_duration_seconds",
            "Histogram of latencies for HTTP requests.",
            MetricType::Histogram,
        );
        for (handler, h) in self.durations.lock().iter() {
            let mut buckets: Vec<Bucket> = HTTP_DURATION_BUCKETS
                .iter()
                .zip(&h.counts)
                .map(|(&b, &c)| Bucket {
                    upper_bound: b,
                    cumulative_count: c as f64,
                    exemplar: None,
                })
                .collect();
            buckets.push(Bucket {
                upper_bound: f64::INFINITY,
                cumulative_count: h.count as f64,
                exemplar: None,
            });
            f.metrics.push(Metric {
                labels: Labels::from_pairs([("handler", handler.as_str())]),
                value: MetricValue::Histogram {
                    count: h.count as f64,
                    sum: h.sum,
                    buckets,
                    created_s: None,
                    native: None,
                },
                timestamp_ms: None,
            });
        }
        f
    }

    fn query_family(&self) -> MetricFamily {
        let mut f = MetricFamily::new(
            "prometheus_engine_query_duration_seconds",
            "Query timings",
            MetricType::Summary,
        );
        let slices = self.query_slices.lock();
        for slice in QUERY_SLICES {
            let empty = Summary::default();
            let s = slices.get(slice).unwrap_or(&empty);
            f.metrics.push(Metric {
                labels: Labels::from_pairs([("slice", *slice)]),
                value: MetricValue::Summary {
                    count: s.count as f64,
                    sum: s.sum,
                    quantiles: s.quantiles(),
                    created_s: None,
                },
                timestamp_ms: None,
            });
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_durations_are_counted() {
        let m = WebMetrics::default();
        m.observe_request("/api/v1/query", 200, 0.05);
        m.observe_request("/api/v1/query", 200, 0.5);
        m.observe_query("inner_eval", 0.25);
        let mut fams = Vec::new();
        m.collect(&mut fams);
        let text =
            beacon_exposition::encode::encode(beacon_exposition::encode::Format::Text004, &fams);
        assert!(
            text.contains(
                "prometheus_http_requests_total{code=\"200\",handler=\"/api/v1/query\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("prometheus_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.1\"} 1\n"), "{text}");
        assert!(text.contains("prometheus_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"1\"} 2\n"), "{text}");
        assert!(text.contains("prometheus_engine_query_duration_seconds{quantile=\"0.5\",slice=\"inner_eval\"} 0.25\n"), "{text}");
    }
}
