//! What the API needs from the rest of the server besides storage and the
//! engine: status, targets, metadata, admin operations and lifecycle
//! actions. The server implements [`Backend`]; each piece that a server
//! has not got (no scrape manager, no rules, no notifier) answers empty, as Prometheus
//! does when a component has nothing to report.

use beacon_exposition::family::MetricFamily;
use beacon_model::{Labels, Matcher, Metadata};

/// A target being scraped, as `/api/v1/targets` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveTarget {
    pub discovered_labels: Labels,
    pub labels: Labels,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    pub last_error: String,
    /// Milliseconds since the epoch; `None` before the first scrape.
    pub last_scrape_ms: Option<i64>,
    pub last_scrape_duration_s: f64,
    /// "up", "down" or "unknown".
    pub health: String,
    pub scrape_interval: String,
    pub scrape_timeout: String,
}

/// A discovered target that relabelling dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedTarget {
    pub discovered_labels: Labels,
    pub scrape_pool: String,
}

/// Metadata one target reported for one metric family.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetMetadata {
    pub target: Labels,
    pub metric: String,
    pub metadata: Metadata,
}

/// The head block's figures for `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeadStats {
    pub num_series: u64,
    pub num_label_pairs: u64,
    pub chunk_count: u64,
    pub min_time_ms: i64,
    pub max_time_ms: i64,
}

/// WAL replay progress in segments (`/api/v1/status/walreplay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalReplay {
    pub min: u64,
    pub max: u64,
    pub current: u64,
}

/// Build facts for `/api/v1/status/buildinfo` and `prometheus_build_info`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    pub version: String,
    pub revision: String,
    pub branch: String,
    pub build_user: String,
    pub build_date: String,
    pub go_version: String,
}

/// Which rules `/api/v1/rules` should list (its query parameters).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulesQuery {
    /// `type`: only alerting (`Some(true)`) or only recording
    /// (`Some(false)`) rules.
    pub alerting_only: Option<bool>,
    /// `rule_name[]`, `rule_group[]`, `file[]`: empty means any.
    pub rule_names: Vec<String>,
    pub rule_groups: Vec<String>,
    pub files: Vec<String>,
    /// `exclude_alerts`: leave out each alerting rule's active alerts.
    pub exclude_alerts: bool,
    /// `match[]`: a rule is listed if its labels match any set.
    pub matchers: Vec<Vec<Matcher>>,
}

/// The server behind the API.
pub trait Backend: Send + Sync {
    /// The loaded configuration as YAML, secrets hidden.
    fn config_yaml(&self) -> String;

    /// Every flag and its value, as `name` (no dashes) and text.
    fn flags(&self) -> Vec<(String, String)>;

    /// `/api/v1/status/runtimeinfo` data.
    fn runtime_info(&self) -> serde_json::Value;

    fn build_info(&self) -> BuildInfo;

    fn head_stats(&self) -> Option<HeadStats> {
        None
    }

    fn wal_replay(&self) -> WalReplay {
        WalReplay::default()
    }

    fn active_targets(&self) -> Vec<ActiveTarget> {
        Vec::new()
    }

    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        Vec::new()
    }

    fn target_metadata(&self) -> Vec<TargetMetadata> {
        Vec::new()
    }

    /// Names of the configured scrape pools (jobs).
    fn scrape_pools(&self) -> Vec<String> {
        Vec::new()
    }

    /// `/api/v1/rules` data: `{"groups": [...]}`.
    fn rules(&self, _query: &RulesQuery) -> serde_json::Value {
        serde_json::json!({ "groups": [] })
    }

    /// `/api/v1/alerts` data: `{"alerts": [...]}`.
    fn alerts(&self) -> serde_json::Value {
        serde_json::json!({ "alerts": [] })
    }

    /// Alertmanager URLs alerts are sent to, and those relabelling dropped.
    fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        (Vec::new(), Vec::new())
    }

    /// The global external labels, added to federated series.
    fn external_labels(&self) -> Labels {
        Labels::empty()
    }

    /// Reloads the configuration; the error text goes back to the client.
    fn reload(&self) -> Result<(), String>;

    /// Asks the server to shut down.
    fn quit(&self);

    /// Marks matching series deleted in `[start_ms, end_ms]`.
    fn delete_series(
        &self,
        sets: &[Vec<Matcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(), String>;

    fn clean_tombstones(&self) -> Result<(), String>;

    /// Writes a snapshot and returns its directory name.
    fn snapshot(&self, skip_head: bool) -> Result<String, String>;

    /// Self-monitoring families beyond the web layer's own.
    fn collect_metrics(&self, out: &mut Vec<MetricFamily>);
}
