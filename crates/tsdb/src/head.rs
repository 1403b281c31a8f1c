//! The head: the in-memory, writable part of the database holding the most
//! recent samples — series registry, postings, WAL logging and replay, and
//! truncation once its older part has been compacted into a block.
//!
//! **Invariant:** a commit's WAL records are written before its samples
//! become visible, and commits are serialised by the WAL lock, so replaying
//! the WAL applies samples in exactly the order the head did.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use beacon_model::{Labels, Matcher};
use hashbrown::HashMap;
use parking_lot::{Mutex, RwLock};

use crate::Result;
use crate::chunk::histogram::HistSample;
use crate::iter::{ChunkBytes, ChunkRef, ChunksIter, Intervals, Part, is_deleted};
use crate::postings::{PostingsIndex, postings_for_matchers, union};
use crate::record::{Record, RefHist, RefSample, Tombstone};
use crate::series::{MemSeries, Value, Verdict, judge};
use crate::wal::{self, ReplayProgress, ReplayStats, Wal, WalOptions};
use chunk_disk::ChunkDisk;

mod appender;
pub mod chunk_disk;
pub mod exemplars;
mod postings;

pub use appender::HeadAppender;
pub use exemplars::{EXEMPLARS_MAX_DEFAULT, ExemplarStats};
use postings::MemPostings;

/// Samples (by resolved series id) for the replay worker.
type ShardBatch = Vec<(u32, i64, Value)>;

/// Head settings.
#[derive(Debug, Clone, Copy)]
pub struct HeadOptions {
    /// Block range: chunks never straddle a multiple of it.
    pub chunk_range_ms: i64,
    /// How far behind the newest sample an out-of-order sample may be
    /// (0: out-of-order samples are refused).
    pub ooo_window_ms: i64,
    /// Exemplars kept in the circular buffer (0: exemplars are dropped).
    pub max_exemplars: usize,
}

/// Head counters, updated atomically.
#[derive(Debug, Default)]
pub struct HeadCounters {
    pub samples_appended: AtomicU64,
    pub samples_rejected: AtomicU64,
    pub series_created: AtomicU64,
    pub series_removed: AtomicU64,
    pub wal_corruptions: AtomicU64,
    pub checkpoints: AtomicU64,
}

/// Series by id and by labels. Ids grow monotonically and are never
/// reused, so a stale cached ref can never land on another series.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<Arc<MemSeries>>>,
    by_hash: HashMap<u64, u32>,
    /// Series whose label hash collides with another's (rare).
    collisions: HashMap<u64, Vec<u32>>,
    live: usize,
}

impl Registry {
    fn get(&self, id: u32) -> Option<&Arc<MemSeries>> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    fn lookup(&self, hash: u64, labels: &Labels) -> Option<&Arc<MemSeries>> {
        let first = self.by_hash.get(&hash).and_then(|id| self.get(*id))?;
        if &first.labels == labels {
            return Some(first);
        }
        self.collisions
            .get(&hash)?
            .iter()
            .filter_map(|id| self.get(*id))
            .find(|s| &s.labels == labels)
    }

    fn insert(&mut self, hash: u64, s: Arc<MemSeries>) {
        let id = s.id as usize;
        if self.slots.len() <= id {
            self.slots.resize(id + 1, None);
        }
        self.slots[id] = Some(s);
        self.live += 1;
        match self.by_hash.entry(hash) {
            hashbrown::hash_map::Entry::Vacant(v) => {
                v.insert(id as u32);
            }
            hashbrown::hash_map::Entry::Occupied(_) => {
                self.collisions.entry(hash).or_default().push(id as u32);
            }
        }
    }

    fn remove(&mut self, id: u32) -> Option<Arc<MemSeries>> {
        let s = self.slots.get_mut(id as usize)?.take()?;
        self.live -= 1;
        let hash = s.labels.hash64();
        if self.by_hash.get(&hash) == Some(&id) {
            self.by_hash.remove(&hash);
            if let Some(c) = self.collisions.get_mut(&hash) {
                if let Some(next) = c.pop() {
                    self.by_hash.insert(hash, next);
                }
                if c.is_empty() {
                    self.collisions.remove(&hash);
                }
            }
        } else if let Some(c) = self.collisions.get_mut(&hash) {
            c.retain(|x| *x != id);
            if c.is_empty() {
                self.collisions.remove(&hash);
            }
        }
        Some(s)
    }

    fn next_id(&self) -> u32 {
        self.slots.len().max(1) as u32
    }
}

/// The in-memory head.
pub struct Head {
    opts: HeadOptions,
    registry: RwLock<Registry>,
    postings: RwLock<MemPostings>,
    /// The WAL writer; its lock also serialises commits.
    wal: Mutex<Option<Wal>>,
    wal_dir: Option<PathBuf>,
    /// Samples before this are out of bounds (already in blocks).
    min_valid_t: AtomicI64,
    mint: AtomicI64,
    maxt: AtomicI64,
    tombstones: RwLock<HashMap<u32, Intervals>>,
    /// Where full chunks go (none: they stay in memory).
    disk: Option<ChunkDisk>,
    exemplars: exemplars::ExemplarStore,
    pub counters: HeadCounters,
    replay: Mutex<ReplayStats>,
}

impl Head {
    /// A head logging to `wal_dir` (replaying what is there), or without a
    /// WAL when `wal_dir` is `None`. `min_valid_t` is the end of the newest
    /// block.
    /// Full chunks are written to `chunk_dir` when given.
    pub fn open(
        opts: HeadOptions,
        wal_dir: Option<&Path>,
        wal_opts: WalOptions,
        min_valid_t: i64,
        chunk_dir: Option<&Path>,
    ) -> Result<Head> {
        let progress = ReplayProgress::new();
        Head::open_with_progress(opts, wal_dir, wal_opts, min_valid_t, chunk_dir, &progress)
    }

    /// `open`, reporting WAL replay to `progress` (marked finished when the
    /// head is ready, also when there was no WAL to replay).
    pub fn open_with_progress(
        opts: HeadOptions,
        wal_dir: Option<&Path>,
        wal_opts: WalOptions,
        min_valid_t: i64,
        chunk_dir: Option<&Path>,
        progress: &ReplayProgress,
    ) -> Result<Head> {
        let disk = chunk_dir.map(ChunkDisk::open).transpose()?;
        let head = Head {
            opts,
            registry: RwLock::new(Registry::default()),
            postings: RwLock::new(MemPostings::default()),
            wal: Mutex::new(None),
            wal_dir: wal_dir.map(Path::to_path_buf),
            min_valid_t: AtomicI64::new(min_valid_t),
            mint: AtomicI64::new(i64::MAX),
            maxt: AtomicI64::new(i64::MIN),
            tombstones: RwLock::new(HashMap::new()),
            disk,
            exemplars: exemplars::ExemplarStore::new(opts.max_exemplars),
            counters: HeadCounters::default(),
            replay: Mutex::new(ReplayStats::default()),
        };
        let mut seconds = 0.0;
        if let Some(dir) = wal_dir {
            let stats = head.replay(dir, progress)?;
            let w = Wal::create(dir, stats.last_segment, wal_opts)?;
            *head.wal.lock() = Some(w);
            seconds = stats.seconds;
            *head.replay.lock() = stats;
        }
        progress.finish(seconds);
        Ok(head)
    }

    /// Replays the WAL on three threads: one reads and decodes, this one
    /// creates series and applies the samples of even series ids, a worker
    /// applies odd ones (each series stays on one thread, so its samples
    /// keep their order).
    fn replay(&self, dir: &Path, progress: &ReplayProgress) -> Result<ReplayStats> {
        // WAL ids of series records that repeat labels already seen map to
        // the first id.
        let mut alias: HashMap<u32, u32> = HashMap::new();
        let (tx, rx) = std::sync::mpsc::sync_channel::<ShardBatch>(16);
        let stats = std::thread::scope(|sc| {
            let worker = sc.spawn(move || {
                for batch in rx {
                    let reg = self.registry.read();
                    let resolved = batch
                        .into_iter()
                        .filter_map(|(id, t, v)| reg.get(id).map(|s| (&**s, t, v)));
                    self.apply_samples(resolved);
                }
            });
            let stats = wal::replay_with_progress(dir, progress, |rec| {
                self.apply_record(rec, &mut alias, &tx)
            });
            drop(tx);
            let _ = worker.join();
            stats
        })?;
        self.counters
            .wal_corruptions
            .fetch_add(stats.corruptions, Ordering::Relaxed);
        // Series that lost all their samples to bounds stay until the next
        // truncation, like series created by a rolled-back appender.
        Ok(stats)
    }

    fn apply_record(
        &self,
        rec: Record,
        alias: &mut HashMap<u32, u32>,
        shard: &std::sync::mpsc::SyncSender<ShardBatch>,
    ) {
        let resolve = |id: u32| {
            if alias.is_empty() {
                id
            } else {
                alias.get(&id).copied().unwrap_or(id)
            }
        };
        match rec {
            Record::Series(series) => {
                for (id, labels) in series {
                    let s = self.create_series(Some(id), labels);
                    s.logged.store(true, Ordering::Relaxed);
                    if s.id != id {
                        alias.insert(id, s.id);
                    }
                }
            }
            Record::Samples(samples) => {
                let reg = self.registry.read();
                let mut theirs = Vec::with_capacity(samples.len() / 2 + 1);
                let mine = samples.iter().filter_map(|&RefSample { id, t, v }| {
                    let id = resolve(id);
                    if id & 1 == 1 {
                        theirs.push((id, t, Value::Float(v)));
                        return None;
                    }
                    reg.get(id).map(|s| (&**s, t, Value::Float(v)))
                });
                self.apply_samples(mine);
                if !theirs.is_empty() {
                    // The worker only stops when the channel closes.
                    let _ = shard.send(theirs);
                }
            }
            Record::Exemplars(items) => {
                for (id, e) in items {
                    // Refusals were refused at commit too; replay keeps
                    // exactly what was kept then.
                    let _ = self.exemplars.add(resolve(id), e);
                }
            }
            Record::Tombstones(stones) => {
                let mut ts = self.tombstones.write();
                for Tombstone { id, mint, maxt } in stones {
                    ts.entry(resolve(id)).or_default().push((mint, maxt));
                }
            }
            Record::HistSamples(hists) => {
                let reg = self.registry.read();
                let mut theirs = Vec::new();
                let mut mine = Vec::new();
                for RefHist { id, t, h } in hists {
                    let id = resolve(id);
                    let v = Value::Hist(Box::new(h));
                    if id & 1 == 1 {
                        theirs.push((id, t, v));
                    } else if let Some(s) = reg.get(id) {
                        mine.push((&**s, t, v));
                    }
                }
                self.apply_samples(mine.into_iter());
                if !theirs.is_empty() {
                    let _ = shard.send(theirs);
                }
            }
            Record::Metadata(items) => {
                let reg = self.registry.read();
                for (id, m) in items {
                    if let Some(s) = reg.get(resolve(id)) {
                        s.data.lock().meta = Some(Box::new(m));
                    }
                }
            }
        }
    }

    /// The options the head runs with.
    pub fn options(&self) -> HeadOptions {
        self.opts
    }

    /// Returns the series with `labels`, creating it when new. `id` forces
    /// the id (WAL replay); a label set already present keeps its id.
    fn create_series(&self, id: Option<u32>, labels: Labels) -> Arc<MemSeries> {
        let hash = labels.hash64();
        if let Some(s) = self.registry.read().lookup(hash, &labels) {
            return s.clone();
        }
        let mut reg = self.registry.write();
        if let Some(s) = reg.lookup(hash, &labels) {
            return s.clone();
        }
        let id = match id {
            Some(id) if reg.get(id).is_none() && id != 0 => id,
            _ => reg.next_id(),
        };
        let s = Arc::new(MemSeries::new(id, labels));
        reg.insert(hash, s.clone());
        // Postings are updated under the registry lock so a reader never
        // sees a posting without its series.
        self.postings.write().add(id, &s.labels);
        self.counters.series_created.fetch_add(1, Ordering::Relaxed);
        s
    }

    fn series_by_ref(&self, id: u32) -> Option<Arc<MemSeries>> {
        self.registry.read().get(id).cloned()
    }

    /// The oldest timestamp the out-of-order window admits now.
    fn ooo_min_t(&self) -> i64 {
        if self.opts.ooo_window_ms <= 0 {
            return i64::MAX;
        }
        let maxt = self.maxt.load(Ordering::Relaxed);
        if maxt == i64::MIN {
            return i64::MAX;
        }
        maxt.saturating_sub(self.opts.ooo_window_ms)
    }

    /// The oldest timestamp an append may carry: after the newest block, and
    /// (without an out-of-order window) no more than half a block range
    /// behind the newest sample, as in Prometheus.
    pub fn min_valid_time(&self) -> i64 {
        let min_valid = self.min_valid_t.load(Ordering::Relaxed);
        let maxt = self.maxt.load(Ordering::Relaxed);
        if maxt == i64::MIN || self.opts.ooo_window_ms > 0 {
            return min_valid;
        }
        min_valid.max(maxt.saturating_sub(self.opts.chunk_range_ms / 2))
    }

    /// Applies samples in order, updating the head's bounds and counters
    /// once for the lot.
    fn apply_samples<'s>(&self, samples: impl Iterator<Item = (&'s MemSeries, i64, Value)>) {
        let min_valid = self.min_valid_t.load(Ordering::Relaxed);
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let (mut stored, mut rejected) = (0u64, 0u64);
        let mut ooo_min_t = self.ooo_min_t();
        for (s, t, v) in Lookahead::new(samples) {
            if t < min_valid {
                rejected += 1;
                continue;
            }
            let mut d = s.data.lock();
            let ok = match v {
                Value::Float(v) => d.apply(
                    t,
                    v,
                    ooo_min_t,
                    self.opts.chunk_range_ms,
                    self.disk.as_ref(),
                ),
                Value::Hist(h) => d.apply_hist(t, *h, self.opts.chunk_range_ms),
            };
            if ok {
                s.publish_last(d.last());
            }
            drop(d);
            if ok {
                stored += 1;
                lo = lo.min(t);
                if t > hi {
                    hi = t;
                    // The window follows the newest sample, as it would
                    // had the samples come one commit each.
                    if self.opts.ooo_window_ms > 0 && t > self.maxt.load(Ordering::Relaxed) {
                        self.maxt.fetch_max(t, Ordering::Relaxed);
                        ooo_min_t = self.ooo_min_t();
                    }
                }
            } else {
                rejected += 1;
            }
        }
        if stored > 0 {
            self.mint.fetch_min(lo, Ordering::Relaxed);
            self.maxt.fetch_max(hi, Ordering::Relaxed);
        }
        self.counters
            .samples_appended
            .fetch_add(stored, Ordering::Relaxed);
        self.counters
            .samples_rejected
            .fetch_add(rejected, Ordering::Relaxed);
    }

    /// An appender.
    pub fn appender(&self) -> HeadAppender<'_> {
        HeadAppender::new(self)
    }

    /// Oldest and newest sample time in the head (`None` when empty).
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let (a, b) = (
            self.mint.load(Ordering::Relaxed),
            self.maxt.load(Ordering::Relaxed),
        );
        (a <= b).then_some((a, b))
    }

    /// Chunks held by all series (walks every series: for stats, not for
    /// hot paths).
    pub fn chunk_count(&self) -> u64 {
        self.all_series()
            .iter()
            .map(|s| {
                let d = s.data.lock();
                let hist = d
                    .hist
                    .as_ref()
                    .map_or(0, |h| h.closed.len() + usize::from(!h.open.is_empty()));
                (d.closed.len() + usize::from(d.open.is_some()) + hist) as u64
            })
            .sum()
    }

    /// Exemplars of the series matching `matchers` in `[mint, maxt]`,
    /// sorted by labels, each series' by time.
    pub fn exemplars(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<(Labels, Vec<beacon_model::Exemplar>)> {
        self.exemplars_for_sets(std::slice::from_ref(&matchers.to_vec()), mint, maxt)
    }

    /// Exemplars in `[mint, maxt]` of the series matching any of
    /// `matcher_sets` (none: no series), sorted by labels.
    pub fn exemplars_for_sets(
        &self,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<(Labels, Vec<beacon_model::Exemplar>)> {
        let mut series: Vec<Arc<MemSeries>> = matcher_sets
            .iter()
            .flat_map(|set| self.select_series(set))
            .collect();
        series.sort_by_key(|s| s.id);
        series.dedup_by_key(|s| s.id);
        let labels: HashMap<u32, Labels> =
            series.iter().map(|s| (s.id, s.labels.clone())).collect();
        let found = self
            .exemplars
            .query(series.iter().map(|s| s.id), mint, maxt);
        let mut out: Vec<(Labels, Vec<beacon_model::Exemplar>)> = found
            .into_iter()
            .filter_map(|(id, e)| Some((labels.get(&id)?.clone(), e)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Exemplar storage figures.
    pub fn exemplar_stats(&self) -> ExemplarStats {
        self.exemplars.stats()
    }

    /// Changes the exemplar buffer's capacity (configuration reload).
    pub fn resize_exemplars(&self, max: usize) {
        self.exemplars.resize(max);
    }

    /// The metadata last recorded for the series with `labels`.
    pub fn metadata(&self, labels: &Labels) -> Option<beacon_model::Metadata> {
        let reg = self.registry.read();
        let s = reg.lookup(labels.hash64(), labels)?;
        s.data.lock().meta.as_deref().cloned()
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.registry.read().live
    }

    /// What the last WAL replay found.
    pub fn replay_stats(&self) -> ReplayStats {
        self.replay.lock().clone()
    }

    /// Every live series, in id order.
    pub fn all_series(&self) -> Vec<Arc<MemSeries>> {
        self.registry
            .read()
            .slots
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Series matching `matchers`.
    pub fn select_series(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        let reg = self.registry.read();
        let ids = postings_for_matchers(&*self.postings.read(), matchers);
        ids.iter().filter_map(|id| reg.get(*id).cloned()).collect()
    }

    /// Deleted intervals of series `id`.
    pub fn deleted(&self, id: u32) -> Intervals {
        self.tombstones.read().get(&id).cloned().unwrap_or_default()
    }

    /// The part of series `s` inside `[mint, maxt]`, if it has samples there.
    pub fn part(&self, s: &MemSeries, mint: i64, maxt: i64) -> Option<Part> {
        let deleted = self.deleted(s.id);
        let data = s.data.lock();
        let (lo, hi) = data.time_range()?;
        if hi < mint || lo > maxt {
            return None;
        }
        let mut chunks: Vec<ChunkRef> = data
            .closed
            .iter()
            .filter(|c| c.maxt >= mint && c.mint <= maxt)
            .map(|c| ChunkRef {
                mint: c.mint,
                maxt: c.maxt,
                encoding: crate::chunk::ENCODING_XOR,
                bytes: c.bytes.clone(),
            })
            .collect();
        if let Some(o) = data
            .open
            .as_ref()
            .filter(|o| o.maxt >= mint && o.mint <= maxt)
        {
            chunks.push(ChunkRef {
                mint: o.mint,
                maxt: o.maxt,
                encoding: crate::chunk::ENCODING_XOR,
                bytes: ChunkBytes::Shared(Arc::from(o.chunk.to_bytes())),
            });
        }
        let ooo: Vec<(i64, beacon_storage::SampleValue)> = data
            .ooo
            .as_ref()
            .map(|m| {
                m.range(mint..=maxt)
                    .filter(|(t, _)| !is_deleted(&deleted, **t))
                    .map(|(t, v)| (*t, beacon_storage::SampleValue::Float(f64::from_bits(*v))))
                    .collect()
            })
            .unwrap_or_default();
        let hist = data.hist.as_ref().map(|h| {
            let mut chunks: Vec<ChunkRef> = h
                .closed
                .iter()
                .filter(|c| c.maxt >= mint && c.mint <= maxt)
                .map(|c| ChunkRef {
                    mint: c.mint,
                    maxt: c.maxt,
                    encoding: crate::chunk::ENCODING_HISTOGRAM,
                    bytes: c.bytes.clone(),
                })
                .collect();
            if !h.open.is_empty() && h.last_t >= mint && h.open_mint <= maxt {
                chunks.push(ChunkRef {
                    mint: h.open_mint,
                    maxt: h.last_t,
                    encoding: crate::chunk::ENCODING_HISTOGRAM,
                    bytes: ChunkBytes::Shared(Arc::from(h.open.bytes())),
                });
            }
            chunks
        });
        drop(data);
        let mut parts = Vec::new();
        if !chunks.is_empty() {
            parts.push(Part {
                mint: chunks[0].mint,
                maxt: chunks[chunks.len() - 1].maxt,
                iter: Box::new(ChunksIter::new(chunks, mint, maxt, deleted.clone())),
            });
        }
        if let Some(h) = hist.filter(|h| !h.is_empty()) {
            parts.push(Part {
                mint: h[0].mint,
                maxt: h[h.len() - 1].maxt,
                iter: Box::new(crate::iter::HistChunksIter::new(h, mint, maxt, deleted)),
            });
        }
        if !ooo.is_empty() {
            parts.push(Part {
                mint: ooo[0].0,
                maxt: ooo[ooo.len() - 1].0,
                iter: Box::new(beacon_storage::VecIterator::new(ooo)),
            });
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Part {
                mint: lo,
                maxt: hi,
                iter: crate::iter::join(parts),
            }),
        }
    }

    /// Records deletion of `[mint, maxt]` from the series matching
    /// `matchers` (logged to the WAL first).
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<()> {
        let series = self.select_series(matchers);
        let stones: Vec<Tombstone> = series
            .iter()
            .map(|s| Tombstone {
                id: s.id,
                mint,
                maxt,
            })
            .collect();
        if stones.is_empty() {
            return Ok(());
        }
        let mut wal = self.wal.lock();
        if let Some(w) = wal.as_mut() {
            let mut buf = Vec::new();
            crate::record::encode_tombstones(&mut buf, &stones);
            w.log(&[&buf])?;
        }
        let mut ts = self.tombstones.write();
        for st in stones {
            ts.entry(st.id).or_default().push((st.mint, st.maxt));
        }
        Ok(())
    }

    /// Drops everything before `mint` (now in a block), removes series left
    /// empty, and checkpoints the WAL so replay starts from the new state.
    pub fn truncate(&self, mint: i64) -> Result<()> {
        self.min_valid_t.fetch_max(mint, Ordering::Relaxed);
        let mut removed = Vec::new();
        let mut new_mint = i64::MAX;
        for s in self.all_series() {
            let mut d = s.data.lock();
            let empty = d.truncate_before(mint);
            s.publish_last(d.last());
            if let Some((lo, _)) = d.time_range() {
                new_mint = new_mint.min(lo);
            }
            drop(d);
            if empty {
                removed.push(s);
            }
        }
        self.mint.store(new_mint, Ordering::Relaxed);
        if new_mint == i64::MAX {
            self.maxt.fetch_max(mint - 1, Ordering::Relaxed);
        }
        self.gc(&removed);
        if let Some(d) = &self.disk {
            d.truncate(mint);
        }
        self.checkpoint(mint)
    }

    fn gc(&self, removed: &[Arc<MemSeries>]) {
        if removed.is_empty() {
            return;
        }
        let mut reg = self.registry.write();
        let mut ids = HashSet::new();
        for s in removed {
            // References beyond the registry's and `removed`'s mean an
            // appender (or a query) holds the series: keep it for now. Both
            // take their reference under the registry lock held here.
            if Arc::strong_count(s) <= 2 && reg.remove(s.id).is_some() {
                ids.insert(s.id);
            }
        }
        self.postings.write().remove(&ids, removed);
        self.exemplars.forget(&ids);
        self.tombstones.write().retain(|id, _| !ids.contains(id));
        self.counters
            .series_removed
            .fetch_add(ids.len() as u64, Ordering::Relaxed);
    }

    fn checkpoint(&self, mint: i64) -> Result<()> {
        let Some(dir) = self.wal_dir.as_deref() else {
            return Ok(());
        };
        let last = match self.wal.lock().as_mut() {
            Some(w) => w.rotate()?,
            None => return Ok(()),
        };
        let alive = |id: u32| self.registry.read().get(id).is_some();
        wal::checkpoint(dir, last, |rec| match rec {
            Record::Series(s) => Some(Record::Series(
                s.iter().filter(|(id, _)| alive(*id)).cloned().collect(),
            )),
            Record::Samples(s) => Some(Record::Samples(
                s.iter()
                    .filter(|x| x.t >= mint && alive(x.id))
                    .copied()
                    .collect(),
            )),
            Record::Tombstones(t) => Some(Record::Tombstones(
                t.iter()
                    .filter(|x| x.maxt >= mint && alive(x.id))
                    .copied()
                    .collect(),
            )),
            Record::Metadata(m) => Some(Record::Metadata(
                m.iter().filter(|(id, _)| alive(*id)).cloned().collect(),
            )),
            Record::Exemplars(e) => Some(Record::Exemplars(
                e.iter()
                    .filter(|(id, x)| x.t.is_some_and(|t| t >= mint) && alive(*id))
                    .cloned()
                    .collect(),
            )),
            Record::HistSamples(h) => Some(Record::HistSamples(
                h.iter()
                    .filter(|x| x.t >= mint && alive(x.id))
                    .cloned()
                    .collect(),
            )),
        })?;
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Syncs the WAL (for `Db::close`).
    pub fn sync_wal(&self) -> Result<()> {
        match self.wal.lock().as_mut() {
            Some(w) => w.sync(),
            None => Ok(()),
        }
    }

    /// Sorted values of label `name` over series with samples in range.
    pub fn label_values_in(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        let mut out: Vec<String> = self
            .select_series(matchers)
            .iter()
            .filter(|s| self.has_samples_in(s, mint, maxt))
            .filter_map(|s| s.labels.get(name).map(str::to_owned))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// True when `s` has a sample in `[mint, maxt]` that is not deleted.
    pub fn has_samples_in(&self, s: &MemSeries, mint: i64, maxt: i64) -> bool {
        match self.part(s, mint, maxt) {
            Some(mut p) => p.iter.next() != beacon_storage::ValueType::None,
            None => false,
        }
    }

    /// Heap bytes held by series data and labels (an estimate for stats).
    pub fn heap_bytes(&self) -> usize {
        let series: usize = self
            .all_series()
            .iter()
            .map(|s| {
                s.data.lock().heap_bytes()
                    + s.labels.heap_bytes()
                    + std::mem::size_of::<MemSeries>()
                    + 16
            })
            .sum();
        series + self.postings.read().heap_bytes()
    }

    /// Checks a histogram sample against a series' newest sample: `pending`
    /// when the appender's batch holds one for the series, the committed
    /// one (read under the series lock, since equal timestamps compare the
    /// histograms) otherwise.
    fn judge_hist_against(
        &self,
        s: &MemSeries,
        pending: Option<(i64, u64)>,
        t: i64,
        h: &HistSample,
    ) -> Result<Verdict> {
        if t < self.min_valid_time() {
            return Err(beacon_storage::AppendError::OutOfBounds.into());
        }
        if let Some((pt, pv)) = pending {
            // The batch's own newest sample: the appender compares equal
            // timestamps against the sample it holds.
            if t < pt {
                return Err(beacon_storage::AppendError::OutOfOrderSample.into());
            }
            if t == pt {
                if pv != crate::series::HIST_SENTINEL_BITS {
                    return Err(beacon_storage::AppendError::DuplicateSampleForTimestamp.into());
                }
                return Ok(Verdict::Duplicate);
            }
            return Ok(Verdict::InOrder);
        }
        Ok(s.data.lock().judge_hist(t, h)?)
    }

    /// Checks a float sample against a series' newest one (`last`: the
    /// batch's pending one, or the committed one the series publishes).
    /// No lock is taken: the commit applies under the series lock and
    /// judges again, so a race with another appender of the same series can
    /// at worst drop a sample this check let through (counted as rejected),
    /// never corrupt the series.
    fn judge_float(&self, last: Option<(i64, u64)>, t: i64, v: f64) -> Result<Verdict> {
        if t < self.min_valid_time() {
            return Err(beacon_storage::AppendError::OutOfBounds.into());
        }
        let verdict = judge(last, t, v, self.ooo_min_t())?;
        if verdict == Verdict::ReplaceLast
            && last.is_some_and(|l| l.1 == crate::series::HIST_SENTINEL_BITS)
        {
            return Err(beacon_storage::AppendError::DuplicateSampleForTimestamp.into());
        }
        Ok(verdict)
    }
}

/// Series a commit prefetches ahead of the one it applies.
const PREFETCH_AHEAD: usize = 8;

/// Passes samples through a small window, prefetching each series' data
/// as it enters: a commit touches thousands of series whose memory is
/// rarely cached, and overlapping those misses instead of taking them one
/// by one is most of a large commit's cost.
struct Lookahead<'s, I: Iterator<Item = (&'s MemSeries, i64, Value)>> {
    inner: I,
    window: std::collections::VecDeque<(&'s MemSeries, i64, Value)>,
}

impl<'s, I: Iterator<Item = (&'s MemSeries, i64, Value)>> Lookahead<'s, I> {
    fn new(inner: I) -> Self {
        Lookahead {
            inner,
            window: std::collections::VecDeque::with_capacity(PREFETCH_AHEAD + 1),
        }
    }
}

impl<'s, I: Iterator<Item = (&'s MemSeries, i64, Value)>> Iterator for Lookahead<'s, I> {
    type Item = (&'s MemSeries, i64, Value);

    fn next(&mut self) -> Option<Self::Item> {
        while self.window.len() <= PREFETCH_AHEAD {
            let Some(item) = self.inner.next() else { break };
            prefetch(&item.0.data);
            self.window.push_back(item);
        }
        self.window.pop_front()
    }
}

/// Asks the CPU to start loading the cache lines of `x` (a hint: no
/// effect on other targets).
#[inline]
fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = (x as *const T).cast::<i8>();
        let lines = std::mem::size_of::<T>().div_ceil(64).min(4);
        for i in 0..lines {
            // SAFETY: prefetching never dereferences or faults; SSE is part
            // of the x86_64 baseline. The address is inside `x` anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(i * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

impl PostingsIndex for MemPostings {
    fn all_postings(&self) -> Vec<u32> {
        self.all.clone()
    }

    fn postings_for_values(&self, name: &str, values: &[&str]) -> Vec<u32> {
        let Some(vals) = self.by_name.get(name) else {
            return Vec::new();
        };
        union(
            values
                .iter()
                .filter_map(|v| vals.get(*v).cloned())
                .collect(),
        )
    }

    fn postings_matching(&self, name: &str, prefix: &str, pred: &dyn Fn(&str) -> bool) -> Vec<u32> {
        let Some(vals) = self.by_name.get(name) else {
            return Vec::new();
        };
        union(
            vals.range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(v, _)| v.starts_with(prefix))
            .filter(|(v, _)| pred(v))
            .map(|(_, p)| p.clone())
            .collect(),
        )
    }
}
