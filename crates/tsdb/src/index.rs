//! A block's index file: the symbol table, every series with its chunk
//! references, and the postings per label pair. Written once by
//! `IndexWriter`, read through a memory map by `IndexReader`. The layout is
//! specified in `docs/format/index.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use beacon_model::Labels;
use hashbrown::HashMap;

use crate::encoding::{DecodeError, Decoder, put_uvarint, put_varint};
use crate::postings::{PostingsIndex, union};
use crate::{Error, Result};

/// Index magic: "BIDX".
pub const INDEX_MAGIC: u32 = 0x4249_4458;
/// Current index format version.
pub const INDEX_VERSION: u8 = 1;
const HEADER_LEN: usize = 8;
/// Table of contents: five u64 section offsets and a CRC32C.
const TOC_LEN: usize = 5 * 8 + 4;

/// One chunk as the index lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkMeta {
    pub mint: i64,
    pub maxt: i64,
    /// File number << 32 | offset in that file.
    pub chunk_ref: u64,
}

/// Builds an index from series given in label order.
pub struct IndexWriter {
    series: Vec<(Labels, Vec<ChunkMeta>)>,
}

impl Default for IndexWriter {
    fn default() -> Self {
        IndexWriter::new()
    }
}

impl IndexWriter {
    pub fn new() -> IndexWriter {
        IndexWriter { series: Vec::new() }
    }

    /// Adds the next series; labels must be greater than the previous.
    pub fn add_series(&mut self, labels: Labels, chunks: Vec<ChunkMeta>) {
        assert!(
            self.series.last().is_none_or(|(l, _)| *l < labels),
            "index series out of order"
        );
        self.series.push((labels, chunks));
    }

    /// Encodes the whole file.
    pub fn finish(self) -> Vec<u8> {
        let mut symbols = BTreeSet::new();
        for (l, _) in &self.series {
            for p in l {
                symbols.insert(p.name);
                symbols.insert(p.value);
            }
        }
        let symbols: Vec<&str> = symbols.into_iter().collect();
        let sym_id: HashMap<&str, u32> = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, i as u32))
            .collect();
        let mut out = Vec::new();
        out.extend_from_slice(&INDEX_MAGIC.to_be_bytes());
        out.extend_from_slice(&[INDEX_VERSION, 0, 0, 0]);
        let symbols_off = out.len() as u64;
        put_uvarint(&mut out, symbols.len() as u64);
        for s in &symbols {
            put_uvarint(&mut out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
        }
        let series_off = out.len() as u64;
        let mut offsets = Vec::with_capacity(self.series.len());
        // name sym -> value sym -> series ordinals
        let mut pairs: std::collections::BTreeMap<u32, std::collections::BTreeMap<u32, Vec<u32>>> =
            Default::default();
        for (ord, (labels, chunks)) in self.series.iter().enumerate() {
            offsets.push((out.len() as u64 - series_off) as u32);
            put_uvarint(&mut out, labels.len() as u64);
            for p in labels {
                let (n, v) = (sym_id[p.name], sym_id[p.value]);
                put_uvarint(&mut out, u64::from(n));
                put_uvarint(&mut out, u64::from(v));
                pairs
                    .entry(n)
                    .or_default()
                    .entry(v)
                    .or_default()
                    .push(ord as u32);
            }
            encode_chunks(&mut out, chunks);
        }
        let table_off = out.len() as u64;
        out.extend_from_slice(&(offsets.len() as u32).to_le_bytes());
        for o in offsets {
            out.extend_from_slice(&o.to_le_bytes());
        }
        let postings_off = out.len() as u64;
        let mut label_index = Vec::new();
        put_uvarint(&mut label_index, pairs.len() as u64);
        for (name, values) in &pairs {
            put_uvarint(&mut label_index, u64::from(*name));
            put_uvarint(&mut label_index, values.len() as u64);
            for (value, list) in values {
                put_uvarint(&mut label_index, u64::from(*value));
                put_uvarint(&mut label_index, out.len() as u64 - postings_off);
                put_uvarint(&mut out, list.len() as u64);
                let mut prev = 0u32;
                for id in list {
                    put_uvarint(&mut out, u64::from(id - prev));
                    prev = *id;
                }
            }
        }
        let label_index_off = out.len() as u64;
        out.extend_from_slice(&label_index);
        for off in [
            symbols_off,
            series_off,
            table_off,
            postings_off,
            label_index_off,
        ] {
            out.extend_from_slice(&off.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

fn encode_chunks(out: &mut Vec<u8>, chunks: &[ChunkMeta]) {
    put_uvarint(out, chunks.len() as u64);
    let (mut prev_maxt, mut prev_ref) = (0i64, 0u64);
    for (i, c) in chunks.iter().enumerate() {
        if i == 0 {
            put_varint(out, c.mint);
            put_uvarint(out, c.chunk_ref);
        } else {
            put_varint(out, c.mint.wrapping_sub(prev_maxt));
            put_varint(out, c.chunk_ref.wrapping_sub(prev_ref) as i64);
        }
        put_uvarint(out, c.maxt.wrapping_sub(c.mint) as u64);
        prev_maxt = c.maxt;
        prev_ref = c.chunk_ref;
    }
}

/// Reads an index through a memory map. Opening checks the checksum and
/// parses the symbol table and label index; series and postings are
/// decoded on demand.
pub struct IndexReader {
    path: PathBuf,
    map: Arc<memmap2::Mmap>,
    symbols: Vec<Box<str>>,
    series_off: usize,
    table_off: usize,
    series_count: u32,
    postings_off: usize,
    /// name -> (value symbol, postings offset), values sorted.
    labels: HashMap<Box<str>, Vec<(u32, u32)>>,
}

impl IndexReader {
    /// Opens and checks `path`.
    pub fn open(path: &Path) -> Result<IndexReader> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: block files are written once and never modified in place;
        // compaction and retention replace whole directories.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Self::from_map(path, Arc::new(map))
    }

    fn from_map(path: &Path, map: Arc<memmap2::Mmap>) -> Result<IndexReader> {
        let corrupt = |off: usize, why: &str| Error::corruption(path, off as u64, why.to_string());
        let d = &map[..];
        if d.len() < HEADER_LEN + TOC_LEN {
            return Err(corrupt(0, "index file too short"));
        }
        if d[..4] != INDEX_MAGIC.to_be_bytes() {
            return Err(corrupt(0, "bad index magic"));
        }
        if d[4] != INDEX_VERSION {
            return Err(corrupt(4, &format!("unsupported index version {}", d[4])));
        }
        let body = d.len() - 4;
        let crc = u32::from_le_bytes(d[body..].try_into().expect("4 bytes"));
        if crc32c::crc32c(&d[..body]) != crc {
            return Err(corrupt(body, "index checksum mismatch"));
        }
        let toc = &d[body - 40..body];
        let off = |i: usize| -> Result<usize> {
            let v = u64::from_le_bytes(toc[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            usize::try_from(v)
                .ok()
                .filter(|v| *v <= body - 40)
                .ok_or_else(|| corrupt(body - 40 + i * 8, "section offset out of range"))
        };
        let (sym_off, series_off, table_off, postings_off, li_off) =
            (off(0)?, off(1)?, off(2)?, off(3)?, off(4)?);
        let err = |at: usize| move |e: DecodeError| corrupt(at, &e.to_string());
        let mut dec = Decoder::new(&d[sym_off..]);
        let n = dec.uvarint().map_err(err(sym_off))?;
        let mut symbols: Vec<Box<str>> = Vec::new();
        for _ in 0..n {
            let s = dec.str().map_err(err(sym_off + dec.position()))?;
            symbols.push(Box::from(s));
        }
        let series_count = Decoder::new(d.get(table_off..).unwrap_or(&[]))
            .u32_le()
            .map_err(err(table_off))?;
        if (series_count as usize).saturating_mul(4) > body - table_off {
            return Err(corrupt(table_off, "series table runs past the file"));
        }
        let mut labels = HashMap::new();
        let mut dec = Decoder::new(&d[li_off..body - 40]);
        let names = dec.uvarint().map_err(err(li_off))?;
        for _ in 0..names {
            let at = li_off + dec.position();
            let name = dec.uvarint32().map_err(err(at))?;
            let count = dec.uvarint().map_err(err(at))?;
            let mut values = Vec::new();
            for _ in 0..count {
                let v = dec.uvarint32().map_err(err(at))?;
                let p = dec.uvarint32().map_err(err(at))?;
                if v as usize >= symbols.len() {
                    return Err(corrupt(at, "label value symbol out of range"));
                }
                values.push((v, p));
            }
            let name = symbols
                .get(name as usize)
                .ok_or_else(|| corrupt(at, "label name symbol out of range"))?
                .clone();
            labels.insert(name, values);
        }
        Ok(IndexReader {
            path: path.to_path_buf(),
            map,
            symbols,
            series_off,
            table_off,
            series_count,
            postings_off,
            labels,
        })
    }

    /// Number of series.
    pub fn series_count(&self) -> u32 {
        self.series_count
    }

    fn symbol(&self, id: u64, at: usize) -> Result<&str> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.symbols.get(i))
            .map(|s| &**s)
            .ok_or_else(|| Error::corruption(&self.path, at as u64, "symbol out of range"))
    }

    /// Labels and chunks of series `ord`.
    pub fn series(&self, ord: u32) -> Result<(Labels, Vec<ChunkMeta>)> {
        let d = &self.map[..];
        let slot = self.table_off + 4 + ord as usize * 4;
        let rel = d
            .get(slot..slot + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
            .ok_or_else(|| {
                Error::corruption(&self.path, slot as u64, "series ordinal out of range")
            })?;
        let at = self.series_off + rel as usize;
        let err = |e: DecodeError| Error::corruption(&self.path, at as u64, e.to_string());
        let mut dec = Decoder::new(d.get(at..).unwrap_or(&[]));
        let n = dec.uvarint().map_err(err)?;
        let mut pairs = Vec::new();
        for _ in 0..n.min(4096) {
            let name = self.symbol(dec.uvarint().map_err(err)?, at)?;
            let value = self.symbol(dec.uvarint().map_err(err)?, at)?;
            if pairs.last().is_some_and(|(p, _): &(&str, &str)| *p >= name) {
                return Err(Error::corruption(
                    &self.path,
                    at as u64,
                    "labels not sorted",
                ));
            }
            pairs.push((name, value));
        }
        let labels = Labels::from_sorted(pairs);
        let chunks = decode_chunks(&mut dec).map_err(err)?;
        Ok((labels, chunks))
    }

    fn postings_at(&self, off: u32) -> Vec<u32> {
        let at = self.postings_off + off as usize;
        let mut dec = Decoder::new(self.map.get(at..).unwrap_or(&[]));
        let Ok(n) = dec.uvarint() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(n.min(1 << 20) as usize);
        let mut prev = 0u32;
        for _ in 0..n {
            let Ok(d) = dec.uvarint32() else { break };
            prev = prev.saturating_add(d);
            if prev >= self.series_count {
                break;
            }
            out.push(prev);
        }
        out
    }

    /// Label names, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.labels.keys().map(|k| k.to_string()).collect();
        v.sort();
        v
    }

    /// Distinct values of `name` with the number of series having each.
    pub fn value_counts(&self, name: &str) -> Vec<(String, usize)> {
        self.labels.get(name).map_or_else(Vec::new, |vals| {
            vals.iter()
                .map(|(v, p)| {
                    (
                        self.symbols[*v as usize].to_string(),
                        self.postings_at(*p).len(),
                    )
                })
                .collect()
        })
    }
}

fn decode_chunks(dec: &mut Decoder<'_>) -> Result<Vec<ChunkMeta>, DecodeError> {
    let n = dec.uvarint()?;
    if n > dec.remaining() as u64 {
        return Err(DecodeError::Invalid);
    }
    let mut out = Vec::with_capacity(n as usize);
    let (mut prev_maxt, mut prev_ref) = (0i64, 0u64);
    for i in 0..n {
        let (mint, chunk_ref) = if i == 0 {
            (dec.varint()?, dec.uvarint()?)
        } else {
            (
                prev_maxt.wrapping_add(dec.varint()?),
                prev_ref.wrapping_add(dec.varint()? as u64),
            )
        };
        let maxt = mint.wrapping_add(dec.uvarint()? as i64);
        out.push(ChunkMeta {
            mint,
            maxt,
            chunk_ref,
        });
        prev_maxt = maxt;
        prev_ref = chunk_ref;
    }
    Ok(out)
}

impl PostingsIndex for IndexReader {
    fn all_postings(&self) -> Vec<u32> {
        (0..self.series_count).collect()
    }

    fn postings_for_values(&self, name: &str, values: &[&str]) -> Vec<u32> {
        let Some(vals) = self.labels.get(name) else {
            return Vec::new();
        };
        let lists = values
            .iter()
            .filter_map(|v| {
                vals.binary_search_by(|(s, _)| (*self.symbols[*s as usize]).cmp(v))
                    .ok()
                    .map(|i| self.postings_at(vals[i].1))
            })
            .collect();
        union(lists)
    }

    fn postings_matching(&self, name: &str, prefix: &str, pred: &dyn Fn(&str) -> bool) -> Vec<u32> {
        let Some(vals) = self.labels.get(name) else {
            return Vec::new();
        };
        let start = vals.partition_point(|(s, _)| &*self.symbols[*s as usize] < prefix);
        let lists = vals[start..]
            .iter()
            .map(|(s, p)| (&*self.symbols[*s as usize], p))
            .take_while(|(s, _)| s.starts_with(prefix))
            .filter(|(s, _)| pred(s))
            .map(|(_, p)| self.postings_at(*p))
            .collect();
        union(lists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_model::Matcher;

    fn sample_index() -> Vec<u8> {
        let mut w = IndexWriter::new();
        let mut all: Vec<Labels> = (0..50)
            .map(|i| {
                Labels::from_pairs([
                    ("__name__", if i % 2 == 0 { "up" } else { "down" }),
                    ("instance", &format!("host-{i:02}")),
                ])
            })
            .collect();
        all.sort();
        for (i, l) in all.into_iter().enumerate() {
            let c = ChunkMeta {
                mint: i as i64 * 10,
                maxt: i as i64 * 10 + 5,
                chunk_ref: 8 + i as u64 * 30,
            };
            w.add_series(
                l,
                vec![
                    c,
                    ChunkMeta {
                        mint: 1000,
                        maxt: 2000,
                        chunk_ref: 5000,
                    },
                ],
            );
        }
        w.finish()
    }

    fn reader(bytes: &[u8]) -> Result<IndexReader> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index");
        std::fs::write(&p, bytes).unwrap();
        IndexReader::open(&p)
    }

    #[test]
    fn round_trip_and_postings() {
        let r = reader(&sample_index()).unwrap();
        assert_eq!(r.series_count(), 50);
        let (l, c) = r.series(0).unwrap();
        assert_eq!(l.get("__name__"), Some("down"));
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[1],
            ChunkMeta {
                mint: 1000,
                maxt: 2000,
                chunk_ref: 5000
            }
        );
        let ids = crate::postings::postings_for_matchers(
            &r,
            &[
                Matcher::equal("__name__", "up"),
                Matcher::new(beacon_model::MatchType::Regex, "instance", "host-1.*").unwrap(),
            ],
        );
        assert_eq!(ids.len(), 5);
        assert_eq!(r.label_names(), vec!["__name__", "instance"]);
    }

    #[test]
    fn damage_is_reported_with_offset() {
        let good = sample_index();
        for i in (0..good.len()).step_by(7) {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            let e = reader(&bad).err().expect("flipped byte detected");
            assert!(matches!(e, Error::Corruption { .. }), "{e}");
        }
        assert!(reader(&good[..10]).is_err());
    }
}
