//! One series in the head: its labels, its full (closed) chunks, its open
//! chunk, and the few out-of-order samples an optional window admits.
//!
//! **Invariant:** the open chunk holds the series' newest in-order sample
//! whenever the series has one, so a staleness marker at that timestamp can
//! replace it by re-encoding only the open chunk.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use beacon_model::{Labels, is_stale_nan};
use beacon_storage::AppendError;
use parking_lot::Mutex;

use crate::chunk::histogram::{HistChunk, HistSample};
use crate::chunk::{SAMPLES_PER_CHUNK, XorChunk, XorIter};
use crate::head::chunk_disk::ChunkDisk;
use crate::iter::ChunkBytes;

/// Stands in for "the newest sample is a histogram" where float samples
/// are judged: a NaN payload no scrape produces, so it never equals a value.
pub const HIST_SENTINEL_BITS: u64 = 0x7ff8_4849_5354_0001;

/// A sample of either kind, as appenders buffer them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Float(f64),
    Hist(Box<HistSample>),
}

/// A series' native histogram samples.
#[derive(Debug)]
pub struct HistData {
    pub closed: Vec<ClosedChunk>,
    pub open: HistChunk,
    pub open_mint: i64,
    pub last_t: i64,
    pub last: HistSample,
}

/// A full chunk kept in memory until the head is compacted.
#[derive(Debug, Clone)]
pub struct ClosedChunk {
    pub mint: i64,
    pub maxt: i64,
    /// On disk (memory-mapped) once written there; in memory otherwise.
    pub bytes: ChunkBytes,
}

/// The mutable part of a series, behind its mutex.
#[derive(Debug, Default)]
pub struct SeriesData {
    pub closed: Vec<ClosedChunk>,
    /// Inline rather than boxed: almost every series has one, and the
    /// appender reaches it for every sample, so a pointer less to chase.
    pub open: Option<OpenChunk>,
    /// Out-of-order samples (timestamp → value bits), when a window is set.
    pub ooo: Option<Box<BTreeMap<i64, u64>>>,
    /// Native histogram samples, when the series has any.
    pub hist: Option<Box<HistData>>,
    /// Type, help and unit, when a scrape reported them.
    pub meta: Option<Box<beacon_model::Metadata>>,
}

/// The chunk being appended to.
#[derive(Debug)]
pub struct OpenChunk {
    pub mint: i64,
    pub maxt: i64,
    pub last_v: u64,
    pub chunk: XorChunk,
}

/// A head series.
#[derive(Debug)]
pub struct MemSeries {
    pub id: u32,
    /// Set once the series record is in the WAL (under the WAL lock).
    pub logged: AtomicBool,
    pub labels: Labels,
    /// The newest committed in-order sample (`SeriesData::last`), copied
    /// out under the data lock whenever it changes, so appenders check new
    /// samples without taking the lock (`i64::MIN`: none).
    last_t: AtomicI64,
    last_v: AtomicU64,
    /// Which appender batch last added an in-order sample, and where in
    /// that batch: `batch id << 32 | index`. An appender validates the
    /// index against its own buffer, so stale or foreign marks are ignored.
    pub batch_mark: AtomicU64,
    pub data: Mutex<SeriesData>,
}

/// What an append would do to a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new newest sample.
    InOrder,
    /// The same sample again: accepted and dropped.
    Duplicate,
    /// A staleness marker replacing the newest sample's value.
    ReplaceLast,
    /// Older than the newest sample but inside the out-of-order window.
    OutOfOrder,
}

impl MemSeries {
    pub fn new(id: u32, labels: Labels) -> MemSeries {
        MemSeries {
            id,
            logged: AtomicBool::new(false),
            labels,
            last_t: AtomicI64::new(i64::MIN),
            last_v: AtomicU64::new(0),
            batch_mark: AtomicU64::new(0),
            data: Mutex::new(SeriesData::default()),
        }
    }

    /// Records the newest committed sample (called under the data lock).
    pub fn publish_last(&self, last: Option<(i64, u64)>) {
        let (t, v) = last.unwrap_or((i64::MIN, 0));
        self.last_v.store(v, Ordering::Relaxed);
        self.last_t.store(t, Ordering::Release);
    }

    /// The newest committed sample as last published. Read without the
    /// lock, so a concurrent commit may show its time with the previous
    /// value; callers only use it for checks the commit repeats.
    pub fn published_last(&self) -> Option<(i64, u64)> {
        let t = self.last_t.load(Ordering::Acquire);
        (t != i64::MIN).then(|| (t, self.last_v.load(Ordering::Relaxed)))
    }
}

/// Decides whether a sample may follow `last` (the newest sample, committed
/// or pending). `ooo_min_t` is the oldest timestamp the out-of-order window
/// admits (`i64::MAX` when there is no window).
pub fn judge(
    last: Option<(i64, u64)>,
    t: i64,
    v: f64,
    ooo_min_t: i64,
) -> Result<Verdict, AppendError> {
    let Some((lt, lv)) = last else {
        return Ok(Verdict::InOrder);
    };
    if t > lt {
        return Ok(Verdict::InOrder);
    }
    if t == lt {
        if lv == v.to_bits() {
            return Ok(Verdict::Duplicate);
        }
        if is_stale_nan(v) {
            return Ok(Verdict::ReplaceLast);
        }
        return Err(AppendError::DuplicateSampleForTimestamp);
    }
    if t >= ooo_min_t {
        return Ok(Verdict::OutOfOrder);
    }
    Err(AppendError::OutOfOrderSample)
}

impl SeriesData {
    /// The newest in-order sample; a histogram shows as
    /// `HIST_SENTINEL_BITS`.
    pub fn last(&self) -> Option<(i64, u64)> {
        let f = self
            .open
            .as_ref()
            .filter(|o| !o.chunk.is_empty())
            .map(|o| (o.maxt, o.last_v));
        match (&self.hist, f) {
            (Some(h), Some((ft, _))) if h.last_t >= ft => Some((h.last_t, HIST_SENTINEL_BITS)),
            (Some(h), None) => Some((h.last_t, HIST_SENTINEL_BITS)),
            (_, f) => f,
        }
    }

    /// True when the newest sample is a histogram.
    pub fn hist_is_newest(&self) -> bool {
        self.last().is_some_and(|l| l.1 == HIST_SENTINEL_BITS)
    }

    /// Decides whether histogram `h` may follow the newest sample: only in
    /// order (no out-of-order window for histograms), and at an equal
    /// timestamp only as the very same histogram.
    pub fn judge_hist(&self, t: i64, h: &HistSample) -> Result<Verdict, AppendError> {
        let Some((lt, _)) = self.last() else {
            return Ok(Verdict::InOrder);
        };
        if t > lt {
            return Ok(Verdict::InOrder);
        }
        if t == lt {
            return match &self.hist {
                Some(d) if d.last_t == t && d.last == *h => Ok(Verdict::Duplicate),
                _ => Err(AppendError::DuplicateSampleForTimestamp),
            };
        }
        Err(AppendError::OutOfOrderSample)
    }

    /// Applies an accepted histogram sample; true when stored.
    pub fn apply_hist(&mut self, t: i64, h: HistSample, range_ms: i64) -> bool {
        if self.judge_hist(t, &h) != Ok(Verdict::InOrder) {
            return false;
        }
        let d = self.hist.get_or_insert_with(|| {
            Box::new(HistData {
                closed: Vec::new(),
                open: HistChunk::new(),
                open_mint: t,
                last_t: t,
                last: h.clone(),
            })
        });
        if !d.open.is_empty()
            && (d.open.len() >= SAMPLES_PER_CHUNK || range_start(t, range_ms) > d.last_t)
        {
            let full = std::mem::take(&mut d.open);
            d.closed.push(ClosedChunk {
                mint: d.open_mint,
                maxt: d.last_t,
                bytes: ChunkBytes::Shared(Arc::from(full.bytes())),
            });
        }
        if d.open.is_empty() {
            d.open_mint = t;
        }
        d.open.append(t, &h);
        d.last_t = t;
        d.last = h;
        true
    }

    /// Applies an accepted sample. `cut_at` is the end of the block range
    /// the newest chunk lies in: chunks never straddle block boundaries.
    /// Returns true when a sample was stored.
    pub fn apply(
        &mut self,
        t: i64,
        v: f64,
        ooo_min_t: i64,
        range_ms: i64,
        disk: Option<&ChunkDisk>,
    ) -> bool {
        match judge(self.last(), t, v, ooo_min_t) {
            Ok(Verdict::InOrder) => {
                self.append_in_order(t, v, range_ms, disk);
                true
            }
            Ok(Verdict::ReplaceLast) => {
                // A marker at a histogram's timestamp replaces nothing.
                if self.hist_is_newest() {
                    return false;
                }
                self.replace_last(v);
                true
            }
            Ok(Verdict::OutOfOrder) => {
                let ooo = self.ooo.get_or_insert_with(Default::default);
                match ooo.get(&t) {
                    Some(old) if *old != v.to_bits() && !is_stale_nan(v) => false,
                    _ => {
                        ooo.insert(t, v.to_bits());
                        true
                    }
                }
            }
            Ok(Verdict::Duplicate) | Err(_) => false,
        }
    }

    fn append_in_order(&mut self, t: i64, v: f64, range_ms: i64, disk: Option<&ChunkDisk>) {
        let cut = match &self.open {
            None => false,
            Some(o) => o.chunk.len() >= SAMPLES_PER_CHUNK || range_start(t, range_ms) > o.maxt,
        };
        if cut {
            self.close_open(disk);
        }
        let o = self.open.get_or_insert_with(|| OpenChunk {
            mint: t,
            maxt: t,
            last_v: 0,
            chunk: XorChunk::new(),
        });
        o.chunk.append(t, v);
        o.maxt = t;
        o.last_v = v.to_bits();
    }

    /// Moves the open chunk to the closed list, its bytes to `disk` when
    /// given (kept in memory if the write fails).
    pub fn close_open(&mut self, disk: Option<&ChunkDisk>) {
        if let Some(o) = self.open.take() {
            if o.chunk.is_empty() {
                return;
            }
            let raw = o.chunk.to_bytes();
            let bytes = match disk.map(|d| d.write(&raw, o.maxt)) {
                Some(Ok((file, start, end))) => ChunkBytes::Disk { file, start, end },
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cannot write head chunk to disk; keeping it in memory");
                    ChunkBytes::Shared(Arc::from(raw))
                }
                None => ChunkBytes::Shared(Arc::from(raw)),
            };
            self.closed.push(ClosedChunk {
                mint: o.mint,
                maxt: o.maxt,
                bytes,
            });
        }
    }

    fn replace_last(&mut self, v: f64) {
        let Some(o) = self.open.as_mut() else {
            return;
        };
        let mut it = XorIter::new(o.chunk.to_bytes());
        let mut c = XorChunk::new();
        let n = o.chunk.len();
        for _ in 1..n {
            if !it.next_sample() {
                break;
            }
            let (t, v) = it.at();
            c.append(t, v);
        }
        c.append(o.maxt, v);
        o.chunk = c;
        o.last_v = v.to_bits();
    }

    /// Drops chunks and out-of-order samples entirely before `mint`.
    /// Returns true when nothing is left.
    pub fn truncate_before(&mut self, mint: i64) -> bool {
        self.closed.retain(|c| c.maxt >= mint);
        if self.open.as_ref().is_some_and(|o| o.maxt < mint) {
            self.open = None;
        }
        if let Some(ooo) = self.ooo.as_mut() {
            ooo.retain(|t, _| *t >= mint);
            if ooo.is_empty() {
                self.ooo = None;
            }
        }
        if let Some(h) = self.hist.as_mut() {
            h.closed.retain(|c| c.maxt >= mint);
            if h.last_t < mint {
                h.open = HistChunk::new();
            }
            if h.closed.is_empty() && h.open.is_empty() {
                self.hist = None;
            }
        }
        self.closed.is_empty() && self.open.is_none() && self.ooo.is_none() && self.hist.is_none()
    }

    /// Oldest and newest sample time, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut lo = i64::MAX;
        let mut hi = i64::MIN;
        for (a, b) in self.closed.iter().map(|c| (c.mint, c.maxt)).chain(
            self.open
                .iter()
                .filter(|o| !o.chunk.is_empty())
                .map(|o| (o.mint, o.maxt)),
        ) {
            lo = lo.min(a);
            hi = hi.max(b);
        }
        if let Some(ooo) = &self.ooo
            && let (Some((a, _)), Some((b, _))) = (ooo.first_key_value(), ooo.last_key_value())
        {
            lo = lo.min(*a);
            hi = hi.max(*b);
        }
        if let Some(h) = &self.hist {
            let first = h.closed.first().map_or(h.open_mint, |c| c.mint);
            if !h.closed.is_empty() || !h.open.is_empty() {
                lo = lo.min(first);
                hi = hi.max(h.last_t);
            }
        }
        (lo <= hi).then_some((lo, hi))
    }

    /// Heap bytes held by chunks (for the memory figures).
    pub fn heap_bytes(&self) -> usize {
        let closed: usize = self
            .closed
            .iter()
            .map(|c| match &c.bytes {
                ChunkBytes::Shared(b) => b.len() + 16,
                _ => 0,
            })
            .sum();
        // The open chunk itself is inline (counted with `MemSeries`).
        let open = self.open.as_ref().map_or(0, |o| o.chunk.heap_bytes());
        let hist = self.hist.as_ref().map_or(0, |h| {
            h.closed
                .iter()
                .map(|c| c.bytes.as_ref().len() + 48)
                .sum::<usize>()
                + h.open.bytes().len()
                + 256
        });
        closed + self.closed.capacity() * std::mem::size_of::<ClosedChunk>() + open + hist
    }
}

/// The start of the block range `t` falls in (floor division, so negative
/// timestamps align too).
pub fn range_start(t: i64, range_ms: i64) -> i64 {
    t.div_euclid(range_ms).saturating_mul(range_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_rules() {
        let stale = beacon_model::stale_nan();
        let last = Some((10, 1.0f64.to_bits()));
        assert_eq!(judge(None, 5, 1.0, i64::MAX), Ok(Verdict::InOrder));
        assert_eq!(judge(last, 11, 1.0, i64::MAX), Ok(Verdict::InOrder));
        assert_eq!(judge(last, 10, 1.0, i64::MAX), Ok(Verdict::Duplicate));
        assert_eq!(judge(last, 10, stale, i64::MAX), Ok(Verdict::ReplaceLast));
        assert_eq!(
            judge(last, 10, 2.0, i64::MAX),
            Err(AppendError::DuplicateSampleForTimestamp)
        );
        assert_eq!(
            judge(last, 9, 1.0, i64::MAX),
            Err(AppendError::OutOfOrderSample)
        );
        assert_eq!(judge(last, 9, 1.0, 5), Ok(Verdict::OutOfOrder));
    }

    #[test]
    fn chunks_cut_at_size_and_range_boundary() {
        let mut s = SeriesData::default();
        for i in 0..250 {
            assert!(s.apply(i * 10, i as f64, i64::MAX, 1_000_000, None));
        }
        assert_eq!(s.closed.len(), 2);
        assert!(s.apply(1_000_000, 0.0, i64::MAX, 1_000_000, None));
        assert_eq!(s.closed.len(), 3, "range boundary cuts the chunk");
        assert!(s.apply(
            1_000_000,
            beacon_model::stale_nan(),
            i64::MAX,
            1_000_000,
            None
        ));
        assert!(beacon_model::is_stale_nan(f64::from_bits(
            s.last().unwrap().1
        )));
        assert!(!s.truncate_before(1_000_000));
        assert_eq!(s.closed.len(), 0);
        assert!(s.truncate_before(2_000_000));
    }
}
