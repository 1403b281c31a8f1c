//! `Db`: the database the server uses — a head with its WAL plus the
//! immutable blocks in one directory, compaction, retention, deletion and
//! snapshots, behind the storage traits.
//!
//! Directory layout: `lock`, `wal/` (segments and checkpoints), and one
//! directory per block named by its ULID.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use beacon_model::{Labels, Matcher};
use beacon_storage::{
    Appendable, Appender, ExemplarQueryable, ExemplarSeries, LabelHints, Querier, Queryable, Series,
};
use parking_lot::{Mutex, RwLock};

use crate::block::{Block, write_block};
use crate::head::exemplars::EXEMPLARS_MAX_LIMIT;
use crate::head::{EXEMPLARS_MAX_DEFAULT, Head, HeadOptions};
use crate::iter::{Part, join};
use crate::series::range_start;
use crate::wal::{FsyncPolicy, ReplayProgress, WalOptions};
use crate::{Error, Result};

/// Two hours, Prometheus's block range.
pub const BLOCK_RANGE_DEFAULT_MS: i64 = 2 * 3600 * 1000;
/// Fifteen days, Prometheus's default retention.
pub const RETENTION_DEFAULT_MS: i64 = 15 * 24 * 3600 * 1000;
/// The largest block compaction makes: 31 days.
pub const BLOCK_RANGE_MAX_MS: i64 = 31 * 24 * 3600 * 1000;

/// Database settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Blocks entirely older than this (relative to the newest sample) are
    /// deleted.
    pub retention_ms: i64,
    /// Oldest blocks are deleted while blocks take more bytes (0: no limit).
    pub retention_bytes: u64,
    /// The range of blocks cut from the head.
    pub block_range_ms: i64,
    /// Out-of-order window (0: refuse out-of-order samples).
    pub ooo_window_ms: i64,
    /// Write a WAL (without one, data since the last block is lost on exit).
    pub wal: bool,
    pub wal_fsync: FsyncPolicy,
    pub wal_segment_size_bytes: u64,
    /// Exemplars kept in memory (`storage.exemplars.max_exemplars`; 0
    /// drops exemplars). Changeable at run time with `set_max_exemplars`.
    pub max_exemplars: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_ms: RETENTION_DEFAULT_MS,
            retention_bytes: 0,
            block_range_ms: BLOCK_RANGE_DEFAULT_MS,
            ooo_window_ms: 0,
            wal: true,
            wal_fsync: FsyncPolicy::default(),
            wal_segment_size_bytes: crate::wal::SEGMENT_SIZE_DEFAULT,
            max_exemplars: EXEMPLARS_MAX_DEFAULT,
        }
    }
}

impl Options {
    fn validate(&self) -> Result<()> {
        if self.block_range_ms <= 0 {
            return Err(Error::InvalidOption {
                name: "block_range_ms",
                reason: "must be positive".into(),
            });
        }
        if self.retention_ms <= 0 {
            return Err(Error::InvalidOption {
                name: "retention_ms",
                reason: "must be positive".into(),
            });
        }
        check_max_exemplars(self.max_exemplars)?;
        if self.ooo_window_ms < 0 {
            return Err(Error::InvalidOption {
                name: "ooo_window_ms",
                reason: "must not be negative".into(),
            });
        }
        Ok(())
    }

    /// Compaction levels: the block range times 3, 9, 27… up to 10% of
    /// retention and at most 31 days.
    pub fn compaction_ranges(&self) -> Vec<i64> {
        let max = (self.retention_ms / 10).min(BLOCK_RANGE_MAX_MS);
        let mut out = vec![self.block_range_ms];
        let mut r = self.block_range_ms;
        while r.saturating_mul(3) <= max {
            r *= 3;
            out.push(r);
        }
        out
    }
}

fn check_max_exemplars(n: usize) -> Result<()> {
    if n > EXEMPLARS_MAX_LIMIT {
        return Err(Error::InvalidOption {
            name: "max_exemplars",
            reason: format!("{n} is more than the limit of {EXEMPLARS_MAX_LIMIT}"),
        });
    }
    Ok(())
}

/// Figures the server exports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbStats {
    pub head_series: u64,
    /// Chunks in the head (open ones and full ones on disk).
    pub head_chunks: u64,
    pub head_samples_appended_total: u64,
    pub head_samples_rejected_total: u64,
    pub head_series_created_total: u64,
    pub head_series_removed_total: u64,
    pub head_min_time: Option<i64>,
    pub head_max_time: Option<i64>,
    pub blocks: u64,
    pub blocks_bytes: u64,
    pub block_chunks: u64,
    pub wal_corruptions_total: u64,
    pub wal_replay_seconds: f64,
    pub checkpoints_total: u64,
    pub compactions_total: u64,
    pub retention_deletions_total: u64,
    /// `prometheus_tsdb_exemplar_exemplars_appended_total`
    pub exemplars_appended_total: u64,
    /// `prometheus_tsdb_exemplar_exemplars_in_storage`
    pub exemplars_in_storage: u64,
    /// `prometheus_tsdb_exemplar_series_with_exemplars_in_storage`
    pub series_with_exemplars_in_storage: u64,
    /// `prometheus_tsdb_exemplar_max_exemplars`
    pub max_exemplars: u64,
    /// `prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds`: the
    /// time of the oldest exemplar kept (how far back the buffer reaches).
    pub exemplars_oldest_seconds: Option<f64>,
    /// `prometheus_tsdb_exemplar_out_of_order_exemplars_total`
    pub exemplars_out_of_order_total: u64,
}

/// The embedded TSDB.
pub struct Db {
    dir: PathBuf,
    opts: Options,
    head: Arc<Head>,
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Serialises compaction, retention, deletion and snapshots.
    maintenance: Mutex<()>,
    _lock: File,
    compactions: AtomicU64,
    retention_deletions: AtomicU64,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (or creates) the database in `dir`: locks it, opens blocks,
    /// replays the WAL.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        Db::open_with_progress(dir, opts, &ReplayProgress::new())
    }

    /// `open`, reporting WAL replay to `progress`, which another thread
    /// may read while this runs (share it in an `Arc`); it is marked
    /// finished when the database is ready.
    pub fn open_with_progress(
        dir: impl AsRef<Path>,
        opts: Options,
        progress: &ReplayProgress,
    ) -> Result<Db> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked { path: dir }),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
        }
        let blocks = open_blocks(&dir)?;
        let min_valid = blocks
            .iter()
            .map(|b| b.meta().max_time)
            .max()
            .unwrap_or(i64::MIN);
        let head_opts = HeadOptions {
            chunk_range_ms: opts.block_range_ms,
            ooo_window_ms: opts.ooo_window_ms,
            max_exemplars: opts.max_exemplars,
        };
        let wal_opts = WalOptions {
            segment_size_max: opts.wal_segment_size_bytes,
            fsync: opts.wal_fsync,
        };
        let wal_dir = dir.join("wal");
        let chunk_dir = dir.join("chunks_head");
        let head = Head::open_with_progress(
            head_opts,
            opts.wal.then_some(wal_dir.as_path()),
            wal_opts,
            min_valid,
            Some(chunk_dir.as_path()),
            progress,
        )?;
        Ok(Db {
            dir,
            opts,
            head: Arc::new(head),
            blocks: RwLock::new(blocks),
            maintenance: Mutex::new(()),
            _lock: lock,
            compactions: AtomicU64::new(0),
            retention_deletions: AtomicU64::new(0),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The open blocks, oldest first.
    pub fn blocks(&self) -> Vec<Arc<Block>> {
        self.blocks.read().clone()
    }

    /// The oldest timestamp an append may carry now.
    pub fn min_valid_time(&self) -> i64 {
        self.head.min_valid_time()
    }

    /// Flushes the WAL to disk and releases the directory.
    pub fn close(self) -> Result<()> {
        self.head.sync_wal()
    }

    /// Current figures.
    pub fn stats(&self) -> DbStats {
        let c = &self.head.counters;
        let blocks = self.blocks.read();
        let range = self.head.time_range();
        let ex = self.head.exemplar_stats();
        DbStats {
            head_series: self.head.series_count() as u64,
            head_chunks: self.head.chunk_count(),
            head_samples_appended_total: c.samples_appended.load(Ordering::Relaxed),
            head_samples_rejected_total: c.samples_rejected.load(Ordering::Relaxed),
            head_series_created_total: c.series_created.load(Ordering::Relaxed),
            head_series_removed_total: c.series_removed.load(Ordering::Relaxed),
            head_min_time: range.map(|r| r.0),
            head_max_time: range.map(|r| r.1),
            blocks: blocks.len() as u64,
            blocks_bytes: blocks.iter().map(|b| b.size_bytes()).sum(),
            block_chunks: blocks.iter().map(|b| b.meta().stats.num_chunks).sum(),
            wal_corruptions_total: c.wal_corruptions.load(Ordering::Relaxed),
            wal_replay_seconds: self.head.replay_stats().seconds,
            checkpoints_total: c.checkpoints.load(Ordering::Relaxed),
            compactions_total: self.compactions.load(Ordering::Relaxed),
            retention_deletions_total: self.retention_deletions.load(Ordering::Relaxed),
            exemplars_appended_total: ex.appended_total,
            exemplars_in_storage: ex.in_storage,
            series_with_exemplars_in_storage: ex.series_in_storage,
            max_exemplars: ex.max,
            exemplars_oldest_seconds: ex.oldest_t.map(|t| t as f64 / 1000.0),
            exemplars_out_of_order_total: ex.out_of_order_total,
        }
    }

    /// Resizes the exemplar buffer (configuration reload), keeping the
    /// newest exemplars that fit; 0 drops them and disables storage.
    pub fn set_max_exemplars(&self, max: usize) -> Result<()> {
        check_max_exemplars(max)?;
        self.head.resize_exemplars(max);
        Ok(())
    }

    /// Deletes `[mint, maxt]` from the series matching `matchers`, by
    /// tombstones (blocks) and WAL-logged tombstones (head).
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<()> {
        let _m = self.maintenance.lock();
        for b in self.blocks.read().iter() {
            b.delete(mint, maxt, matchers)?;
        }
        self.head.delete(mint, maxt, matchers)
    }

    /// Rewrites blocks that have tombstones without the deleted data.
    pub fn clean_tombstones(&self) -> Result<()> {
        let _m = self.maintenance.lock();
        let dirty: Vec<Arc<Block>> = self
            .blocks
            .read()
            .iter()
            .filter(|b| b.has_tombstones())
            .cloned()
            .collect();
        for b in dirty {
            let m = b.meta().clone();
            let series = b.all_series()?.into_iter().map(|(l, p)| (l, p.iter));
            write_block(
                &self.dir,
                m.min_time,
                m.max_time,
                m.compaction.level,
                m.compaction.sources.clone(),
                series,
            )?;
            self.replace_blocks(&[b])?;
        }
        Ok(())
    }

    /// Reloads blocks from disk, dropping `gone` (their directories are
    /// deleted after they leave the list; open queries keep their maps).
    fn replace_blocks(&self, gone: &[Arc<Block>]) -> Result<()> {
        for b in gone {
            let dir = b.dir().to_path_buf();
            // Rename first so a crash mid-delete never leaves a half block
            // that would be opened.
            let doomed = dir.with_extension("deleted");
            fs::rename(&dir, &doomed).map_err(|e| Error::io(&dir, e))?;
            fs::remove_dir_all(&doomed).map_err(|e| Error::io(&doomed, e))?;
        }
        let fresh = open_blocks(&self.dir)?;
        *self.blocks.write() = fresh;
        Ok(())
    }

    /// Runs whatever maintenance is due: cuts blocks from the head, merges
    /// blocks into larger ones, applies retention. The server calls this
    /// on a timer. Returns true when anything changed.
    pub fn compact_if_needed(&self) -> Result<bool> {
        let _m = self.maintenance.lock();
        let mut changed = false;
        while let Some((mint, maxt)) = self.head_compactable() {
            self.compact_head(mint, maxt)?;
            changed = true;
        }
        changed |= self.compact_blocks()?;
        changed |= self.apply_retention()?;
        Ok(changed)
    }

    /// The next head range to persist: when the head spans one and a half
    /// block ranges, its oldest whole range.
    fn head_compactable(&self) -> Option<(i64, i64)> {
        let (mint, maxt) = self.head.time_range()?;
        let r = self.opts.block_range_ms;
        let start = range_start(mint, r);
        let span = i128::from(maxt) - i128::from(start);
        (span >= i128::from(r) * 3 / 2).then(|| (start, start.saturating_add(r)))
    }

    /// Writes head data in `[mint, maxt)` as a block, then truncates the
    /// head (and checkpoints the WAL).
    pub fn compact_head(&self, mint: i64, maxt: i64) -> Result<()> {
        let mut series: Vec<(Labels, Part)> = self
            .head
            .all_series()
            .into_iter()
            .filter_map(|s| {
                self.head
                    .part(&s, mint, maxt - 1)
                    .map(|p| (s.labels.clone(), p))
            })
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        write_block(
            &self.dir,
            mint,
            maxt,
            1,
            Vec::new(),
            series.into_iter().map(|(l, p)| (l, p.iter)),
        )?;
        self.replace_blocks(&[])?;
        self.head.truncate(maxt)?;
        self.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Merges blocks that together fill one range of a higher level.
    fn compact_blocks(&self) -> Result<bool> {
        let ranges = self.opts.compaction_ranges();
        let newest = self.blocks.read().iter().map(|b| b.meta().max_time).max();
        let Some(newest) = newest else {
            return Ok(false);
        };
        let mut changed = false;
        for &r in ranges.iter().skip(1) {
            loop {
                let blocks = self.blocks.read().clone();
                let group = plan_group(&blocks, r, newest);
                let Some(group) = group else { break };
                self.merge(&group)?;
                changed = true;
            }
        }
        Ok(changed)
    }

    fn merge(&self, group: &[Arc<Block>]) -> Result<()> {
        let mint = group.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
        let level = group
            .iter()
            .map(|b| b.meta().compaction.level)
            .max()
            .unwrap_or(1)
            + 1;
        let mut sources: Vec<String> = group
            .iter()
            .flat_map(|b| b.meta().compaction.sources.clone())
            .collect();
        sources.sort();
        let mut by_labels: std::collections::BTreeMap<Labels, Vec<Part>> = Default::default();
        for b in group {
            for (l, p) in b.all_series()? {
                by_labels.entry(l).or_default().push(p);
            }
        }
        let series = by_labels.into_iter().map(|(l, parts)| (l, join(parts)));
        write_block(&self.dir, mint, maxt, level, sources, series)?;
        self.replace_blocks(group)?;
        self.compactions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes blocks past the time or size retention.
    fn apply_retention(&self) -> Result<bool> {
        let blocks = self.blocks.read().clone();
        let newest = self
            .head
            .time_range()
            .map(|r| r.1)
            .into_iter()
            .chain(blocks.iter().map(|b| b.meta().max_time - 1))
            .max();
        let Some(newest) = newest else {
            return Ok(false);
        };
        let cutoff = newest.saturating_sub(self.opts.retention_ms);
        let mut doomed: Vec<Arc<Block>> = blocks
            .iter()
            .filter(|b| b.meta().max_time <= cutoff)
            .cloned()
            .collect();
        if self.opts.retention_bytes > 0 {
            let mut total: u64 = blocks.iter().map(|b| b.size_bytes()).sum();
            for b in &blocks {
                if total <= self.opts.retention_bytes {
                    break;
                }
                total -= b.size_bytes();
                if !doomed.iter().any(|d| Arc::ptr_eq(d, b)) {
                    doomed.push(b.clone());
                }
            }
        }
        if doomed.is_empty() {
            return Ok(false);
        }
        self.retention_deletions
            .fetch_add(doomed.len() as u64, Ordering::Relaxed);
        self.replace_blocks(&doomed)?;
        Ok(true)
    }

    /// Writes a consistent copy into `dst`: blocks by hard link, and, with
    /// `with_head`, the head's data as one more block.
    pub fn snapshot(&self, dst: impl AsRef<Path>, with_head: bool) -> Result<()> {
        let _m = self.maintenance.lock();
        let dst = dst.as_ref();
        fs::create_dir_all(dst).map_err(|e| Error::io(dst, e))?;
        for b in self.blocks.read().iter() {
            link_tree(b.dir(), &dst.join(&b.meta().ulid))?;
        }
        if with_head && let Some((mint, maxt)) = self.head.time_range() {
            let mut series: Vec<(Labels, Part)> = self
                .head
                .all_series()
                .into_iter()
                .filter_map(|s| {
                    self.head
                        .part(&s, mint, maxt)
                        .map(|p| (s.labels.clone(), p))
                })
                .collect();
            series.sort_by(|a, b| a.0.cmp(&b.0));
            write_block(
                dst,
                mint,
                maxt.saturating_add(1),
                1,
                Vec::new(),
                series.into_iter().map(|(l, p)| (l, p.iter)),
            )?;
        }
        Ok(())
    }
}

/// Picks blocks that lie in one aligned window of range `r` which ends at
/// or before `newest`, when there are at least two.
fn plan_group(blocks: &[Arc<Block>], r: i64, newest: i64) -> Option<Vec<Arc<Block>>> {
    let mut windows: std::collections::BTreeMap<i64, Vec<Arc<Block>>> = Default::default();
    for b in blocks {
        let m = b.meta();
        let w = range_start(m.min_time, r);
        if m.max_time <= w.saturating_add(r) && m.max_time - m.min_time < r {
            windows.entry(w).or_default().push(b.clone());
        }
    }
    windows
        .into_iter()
        .find(|(w, g)| g.len() > 1 && w.saturating_add(r) <= newest)
        .map(|(_, g)| g)
}

fn link_tree(src: &Path, dst: &Path) -> Result<()> {
    fs::create_dir_all(dst).map_err(|e| Error::io(dst, e))?;
    for ent in fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let ent = ent.map_err(|e| Error::io(src, e))?;
        let (from, to) = (ent.path(), dst.join(ent.file_name()));
        if ent.file_type().map_err(|e| Error::io(&from, e))?.is_dir() {
            link_tree(&from, &to)?;
        } else {
            fs::hard_link(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
    }
    Ok(())
}

/// Opens every block directory in `dir`, oldest first. Leftovers of
/// interrupted writes (`*.tmp`, `*.deleted`) are removed; a block that does
/// not open is an error naming it.
fn open_blocks(dir: &Path) -> Result<Vec<Arc<Block>>> {
    let mut out = Vec::new();
    for ent in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        let path = ent.path();
        if !path.is_dir() || name == "wal" {
            continue;
        }
        if name.ends_with(".tmp") || name.ends_with(".deleted") {
            fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
            continue;
        }
        if name.len() == 26 && path.join("meta.json").exists() {
            out.push(Arc::new(Block::open(&path)?));
        }
    }
    out.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    Ok(out)
}

/// Reads a `[mint, maxt]` range across blocks and head.
struct DbQuerier {
    head: Arc<Head>,
    blocks: Vec<Arc<Block>>,
    mint: i64,
    maxt: i64,
}

impl DbQuerier {
    fn parts(&self, matchers: &[Matcher]) -> Result<Vec<(Labels, Vec<Part>)>> {
        let mut by_labels: std::collections::BTreeMap<Labels, Vec<Part>> = Default::default();
        for b in &self.blocks {
            for (l, p) in b.select(matchers, self.mint, self.maxt)? {
                by_labels.entry(l).or_default().push(p);
            }
        }
        for s in self.head.select_series(matchers) {
            if let Some(p) = self.head.part(&s, self.mint, self.maxt) {
                by_labels.entry(s.labels.clone()).or_default().push(p);
            }
        }
        Ok(by_labels.into_iter().collect())
    }

    /// Label sets of matching series with at least one sample in range.
    fn matching_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        let mut out = Vec::new();
        for (l, parts) in self.parts(matchers)? {
            let mut it = join(parts);
            if it.next() != beacon_storage::ValueType::None {
                out.push(l);
            }
        }
        Ok(out)
    }
}

fn limited(mut v: Vec<String>, limit: usize) -> Vec<String> {
    v.sort();
    v.dedup();
    if limit > 0 {
        v.truncate(limit);
    }
    v
}

impl Querier for DbQuerier {
    fn select(&self, matchers: &[Matcher]) -> beacon_storage::Result<Vec<Series>> {
        Ok(self
            .parts(matchers)?
            .into_iter()
            .map(|(labels, parts)| Series {
                labels,
                samples: join(parts),
            })
            .collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        hints: &LabelHints,
    ) -> beacon_storage::Result<Vec<String>> {
        let vals = self
            .matching_labels(matchers)?
            .iter()
            .filter_map(|l| l.get(name).map(str::to_owned))
            .collect();
        Ok(limited(vals, hints.limit))
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        hints: &LabelHints,
    ) -> beacon_storage::Result<Vec<String>> {
        let names = self
            .matching_labels(matchers)?
            .iter()
            .flat_map(|l| l.iter().map(|p| p.name.to_owned()).collect::<Vec<_>>())
            .collect();
        Ok(limited(names, hints.limit))
    }
}

impl Queryable for Db {
    fn querier(&self, mint: i64, maxt: i64) -> beacon_storage::Result<Box<dyn Querier>> {
        if mint > maxt {
            return Err(Error::InvalidRange { mint, maxt }.into());
        }
        let blocks = self
            .blocks
            .read()
            .iter()
            .filter(|b| b.overlaps(mint, maxt))
            .cloned()
            .collect();
        Ok(Box::new(DbQuerier {
            head: self.head.clone(),
            blocks,
            mint,
            maxt,
        }))
    }
}

impl Appendable for Db {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(self.head.appender())
    }
}

/// Exemplars live in the head only (as in Prometheus: blocks keep none).
impl ExemplarQueryable for Db {
    fn select_exemplars(
        &self,
        mint_ms: i64,
        maxt_ms: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> beacon_storage::Result<Vec<ExemplarSeries>> {
        if mint_ms > maxt_ms {
            return Err(Error::InvalidRange {
                mint: mint_ms,
                maxt: maxt_ms,
            }
            .into());
        }
        Ok(self
            .head
            .exemplars_for_sets(matcher_sets, mint_ms, maxt_ms)
            .into_iter()
            .map(|(labels, exemplars)| ExemplarSeries { labels, exemplars })
            .collect())
    }
}
