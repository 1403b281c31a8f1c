//! Targets: turning discovered label sets into scrape targets exactly as
//! Prometheus does, and the health a target shows on the targets page.
//!
//! [`populate_labels`] adds the job's defaults (`job`, `__scheme__`,
//! `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__`,
//! `__param_<name>`) where discovery did not set them, keeps that set as
//! the *discovered* labels, applies `relabel_configs`, checks the result,
//! drops every `__`-prefixed label and defaults `instance` to
//! `__address__`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use beacon_config::relabel;
use beacon_discovery::{ADDRESS_LABEL, TargetGroup};
use beacon_model::{Labels, format_duration_ms, is_valid_utf8_name, parse_duration_ms};
use parking_lot::Mutex;

use crate::cache::MetricMetadata;
use crate::options::ScrapeOptions;
use crate::{Error, Result};

pub const SCHEME_LABEL: &str = "__scheme__";
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
pub const PARAM_LABEL_PREFIX: &str = "__param_";
pub const INSTANCE_LABEL: &str = "instance";
pub const JOB_LABEL: &str = "job";

/// What relabelling made of one discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    /// Scrape it: `labels` are the public labels plus the internal ones
    /// the scrape needs (`__address__`, `__scheme__`, `__metrics_path__`,
    /// `__param_*`, interval, timeout); [`Target::new`] splits them.
    Active { labels: Labels, discovered: Labels },
    /// `relabel_configs` dropped it.
    Dropped { discovered: Labels },
}

/// Applies the job's defaults and relabelling to one target's labels
/// (group labels already merged in, the target's own winning).
pub fn populate_labels(target: &Labels, opts: &ScrapeOptions) -> Result<Populated> {
    let mut b = target.builder();
    let mut default = |name: &str, value: &str| {
        if b.get(name).is_none_or(str::is_empty) {
            b.set(name, value);
        }
    };
    default(JOB_LABEL, &opts.job_name);
    default(
        SCRAPE_INTERVAL_LABEL,
        &format_duration_ms(opts.scrape_interval.as_millis() as i64),
    );
    default(
        SCRAPE_TIMEOUT_LABEL,
        &format_duration_ms(opts.scrape_timeout.as_millis() as i64),
    );
    default(METRICS_PATH_LABEL, &opts.metrics_path);
    default(SCHEME_LABEL, &opts.scheme);
    for (name, values) in &opts.params {
        if let Some(first) = values.first() {
            default(&format!("{PARAM_LABEL_PREFIX}{name}"), first);
        }
    }
    let discovered = b.build();
    let Some(relabelled) = relabel::process(&discovered, &opts.relabel_configs) else {
        return Ok(Populated::Dropped { discovered });
    };
    let invalid = |reason: String| Error::InvalidTarget {
        labels: relabelled.to_string(),
        reason,
    };
    let address = relabelled.get(ADDRESS_LABEL).unwrap_or("");
    if address.is_empty() {
        return Err(invalid("no address".into()));
    }
    if address.contains('/') {
        return Err(invalid(format!("{address:?} is not a valid hostname")));
    }
    let interval = label_duration(&relabelled, SCRAPE_INTERVAL_LABEL).map_err(invalid)?;
    let timeout = label_duration(&relabelled, SCRAPE_TIMEOUT_LABEL).map_err(invalid)?;
    if interval <= 0 {
        return Err(invalid("scrape interval cannot be 0".into()));
    }
    if timeout <= 0 {
        return Err(invalid("scrape timeout cannot be 0".into()));
    }
    if timeout > interval {
        return Err(invalid(format!(
            "scrape timeout cannot be greater than scrape interval ({} > {})",
            format_duration_ms(timeout),
            format_duration_ms(interval)
        )));
    }
    let mut out = relabelled.builder();
    out.retain(|name, _| !name.starts_with("__"));
    if out.get(INSTANCE_LABEL).is_none_or(str::is_empty) {
        out.set(INSTANCE_LABEL, address);
    }
    let labels = out.build();
    for l in &labels {
        if !is_valid_utf8_name(l.name) {
            return Err(invalid(format!("invalid label name {:?}", l.name)));
        }
    }
    Ok(Populated::Active {
        labels: finalize_with_internal(&labels, &relabelled),
        discovered,
    })
}

/// Keeps the internal labels the scrape needs (address, scheme, path,
/// params, interval, timeout) next to the public ones; [`Target`] splits
/// them again.
fn finalize_with_internal(public: &Labels, relabelled: &Labels) -> Labels {
    let mut b = public.builder();
    for l in relabelled {
        if l.name == ADDRESS_LABEL
            || l.name == SCHEME_LABEL
            || l.name == METRICS_PATH_LABEL
            || l.name == SCRAPE_INTERVAL_LABEL
            || l.name == SCRAPE_TIMEOUT_LABEL
            || l.name.starts_with(PARAM_LABEL_PREFIX)
        {
            b.set(l.name, l.value);
        }
    }
    b.build()
}

fn label_duration(l: &Labels, name: &str) -> std::result::Result<i64, String> {
    let v = l.get(name).unwrap_or("");
    parse_duration_ms(v).map_err(|e| format!("invalid {name} {v:?}: {e}"))
}

/// Last known state of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Unknown,
    Up,
    Down,
}

impl Health {
    /// As the HTTP API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

#[derive(Debug, Clone)]
struct HealthState {
    health: Health,
    last_error: String,
    last_scrape: Option<SystemTime>,
    last_scrape_duration: Duration,
}

/// One scrape target.
#[derive(Debug)]
pub struct Target {
    /// Labels before relabelling (for the targets page).
    pub discovered_labels: Labels,
    /// The public labels every scraped series gets.
    pub labels: Labels,
    /// The URL scraped.
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// Identity: hash of labels and URL.
    pub hash: u64,
    state: Mutex<HealthState>,
    metadata: Mutex<Arc<Vec<MetricMetadata>>>,
}

impl Target {
    /// Builds a target from [`populate_labels`]' output.
    pub fn new(all_labels: &Labels, discovered: Labels, opts: &ScrapeOptions) -> Target {
        let get = |n: &str| all_labels.get(n).unwrap_or("");
        let mut params: BTreeMap<String, Vec<String>> = opts.params.clone();
        for l in all_labels {
            if let Some(name) = l.name.strip_prefix(PARAM_LABEL_PREFIX) {
                let vals = params.entry(name.to_owned()).or_default();
                if vals.is_empty() {
                    vals.push(l.value.to_owned());
                } else {
                    vals[0] = l.value.to_owned();
                }
            }
        }
        let mut url = format!(
            "{}://{}{}",
            get(SCHEME_LABEL),
            get(ADDRESS_LABEL),
            get(METRICS_PATH_LABEL)
        );
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for (name, values) in &params {
            for v in values {
                url.push(sep);
                url_encode(name, &mut url);
                url.push('=');
                url_encode(v, &mut url);
                sep = '&';
            }
        }
        let ms = |n| parse_duration_ms(get(n)).unwrap_or(0).max(1) as u64;
        let mut public = all_labels.builder();
        public.retain(|n, _| !n.starts_with("__"));
        let labels = public.build();
        // Interval and timeout are part of the identity so a reload that
        // changes them restarts the loop.
        let ident = format!(
            "{url}\x00{}\x00{}",
            get(SCRAPE_INTERVAL_LABEL),
            get(SCRAPE_TIMEOUT_LABEL)
        );
        let hash = labels.hash64() ^ xxhash_rust::xxh3::xxh3_64(ident.as_bytes());
        Target {
            discovered_labels: discovered,
            labels,
            url,
            interval: Duration::from_millis(ms(SCRAPE_INTERVAL_LABEL)),
            timeout: Duration::from_millis(ms(SCRAPE_TIMEOUT_LABEL)),
            hash,
            state: Mutex::new(HealthState {
                health: Health::Unknown,
                last_error: String::new(),
                last_scrape: None,
                last_scrape_duration: Duration::ZERO,
            }),
            metadata: Mutex::new(Arc::new(Vec::new())),
        }
    }

    /// Records a scrape's outcome.
    pub fn report(&self, start: SystemTime, duration: Duration, error: Option<&Error>) {
        let mut s = self.state.lock();
        s.last_scrape = Some(start);
        s.last_scrape_duration = duration;
        match error {
            None => {
                s.health = Health::Up;
                s.last_error.clear();
            }
            Some(e) => {
                s.health = Health::Down;
                s.last_error = e.to_string();
            }
        }
    }

    /// Replaces the metadata snapshot (after a scrape changed it).
    pub fn set_metadata(&self, m: Vec<MetricMetadata>) {
        *self.metadata.lock() = Arc::new(m);
    }

    /// The metric metadata this target announced, sorted by metric.
    pub fn metadata(&self) -> Arc<Vec<MetricMetadata>> {
        self.metadata.lock().clone()
    }

    pub fn health(&self) -> Health {
        self.state.lock().health
    }

    pub fn last_error(&self) -> String {
        self.state.lock().last_error.clone()
    }

    pub fn last_scrape(&self) -> Option<SystemTime> {
        self.state.lock().last_scrape
    }

    pub fn last_scrape_duration(&self) -> Duration {
        self.state.lock().last_scrape_duration
    }
}

fn url_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Outcome of turning a job's groups into targets.
#[derive(Debug, Default)]
pub struct TargetSet {
    pub active: Vec<Target>,
    pub dropped: Vec<Labels>,
    pub errors: Vec<Error>,
}

/// Computes every target of a job's groups.
pub fn targets_from_groups(groups: &[TargetGroup], opts: &ScrapeOptions) -> TargetSet {
    let mut set = TargetSet::default();
    for g in groups {
        for t in &g.targets {
            let mut b = g.labels.builder();
            for l in t {
                b.set(l.name, l.value);
            }
            match populate_labels(&b.build(), opts) {
                Ok(Populated::Active { labels, discovered }) => {
                    set.active.push(Target::new(&labels, discovered, opts))
                }
                Ok(Populated::Dropped { discovered }) => set.dropped.push(discovered),
                Err(e) => set.errors.push(e),
            }
        }
    }
    set
}
