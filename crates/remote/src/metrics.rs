//! The receiver's self-metrics: Prometheus's two remote-write receiver
//! counters under their own names, plus Beacon's request and written
//! counters (Prometheus counts those only as generic HTTP metrics).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use beacon_exposition::family::MetricFamily;
use beacon_model::{Labels, MetricType};
use parking_lot::Mutex;

use crate::receiver::{Protocol, Receiver, WriteStats};

/// Counters, updated by every request.
#[derive(Debug, Default)]
pub(crate) struct ReceiverMetrics {
    invalid_labels_samples: AtomicU64,
    without_metadata_samples: AtomicU64,
    samples: AtomicU64,
    histograms: AtomicU64,
    exemplars: AtomicU64,
    /// Requests by (protocol, status code); few distinct keys.
    requests: Mutex<BTreeMap<(Option<Protocol>, u16), u64>>,
}

impl ReceiverMetrics {
    pub(crate) fn invalid_labels(&self, n: u64) {
        self.invalid_labels_samples.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn without_metadata(&self, n: u64) {
        self.without_metadata_samples
            .fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn written(&self, s: WriteStats) {
        self.samples.fetch_add(s.samples, Ordering::Relaxed);
        self.histograms.fetch_add(s.histograms, Ordering::Relaxed);
        self.exemplars.fetch_add(s.exemplars, Ordering::Relaxed);
    }

    pub(crate) fn request(&self, protocol: Option<Protocol>, status: u16) {
        *self.requests.lock().entry((protocol, status)).or_default() += 1;
    }
}

impl Receiver {
    /// Appends the receiver's metric families to `out`.
    pub fn collect(&self, out: &mut Vec<MetricFamily>) {
        let m = &self.metrics;
        let counters: [(&str, &str, &AtomicU64); 5] = [
            (
                "prometheus_api_remote_write_invalid_labels_samples_total",
                "The total number of received remote write samples and histogram samples which were rejected due to invalid labels.",
                &m.invalid_labels_samples,
            ),
            (
                "prometheus_api_remote_write_without_metadata_appended_samples_total",
                "The total number of received remote write samples (and histogram samples) which were ingested without corresponding metadata.",
                &m.without_metadata_samples,
            ),
            (
                "beacon_remote_write_samples_written_total",
                "Float samples committed by the remote write receiver.",
                &m.samples,
            ),
            (
                "beacon_remote_write_histograms_written_total",
                "Native histogram samples committed by the remote write receiver.",
                &m.histograms,
            ),
            (
                "beacon_remote_write_exemplars_written_total",
                "Exemplars committed by the remote write receiver.",
                &m.exemplars,
            ),
        ];
        for (name, help, c) in counters {
            let mut f = MetricFamily::new(name, help, MetricType::Counter);
            f.push_value(Labels::empty(), c.load(Ordering::Relaxed) as f64);
            out.push(f);
        }
        let mut f = MetricFamily::new(
            "beacon_remote_write_requests_total",
            "Remote write requests received, by protocol version and response status code.",
            MetricType::Counter,
        );
        for (&(protocol, code), &n) in m.requests.lock().iter() {
            let version = protocol.map_or("unknown", Protocol::as_str);
            let labels =
                Labels::from_pairs([("code", code.to_string().as_str()), ("version", version)]);
            f.push_value(labels, n as f64);
        }
        out.push(f);
    }
}
