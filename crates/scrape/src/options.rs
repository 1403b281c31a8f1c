//! What one `scrape_configs` entry says, in the form the scrape pool uses:
//! intervals as `Duration`s and files already read.

use std::collections::BTreeMap;
use std::time::Duration;

use beacon_config::relabel::RelabelConfig;
use beacon_discovery::client::HttpClientSettings;
use beacon_exposition::negotiate::{DEFAULT_SCRAPE_PROTOCOLS, ScrapeProtocol};

/// The per-scrape and per-pool limits; 0 means unlimited, as in
/// Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub sample_limit: usize,
    pub label_limit: usize,
    pub label_name_length_limit: usize,
    pub label_value_length_limit: usize,
    pub target_limit: usize,
    pub body_size_limit_bytes: usize,
    /// How many dropped targets the targets page keeps (0: all).
    pub keep_dropped_targets: usize,
}

/// One job's scrape settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeOptions {
    pub job_name: String,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
    pub scheme: String,
    pub metrics_path: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub scrape_protocols: Vec<ScrapeProtocol>,
    /// How to parse a body whose `Content-Type` is missing, unparsable or
    /// unknown. `None`: such a scrape fails, as in Prometheus 3 (2.x
    /// parsed it as text 0.0.4 without a word).
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Also ingest the classic buckets of histograms a protobuf body
    /// exposes as native ones (`always_scrape_classic_histograms`).
    pub always_scrape_classic_histograms: bool,
    /// Ask for gzip (`enable_compression`).
    pub enable_compression: bool,
    pub client: HttpClientSettings,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    pub limits: Limits,
}

impl ScrapeOptions {
    /// Prometheus's defaults for a job named `job_name`.
    pub fn new(job_name: &str) -> ScrapeOptions {
        ScrapeOptions {
            job_name: job_name.to_owned(),
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            scheme: "http".into(),
            metrics_path: "/metrics".into(),
            params: BTreeMap::new(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            scrape_protocols: DEFAULT_SCRAPE_PROTOCOLS.to_vec(),
            fallback_scrape_protocol: None,
            always_scrape_classic_histograms: false,
            enable_compression: true,
            client: HttpClientSettings::default(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            limits: Limits::default(),
        }
    }
}
