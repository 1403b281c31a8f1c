//! The write-ahead log: numbered segment files of CRC32C-framed records,
//! replay with repair of damaged segments, and checkpoints.
//!
//! Durability: `log` hands each commit's records to the kernel with one
//! `write` before the commit returns, so an acknowledged sample survives
//! the process being killed at any moment. With `FsyncPolicy::Commit` the
//! write is also `fdatasync`ed, which extends that to power loss at the cost
//! of a disk flush per commit. Segments are always synced when they are
//! closed (rotation, `close`) and checkpoints before they are renamed into
//! place. The byte layout is in `docs/format/wal.md`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;

use crate::record::{self, Record};
use crate::{Error, Result};

/// Segment header magic: "BWAL".
pub const SEGMENT_MAGIC: u32 = 0x4257_414C;
/// Current segment format version.
pub const SEGMENT_VERSION: u8 = 1;
/// Bytes of segment header: magic, version, three reserved bytes.
pub const SEGMENT_HEADER_LEN: usize = 8;
/// Bytes of record header: payload length and CRC32C.
pub const RECORD_HEADER_LEN: usize = 8;
/// The largest record payload; a bigger length field is corruption.
pub const RECORD_LEN_MAX: usize = 64 << 20;
/// Default segment size before rotation (Prometheus uses 128 MiB).
pub const SEGMENT_SIZE_DEFAULT: u64 = 128 << 20;

/// When the WAL calls `fdatasync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// On segment close only: survives process crashes, not power loss.
    #[default]
    SegmentClose,
    /// After every commit as well.
    Commit,
}

/// WAL settings.
#[derive(Debug, Clone, Copy)]
pub struct WalOptions {
    pub segment_size_max: u64,
    pub fsync: FsyncPolicy,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_size_max: SEGMENT_SIZE_DEFAULT,
            fsync: FsyncPolicy::default(),
        }
    }
}

/// The name of segment `n`.
pub fn segment_name(n: u32) -> String {
    format!("{n:08}")
}

fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[..4].copy_from_slice(&SEGMENT_MAGIC.to_be_bytes());
    h[4] = SEGMENT_VERSION;
    h
}

/// Frames one record payload.
pub fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Numbered entries (segments, or checkpoints with `prefix`) in `dir`.
fn list_numbered(dir: &Path, prefix: &str) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(num) = name.strip_prefix(prefix)
            && num.len() == 8
            && let Ok(n) = num.parse::<u32>()
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Segment numbers in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<u32>> {
    list_numbered(dir, "")
}

/// Checkpoint numbers in `dir`, ascending.
pub fn list_checkpoints(dir: &Path) -> Result<Vec<u32>> {
    list_numbered(dir, "checkpoint.")
}

/// A damaged stretch of a segment that replay skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub offset: u64,
    pub len: u64,
    pub reason: String,
}

/// A segment's bytes and the framed records found in it.
#[derive(Debug, Default)]
pub struct Scan {
    pub data: Vec<u8>,
    /// Byte ranges of whole framed records (header included).
    pub records: Vec<Range<usize>>,
    pub damage: Vec<Damage>,
}

impl Scan {
    /// The payload of framed record `r`.
    pub fn payload(&self, r: &Range<usize>) -> &[u8] {
        &self.data[r.start + RECORD_HEADER_LEN..r.end]
    }
}

/// Checks a record frame at `pos`: returns its end, or why it is bad.
fn check_frame(data: &[u8], pos: usize) -> Result<usize, &'static str> {
    let Some(h) = data.get(pos..pos + RECORD_HEADER_LEN) else {
        return Err("torn record header");
    };
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len == 0 || len > RECORD_LEN_MAX {
        return Err("invalid record length");
    }
    let end = pos + RECORD_HEADER_LEN + len;
    let Some(payload) = data.get(pos + RECORD_HEADER_LEN..end) else {
        return Err("torn record");
    };
    if crc32c::crc32c(payload) != crc {
        return Err("record checksum mismatch");
    }
    Ok(end)
}

/// Reads a segment and finds its intact records. Damage is skipped by
/// searching for the next intact frame, so records after a corrupt one in
/// the middle are kept; damage with nothing intact after it is a torn tail.
pub fn scan_segment(path: &Path) -> Result<Scan> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| Error::io(path, e))?;
    let mut scan = Scan {
        data,
        ..Scan::default()
    };
    let data = &scan.data;
    if data.is_empty() {
        return Ok(scan);
    }
    if data.len() < SEGMENT_HEADER_LEN || data[..SEGMENT_HEADER_LEN] != segment_header() {
        scan.damage.push(Damage {
            offset: 0,
            len: data.len() as u64,
            reason: "bad segment header".into(),
        });
        return Ok(scan);
    }
    let mut pos = SEGMENT_HEADER_LEN;
    while pos < data.len() {
        match check_frame(data, pos) {
            Ok(end) => {
                scan.records.push(pos..end);
                pos = end;
            }
            Err(reason) => {
                let next = (pos + 1..data.len()).find(|&p| check_frame(data, p).is_ok());
                let stop = next.unwrap_or(data.len());
                scan.damage.push(Damage {
                    offset: pos as u64,
                    len: (stop - pos) as u64,
                    reason: reason.into(),
                });
                pos = stop;
            }
        }
    }
    Ok(scan)
}

/// Rewrites a damaged segment with only its intact records (via a
/// temporary file and a rename, so a crash here loses nothing more).
pub fn repair_segment(path: &Path, scan: &Scan) -> Result<()> {
    let tmp = path.with_extension("repair");
    let mut out = Vec::with_capacity(scan.data.len());
    out.extend_from_slice(&segment_header());
    for r in &scan.records {
        out.extend_from_slice(&scan.data[r.clone()]);
    }
    write_synced(&tmp, &out)?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Syncs a directory so renames and new files in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// What replay found.
#[derive(Debug, Clone, Default)]
pub struct ReplayStats {
    pub segments: usize,
    pub records: u64,
    /// Damaged stretches found (and repaired).
    pub corruptions: u64,
    pub bytes_dropped: u64,
    /// The checkpoint replayed first, if any.
    pub checkpoint: Option<u32>,
    /// The last segment number seen (0 when none).
    pub last_segment: u32,
    /// Wall time spent reading and applying.
    pub seconds: f64,
}

/// Where a running WAL replay is, readable from other threads while
/// `Db::open` runs (for `/api/v1/status/walreplay`). Segment numbers are
/// those of the WAL directory: `min` the first segment replayed after the
/// checkpoint, `max` the last one, `current` the one being read (it stays
/// at `min` while the checkpoint is read).
#[derive(Debug, Default)]
pub struct ReplayProgress {
    min: AtomicU32,
    max: AtomicU32,
    current: AtomicU32,
    done: AtomicBool,
    /// Wall time of the finished replay, as `f64` bits.
    seconds_bits: AtomicU64,
}

/// A snapshot of [`ReplayProgress`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReplayStatus {
    pub min: u32,
    pub max: u32,
    pub current: u32,
    /// True once replay has finished (or there was nothing to replay).
    pub done: bool,
    /// How long the finished replay took (0 while it runs).
    pub seconds: f64,
}

impl ReplayProgress {
    /// Progress of a replay that has not started.
    pub fn new() -> ReplayProgress {
        ReplayProgress::default()
    }

    /// The current state.
    pub fn status(&self) -> ReplayStatus {
        // `done` is read first and stored last, so a snapshot that says
        // done also carries the final figures.
        let done = self.done.load(Ordering::Acquire);
        ReplayStatus {
            min: self.min.load(Ordering::Relaxed),
            max: self.max.load(Ordering::Relaxed),
            current: self.current.load(Ordering::Relaxed),
            done,
            seconds: f64::from_bits(self.seconds_bits.load(Ordering::Relaxed)),
        }
    }

    fn start(&self, min: u32, max: u32) {
        self.min.store(min, Ordering::Relaxed);
        self.max.store(max, Ordering::Relaxed);
        self.current.store(min, Ordering::Relaxed);
    }

    fn at_segment(&self, n: u32) {
        self.current.store(n, Ordering::Relaxed);
    }

    /// Marks the replay finished after `seconds`.
    pub fn finish(&self, seconds: f64) {
        self.current
            .store(self.max.load(Ordering::Relaxed), Ordering::Relaxed);
        self.seconds_bits
            .store(seconds.to_bits(), Ordering::Relaxed);
        self.done.store(true, Ordering::Release);
    }
}

/// The files replay reads, in order: the newest checkpoint's segments, then
/// the WAL segments after it.
fn replay_plan(dir: &Path) -> Result<(Vec<PathBuf>, Option<u32>, u32)> {
    let cp = list_checkpoints(dir)?.last().copied();
    let mut files = Vec::new();
    if let Some(n) = cp {
        let cdir = dir.join(format!("checkpoint.{}", segment_name(n)));
        for s in list_segments(&cdir)? {
            files.push(cdir.join(segment_name(s)));
        }
    }
    let segs = list_segments(dir)?;
    let last = segs.last().copied().unwrap_or(0);
    for s in segs {
        if cp.is_none_or(|c| s > c) {
            files.push(dir.join(segment_name(s)));
        }
    }
    Ok((files, cp, last))
}

/// Replays the WAL in `dir`, handing decoded records to `apply` in order.
/// One thread reads, checks and decodes while the caller's thread applies.
/// Damaged segments are repaired; a record that passes its checksum but
/// does not decode is skipped and counted.
pub fn replay(dir: &Path, apply: impl FnMut(Record)) -> Result<ReplayStats> {
    replay_with_progress(dir, &ReplayProgress::new(), apply)
}

/// `replay`, reporting the segment being read to `progress` (which it
/// does not mark finished: the caller does, once it has applied all).
pub fn replay_with_progress(
    dir: &Path,
    progress: &ReplayProgress,
    mut apply: impl FnMut(Record),
) -> Result<ReplayStats> {
    let started = std::time::Instant::now();
    let (files, checkpoint, last_segment) = replay_plan(dir)?;
    let first = files
        .iter()
        .find(|p| p.parent() == Some(dir))
        .and_then(|p| segment_number(p))
        .unwrap_or(last_segment);
    progress.start(first, last_segment);
    let mut stats = ReplayStats {
        segments: files.len(),
        checkpoint,
        last_segment,
        ..ReplayStats::default()
    };
    let (tx, rx) = mpsc::sync_channel::<Vec<Record>>(8);
    let reader = |tx: mpsc::SyncSender<Vec<Record>>| -> Result<(u64, u64, u64)> {
        let (mut records, mut corruptions, mut dropped) = (0u64, 0u64, 0u64);
        for path in &files {
            if path.parent() == Some(dir)
                && let Some(n) = segment_number(path)
            {
                progress.at_segment(n);
            }
            let scan = scan_segment(path)?;
            if !scan.damage.is_empty() {
                for d in &scan.damage {
                    tracing::warn!(
                        file = %path.display(), offset = d.offset, len = d.len,
                        reason = %d.reason, "WAL damage: dropping bytes and repairing the segment"
                    );
                    dropped += d.len;
                }
                corruptions += scan.damage.len() as u64;
                repair_segment(path, &scan)?;
            }
            let mut batch = Vec::with_capacity(64);
            for r in &scan.records {
                match record::decode(scan.payload(r)) {
                    Ok(rec) => batch.push(rec),
                    Err(e) => {
                        tracing::warn!(file = %path.display(), offset = r.start, error = %e,
                            "WAL record does not decode; skipping it");
                        corruptions += 1;
                    }
                }
                records += 1;
                if batch.len() == 64 && tx.send(std::mem::take(&mut batch)).is_err() {
                    return Ok((records, corruptions, dropped));
                }
            }
            if !batch.is_empty() && tx.send(batch).is_err() {
                break;
            }
        }
        Ok((records, corruptions, dropped))
    };
    let res = std::thread::scope(|s| {
        let h = s.spawn(move || reader(tx));
        for batch in rx {
            batch.into_iter().for_each(&mut apply);
        }
        h.join()
            .unwrap_or_else(|_| Err(Error::corruption(dir, 0, "WAL reader thread panicked")))
    })?;
    (stats.records, stats.corruptions, stats.bytes_dropped) = res;
    stats.seconds = started.elapsed().as_secs_f64();
    Ok(stats)
}

/// The number in a segment file's name.
fn segment_number(path: &Path) -> Option<u32> {
    path.file_name()?.to_str()?.parse().ok()
}

/// The WAL writer: appends to the newest segment, rotating by size.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    segment: u32,
    file: File,
    size: u64,
    buf: Vec<u8>,
    /// Records written since open (for stats).
    pub records_written: u64,
}

impl Wal {
    /// Starts a fresh segment after `last` in `dir` (replay never appends to
    /// an old segment, so a repaired tail is never written after).
    pub fn create(dir: &Path, last: u32, opts: WalOptions) -> Result<Wal> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let segment = last + 1;
        let (file, size) = new_segment(dir, segment)?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            segment,
            file,
            size,
            buf: Vec::with_capacity(1 << 16),
            records_written: 0,
        })
    }

    /// The segment being written.
    pub fn segment(&self) -> u32 {
        self.segment
    }

    fn path(&self) -> PathBuf {
        self.dir.join(segment_name(self.segment))
    }

    /// Writes record payloads as one `write`. On failure the segment is cut
    /// back so no partial record stays behind, and the error is returned.
    pub fn log(&mut self, payloads: &[&[u8]]) -> Result<()> {
        self.buf.clear();
        for p in payloads {
            if p.len() > RECORD_LEN_MAX {
                return Err(Error::RecordTooLarge {
                    len: p.len(),
                    limit: RECORD_LEN_MAX,
                });
            }
            frame(&mut self.buf, p);
        }
        if self.size + self.buf.len() as u64 > self.opts.segment_size_max
            && self.size > SEGMENT_HEADER_LEN as u64
        {
            self.rotate()?;
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            let _ = self.file.set_len(self.size);
            return Err(Error::io(self.path(), e));
        }
        self.size += self.buf.len() as u64;
        self.records_written += payloads.len() as u64;
        if self.opts.fsync == FsyncPolicy::Commit {
            self.file
                .sync_data()
                .map_err(|e| Error::io(self.path(), e))?;
        }
        Ok(())
    }

    /// Closes the current segment (synced) and starts the next. Returns
    /// the number of the segment just closed.
    pub fn rotate(&mut self) -> Result<u32> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(self.path(), e))?;
        let closed = self.segment;
        let (file, size) = new_segment(&self.dir, closed + 1)?;
        self.segment = closed + 1;
        self.file = file;
        self.size = size;
        Ok(closed)
    }

    /// Syncs the current segment.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(self.path(), e))
    }
}

fn new_segment(dir: &Path, n: u32) -> Result<(File, u64)> {
    let path = dir.join(segment_name(n));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    file.write_all(&segment_header())
        .map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    Ok((file, SEGMENT_HEADER_LEN as u64))
}

/// Writes `checkpoint.<last>` from the previous checkpoint and segments up
/// to `last`, keeping only what `keep` accepts, then deletes what it
/// replaces. The checkpoint is written under a temporary name and renamed,
/// so a crash leaves either the old state or the new one.
pub fn checkpoint(
    dir: &Path,
    last: u32,
    mut keep: impl FnMut(&Record) -> Option<Record>,
) -> Result<()> {
    let (files, _, _) = replay_plan(dir)?;
    let mut out = segment_header().to_vec();
    let mut payload = Vec::new();
    for path in files {
        let seg = segment_number(&path);
        let in_checkpoint = path.parent() != Some(dir);
        if !in_checkpoint && seg.is_some_and(|s| s > last) {
            continue;
        }
        let scan = scan_segment(&path)?;
        for r in &scan.records {
            let Ok(rec) = record::decode(scan.payload(r)) else {
                continue;
            };
            if let Some(kept) = keep(&rec) {
                payload.clear();
                encode(&mut payload, &kept);
                if payload.len() > 1 {
                    frame(&mut out, &payload);
                }
            }
        }
    }
    let final_dir = dir.join(format!("checkpoint.{}", segment_name(last)));
    let tmp_dir = dir.join(format!("checkpoint.{}.tmp", segment_name(last)));
    let _ = fs::remove_dir_all(&tmp_dir);
    fs::create_dir_all(&tmp_dir).map_err(|e| Error::io(&tmp_dir, e))?;
    write_synced(&tmp_dir.join(segment_name(0)), &out)?;
    sync_dir(&tmp_dir)?;
    let _ = fs::remove_dir_all(&final_dir);
    fs::rename(&tmp_dir, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    sync_dir(dir)?;
    for s in list_segments(dir)? {
        if s <= last {
            let p = dir.join(segment_name(s));
            fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    for c in list_checkpoints(dir)? {
        if c < last {
            let p = dir.join(format!("checkpoint.{}", segment_name(c)));
            fs::remove_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    sync_dir(dir)
}

/// Encodes any record.
pub fn encode(out: &mut Vec<u8>, rec: &Record) {
    match rec {
        Record::Series(s) => record::encode_series(out, s.iter().map(|(i, l)| (*i, l))),
        Record::Samples(s) => {
            if !s.is_empty() {
                record::encode_samples(out, s)
            }
        }
        Record::Tombstones(t) => record::encode_tombstones(out, t),
        Record::Metadata(m) => record::encode_metadata(out, m),
        Record::Exemplars(e) => record::encode_exemplars(out, e),
        Record::HistSamples(h) => {
            record::encode_hist_samples(out, h.iter().map(|x| (x.id, x.t, &x.h)))
        }
    }
}
