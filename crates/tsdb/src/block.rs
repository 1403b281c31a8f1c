//! Immutable blocks: a directory per time range holding `meta.json`, the
//! chunk segment files, the index and the tombstones. This file writes
//! blocks from sorted series and opens them for queries. Formats are in
//! `docs/format/{block,chunks,tombstones}.md`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use beacon_model::{Labels, Matcher};
use beacon_storage::{SampleIterator, ValueType};
use hashbrown::HashMap;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::chunk::histogram::{HistChunk, HistSample};
use crate::chunk::{
    ENCODING_DECIMAL, ENCODING_HISTOGRAM, ENCODING_XOR, SAMPLES_PER_CHUNK, XorChunk, decimal,
};
use crate::encoding::{Decoder, put_uvarint, put_varint};
use crate::index::{ChunkMeta, IndexReader, IndexWriter};
use crate::iter::{ChunkBytes, ChunkRef, ChunksIter, HistChunksIter, Intervals, Part, join};
use crate::postings::postings_for_matchers;
use crate::wal::sync_dir;
use crate::{Error, Result};

/// Chunk segment magic: "BCHK".
pub const CHUNKS_MAGIC: u32 = 0x4243_484B;
/// Current chunk segment format version.
pub const CHUNKS_VERSION: u8 = 1;
/// Tombstones file magic: "BTMB".
pub const TOMBSTONES_MAGIC: u32 = 0x4254_4D42;
pub const TOMBSTONES_VERSION: u8 = 1;
/// Current meta.json version.
pub const META_VERSION: u32 = 1;
/// A chunk segment file is cut past this size.
pub const CHUNK_SEGMENT_SIZE_MAX: usize = 512 << 20;

/// `meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockMeta {
    pub ulid: String,
    /// Inclusive.
    pub min_time: i64,
    /// Exclusive, as in Prometheus.
    pub max_time: i64,
    pub stats: BlockStats,
    pub compaction: Compaction,
    pub version: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockStats {
    pub num_samples: u64,
    pub num_series: u64,
    pub num_chunks: u64,
    #[serde(default)]
    pub num_tombstones: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Compaction {
    pub level: u32,
    pub sources: Vec<String>,
}

/// A new block id: 48 bits of milliseconds and 80 random bits in
/// Crockford base32, so ids sort by creation time like ULIDs.
pub fn new_ulid(now_ms: u64) -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms);
    let r1 = h.finish();
    h.write_u64(r1);
    let r2 = h.finish();
    let v: u128 = (u128::from(now_ms & ((1 << 48) - 1)) << 80)
        | (u128::from(r1) << 16)
        | u128::from(r2 & 0xffff);
    (0..26)
        .map(|i| ALPHABET[((v >> (125 - i * 5)) & 31) as usize] as char)
        .collect()
}

/// Writes one chunk segment file after another.
struct ChunkWriter {
    dir: PathBuf,
    files: Vec<Vec<u8>>,
}

impl ChunkWriter {
    fn new(dir: &Path) -> ChunkWriter {
        ChunkWriter {
            dir: dir.to_path_buf(),
            files: Vec::new(),
        }
    }

    fn add(&mut self, encoding: u8, data: &[u8]) -> u64 {
        if self
            .files
            .last()
            .is_none_or(|f| f.len() + data.len() > CHUNK_SEGMENT_SIZE_MAX)
        {
            let mut f = Vec::with_capacity(1 << 20);
            f.extend_from_slice(&CHUNKS_MAGIC.to_be_bytes());
            f.extend_from_slice(&[CHUNKS_VERSION, 0, 0, 0]);
            self.files.push(f);
        }
        let n = self.files.len() as u64;
        let f = self.files.last_mut().expect("pushed above");
        let off = f.len() as u64;
        put_uvarint(f, data.len() as u64);
        let start = f.len();
        f.push(encoding);
        f.extend_from_slice(data);
        let crc = crc32c::crc32c(&f[start..]);
        f.extend_from_slice(&crc.to_le_bytes());
        (n << 32) | off
    }

    fn finish(self) -> Result<u64> {
        let dir = self.dir.join("chunks");
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut total = 0;
        for (i, f) in self.files.iter().enumerate() {
            let p = dir.join(format!("{:06}", i + 1));
            write_synced(&p, f)?;
            total += f.len() as u64;
        }
        sync_dir(&dir)?;
        Ok(total)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

/// Writes a block into `parent/<ulid>` from series sorted by labels,
/// keeping samples in `[mint, maxt)`. Returns `None` when no sample fell in
/// the range (no block is written then).
pub fn write_block(
    parent: &Path,
    mint: i64,
    maxt: i64,
    level: u32,
    sources: Vec<String>,
    series: impl Iterator<Item = (Labels, Box<dyn SampleIterator>)>,
) -> Result<Option<BlockMeta>> {
    let ulid = new_ulid(beacon_model::Timestamp::now().0 as u64);
    let tmp = parent.join(format!("{ulid}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut chunks = ChunkWriter::new(&tmp);
    let mut index = IndexWriter::new();
    let mut stats = BlockStats::default();
    for (labels, mut it) in series {
        let metas = encode_series(&mut *it, mint, maxt, &mut chunks, &mut stats)?;
        if !metas.is_empty() {
            stats.num_series += 1;
            index.add_series(labels, metas);
        }
    }
    if stats.num_samples == 0 {
        let _ = fs::remove_dir_all(&tmp);
        return Ok(None);
    }
    chunks.finish()?;
    write_synced(&tmp.join("index"), &index.finish())?;
    write_tombstones(&tmp, &HashMap::new())?;
    let meta = BlockMeta {
        ulid: ulid.clone(),
        min_time: mint,
        max_time: maxt,
        stats,
        compaction: Compaction {
            level,
            sources: if sources.is_empty() {
                vec![ulid.clone()]
            } else {
                sources
            },
        },
        version: META_VERSION,
    };
    let json = serde_json::to_vec_pretty(&meta).expect("meta serialises");
    write_synced(&tmp.join("meta.json"), &json)?;
    sync_dir(&tmp)?;
    let dst = parent.join(&ulid);
    fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    sync_dir(parent)?;
    Ok(Some(meta))
}

/// Re-encodes one series' samples in `[mint, maxt)` into chunks: floats
/// into float chunks, histograms into histogram chunks.
fn encode_series(
    it: &mut dyn SampleIterator,
    mint: i64,
    maxt: i64,
    w: &mut ChunkWriter,
    stats: &mut BlockStats,
) -> Result<Vec<ChunkMeta>> {
    let mut metas = Vec::new();
    let mut buf: Vec<(i64, f64)> = Vec::with_capacity(usize::from(SAMPLES_PER_CHUNK));
    let mut hist = HistChunk::new();
    let (mut hmin, mut hmax) = (0, 0);
    let mut vt = it.seek(mint);
    while vt != ValueType::None {
        let t = it.at_t();
        if t >= maxt {
            break;
        }
        stats.num_samples += 1;
        match vt {
            ValueType::Float => {
                buf.push(it.at());
                if buf.len() >= usize::from(SAMPLES_PER_CHUNK) {
                    metas.push(flush(w, &mut buf));
                }
            }
            _ => {
                let h = if vt == ValueType::Histogram {
                    HistSample::Int(it.at_histogram().1)
                } else {
                    HistSample::Float(it.at_float_histogram().1)
                };
                if hist.is_empty() {
                    hmin = t;
                }
                hist.append(t, &h);
                hmax = t;
                if hist.len() >= SAMPLES_PER_CHUNK {
                    let chunk_ref = w.add(ENCODING_HISTOGRAM, hist.bytes());
                    metas.push(ChunkMeta {
                        mint: hmin,
                        maxt: hmax,
                        chunk_ref,
                    });
                    hist = HistChunk::new();
                }
            }
        }
        vt = it.next();
    }
    if let Some(e) = it.err() {
        return Err(Error::corruption("<compaction source>", 0, e.to_string()));
    }
    if !buf.is_empty() {
        metas.push(flush(w, &mut buf));
    }
    if !hist.is_empty() {
        let chunk_ref = w.add(ENCODING_HISTOGRAM, hist.bytes());
        metas.push(ChunkMeta {
            mint: hmin,
            maxt: hmax,
            chunk_ref,
        });
    }
    metas.sort_by_key(|m| m.mint);
    stats.num_chunks += metas.len() as u64;
    Ok(metas)
}

/// Writes the samples as the smaller of an XOR and a decimal chunk.
fn flush(w: &mut ChunkWriter, buf: &mut Vec<(i64, f64)>) -> ChunkMeta {
    let mut x = XorChunk::new();
    for &(t, v) in buf.iter() {
        x.append(t, v);
    }
    let chunk_ref = match decimal::encode(buf) {
        Some(d) if d.len() < x.size() => w.add(ENCODING_DECIMAL, &d),
        _ => w.add(ENCODING_XOR, &x.to_bytes()),
    };
    let meta = ChunkMeta {
        mint: buf[0].0,
        maxt: buf[buf.len() - 1].0,
        chunk_ref,
    };
    buf.clear();
    meta
}

/// Writes the tombstones file (via a temporary name).
pub fn write_tombstones(dir: &Path, stones: &HashMap<u32, Intervals>) -> Result<()> {
    let mut out = Vec::new();
    out.extend_from_slice(&TOMBSTONES_MAGIC.to_be_bytes());
    out.extend_from_slice(&[TOMBSTONES_VERSION, 0, 0, 0]);
    let mut ids: Vec<&u32> = stones.keys().collect();
    ids.sort();
    let n: usize = stones.values().map(Vec::len).sum();
    put_uvarint(&mut out, n as u64);
    for id in ids {
        for (a, b) in &stones[id] {
            put_uvarint(&mut out, u64::from(*id));
            put_varint(&mut out, *a);
            put_varint(&mut out, *b);
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join("tombstones.tmp");
    write_synced(&tmp, &out)?;
    let dst = dir.join("tombstones");
    fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    sync_dir(dir)
}

/// Reads a tombstones file; a missing file means none.
pub fn read_tombstones(dir: &Path) -> Result<HashMap<u32, Intervals>> {
    let path = dir.join("tombstones");
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let corrupt = |off: usize, why: &str| Error::corruption(&path, off as u64, why.to_string());
    if data.len() < 12 || data[..4] != TOMBSTONES_MAGIC.to_be_bytes() {
        return Err(corrupt(0, "bad tombstones header"));
    }
    if data[4] != TOMBSTONES_VERSION {
        return Err(corrupt(4, "unsupported tombstones version"));
    }
    let body = data.len() - 4;
    if crc32c::crc32c(&data[..body]) != u32::from_le_bytes(data[body..].try_into().expect("4")) {
        return Err(corrupt(body, "tombstones checksum mismatch"));
    }
    let mut d = Decoder::new(&data[8..body]);
    let err = |e: crate::encoding::DecodeError| corrupt(8, &e.to_string());
    let n = d.uvarint().map_err(err)?;
    let mut out: HashMap<u32, Intervals> = HashMap::new();
    for _ in 0..n {
        let id = d.uvarint32().map_err(err)?;
        let a = d.varint().map_err(err)?;
        let b = d.varint().map_err(err)?;
        out.entry(id).or_default().push((a, b));
    }
    Ok(out)
}

/// An open block.
pub struct Block {
    dir: PathBuf,
    meta: BlockMeta,
    index: IndexReader,
    chunks: Vec<Arc<memmap2::Mmap>>,
    tombstones: RwLock<HashMap<u32, Intervals>>,
    size_bytes: u64,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl Block {
    /// Opens the block in `dir`, checking what can be checked cheaply.
    pub fn open(dir: &Path) -> Result<Block> {
        let meta_path = dir.join("meta.json");
        let raw = fs::read(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: BlockMeta = serde_json::from_slice(&raw).map_err(|e| {
            Error::corruption(&meta_path, e.column() as u64, format!("meta.json: {e}"))
        })?;
        if meta.version != META_VERSION {
            return Err(Error::corruption(
                &meta_path,
                0,
                format!("unsupported meta.json version {}", meta.version),
            ));
        }
        let index = IndexReader::open(&dir.join("index"))?;
        let mut size_bytes = fs::metadata(dir.join("index")).map_or(0, |m| m.len());
        let mut chunks = Vec::new();
        for i in 1.. {
            let p = dir.join("chunks").join(format!("{i:06}"));
            let f = match File::open(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(Error::io(&p, e)),
            };
            // SAFETY: chunk files are immutable once the block is renamed
            // into place.
            let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| Error::io(&p, e))?;
            if map.len() < 8 || map[..4] != CHUNKS_MAGIC.to_be_bytes() || map[4] != CHUNKS_VERSION {
                return Err(Error::corruption(&p, 0, "bad chunk segment header"));
            }
            size_bytes += map.len() as u64;
            chunks.push(Arc::new(map));
        }
        let tombstones = read_tombstones(dir)?;
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index,
            chunks,
            tombstones: RwLock::new(tombstones),
            size_bytes,
        })
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn index(&self) -> &IndexReader {
        &self.index
    }

    /// Bytes on disk (index plus chunks).
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// Does the block hold any data in `[mint, maxt]`?
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_time <= maxt && mint < self.meta.max_time
    }

    /// Resolves a chunk reference, checking its CRC.
    fn chunk(&self, r: u64) -> Result<(u8, ChunkBytes)> {
        let file = (r >> 32) as usize;
        let off = (r & 0xffff_ffff) as usize;
        let path = || self.dir.join("chunks").join(format!("{file:06}"));
        let map = file
            .checked_sub(1)
            .and_then(|i| self.chunks.get(i))
            .ok_or_else(|| Error::corruption(path(), off as u64, "chunk file missing"))?;
        let mut d = Decoder::new(map.get(off..).unwrap_or(&[]));
        let len = d
            .uvarint()
            .map_err(|e| Error::corruption(path(), off as u64, e.to_string()))?;
        let start = off + d.position();
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(1 + l))
            .filter(|e| e + 4 <= map.len())
            .ok_or_else(|| Error::corruption(path(), off as u64, "chunk runs past file end"))?;
        let crc = u32::from_le_bytes(map[end..end + 4].try_into().expect("4 bytes"));
        if crc32c::crc32c(&map[start..end]) != crc {
            return Err(Error::corruption(
                path(),
                off as u64,
                "chunk checksum mismatch",
            ));
        }
        let encoding = map[start];
        if ![ENCODING_XOR, ENCODING_DECIMAL, ENCODING_HISTOGRAM].contains(&encoding) {
            return Err(Error::corruption(
                path(),
                start as u64,
                format!("unknown chunk encoding {encoding}"),
            ));
        }
        let bytes = ChunkBytes::Mapped {
            map: map.clone(),
            start: start + 1,
            end,
        };
        Ok((encoding, bytes))
    }

    /// Series matching `matchers` with their part inside `[mint, maxt]`.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Part)>> {
        let ids = postings_for_matchers(&self.index, matchers);
        let stones = self.tombstones.read();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let (labels, metas) = self.index.series(id)?;
            let mut chunks = Vec::new();
            for m in metas.iter().filter(|m| m.maxt >= mint && m.mint <= maxt) {
                let (encoding, bytes) = self.chunk(m.chunk_ref)?;
                chunks.push(ChunkRef {
                    mint: m.mint,
                    maxt: m.maxt,
                    encoding,
                    bytes,
                });
            }
            let deleted = stones.get(&id).cloned().unwrap_or_default();
            let (hists, floats): (Vec<ChunkRef>, Vec<ChunkRef>) = chunks
                .into_iter()
                .partition(|c| c.encoding == ENCODING_HISTOGRAM);
            let mut parts = Vec::new();
            if let (Some(a), Some(b)) = (floats.first(), floats.last()) {
                let (lo, hi) = (a.mint, b.maxt);
                let iter = ChunksIter::new(floats, mint, maxt, deleted.clone());
                parts.push(Part {
                    mint: lo,
                    maxt: hi,
                    iter: Box::new(iter),
                });
            }
            if let (Some(a), Some(b)) = (hists.first(), hists.last()) {
                let (lo, hi) = (a.mint, b.maxt);
                let iter = HistChunksIter::new(hists, mint, maxt, deleted);
                parts.push(Part {
                    mint: lo,
                    maxt: hi,
                    iter: Box::new(iter),
                });
            }
            let part = match parts.len() {
                0 => continue,
                1 => parts.pop().expect("one part"),
                _ => Part {
                    mint: parts.iter().map(|p| p.mint).min().unwrap_or(i64::MIN),
                    maxt: parts.iter().map(|p| p.maxt).max().unwrap_or(i64::MAX),
                    iter: join(parts),
                },
            };
            out.push((labels, part));
        }
        Ok(out)
    }

    /// Adds tombstones for `[mint, maxt]` on the matching series.
    pub fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize> {
        let ids = postings_for_matchers(&self.index, matchers);
        if ids.is_empty() || !self.overlaps(mint, maxt) {
            return Ok(0);
        }
        let mut stones = self.tombstones.write();
        let mut next = stones.clone();
        for id in &ids {
            next.entry(*id).or_default().push((mint, maxt));
        }
        write_tombstones(&self.dir, &next)?;
        *stones = next;
        Ok(ids.len())
    }

    /// True when the block has tombstones.
    pub fn has_tombstones(&self) -> bool {
        !self.tombstones.read().is_empty()
    }

    /// Every series with all its samples (tombstones applied), in label
    /// order — the input for compaction.
    pub fn all_series(&self) -> Result<Vec<(Labels, Part)>> {
        self.select(&[], i64::MIN, i64::MAX)
    }
}
