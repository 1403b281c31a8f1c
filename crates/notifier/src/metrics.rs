//! Self-metrics with Prometheus's `prometheus_notifications_*` names.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use beacon_exposition::family::{Metric, MetricFamily, MetricValue};
use beacon_model::{Labels, MetricType};
use parking_lot::Mutex;

/// The label naming the Alertmanager URL.
pub const ALERTMANAGER_LABEL: &str = "alertmanager";

/// Counters of one Alertmanager URL.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct AmStats {
    pub(crate) sent: u64,
    pub(crate) errors: u64,
    pub(crate) latency_count: u64,
    pub(crate) latency_sum_s: f64,
}

/// All counters; gauges are read from the notifier's state at collection.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    per_am: Mutex<BTreeMap<String, AmStats>>,
    dropped: AtomicU64,
}

/// Values of the gauges, read under the notifier's lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gauges {
    pub(crate) queue_length: usize,
    pub(crate) queue_capacity: usize,
    pub(crate) discovered: usize,
}

impl Metrics {
    pub(crate) fn add_dropped(&self, n: usize) {
        if n > 0 {
            self.dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records one `POST` to `url` carrying `count` alerts.
    pub(crate) fn observe(&self, url: &str, count: usize, ok: bool, latency_s: f64) {
        let mut m = self.per_am.lock();
        let s = m.entry(url.to_owned()).or_default();
        if ok {
            s.sent += count as u64;
        } else {
            s.errors += count as u64;
        }
        s.latency_count += 1;
        s.latency_sum_s += latency_s;
    }

    /// Keeps counters of exactly the `active` URLs, creating zeroed ones
    /// for new Alertmanagers so they show up before the first send.
    pub(crate) fn retain_alertmanagers<'a>(&self, active: impl Iterator<Item = &'a str>) {
        let mut m = self.per_am.lock();
        let mut keep: BTreeMap<String, AmStats> = BTreeMap::new();
        for url in active {
            let s = m.remove(url).unwrap_or_default();
            keep.insert(url.to_owned(), s);
        }
        *m = keep;
    }

    pub(crate) fn stats(&self, url: &str) -> Option<AmStats> {
        self.per_am.lock().get(url).copied()
    }

    pub(crate) fn collect(&self, g: Gauges, out: &mut Vec<MetricFamily>) {
        let per_am = self.per_am.lock().clone();
        let am = |url: &str| Labels::from_pairs([(ALERTMANAGER_LABEL, url)]);
        let mut latency = MetricFamily::new(
            "prometheus_notifications_latency_seconds",
            "Latency quantiles for sending alert notifications.",
            MetricType::Summary,
        );
        let mut errors = MetricFamily::new(
            "prometheus_notifications_errors_total",
            "Total number of sent alerts affected by errors.",
            MetricType::Counter,
        );
        let mut sent = MetricFamily::new(
            "prometheus_notifications_sent_total",
            "Total number of alerts sent.",
            MetricType::Counter,
        );
        for (url, s) in &per_am {
            // Like Prometheus, a latency series appears with the first send.
            if s.latency_count > 0 {
                latency.metrics.push(Metric {
                    labels: am(url),
                    value: MetricValue::Summary {
                        count: s.latency_count as f64,
                        sum: s.latency_sum_s,
                        quantiles: Vec::new(),
                        created_s: None,
                    },
                    timestamp_ms: None,
                });
            }
            errors.push_value(am(url), s.errors as f64);
            sent.push_value(am(url), s.sent as f64);
        }
        out.extend([latency, errors, sent]);
        let plain = |name: &str, help: &str, t: MetricType, v: f64| {
            let mut f = MetricFamily::new(name, help, t);
            f.push_value(Labels::empty(), v);
            f
        };
        out.push(plain(
            "prometheus_notifications_dropped_total",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            MetricType::Counter,
            self.dropped() as f64,
        ));
        out.push(plain(
            "prometheus_notifications_queue_length",
            "The number of alert notifications in the queue.",
            MetricType::Gauge,
            g.queue_length as f64,
        ));
        out.push(plain(
            "prometheus_notifications_queue_capacity",
            "The capacity of the alert notifications queue.",
            MetricType::Gauge,
            g.queue_capacity as f64,
        ));
        out.push(plain(
            "prometheus_notifications_alertmanagers_discovered",
            "The number of alertmanagers discovered and active.",
            MetricType::Gauge,
            g.discovered as f64,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_exposition::encode::{Format, encode};

    #[test]
    fn text_exposition() {
        let m = Metrics::default();
        m.retain_alertmanagers(["http://a/api/v2/alerts", "http://b/api/v2/alerts"].into_iter());
        m.observe("http://a/api/v2/alerts", 3, true, 0.25);
        m.observe("http://a/api/v2/alerts", 2, false, 0.5);
        m.add_dropped(2);
        // b disappears from discovery: its series go away.
        m.retain_alertmanagers(["http://a/api/v2/alerts"].into_iter());
        let mut out = Vec::new();
        let gauges = Gauges {
            queue_length: 4,
            queue_capacity: 10,
            discovered: 1,
        };
        m.collect(gauges, &mut out);
        let text = encode(Format::Text004, &out);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                r#"prometheus_notifications_latency_seconds_sum{alertmanager="http://a/api/v2/alerts"} 0.75"#,
                r#"prometheus_notifications_latency_seconds_count{alertmanager="http://a/api/v2/alerts"} 2"#,
                r#"prometheus_notifications_errors_total{alertmanager="http://a/api/v2/alerts"} 2"#,
                r#"prometheus_notifications_sent_total{alertmanager="http://a/api/v2/alerts"} 3"#,
                "prometheus_notifications_dropped_total 2",
                "prometheus_notifications_queue_length 4",
                "prometheus_notifications_queue_capacity 10",
                "prometheus_notifications_alertmanagers_discovered 1",
            ]
        );
        assert!(text.contains("# TYPE prometheus_notifications_latency_seconds summary"));
    }
}
