//! Wiring of discovery and scraping: turns `prometheus.yml`'s scrape
//! configs into scrape-pool settings (discovery converts its own part), runs both
//! managers, and reports targets, metadata and scrape metrics to the API.

use std::sync::Arc;
use std::time::Duration;

use beacon_config::Config;
use beacon_discovery::DiscoveryManager;
use beacon_exposition::family::{Metric, MetricFamily, MetricValue};
use beacon_model::{Labels, MetricType};
use beacon_scrape::{ManagerOptions, ScrapeManager, ScrapeOptions};
use beacon_storage::Appendable;
use beacon_web::backend::{ActiveTarget, DroppedTarget, TargetMetadata};

/// Discovery and scraping, running.
pub struct Scraping {
    pub manager: Arc<ScrapeManager>,
    discovery: parking_lot::Mutex<DiscoveryManager>,
    run: tokio::task::JoinHandle<()>,
}

impl Scraping {
    /// Starts both managers on `config`, appending into `storage`. A job
    /// whose settings cannot be used stops start-up, naming the job.
    pub async fn start(
        storage: Arc<dyn Appendable>,
        config: &Config,
    ) -> Result<Scraping, beacon_scrape::Error> {
        let manager = Arc::new(ScrapeManager::new(storage, ManagerOptions::default()));
        let discovery = DiscoveryManager::new();
        let rx = discovery.subscribe();
        let m = Arc::clone(&manager);
        let run = tokio::spawn(async move { m.run(rx).await });
        let s = Scraping {
            manager,
            discovery: parking_lot::Mutex::new(discovery),
            run,
        };
        if let Err(e) = s.apply(config).await {
            s.stop().await;
            return Err(e);
        }
        Ok(s)
    }

    /// Applies a (re)loaded configuration; a job with unusable settings
    /// refuses the whole configuration and the running one stays.
    pub async fn apply(&self, config: &Config) -> Result<(), beacon_scrape::Error> {
        let jobs: Vec<ScrapeOptions> = config
            .all_scrape_configs()
            .map(beacon_scrape::from_config::scrape_options)
            .collect::<Result<_, _>>()?;
        let (sds, errors) = beacon_discovery::from_config::jobs(config);
        for (job, e) in errors {
            tracing::error!(msg = "Cannot discover targets of a job", job = %job, err = %e);
        }
        let res = self.manager.apply_options(&jobs).await;
        self.discovery.lock().apply_config(sds);
        res
    }

    /// Stops discovery and every scrape loop. Like Prometheus, shutdown
    /// writes no staleness markers.
    pub async fn stop(&self) {
        self.discovery.lock().stop();
        self.manager.stop().await;
        self.run.abort();
    }

    pub fn active_targets(&self) -> Vec<ActiveTarget> {
        self.manager
            .targets()
            .active
            .into_iter()
            .map(|t| ActiveTarget {
                discovered_labels: t.discovered_labels,
                labels: t.labels,
                scrape_pool: t.scrape_pool,
                scrape_url: t.scrape_url,
                global_url: t.global_url,
                last_error: t.last_error,
                last_scrape_ms: t.last_scrape.and_then(|s| {
                    s.duration_since(std::time::UNIX_EPOCH)
                        .ok()
                        .map(|d| d.as_millis() as i64)
                }),
                last_scrape_duration_s: t.last_scrape_duration.as_secs_f64(),
                health: t.health.as_str().to_owned(),
                scrape_interval: fmt_duration(t.scrape_interval),
                scrape_timeout: fmt_duration(t.scrape_timeout),
            })
            .collect()
    }

    pub fn dropped_targets(&self) -> Vec<DroppedTarget> {
        self.manager
            .targets()
            .dropped
            .into_iter()
            .map(|d| DroppedTarget {
                discovered_labels: d.discovered_labels,
                scrape_pool: d.scrape_pool,
            })
            .collect()
    }

    pub fn metadata(&self) -> Vec<TargetMetadata> {
        self.manager
            .metadata()
            .into_iter()
            .map(|m| TargetMetadata {
                target: m.target,
                metric: m.metadata.metric,
                metadata: beacon_model::Metadata {
                    metric_type: m.metadata.metric_type,
                    help: m.metadata.help,
                    unit: m.metadata.unit,
                },
            })
            .collect()
    }

    /// The scrape self-metrics with Prometheus's names.
    pub fn collect(&self, out: &mut Vec<MetricFamily>) {
        let s = self.manager.stats();
        let mut interval = MetricFamily::new(
            "prometheus_target_interval_length_seconds",
            "Actual intervals between scrapes.",
            MetricType::Summary,
        );
        for (iv, (sum, count)) in &s.prometheus_target_interval_length_seconds {
            interval.metrics.push(Metric {
                labels: Labels::from_pairs([("interval", iv.as_str())]),
                value: MetricValue::Summary {
                    count: *count as f64,
                    sum: *sum,
                    quantiles: Vec::new(),
                    created_s: None,
                },
                timestamp_ms: None,
            });
        }
        out.push(interval);
        let mut pool_targets = MetricFamily::new(
            "prometheus_target_scrape_pool_targets",
            "Current number of targets in this scrape pool.",
            MetricType::Gauge,
        );
        for (job, n) in &s.prometheus_target_scrape_pool_targets {
            pool_targets.push_value(
                Labels::from_pairs([("scrape_job", job.as_str())]),
                *n as f64,
            );
        }
        out.push(pool_targets);
        let counters: [(&str, u64); 12] = [
            (
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                s.prometheus_target_scrapes_exceeded_sample_limit_total,
            ),
            (
                "prometheus_target_scrapes_exceeded_body_size_limit_total",
                s.prometheus_target_scrapes_exceeded_body_size_limit_total,
            ),
            (
                "prometheus_target_scrape_pool_exceeded_label_limits_total",
                s.prometheus_target_scrape_pool_exceeded_label_limits_total,
            ),
            (
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                s.prometheus_target_scrapes_sample_duplicate_timestamp_total,
            ),
            (
                "prometheus_target_scrapes_sample_out_of_order_total",
                s.prometheus_target_scrapes_sample_out_of_order_total,
            ),
            (
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                s.prometheus_target_scrapes_sample_out_of_bounds_total,
            ),
            (
                "prometheus_target_scrape_pool_exceeded_target_limit_total",
                s.prometheus_target_scrape_pool_exceeded_target_limit_total,
            ),
            (
                "prometheus_target_scrape_pool_reloads_total",
                s.prometheus_target_scrape_pool_reloads_total,
            ),
            (
                "prometheus_target_scrape_pool_reloads_failed_total",
                s.prometheus_target_scrape_pool_reloads_failed_total,
            ),
            (
                "prometheus_target_scrapes_cache_flush_forced_total",
                s.prometheus_target_scrapes_cache_flush_forced_total,
            ),
            ("beacon_scrapes_total", s.beacon_scrapes_total),
            ("beacon_scrapes_failed_total", s.beacon_scrapes_failed_total),
        ];
        for (name, v) in counters {
            let mut f = MetricFamily::new(name, name.replace('_', " "), MetricType::Counter);
            f.push_value(Labels::empty(), v as f64);
            out.push(f);
        }
        let mut pools = MetricFamily::new(
            "prometheus_target_scrape_pools_total",
            "Total number of scrape pool creation attempts.",
            MetricType::Counter,
        );
        pools.push_value(
            Labels::empty(),
            s.prometheus_target_scrape_pools_total as f64,
        );
        out.push(pools);
    }
}

/// A duration as Prometheus prints it (`15s`, `1m`).
fn fmt_duration(d: Duration) -> String {
    beacon_model::format_duration_ms(d.as_millis() as i64)
}
