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
//! metadata (type, help, unit) the target announced. Tracking is a scrape
//! number stamped on each entry rather than a set rebuilt every scrape, so
//! a steady-state sample adds no map insert and no label clone for it.

use std::hash::{BuildHasherDefault, Hasher};

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
    /// The last scrape that appended it as a series tracked for staleness
    /// (0: none), and the one before, so a failed scrape that already
    /// stamped it still knows it was in the previous successful one.
    pub tracked_iter: u64,
    pub prev_tracked_iter: u64,
}

impl CacheEntry {
    pub(crate) fn new(series: Option<CachedSeries>, iter: u64) -> CacheEntry {
        CacheEntry {
            series,
            last_iter: iter,
            tracked_iter: 0,
            prev_tracked_iter: 0,
        }
    }

    /// Marks the series as produced (and tracked) by scrape `iter`.
    pub(crate) fn track(&mut self, iter: u64) {
        if self.tracked_iter != iter {
            self.prev_tracked_iter = self.tracked_iter;
            self.tracked_iter = iter;
        }
    }
}

/// Hashes `u64` keys that already are good hashes (xxh3 of labels) by
/// passing them through.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys use this hasher; fold anything else anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// What a target said about one metric family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricMetadata {
    pub metric: String,
    pub metric_type: MetricType,
    pub help: String,
    pub unit: String,
}

pub(crate) struct MetaEntry {
    pub meta: MetricMetadata,
    last_iter: u64,
    /// The scrape in which type, help or unit last changed (or first
    /// appeared): series of the family then get their metadata written.
    changed_iter: u64,
}

/// Per-loop state; see the module docs.
#[derive(Default)]
pub struct ScrapeCache {
    pub(crate) entries: HashMap<Box<[u8]>, CacheEntry>,
    /// The scrape number, bumped by [`ScrapeCache::begin`].
    pub(crate) iter: u64,
    /// The last successful scrape whose series are tracked for staleness
    /// (0: none, e.g. after a failure already marked them stale).
    prev_ok_iter: u64,
    /// Label hashes seen in the current scrape, to catch duplicates.
    pub(crate) seen: HashSet<u64, BuildHasherDefault<IdentityHasher>>,
    pub(crate) metadata: HashMap<String, MetaEntry>,
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
        self.seen.clear();
    }

    /// Ends a successful scrape: its series become the previous ones and
    /// long-unseen entries are forgotten.
    pub(crate) fn finish(&mut self) {
        self.prev_ok_iter = self.iter;
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
    /// the previous scrape goes stale (the caller writes the markers
    /// first, from [`ScrapeCache::prev_series`]).
    pub(crate) fn fail(&mut self) {
        self.prev_ok_iter = 0;
        self.seen.clear();
    }

    /// Whether the entry was produced by the previous successful scrape.
    fn in_prev(&self, e: &CacheEntry) -> bool {
        self.prev_ok_iter != 0
            && (e.tracked_iter == self.prev_ok_iter
                || (e.tracked_iter == self.iter && e.prev_tracked_iter == self.prev_ok_iter))
    }

    /// The series of the previous successful scrape.
    pub(crate) fn prev_series(&self) -> impl Iterator<Item = &Labels> {
        self.entries
            .values()
            .filter(|e| self.in_prev(e))
            .filter_map(|e| e.series.as_ref().map(|c| &c.labels))
    }

    /// The series of the previous successful scrape that the current one
    /// did not produce.
    pub(crate) fn vanished(&self) -> impl Iterator<Item = &Labels> {
        self.entries
            .values()
            .filter(|e| e.tracked_iter != self.iter && self.in_prev(e))
            .filter_map(|e| e.series.as_ref().map(|c| &c.labels))
    }

    /// Each setter returns whether the family's metadata changed in this
    /// scrape (by this line or an earlier one).
    pub(crate) fn set_type(&mut self, name: &str, t: MetricType) -> bool {
        let iter = self.iter;
        let e = self.meta_entry(name);
        if e.meta.metric_type != t {
            e.meta.metric_type = t;
            e.changed_iter = iter;
            self.metadata_changed = true;
        }
        self.changed_now(name)
    }

    pub(crate) fn set_help(&mut self, name: &str, help: &str) -> bool {
        let iter = self.iter;
        let e = self.meta_entry(name);
        if e.meta.help != help {
            e.meta.help = help.to_owned();
            e.changed_iter = iter;
            self.metadata_changed = true;
        }
        self.changed_now(name)
    }

    pub(crate) fn set_unit(&mut self, name: &str, unit: &str) -> bool {
        let iter = self.iter;
        let e = self.meta_entry(name);
        if e.meta.unit != unit {
            e.meta.unit = unit.to_owned();
            e.changed_iter = iter;
            self.metadata_changed = true;
        }
        self.changed_now(name)
    }

    fn changed_now(&self, name: &str) -> bool {
        self.metadata
            .get(name)
            .is_some_and(|e| e.changed_iter == self.iter)
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
            changed_iter: iter,
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
