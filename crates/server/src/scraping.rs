//! Wiring of discovery and scraping: turns `prometheus.yml`'s scrape
//! configs into discovery providers and scrape-pool settings, runs both
//! managers, and reports targets, metadata and scrape metrics to the API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use beacon_config::{Config, ScrapeConfig};
use beacon_discovery::client::{Auth, HttpClientSettings};
use beacon_discovery::{DiscoveryManager, SdConfig};
use beacon_exposition::family::{Metric, MetricFamily, MetricValue};
use beacon_model::{Labels, MetricType};
use beacon_scrape::{Limits, ManagerOptions, ScrapeManager, ScrapeOptions};
use beacon_storage::Appendable;
use beacon_web::backend::{ActiveTarget, DroppedTarget, TargetMetadata};

fn limit(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn client(sc: &ScrapeConfig) -> HttpClientSettings {
    let h = &sc.http;
    let auth = if let Some(b) = &h.basic_auth {
        Auth::Basic {
            username: b.username.clone(),
            password: b.password.expose().to_owned(),
        }
    } else if let Some(a) = &h.authorization {
        Auth::Authorization {
            kind: if a.r#type.is_empty() { "Bearer".into() } else { a.r#type.clone() },
            credentials: a.credentials.expose().to_owned(),
        }
    } else if !h.bearer_token.is_empty() {
        Auth::Authorization {
            kind: "Bearer".into(),
            credentials: h.bearer_token.expose().to_owned(),
        }
    } else {
        Auth::None
    };
    HttpClientSettings {
        auth,
        follow_redirects: h.follow_redirects,
        enable_http2: h.enable_http2,
        ..HttpClientSettings::default()
    }
}

/// The scrape pool settings of one job.
pub fn scrape_options(sc: &ScrapeConfig) -> ScrapeOptions {
    let mut o = ScrapeOptions::new(&sc.job_name);
    o.scrape_interval = sc.scrape_interval.to_std();
    o.scrape_timeout = sc.scrape_timeout.to_std();
    o.scheme = sc.scheme.clone();
    o.metrics_path = sc.metrics_path.clone();
    o.params = sc.params.clone();
    o.honor_labels = sc.honor_labels;
    o.honor_timestamps = sc.honor_timestamps;
    o.track_timestamps_staleness = sc.track_timestamps_staleness;
    o.scrape_protocols = sc.scrape_protocols.clone();
    o.enable_compression = sc.enable_compression;
    o.client = client(sc);
    o.relabel_configs = sc.relabel_configs.clone();
    o.metric_relabel_configs = sc.metric_relabel_configs.clone();
    o.limits = Limits {
        sample_limit: limit(sc.sample_limit),
        label_limit: limit(sc.label_limit),
        label_name_length_limit: limit(sc.label_name_length_limit),
        label_value_length_limit: limit(sc.label_value_length_limit),
        target_limit: limit(sc.target_limit),
        body_size_limit_bytes: limit(sc.body_size_limit.0),
        keep_dropped_targets: limit(sc.keep_dropped_targets),
    };
    o
}

/// The discovery mechanisms of one job (static and file for now).
pub fn sd_configs(sc: &ScrapeConfig) -> Vec<SdConfig> {
    let sd = &sc.service_discovery;
    let mut out = Vec::new();
    if !sd.static_configs.is_empty() {
        let labels: Vec<Labels> = sd
            .static_configs
            .iter()
            .map(|c| Labels::from_pairs(c.labels.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            .collect();
        let groups = beacon_discovery::static_config::groups(
            sd.static_configs
                .iter()
                .zip(&labels)
                .map(|(c, l)| (c.targets.as_slice(), l)),
        );
        out.push(SdConfig::Static(groups));
    }
    for f in &sd.file_sd_configs {
        out.push(SdConfig::File(beacon_discovery::file::FileSdConfig {
            files: f.files.clone(),
            refresh_interval: f.refresh_interval.to_std(),
        }));
    }
    out
}

/// Discovery and scraping, running.
pub struct Scraping {
    pub manager: Arc<ScrapeManager>,
    discovery: parking_lot::Mutex<DiscoveryManager>,
    run: tokio::task::JoinHandle<()>,
}

impl Scraping {
    /// Starts both managers on `config`, appending into `storage`.
    pub async fn start(storage: Arc<dyn Appendable>, config: &Config) -> Scraping {
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
            tracing::error!(msg = "Applying the scrape configuration failed", err = %e);
        }
        s
    }

    /// Applies a (re)loaded configuration.
    pub async fn apply(&self, config: &Config) -> Result<(), beacon_scrape::Error> {
        let jobs: Vec<ScrapeOptions> = config.all_scrape_configs().map(scrape_options).collect();
        let sds: BTreeMap<String, Vec<SdConfig>> = config
            .all_scrape_configs()
            .map(|sc| (sc.job_name.clone(), sd_configs(sc)))
            .collect();
        let res = self.manager.apply_options(&jobs).await;
        self.discovery.lock().apply_config(sds);
        res
    }

    /// Stops discovery and every scrape loop (writing staleness markers).
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
            pool_targets.push_value(Labels::from_pairs([("scrape_job", job.as_str())]), *n as f64);
        }
        out.push(pool_targets);
        let counters: [(&str, u64); 12] = [
            ("prometheus_target_scrapes_exceeded_sample_limit_total", s.prometheus_target_scrapes_exceeded_sample_limit_total),
            ("prometheus_target_scrapes_exceeded_body_size_limit_total", s.prometheus_target_scrapes_exceeded_body_size_limit_total),
            ("prometheus_target_scrape_pool_exceeded_label_limits_total", s.prometheus_target_scrape_pool_exceeded_label_limits_total),
            ("prometheus_target_scrapes_sample_duplicate_timestamp_total", s.prometheus_target_scrapes_sample_duplicate_timestamp_total),
            ("prometheus_target_scrapes_sample_out_of_order_total", s.prometheus_target_scrapes_sample_out_of_order_total),
            ("prometheus_target_scrapes_sample_out_of_bounds_total", s.prometheus_target_scrapes_sample_out_of_bounds_total),
            ("prometheus_target_scrape_pool_exceeded_target_limit_total", s.prometheus_target_scrape_pool_exceeded_target_limit_total),
            ("prometheus_target_scrape_pool_reloads_total", s.prometheus_target_scrape_pool_reloads_total),
            ("prometheus_target_scrape_pool_reloads_failed_total", s.prometheus_target_scrape_pool_reloads_failed_total),
            ("prometheus_target_scrapes_cache_flush_forced_total", s.prometheus_target_scrapes_cache_flush_forced_total),
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
        pools.push_value(Labels::empty(), s.prometheus_target_scrape_pools_total as f64);
        out.push(pools);
    }
}

/// A duration as Prometheus prints it (`15s`, `1m`).
fn fmt_duration(d: Duration) -> String {
    beacon_model::format_duration_ms(d.as_millis() as i64)
}
