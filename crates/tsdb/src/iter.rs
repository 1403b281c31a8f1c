//! Sample iterators handed to queries: over a series' chunks (from the head
//! or a block), clipped to the query range and to tombstones, and the
//! merges that join one series' parts from several sources.

use std::sync::Arc;

use beacon_model::{FloatHistogram, Histogram};
use beacon_storage::{SampleIterator, SampleValue, ValueType, VecIterator};

use crate::chunk::decimal::DecimalIter;
use crate::chunk::histogram::{HistIter, HistSample};
use crate::chunk::{ENCODING_DECIMAL, XorIter};
use crate::encoding::DecodeError;

/// Chunk bytes an iterator owns a share of: a heap copy or a window into a
/// memory-mapped file.
#[derive(Debug, Clone)]
pub enum ChunkBytes {
    Shared(Arc<[u8]>),
    Mapped {
        map: Arc<memmap2::Mmap>,
        start: usize,
        end: usize,
    },
    /// A full head chunk in a head chunk file.
    Disk {
        file: Arc<crate::head::chunk_disk::MappedFile>,
        start: u32,
        end: u32,
    },
}

impl AsRef<[u8]> for ChunkBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            ChunkBytes::Shared(b) => b,
            ChunkBytes::Mapped { map, start, end } => map.get(*start..*end).unwrap_or(&[]),
            ChunkBytes::Disk { file, start, end } => file.slice(*start, *end),
        }
    }
}

/// One chunk with its time bounds and encoding.
#[derive(Debug, Clone)]
pub struct ChunkRef {
    pub mint: i64,
    pub maxt: i64,
    pub encoding: u8,
    pub bytes: ChunkBytes,
}

/// A decoder for any float chunk encoding.
pub enum AnyChunkIter {
    Xor(XorIter<ChunkBytes>),
    Decimal(DecimalIter<ChunkBytes>),
}

impl AnyChunkIter {
    /// A decoder for `bytes` in `encoding` (unknown encodings were refused
    /// when the chunk was read, so anything else is XOR).
    pub fn new(encoding: u8, bytes: ChunkBytes) -> AnyChunkIter {
        if encoding == ENCODING_DECIMAL {
            AnyChunkIter::Decimal(DecimalIter::new(bytes))
        } else {
            AnyChunkIter::Xor(XorIter::new(bytes))
        }
    }

    #[inline]
    pub fn next_sample(&mut self) -> bool {
        match self {
            AnyChunkIter::Xor(i) => i.next_sample(),
            AnyChunkIter::Decimal(i) => i.next_sample(),
        }
    }

    #[inline]
    pub fn at(&self) -> (i64, f64) {
        match self {
            AnyChunkIter::Xor(i) => i.at(),
            AnyChunkIter::Decimal(i) => i.at(),
        }
    }

    pub fn err(&self) -> Option<DecodeError> {
        match self {
            AnyChunkIter::Xor(i) => i.err(),
            AnyChunkIter::Decimal(i) => i.err(),
        }
    }
}

/// Deleted time intervals, inclusive on both ends.
pub type Intervals = Vec<(i64, i64)>;

/// True when `t` lies in a deleted interval.
#[inline]
pub fn is_deleted(deleted: &[(i64, i64)], t: i64) -> bool {
    deleted.iter().any(|&(a, b)| a <= t && t <= b)
}

/// Iterates a series' in-order chunks, within `[mint, maxt]`, skipping
/// deleted intervals.
pub struct ChunksIter {
    chunks: Vec<ChunkRef>,
    next_chunk: usize,
    cur: Option<AnyChunkIter>,
    mint: i64,
    maxt: i64,
    deleted: Intervals,
    t: i64,
    v: f64,
    done: bool,
    positioned: bool,
    err: Option<beacon_storage::Error>,
}

impl ChunksIter {
    /// `chunks` must be sorted by time and not overlap.
    pub fn new(chunks: Vec<ChunkRef>, mint: i64, maxt: i64, deleted: Intervals) -> ChunksIter {
        ChunksIter {
            chunks,
            next_chunk: 0,
            cur: None,
            mint,
            maxt,
            deleted,
            t: i64::MIN,
            v: f64::NAN,
            done: false,
            positioned: false,
            err: None,
        }
    }

    fn advance(&mut self, target: i64) -> ValueType {
        loop {
            if self.done {
                return ValueType::None;
            }
            if let Some(it) = self.cur.as_mut() {
                if it.next_sample() {
                    let (t, v) = it.at();
                    if t > self.maxt {
                        self.done = true;
                        return ValueType::None;
                    }
                    if t < target.max(self.mint) || is_deleted(&self.deleted, t) {
                        continue;
                    }
                    self.t = t;
                    self.v = v;
                    self.positioned = true;
                    return ValueType::Float;
                }
                if let Some(e) = it.err() {
                    self.err = Some(beacon_storage::Error::Other(format!(
                        "chunk decode failed: {e}"
                    )));
                    self.done = true;
                    return ValueType::None;
                }
                self.cur = None;
            }
            // Skip whole chunks that end before what is wanted.
            let want = target.max(self.mint);
            while self
                .chunks
                .get(self.next_chunk)
                .is_some_and(|c| c.maxt < want)
            {
                self.next_chunk += 1;
            }
            match self.chunks.get(self.next_chunk) {
                Some(c) if c.mint <= self.maxt => {
                    self.cur = Some(AnyChunkIter::new(c.encoding, c.bytes.clone()));
                    self.next_chunk += 1;
                }
                _ => {
                    self.done = true;
                    return ValueType::None;
                }
            }
        }
    }
}

impl SampleIterator for ChunksIter {
    fn next(&mut self) -> ValueType {
        self.advance(i64::MIN)
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.positioned && !self.done && self.t >= t {
            return ValueType::Float;
        }
        self.advance(t)
    }

    fn at(&self) -> (i64, f64) {
        (self.t, self.v)
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        (self.t, Histogram::default())
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        (self.t, FloatHistogram::default())
    }

    fn at_t(&self) -> i64 {
        self.t
    }

    fn err(&self) -> Option<&beacon_storage::Error> {
        self.err.as_ref()
    }
}

/// Iterates a series' histogram chunks within `[mint, maxt]`, skipping
/// deleted intervals.
pub struct HistChunksIter {
    chunks: Vec<ChunkRef>,
    next_chunk: usize,
    cur: Option<HistIter<ChunkBytes>>,
    mint: i64,
    maxt: i64,
    deleted: Intervals,
    t: i64,
    sample: Option<HistSample>,
    done: bool,
    err: Option<beacon_storage::Error>,
}

impl HistChunksIter {
    /// `chunks` must be sorted by time and not overlap.
    pub fn new(chunks: Vec<ChunkRef>, mint: i64, maxt: i64, deleted: Intervals) -> HistChunksIter {
        HistChunksIter {
            chunks,
            next_chunk: 0,
            cur: None,
            mint,
            maxt,
            deleted,
            t: i64::MIN,
            sample: None,
            done: false,
            err: None,
        }
    }

    fn kind(&self) -> ValueType {
        match &self.sample {
            Some(HistSample::Int(_)) => ValueType::Histogram,
            Some(HistSample::Float(_)) => ValueType::FloatHistogram,
            None => ValueType::None,
        }
    }

    fn advance(&mut self, target: i64) -> ValueType {
        let want = target.max(self.mint);
        while !self.done {
            if let Some(it) = self.cur.as_mut() {
                if it.next_sample() {
                    let t = it.t();
                    if t > self.maxt {
                        self.done = true;
                        break;
                    }
                    if t < want || is_deleted(&self.deleted, t) {
                        continue;
                    }
                    self.t = t;
                    self.sample = it.sample().cloned();
                    return self.kind();
                }
                if let Some(e) = it.err() {
                    self.err = Some(beacon_storage::Error::Other(format!(
                        "histogram chunk decode failed: {e}"
                    )));
                    self.done = true;
                    break;
                }
                self.cur = None;
            }
            while self
                .chunks
                .get(self.next_chunk)
                .is_some_and(|c| c.maxt < want)
            {
                self.next_chunk += 1;
            }
            match self.chunks.get(self.next_chunk) {
                Some(c) if c.mint <= self.maxt => {
                    self.cur = Some(HistIter::new(c.bytes.clone()));
                    self.next_chunk += 1;
                }
                _ => self.done = true,
            }
        }
        self.sample = None;
        ValueType::None
    }
}

impl SampleIterator for HistChunksIter {
    fn next(&mut self) -> ValueType {
        self.advance(i64::MIN)
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.sample.is_some() && self.t >= t {
            return self.kind();
        }
        self.advance(t)
    }

    fn at(&self) -> (i64, f64) {
        (self.t, f64::NAN)
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        match &self.sample {
            Some(HistSample::Int(h)) => (self.t, h.clone()),
            _ => (self.t, Histogram::default()),
        }
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        match &self.sample {
            Some(HistSample::Int(h)) => (self.t, h.to_float()),
            Some(HistSample::Float(h)) => (self.t, h.clone()),
            None => (self.t, FloatHistogram::default()),
        }
    }

    fn at_t(&self) -> i64 {
        self.t
    }

    fn err(&self) -> Option<&beacon_storage::Error> {
        self.err.as_ref()
    }
}

/// One source's part of a series: its time bounds and its samples.
pub struct Part {
    pub mint: i64,
    pub maxt: i64,
    pub iter: Box<dyn SampleIterator>,
}

/// Joins a series' parts. Disjoint parts are chained lazily; overlapping
/// ones are merged eagerly, the earlier-listed part winning on equal
/// timestamps (sources are listed oldest data first, the head last, so
/// fresher block data wins over nothing and the head wins ties last).
pub fn join(mut parts: Vec<Part>) -> Box<dyn SampleIterator> {
    if parts.len() == 1 {
        return parts.pop().map(|p| p.iter).expect("one part");
    }
    parts.sort_by_key(|p| p.mint);
    let disjoint = parts.windows(2).all(|w| w[0].maxt < w[1].mint);
    if disjoint {
        return Box::new(Chain {
            parts: parts.into_iter().map(|p| p.iter).collect(),
            idx: 0,
        });
    }
    let mut all: Vec<(i64, SampleValue)> = Vec::new();
    for mut p in parts {
        drain_into(&mut *p.iter, &mut all);
    }
    // Stable sort keeps the first-listed part's sample first.
    all.sort_by_key(|s| s.0);
    all.dedup_by_key(|s| s.0);
    Box::new(VecIterator::new(all))
}

/// Reads every sample of `it` into `out`.
pub fn drain_into(it: &mut dyn SampleIterator, out: &mut Vec<(i64, SampleValue)>) {
    loop {
        let s = match it.next() {
            ValueType::None => return,
            ValueType::Float => {
                let (t, v) = it.at();
                (t, SampleValue::Float(v))
            }
            ValueType::Histogram => {
                let (t, h) = it.at_histogram();
                (t, SampleValue::Histogram(Arc::new(h)))
            }
            ValueType::FloatHistogram => {
                let (t, h) = it.at_float_histogram();
                (t, SampleValue::FloatHistogram(Arc::new(h)))
            }
        };
        out.push(s);
    }
}

/// Chains time-disjoint iterators.
struct Chain {
    parts: Vec<Box<dyn SampleIterator>>,
    idx: usize,
}

impl SampleIterator for Chain {
    fn next(&mut self) -> ValueType {
        while let Some(p) = self.parts.get_mut(self.idx) {
            match p.next() {
                ValueType::None => self.idx += 1,
                vt => return vt,
            }
        }
        ValueType::None
    }

    fn seek(&mut self, t: i64) -> ValueType {
        while let Some(p) = self.parts.get_mut(self.idx) {
            match p.seek(t) {
                ValueType::None => self.idx += 1,
                vt => return vt,
            }
        }
        ValueType::None
    }

    fn at(&self) -> (i64, f64) {
        self.cur().map_or((i64::MIN, f64::NAN), |p| p.at())
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        self.cur()
            .map_or((i64::MIN, Histogram::default()), |p| p.at_histogram())
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        self.cur()
            .map_or((i64::MIN, FloatHistogram::default()), |p| {
                p.at_float_histogram()
            })
    }

    fn at_t(&self) -> i64 {
        self.cur().map_or(i64::MIN, |p| p.at_t())
    }

    fn err(&self) -> Option<&beacon_storage::Error> {
        self.parts.iter().find_map(|p| p.err())
    }
}

impl Chain {
    fn cur(&self) -> Option<&dyn SampleIterator> {
        self.parts.get(self.idx).map(|p| &**p)
    }
}
