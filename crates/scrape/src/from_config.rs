//! From a loaded `prometheus.yml` job ([`beacon_config::ScrapeConfig`]) to
//! [`ScrapeOptions`].

use beacon_config::ScrapeConfig;
use beacon_discovery::from_config::http_settings;
use beacon_exposition::negotiate::ScrapeProtocol;

use crate::options::{Limits, ScrapeOptions};
use crate::{Error, Result};

fn limit(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Converts one job, reading the files its HTTP settings name.
pub fn scrape_options(c: &ScrapeConfig) -> Result<ScrapeOptions> {
    let err = |reason: String| Error::Config {
        job: c.job_name.clone(),
        reason,
    };
    let scrape_protocols = c
        .scrape_protocols
        .iter()
        .map(|p| {
            ScrapeProtocol::parse(p.as_str())
                .ok_or_else(|| err(format!("unknown scrape protocol {}", p.as_str())))
        })
        .collect::<Result<Vec<_>>>()?;
    let fallback_scrape_protocol = match c.fallback_scrape_protocol {
        Some(p) => Some(
            ScrapeProtocol::parse(p.as_str())
                .ok_or_else(|| err(format!("unknown scrape protocol {}", p.as_str())))?,
        ),
        None => None,
    };
    Ok(ScrapeOptions {
        job_name: c.job_name.clone(),
        scrape_interval: c.scrape_interval.to_std(),
        scrape_timeout: c.scrape_timeout.to_std(),
        scheme: c.scheme.clone(),
        metrics_path: c.metrics_path.clone(),
        params: c.params.clone(),
        honor_labels: c.honor_labels,
        honor_timestamps: c.honor_timestamps,
        track_timestamps_staleness: c.track_timestamps_staleness,
        scrape_protocols,
        fallback_scrape_protocol,
        always_scrape_classic_histograms: c.always_scrape_classic_histograms.unwrap_or(false),
        enable_compression: c.enable_compression,
        client: http_settings(&c.http).map_err(|e| err(e.to_string()))?,
        relabel_configs: c.relabel_configs.clone(),
        metric_relabel_configs: c.metric_relabel_configs.clone(),
        limits: Limits {
            sample_limit: limit(c.sample_limit),
            label_limit: limit(c.label_limit),
            label_name_length_limit: limit(c.label_name_length_limit),
            label_value_length_limit: limit(c.label_value_length_limit),
            target_limit: limit(c.target_limit),
            body_size_limit_bytes: limit(c.body_size_limit.0),
            keep_dropped_targets: limit(c.keep_dropped_targets),
        },
    })
}
