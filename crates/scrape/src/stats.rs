//! Self-monitoring counters, named as Prometheus names them so existing
//! dashboards work; [`ScrapeStats::snapshot`] gives a plain struct that
//! the server encodes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// Live counters shared by the manager, pools and loops.
#[derive(Debug, Default)]
pub struct ScrapeStats {
    pub exceeded_sample_limit: AtomicU64,
    pub exceeded_body_size_limit: AtomicU64,
    pub exceeded_label_limits: AtomicU64,
    pub sample_duplicate_timestamp: AtomicU64,
    pub sample_out_of_order: AtomicU64,
    pub sample_out_of_bounds: AtomicU64,
    pub exceeded_target_limit: AtomicU64,
    pub pool_reloads: AtomicU64,
    pub pool_reloads_failed: AtomicU64,
    pub cache_flush_forced: AtomicU64,
    pub scrapes: AtomicU64,
    pub scrapes_failed: AtomicU64,
    /// Per configured interval: (sum of seconds, count) of the actual
    /// time between scrapes.
    intervals: Mutex<BTreeMap<String, (f64, u64)>>,
    pool_targets: Mutex<BTreeMap<String, usize>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeStatsSnapshot {
    /// `prometheus_target_scrapes_exceeded_sample_limit_total`
    pub prometheus_target_scrapes_exceeded_sample_limit_total: u64,
    /// `prometheus_target_scrapes_exceeded_body_size_limit_total`
    pub prometheus_target_scrapes_exceeded_body_size_limit_total: u64,
    /// `prometheus_target_scrape_pool_exceeded_label_limits_total`
    pub prometheus_target_scrape_pool_exceeded_label_limits_total: u64,
    /// `prometheus_target_scrapes_sample_duplicate_timestamp_total`
    pub prometheus_target_scrapes_sample_duplicate_timestamp_total: u64,
    /// `prometheus_target_scrapes_sample_out_of_order_total`
    pub prometheus_target_scrapes_sample_out_of_order_total: u64,
    /// `prometheus_target_scrapes_sample_out_of_bounds_total`
    pub prometheus_target_scrapes_sample_out_of_bounds_total: u64,
    /// `prometheus_target_scrape_pool_exceeded_target_limit_total`
    pub prometheus_target_scrape_pool_exceeded_target_limit_total: u64,
    /// `prometheus_target_scrape_pool_reloads_total`
    pub prometheus_target_scrape_pool_reloads_total: u64,
    /// `prometheus_target_scrape_pool_reloads_failed_total`
    pub prometheus_target_scrape_pool_reloads_failed_total: u64,
    /// `prometheus_target_scrapes_cache_flush_forced_total`
    pub prometheus_target_scrapes_cache_flush_forced_total: u64,
    /// `beacon_scrapes_total`: scrapes attempted.
    pub beacon_scrapes_total: u64,
    /// `beacon_scrapes_failed_total`: scrapes that ended with `up` 0.
    pub beacon_scrapes_failed_total: u64,
    /// `prometheus_target_interval_length_seconds{interval}` as
    /// `(sum, count)` (Prometheus exports a summary; the server may expose
    /// these as `_sum` and `_count`).
    pub prometheus_target_interval_length_seconds: BTreeMap<String, (f64, u64)>,
    /// `prometheus_target_scrape_pool_targets{scrape_job}`
    pub prometheus_target_scrape_pool_targets: BTreeMap<String, usize>,
    /// `prometheus_target_scrape_pools_total`
    pub prometheus_target_scrape_pools_total: usize,
}

impl ScrapeStats {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the time since the previous scrape of a loop.
    pub(crate) fn observe_interval(&self, interval: &str, seconds: f64) {
        let mut m = self.intervals.lock();
        let e = m.entry(interval.to_owned()).or_default();
        e.0 += seconds;
        e.1 += 1;
    }

    pub(crate) fn set_pool_targets(&self, job: &str, n: Option<usize>) {
        let mut m = self.pool_targets.lock();
        match n {
            Some(n) => {
                m.insert(job.to_owned(), n);
            }
            None => {
                m.remove(job);
            }
        }
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> ScrapeStatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let pools = self.pool_targets.lock().clone();
        ScrapeStatsSnapshot {
            prometheus_target_scrapes_exceeded_sample_limit_total: g(&self.exceeded_sample_limit),
            prometheus_target_scrapes_exceeded_body_size_limit_total: g(
                &self.exceeded_body_size_limit
            ),
            prometheus_target_scrape_pool_exceeded_label_limits_total: g(
                &self.exceeded_label_limits
            ),
            prometheus_target_scrapes_sample_duplicate_timestamp_total: g(
                &self.sample_duplicate_timestamp
            ),
            prometheus_target_scrapes_sample_out_of_order_total: g(&self.sample_out_of_order),
            prometheus_target_scrapes_sample_out_of_bounds_total: g(&self.sample_out_of_bounds),
            prometheus_target_scrape_pool_exceeded_target_limit_total: g(
                &self.exceeded_target_limit
            ),
            prometheus_target_scrape_pool_reloads_total: g(&self.pool_reloads),
            prometheus_target_scrape_pool_reloads_failed_total: g(&self.pool_reloads_failed),
            prometheus_target_scrapes_cache_flush_forced_total: g(&self.cache_flush_forced),
            beacon_scrapes_total: g(&self.scrapes),
            beacon_scrapes_failed_total: g(&self.scrapes_failed),
            prometheus_target_interval_length_seconds: self.intervals.lock().clone(),
            prometheus_target_scrape_pools_total: pools.len(),
            prometheus_target_scrape_pool_targets: pools,
        }
    }
}
