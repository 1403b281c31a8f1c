//! The scrape cache: what one target's loop remembers between scrapes.
//!
//! Series are keyed by their raw text as exposed (`name{a="b"}`), so a
//! steady-state scrape finds each line's final labels and storage
//! `SeriesRef` with one hash lookup of bytes: no label parsing, no
//! relabelling, no label hashing. Series that metric relabelling dropped
//! are remembered too, so they cost one lookup as well.
//!
//! The cache also tracks which series the previous scrape produced, to
//! write staleness markers for the ones that disappear, and the metric
//! metadata (type, help, unit) the target announced.

use beacon_model::{Labels, MetricType, SeriesRef};
use hashbrown::{HashMap, HashSet};

/// Entries unseen for this many scrapes are forgotten.
pub const CACHE_STALE_ITERATIONS: u64 = 10;

pub(crate) struct CachedSeries {
    pub r: SeriesRef,
    pub labels: Labels,
    pub hash: u64,
}

pub(crate) struct CacheEntry {
    /// `None`: dropped by metric relabelling.
    pub series: Option<CachedSeries>,
    pub last_iter: u64,
}

/// What a target said about one metric family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricMetadata {
    pub metric: String,
    pub metric_type: MetricType,
    pub help: String,
    pub unit: String,
}

struct MetaEntry {
    meta: MetricMetadata,
    last_iter: u64,
}

/// Per-loop state; see the module docs.
#[derive(Default)]
pub struct ScrapeCache {
    pub(crate) entries: HashMap<Box<[u8]>, CacheEntry>,
    /// The scrape number, bumped by [`ScrapeCache::begin`].
    pub(crate) iter: u64,
    /// Series of the previous successful scrape that are tracked for
    /// staleness, by label hash.
    pub(crate) series_prev: HashMap<u64, Labels>,
    pub(crate) series_cur: HashMap<u64, Labels>,
    /// Label hashes seen in the current scrape, to catch duplicates.
    pub(crate) seen: HashSet<u64>,
    metadata: HashMap<String, MetaEntry>,
    /// Set when metadata changed since the last [`take_metadata_changed`].
    ///
    /// [`take_metadata_changed`]: ScrapeCache::take_metadata_changed
    metadata_changed: bool,
    /// Refs of the synthetic report series, by name.
    pub(crate) report_refs: HashMap<&'static str, SeriesRef>,
}

impl std::fmt::Debug for ScrapeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeCache")
            .field("entries", &self.entries.len())
            .field("iter", &self.iter)
            .finish_non_exhaustive()
    }
}

impl ScrapeCache {
    pub fn new() -> ScrapeCache {
        ScrapeCache::default()
    }

    /// Number of cached series texts (dropped ones included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Starts a scrape.
    pub(crate) fn begin(&mut self) {
        self.iter += 1;
        self.series_cur.clear();
        self.seen.clear();
    }

    /// Ends a successful scrape: the current series become the previous
    /// ones and long-unseen entries are forgotten.
    pub(crate) fn finish(&mut self) {
        std::mem::swap(&mut self.series_prev, &mut self.series_cur);
        self.series_cur.clear();
        let iter = self.iter;
        if iter.is_multiple_of(CACHE_STALE_ITERATIONS) {
            self.entries
                .retain(|_, e| iter - e.last_iter <= CACHE_STALE_ITERATIONS);
            let before = self.metadata.len();
            self.metadata
                .retain(|_, e| iter - e.last_iter <= CACHE_STALE_ITERATIONS);
            self.metadata_changed |= before != self.metadata.len();
        }
    }

    /// Ends a failed scrape: nothing of it is tracked, and every series of
    /// the previous scrape goes stale (the caller writes the markers).
    pub(crate) fn fail(&mut self) {
        self.series_cur.clear();
        self.seen.clear();
    }

    /// Takes the previous scrape's series (after a failure or at stop).
    pub(crate) fn take_prev(&mut self) -> HashMap<u64, Labels> {
        std::mem::take(&mut self.series_prev)
    }

    pub(crate) fn set_type(&mut self, name: &str, t: MetricType) {
        let e = self.meta_entry(name);
        if e.meta.metric_type != t {
            e.meta.metric_type = t;
            self.metadata_changed = true;
        }
    }

    pub(crate) fn set_help(&mut self, name: &str, help: &str) {
        let e = self.meta_entry(name);
        if e.meta.help != help {
            e.meta.help = help.to_owned();
            self.metadata_changed = true;
        }
    }

    pub(crate) fn set_unit(&mut self, name: &str, unit: &str) {
        let e = self.meta_entry(name);
        if e.meta.unit != unit {
            e.meta.unit = unit.to_owned();
            self.metadata_changed = true;
        }
    }

    /// True once after metadata changed (or entries were forgotten).
    pub(crate) fn take_metadata_changed(&mut self) -> bool {
        std::mem::take(&mut self.metadata_changed)
    }

    fn meta_entry(&mut self, name: &str) -> &mut MetaEntry {
        let iter = self.iter;
        let e = self.metadata.entry_ref(name).or_insert_with(|| MetaEntry {
            meta: MetricMetadata {
                metric: name.to_owned(),
                metric_type: MetricType::Unknown,
                help: String::new(),
                unit: String::new(),
            },
            last_iter: iter,
        });
        e.last_iter = iter;
        e
    }

    /// The metadata the target announced, sorted by metric name.
    pub fn metadata(&self) -> Vec<MetricMetadata> {
        let mut v: Vec<MetricMetadata> = self.metadata.values().map(|e| e.meta.clone()).collect();
        v.sort_by(|a, b| a.metric.cmp(&b.metric));
        v
    }
}
