//! [`ScrapeLoop`]: one target's scrape, run every interval: fetch, append,
//! report the synthetic `up`/`scrape_*` series, track staleness.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use beacon_discovery::client::HttpClient;
use beacon_model::{Labels, METRIC_NAME, SeriesRef, format_duration_ms, stale_nan};
use beacon_storage::{Appendable, Appender};

use crate::append::{AppendOutcome, AppendSettings, append_body, append_failure};
use crate::cache::{MetricMetadata, ScrapeCache};
use crate::fetch::{BODY_INITIAL_CAPACITY_BYTES, FetchOptions, fetch};
use crate::options::ScrapeOptions;
use crate::stats::ScrapeStats;
use crate::target::Target;
use crate::{Error, Result};

/// Milliseconds since the epoch; injectable so tests control scrape times.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| beacon_model::Timestamp::now().ms())
}

/// The synthetic series every scrape writes, in order.
pub const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// A pool's settings shared by its loops.
#[derive(Debug)]
pub struct LoopConfig {
    pub opts: ScrapeOptions,
    pub accept: String,
    pub client: HttpClient,
}

/// What a loop needs from outside.
#[derive(Clone)]
pub struct LoopEnv {
    pub appendable: Arc<dyn Appendable>,
    pub stats: Arc<ScrapeStats>,
    pub clock: Clock,
    pub end_of_run: Arc<crate::pool::EndOfRun>,
}

impl std::fmt::Debug for LoopEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopEnv").finish_non_exhaustive()
    }
}

/// One target's loop state.
#[derive(Debug)]
pub struct ScrapeLoop {
    pub target: Arc<Target>,
    pub(crate) cfg: Arc<LoopConfig>,
    env: LoopEnv,
    cache: ScrapeCache,
    buf: Vec<u8>,
    report_labels: [Labels; 5],
    pub(crate) forced_error: Option<Error>,
    last_start: Option<Instant>,
    /// The sample timestamp of the last scrape.
    last_t: Option<i64>,
}

impl ScrapeLoop {
    pub fn new(target: Arc<Target>, cfg: Arc<LoopConfig>, env: LoopEnv) -> ScrapeLoop {
        let report_labels = REPORT_SERIES.map(|name| {
            let mut b = target.labels.builder();
            b.set(METRIC_NAME, name);
            b.build()
        });
        ScrapeLoop {
            target,
            cfg,
            env,
            cache: ScrapeCache::new(),
            buf: Vec::with_capacity(BODY_INITIAL_CAPACITY_BYTES),
            report_labels,
            forced_error: None,
            last_start: None,
            last_t: None,
        }
    }

    /// Scrapes once now and appends the result; the error (also recorded
    /// on the target) is returned for callers that want it.
    pub async fn scrape_once(&mut self) -> Result<AppendOutcome> {
        let start_wall = SystemTime::now();
        let start = Instant::now();
        let t = (self.env.clock)();
        self.last_t = Some(t);
        if let Some(prev) = self.last_start.replace(start) {
            let interval = format_duration_ms(self.target.interval.as_millis() as i64);
            self.env
                .stats
                .observe_interval(&interval, start.duration_since(prev).as_secs_f64());
        }
        ScrapeStats::inc(&self.env.stats.scrapes);
        let fetched = match &self.forced_error {
            Some(e) => Err(e.clone()),
            None => {
                let o = &self.cfg.opts;
                let fo = FetchOptions {
                    accept: &self.cfg.accept,
                    compression: o.enable_compression,
                    timeout: self.target.timeout,
                    body_limit_bytes: o.limits.body_size_limit_bytes,
                    fallback: o.fallback_scrape_protocol,
                };
                fetch(&self.cfg.client, &self.target.url, &fo, &mut self.buf).await
            }
        };
        if matches!(fetched, Err(Error::BodySizeLimit { .. })) {
            ScrapeStats::inc(&self.env.stats.exceeded_body_size_limit);
        }
        let env = self.env.clone();
        let mut app = env.appendable.appender();
        let outcome = match fetched {
            Ok(f) => self.append(app.as_mut(), f.format, t),
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            let _ = app.rollback();
            append_failure(&mut self.cache, app.as_mut(), t);
        }
        let duration = start.elapsed();
        self.report(app.as_mut(), t, duration, outcome.as_ref().ok());
        let outcome = match app.commit() {
            Ok(()) => outcome,
            Err(e) => Err(Error::Storage(e.to_string())),
        };
        if outcome.is_err() {
            ScrapeStats::inc(&self.env.stats.scrapes_failed);
        }
        self.target
            .report(start_wall, duration, outcome.as_ref().err());
        if self.cache.take_metadata_changed() {
            self.target.set_metadata(self.cache.metadata());
        }
        self.trim_buffer();
        outcome
    }

    fn append(
        &mut self,
        app: &mut dyn Appender,
        format: beacon_exposition::parser::ParseFormat,
        t: i64,
    ) -> Result<AppendOutcome> {
        let o = &self.cfg.opts;
        let settings = AppendSettings {
            target_labels: &self.target.labels,
            honor_labels: o.honor_labels,
            honor_timestamps: o.honor_timestamps,
            track_timestamps_staleness: o.track_timestamps_staleness,
            metric_relabel_configs: &o.metric_relabel_configs,
            limits: o.limits,
            classic_histograms: o.always_scrape_classic_histograms,
        };
        append_body(
            &mut self.cache,
            app,
            &self.buf,
            format,
            t,
            &settings,
            &self.env.stats,
        )
    }

    /// A body far smaller than the buffer should not pin the memory of a
    /// one-off large scrape.
    fn trim_buffer(&mut self) {
        if self.buf.capacity() > 4 * self.buf.len().max(BODY_INITIAL_CAPACITY_BYTES) {
            self.buf = Vec::with_capacity(self.buf.len().max(BODY_INITIAL_CAPACITY_BYTES));
        } else {
            self.buf.clear();
        }
    }

    fn report(&mut self, app: &mut dyn Appender, t: i64, d: Duration, o: Option<&AppendOutcome>) {
        let (up, scraped, post, added) = match o {
            Some(o) => (1.0, o.scraped as f64, o.post_relabel as f64, o.added as f64),
            None => (0.0, 0.0, 0.0, 0.0),
        };
        let values = [up, d.as_secs_f64(), scraped, post, added];
        for (i, v) in values.into_iter().enumerate() {
            let name = REPORT_SERIES[i];
            let r = self
                .cache
                .report_refs
                .get(name)
                .copied()
                .unwrap_or(SeriesRef::NONE);
            if let Ok(nr) = app.append(r, &self.report_labels[i], t, v) {
                self.cache.report_refs.insert(name, nr);
            }
        }
    }

    /// When the last scrape started: its sample timestamp and instant.
    pub fn last_scrape(&self) -> Option<(i64, Instant)> {
        Some((self.last_t?, self.last_start?))
    }

    /// Ends the loop now: every series it wrote, the report series
    /// included, gets a staleness marker at the current time.
    pub fn mark_stale(&mut self) {
        let t = (self.env.clock)();
        self.mark_stale_at(t);
    }

    /// Writes staleness markers at `t` for every series of the last
    /// successful scrape and the report series.
    pub fn mark_stale_at(&mut self, t: i64) {
        let env = self.env.clone();
        let mut app = env.appendable.appender();
        append_failure(&mut self.cache, app.as_mut(), t);
        for labels in &self.report_labels {
            let _ = app.append(SeriesRef::NONE, labels, t, stale_nan());
        }
        if let Err(e) = app.commit() {
            tracing::warn!(target = %self.target.url, error = %e, "writing staleness markers failed");
        }
    }

    /// The metadata the target announced.
    pub fn metadata(&self) -> Vec<MetricMetadata> {
        self.cache.metadata()
    }

    /// Number of cached series texts.
    pub fn cache_len(&self) -> usize {
        self.cache.len()
    }
}
