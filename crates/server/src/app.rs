//! The running server's shared state: configuration, the database
//! handle, reload and quit, and everything the HTTP API asks of the
//! server (the [`Backend`] implementation) including self-metrics.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use beacon_exposition::family::MetricFamily;
use beacon_model::{Labels, Matcher, MetricType};
use beacon_storage::{Querier, Queryable};
use beacon_tsdb::Db;
use beacon_web::Backend;
use beacon_web::backend::{
    ActiveTarget, BuildInfo, DroppedTarget, HeadStats, RulesQuery, TargetMetadata, WalReplay,
};
use parking_lot::RwLock;
use serde_json::json;
use tokio::sync::Notify;

use crate::alerting::Alerting;
use crate::config::{ConfigSource, LoadedConfig};
use crate::flags::Flags;
use crate::scraping::Scraping;

/// The database once it is open. Queries before that (which the
/// readiness gate keeps out) get an error rather than a wait.
#[derive(Default)]
pub struct DbHandle(RwLock<Option<Arc<Db>>>);

impl DbHandle {
    pub fn set(&self, db: Db) {
        *self.0.write() = Some(Arc::new(db));
    }

    pub fn get(&self) -> Option<Arc<Db>> {
        self.0.read().clone()
    }

    /// Takes the database out for closing.
    pub fn take(&self) -> Option<Arc<Db>> {
        self.0.write().take()
    }
}

impl beacon_storage::ExemplarQueryable for DbHandle {
    fn select_exemplars(
        &self,
        mint_ms: i64,
        maxt_ms: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> beacon_storage::Result<Vec<beacon_storage::ExemplarSeries>> {
        match self.get() {
            Some(db) => db.select_exemplars(mint_ms, maxt_ms, matcher_sets),
            None => Err(beacon_storage::Error::Other(
                "the TSDB is not open yet".into(),
            )),
        }
    }
}

/// The exemplar buffer size a configuration asks for: its
/// `storage.exemplars.max_exemplars`, else Prometheus's default.
pub fn max_exemplars(config: &beacon_config::Config) -> usize {
    config
        .storage
        .exemplars
        .as_ref()
        .map_or(beacon_config::DEFAULT_MAX_EXEMPLARS, |e| e.max_exemplars)
        .max(0) as usize
}

impl Queryable for DbHandle {
    fn querier(&self, mint: i64, maxt: i64) -> beacon_storage::Result<Box<dyn Querier>> {
        match self.get() {
            Some(db) => db.querier(mint, maxt),
            None => Err(beacon_storage::Error::Other(
                "the TSDB is not open yet".into(),
            )),
        }
    }
}

/// Server-wide state.
pub struct App {
    pub flags: Flags,
    pub config_source: ConfigSource,
    pub config: RwLock<LoadedConfig>,
    pub db: Arc<DbHandle>,
    /// Discovery and scraping, once the database is open.
    pub scraping: RwLock<Option<Arc<Scraping>>>,
    /// Rule evaluation and alert notification, once the database is open.
    pub alerting: RwLock<Option<Arc<Alerting>>>,
    pub ready: Arc<AtomicBool>,
    /// WAL replay progress, readable while the database opens.
    pub replay: Arc<beacon_tsdb::ReplayProgress>,
    /// Woken by `/-/quit`.
    pub quit: Notify,
    pub start_time_s: f64,
    reload_ok: AtomicBool,
    reload_time_bits: AtomicU64,
}

fn now_s() -> f64 {
    beacon_model::Timestamp::now().as_secs_f64()
}

impl App {
    pub fn new(flags: Flags, config_source: ConfigSource, config: LoadedConfig) -> App {
        let now = now_s();
        App {
            flags,
            config_source,
            config: RwLock::new(config),
            db: Arc::new(DbHandle::default()),
            scraping: RwLock::new(None),
            alerting: RwLock::new(None),
            ready: Arc::new(AtomicBool::new(false)),
            replay: Arc::new(beacon_tsdb::ReplayProgress::new()),
            quit: Notify::new(),
            start_time_s: now,
            reload_ok: AtomicBool::new(true),
            reload_time_bits: AtomicU64::new(now.to_bits()),
        }
    }

    /// Reloads the configuration file. A bad file leaves the running
    /// configuration in place and marks the reload failed.
    pub fn reload_config(&self) -> anyhow::Result<()> {
        match self
            .config_source
            .load()
            .and_then(|c| Alerting::check(&c.config).map(|()| c))
        {
            Ok(c) => {
                // As Prometheus: every part gets the new configuration; if
                // any part refused it, the reload counts as failed.
                let rt = tokio::runtime::Handle::current();
                let mut failures = Vec::new();
                let scraping = self.scraping.read().clone();
                if let Some(s) = scraping
                    && let Err(e) = rt.block_on(s.apply(&c.config))
                {
                    failures.push(format!("applying the scrape configuration: {e}"));
                }
                if let Some(db) = self.db.get()
                    && let Err(e) = db.set_max_exemplars(max_exemplars(&c.config))
                {
                    failures.push(format!("storage.exemplars: {e}"));
                }
                let alerting = self.alerting.read().clone();
                if let Some(a) = alerting
                    && let Err(e) = rt.block_on(a.apply(&c.config))
                {
                    failures.push(format!("{e:#}"));
                }
                *self.config.write() = c;
                self.reload_time_bits
                    .store(now_s().to_bits(), Ordering::Relaxed);
                if !failures.is_empty() {
                    self.reload_ok.store(false, Ordering::Relaxed);
                    let err = failures.join("; ");
                    tracing::error!(msg = "Error reloading config", filename = %self.config_source.path.display(), err = %err);
                    anyhow::bail!(err);
                }
                self.reload_ok.store(true, Ordering::Relaxed);
                tracing::info!(
                    msg = "Completed loading of configuration file",
                    filename = %self.config_source.path.display()
                );
                Ok(())
            }
            Err(e) => {
                self.reload_ok.store(false, Ordering::Relaxed);
                tracing::error!(
                    msg = "Error reloading config",
                    filename = %self.config_source.path.display(),
                    err = format!("{e:#}")
                );
                Err(e)
            }
        }
    }

    fn retention(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = &self.flags.retention_time {
            parts.push(t.clone());
        }
        if let Some(s) = &self.flags.retention_size {
            parts.push(s.clone());
        }
        if parts.is_empty() {
            "15d".to_owned()
        } else {
            parts.join(" or ")
        }
    }

    fn db(&self) -> Result<Arc<Db>, String> {
        self.db
            .get()
            .ok_or_else(|| "the TSDB is not open yet".to_owned())
    }
}

fn family(out: &mut Vec<MetricFamily>, name: &str, help: &str, t: MetricType, v: f64) {
    let mut f = MetricFamily::new(name, help, t);
    f.push_value(Labels::empty(), v);
    out.push(f);
}

/// A random-enough suffix for snapshot names, as Prometheus adds one.
fn snapshot_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

impl Backend for App {
    fn config_yaml(&self) -> String {
        self.config.read().config.to_yaml()
    }

    fn active_targets(&self) -> Vec<ActiveTarget> {
        self.scraping
            .read()
            .as_ref()
            .map_or_else(Vec::new, |s| s.active_targets())
    }

    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        self.scraping
            .read()
            .as_ref()
            .map_or_else(Vec::new, |s| s.dropped_targets())
    }

    fn target_metadata(&self) -> Vec<TargetMetadata> {
        self.scraping
            .read()
            .as_ref()
            .map_or_else(Vec::new, |s| s.metadata())
    }

    fn scrape_pools(&self) -> Vec<String> {
        self.config
            .read()
            .config
            .all_scrape_configs()
            .map(|sc| sc.job_name.clone())
            .collect()
    }

    fn external_labels(&self) -> Labels {
        let c = self.config.read();
        Labels::from_pairs(
            c.config
                .global
                .external_labels
                .0
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
    }

    fn flags(&self) -> Vec<(String, String)> {
        self.flags.as_pairs()
    }

    fn runtime_info(&self) -> serde_json::Value {
        let ts = |s: f64| {
            jiff::Timestamp::from_millisecond((s * 1000.0) as i64)
                .map_or_else(|_| String::new(), |t| t.to_string())
        };
        let cwd =
            std::env::current_dir().map_or_else(|_| String::new(), |p| p.display().to_string());
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        json!({
            "startTime": ts(self.start_time_s),
            "CWD": cwd,
            "reloadConfigSuccess": self.reload_ok.load(Ordering::Relaxed),
            "lastConfigTime": ts(f64::from_bits(self.reload_time_bits.load(Ordering::Relaxed))),
            "corruptionCount": self.db.get().map_or(0, |d| d.stats().wal_corruptions_total),
            "goroutineCount": 0,
            "GOMAXPROCS": threads,
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": self.retention(),
        })
    }

    fn build_info(&self) -> BuildInfo {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            revision: String::new(),
            branch: String::new(),
            build_user: String::new(),
            build_date: String::new(),
            go_version: String::new(),
        }
    }

    fn wal_replay(&self) -> WalReplay {
        let s = self.replay.status();
        WalReplay {
            min: u64::from(s.min),
            max: u64::from(s.max),
            current: u64::from(s.current),
        }
    }

    fn head_stats(&self) -> Option<HeadStats> {
        let s = self.db.get()?.stats();
        Some(HeadStats {
            num_series: s.head_series,
            num_label_pairs: 0,
            chunk_count: s.block_chunks,
            min_time_ms: s.head_min_time.unwrap_or(i64::MAX),
            max_time_ms: s.head_max_time.unwrap_or(i64::MIN),
        })
    }

    fn rules(&self, q: &RulesQuery) -> serde_json::Value {
        match self.alerting.read().clone() {
            Some(a) => a.rules_json(q),
            None => json!({ "groups": [] }),
        }
    }

    fn alerts(&self) -> serde_json::Value {
        match self.alerting.read().clone() {
            Some(a) => a.alerts_json(),
            None => json!({ "alerts": [] }),
        }
    }

    fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        match self.alerting.read().clone() {
            Some(a) => (
                a.notifier.active_alertmanagers(),
                a.notifier.dropped_alertmanagers(),
            ),
            None => (Vec::new(), Vec::new()),
        }
    }

    fn reload(&self) -> Result<(), String> {
        self.reload_config().map_err(|e| format!("{e:#}"))
    }

    fn quit(&self) {
        self.quit.notify_one();
    }

    fn delete_series(
        &self,
        sets: &[Vec<Matcher>],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(), String> {
        let db = self.db()?;
        for set in sets {
            db.delete(start_ms, end_ms, set)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn clean_tombstones(&self) -> Result<(), String> {
        self.db()?.clean_tombstones().map_err(|e| e.to_string())
    }

    fn snapshot(&self, skip_head: bool) -> Result<String, String> {
        let db = self.db()?;
        let now = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let name = format!("{now}-{}", snapshot_suffix());
        let dir: PathBuf = self.flags.tsdb_path.join("snapshots").join(&name);
        db.snapshot(&dir, !skip_head).map_err(|e| e.to_string())?;
        Ok(name)
    }

    fn collect_metrics(&self, out: &mut Vec<MetricFamily>) {
        if let Some(a) = self.alerting.read().clone() {
            a.collect(out);
        }
        let mut b = MetricFamily::new(
            "prometheus_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which prometheus was built.",
            MetricType::Gauge,
        );
        b.push_value(
            Labels::from_pairs([
                ("branch", ""),
                ("goversion", ""),
                ("revision", ""),
                ("version", env!("CARGO_PKG_VERSION")),
            ]),
            1.0,
        );
        out.push(b);
        family(
            out,
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            MetricType::Gauge,
            if self.reload_ok.load(Ordering::Relaxed) {
                1.0
            } else {
                0.0
            },
        );
        family(
            out,
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            MetricType::Gauge,
            f64::from_bits(self.reload_time_bits.load(Ordering::Relaxed)),
        );
        family(
            out,
            "prometheus_ready",
            "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
            MetricType::Gauge,
            if self.ready.load(Ordering::Relaxed) {
                1.0
            } else {
                0.0
            },
        );
        crate::process::collect(out, self.start_time_s);
        if let Some(s) = self.scraping.read().as_ref() {
            s.collect(out);
        }
        if let Some(db) = self.db.get() {
            tsdb_metrics(out, &db.stats());
        }
    }
}

fn tsdb_metrics(out: &mut Vec<MetricFamily>, s: &beacon_tsdb::DbStats) {
    use MetricType::{Counter, Gauge};
    let mut appended = MetricFamily::new(
        "prometheus_tsdb_head_samples_appended_total",
        "Total number of appended samples.",
        Counter,
    );
    appended.push_value(
        Labels::from_pairs([("type", "float")]),
        s.head_samples_appended_total as f64,
    );
    out.push(appended);
    let rows: [(&str, &str, MetricType, f64); 11] = [
        (
            "prometheus_tsdb_head_series",
            "Total number of series in the head block.",
            Gauge,
            s.head_series as f64,
        ),
        (
            "prometheus_tsdb_head_series_created_total",
            "Total number of series created in the head",
            Counter,
            s.head_series_created_total as f64,
        ),
        (
            "prometheus_tsdb_head_series_removed_total",
            "Total number of series removed in the head",
            Counter,
            s.head_series_removed_total as f64,
        ),
        (
            "prometheus_tsdb_head_min_time",
            "Minimum time bound of the head block.",
            Gauge,
            s.head_min_time.unwrap_or(i64::MAX) as f64,
        ),
        (
            "prometheus_tsdb_head_max_time",
            "Maximum timestamp of the head block.",
            Gauge,
            s.head_max_time.unwrap_or(i64::MIN) as f64,
        ),
        (
            "prometheus_tsdb_blocks_loaded",
            "Number of currently loaded data blocks",
            Gauge,
            s.blocks as f64,
        ),
        (
            "prometheus_tsdb_storage_blocks_bytes",
            "The number of bytes that are currently used for local storage by all blocks.",
            Gauge,
            s.blocks_bytes as f64,
        ),
        (
            "prometheus_tsdb_wal_corruptions_total",
            "Total number of WAL corruptions.",
            Counter,
            s.wal_corruptions_total as f64,
        ),
        (
            "prometheus_tsdb_checkpoint_creations_total",
            "Total number of checkpoint creations attempted.",
            Counter,
            s.checkpoints_total as f64,
        ),
        (
            "prometheus_tsdb_compactions_total",
            "Total number of compactions that were executed for the partition.",
            Counter,
            s.compactions_total as f64,
        ),
        (
            "prometheus_tsdb_time_retentions_total",
            "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            Counter,
            s.retention_deletions_total as f64,
        ),
    ];
    for (name, help, t, v) in rows {
        family(out, name, help, t, v);
    }
    family(
        out,
        "beacon_tsdb_head_samples_rejected_total",
        "Samples the head refused (out of order, out of bounds, duplicates).",
        Counter,
        s.head_samples_rejected_total as f64,
    );
    family(
        out,
        "prometheus_tsdb_data_replay_duration_seconds",
        "Time taken to replay the data on disk.",
        Gauge,
        s.wal_replay_seconds,
    );
    exemplar_metrics(out, s);
}

fn exemplar_metrics(out: &mut Vec<MetricFamily>, s: &beacon_tsdb::DbStats) {
    use MetricType::{Counter, Gauge};
    let rows: [(&str, &str, MetricType, f64); 6] = [
        (
            "prometheus_tsdb_exemplar_exemplars_appended_total",
            "Total number of appended exemplars.",
            Counter,
            s.exemplars_appended_total as f64,
        ),
        (
            "prometheus_tsdb_exemplar_exemplars_in_storage",
            "Number of exemplars currently in circular storage.",
            Gauge,
            s.exemplars_in_storage as f64,
        ),
        (
            "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
            "Number of series with exemplars currently in circular storage.",
            Gauge,
            s.series_with_exemplars_in_storage as f64,
        ),
        (
            "prometheus_tsdb_exemplar_max_exemplars",
            "Total number of exemplars the exemplar storage can store, resizeable.",
            Gauge,
            s.max_exemplars as f64,
        ),
        (
            "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds",
            "The timestamp of the oldest exemplar stored in circular storage. Useful to check for what timerange the current exemplar buffer limit allows. This usually means the last timestampfor all exemplars for a typical setup. This is not true though if one of the series timestamp is in future compared to rest series.",
            Gauge,
            s.exemplars_oldest_seconds.unwrap_or(0.0),
        ),
        (
            "prometheus_tsdb_exemplar_out_of_order_exemplars_total",
            "Total number of out of order exemplar ingestion failed attempts.",
            Counter,
            s.exemplars_out_of_order_total as f64,
        ),
    ];
    for (name, help, t, v) in rows {
        family(out, name, help, t, v);
    }
}
