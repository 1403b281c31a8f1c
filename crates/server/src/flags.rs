//! Command-line flags, named and defaulted like Prometheus's so existing
//! unit files and scripts keep working. Both `--flag=value` and
//! `--flag value` are accepted.

use std::path::PathBuf;

use clap::Parser;

/// The Beacon server: a Prometheus-compatible monitoring server.
#[derive(Debug, Clone, Parser)]
#[command(name = "beacon", version, about)]
pub struct Flags {
    /// Configuration file path.
    #[arg(long = "config.file", default_value = "prometheus.yml")]
    pub config_file: PathBuf,

    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", default_value = "data/")]
    pub tsdb_path: PathBuf,

    /// How long to retain samples in storage (default 15d when neither
    /// retention flag is set).
    #[arg(long = "storage.tsdb.retention.time")]
    pub retention_time: Option<String>,

    /// Maximum number of bytes that can be stored for blocks (units B, KB,
    /// MB, GB, TB, PB, EB).
    #[arg(long = "storage.tsdb.retention.size")]
    pub retention_size: Option<String>,

    /// Address to listen on for the UI, API and telemetry.
    #[arg(long = "web.listen-address", default_value = "0.0.0.0:9090")]
    pub listen_address: String,

    /// The URL under which Beacon is externally reachable (for example
    /// behind a reverse proxy). Its path becomes the route prefix.
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,

    /// Prefix for the internal routes; defaults to the path of
    /// --web.external-url.
    #[arg(long = "web.route-prefix")]
    pub route_prefix: Option<String>,

    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Enable API endpoints for admin control actions.
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,

    /// Enable the API endpoint accepting remote write requests.
    #[arg(long = "web.enable-remote-write-receiver")]
    pub enable_remote_write_receiver: bool,

    /// Path to a web configuration file (TLS, basic auth, headers).
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,

    /// Regex for CORS origin. It is fully anchored.
    #[arg(long = "web.cors.origin", default_value = ".*")]
    pub cors_origin: String,

    /// Maximum number of simultaneous connections.
    #[arg(long = "web.max-connections", default_value_t = 512)]
    pub max_connections: usize,

    /// Maximum duration before timing out read of the request.
    #[arg(long = "web.read-timeout", default_value = "5m")]
    pub read_timeout: String,

    /// The maximum lookback duration for retrieving metrics during
    /// expression evaluations and federation.
    #[arg(long = "query.lookback-delta", default_value = "5m")]
    pub lookback_delta: String,

    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", default_value = "2m")]
    pub query_timeout: String,

    /// Maximum number of queries executed concurrently.
    #[arg(long = "query.max-concurrency", default_value_t = 20)]
    pub query_max_concurrency: usize,

    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    pub query_max_samples: usize,

    /// Max time to tolerate prometheus outage for restoring "for" state of
    /// alerts.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h")]
    pub rules_for_outage_tolerance: String,

    /// Minimum duration between alert and restored "for" state.
    #[arg(long = "rules.alert.for-grace-period", default_value = "10m")]
    pub rules_for_grace_period: String,

    /// Minimum amount of time to wait before resending an alert to
    /// Alertmanager.
    #[arg(long = "rules.alert.resend-delay", default_value = "1m")]
    pub rules_resend_delay: String,

    /// The capacity of the queue for pending Alertmanager notifications.
    #[arg(
        long = "alertmanager.notification-queue-capacity",
        default_value_t = 10_000
    )]
    pub notification_queue_capacity: usize,

    /// Send any outstanding Alertmanager notifications when shutting down.
    /// If false, any outstanding notifications are dropped.
    #[arg(
        long = "alertmanager.drain-notification-queue-on-shutdown",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub drain_notification_queue: bool,

    /// Only log messages with the given severity or above: debug, info,
    /// warn, error.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,

    /// Output format of log messages: logfmt or json.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
}

impl Flags {
    /// Every flag with its value, for `/api/v1/status/flags`.
    pub fn as_pairs(&self) -> Vec<(String, String)> {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let b = |v: bool| v.to_string();
        vec![
            ("config.file".into(), self.config_file.display().to_string()),
            (
                "storage.tsdb.path".into(),
                self.tsdb_path.display().to_string(),
            ),
            (
                "storage.tsdb.retention.time".into(),
                opt(&self.retention_time),
            ),
            (
                "storage.tsdb.retention.size".into(),
                opt(&self.retention_size),
            ),
            ("web.listen-address".into(), self.listen_address.clone()),
            (
                "alertmanager.notification-queue-capacity".into(),
                self.notification_queue_capacity.to_string(),
            ),
            (
                "alertmanager.drain-notification-queue-on-shutdown".into(),
                b(self.drain_notification_queue),
            ),
            ("web.external-url".into(), opt(&self.external_url)),
            ("web.route-prefix".into(), opt(&self.route_prefix)),
            ("web.enable-lifecycle".into(), b(self.enable_lifecycle)),
            ("web.enable-admin-api".into(), b(self.enable_admin_api)),
            (
                "web.enable-remote-write-receiver".into(),
                b(self.enable_remote_write_receiver),
            ),
            (
                "web.config.file".into(),
                self.web_config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("web.cors.origin".into(), self.cors_origin.clone()),
            (
                "web.max-connections".into(),
                self.max_connections.to_string(),
            ),
            ("web.read-timeout".into(), self.read_timeout.clone()),
            ("query.lookback-delta".into(), self.lookback_delta.clone()),
            ("query.timeout".into(), self.query_timeout.clone()),
            (
                "query.max-concurrency".into(),
                self.query_max_concurrency.to_string(),
            ),
            (
                "query.max-samples".into(),
                self.query_max_samples.to_string(),
            ),
            (
                "rules.alert.for-outage-tolerance".into(),
                self.rules_for_outage_tolerance.clone(),
            ),
            (
                "rules.alert.for-grace-period".into(),
                self.rules_for_grace_period.clone(),
            ),
            (
                "rules.alert.resend-delay".into(),
                self.rules_resend_delay.clone(),
            ),
            ("log.level".into(), self.log_level.clone()),
            ("log.format".into(), self.log_format.clone()),
        ]
    }
}

/// Parses a retention size such as `512MB` or `1GB` (powers of 1024, as
/// Prometheus's units are) into bytes; `0` or empty means no limit.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..digits].parse().ok()?;
    let shift = match &s[digits..] {
        "" | "B" => 0,
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        "PB" => 50,
        "EB" => 60,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_flag_styles_parse() {
        let f = Flags::try_parse_from([
            "beacon",
            "--config.file=x.yml",
            "--web.listen-address",
            "127.0.0.1:1",
            "--web.enable-lifecycle",
        ])
        .unwrap();
        assert_eq!(f.config_file, PathBuf::from("x.yml"));
        assert_eq!(f.listen_address, "127.0.0.1:1");
        assert!(f.enable_lifecycle);
        assert_eq!(f.query_timeout, "2m");
        assert!(Flags::try_parse_from(["beacon", "--log.format=xml"]).is_err());
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("512MB"), Some(512 << 20));
        assert_eq!(parse_bytes("0"), Some(0));
        assert_eq!(parse_bytes("1GB"), Some(1 << 30));
        assert_eq!(parse_bytes("1XB"), None);
    }
}
