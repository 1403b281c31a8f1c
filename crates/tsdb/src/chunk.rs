//! Compressed sample chunks: the XOR float encoding (delta-of-delta
//! timestamps, XOR'd values, after Facebook's Gorilla paper) and the bit
//! stream it is written in.
//!
//! A chunk's bytes are `count:u16 BE` followed by the bit stream; the
//! encoding is a separate byte stored beside the chunk wherever it goes
//! (head, chunk files), so other codecs can slot in later. The layout is
//! specified in `docs/format/chunks.md`.
//!
//! Timestamps inside one chunk strictly increase. All timestamp arithmetic
//! wraps, so every `i64` (the extremes included) round-trips.

use crate::encoding::{DecodeError, Decoder, put_uvarint, put_varint};

/// Encoding byte of a float chunk.
pub const ENCODING_XOR: u8 = 1;
/// Encoding byte reserved for native histogram chunks.
pub const ENCODING_HISTOGRAM: u8 = 2;
/// Encoding byte of a decimal float chunk (see `decimal`).
pub const ENCODING_DECIMAL: u8 = 3;

pub mod decimal;
pub mod histogram;

/// Samples per chunk before the head cuts a new one: like Prometheus, 120
/// samples (30 min at 15 s) balance index size against decode cost.
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// Appends bits to a byte vector, most significant bit first.
///
/// Bits gather in a 64-bit accumulator and reach the vector eight bytes
/// at a time. The head appends a few bits per sample to each of many
/// series' chunks, and the vector's tail is rarely in cache; the
/// accumulator lives in the chunk struct beside the series' other hot
/// fields, so most appends never touch the vector.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    /// Whole bytes written so far.
    pub(crate) bytes: Vec<u8>,
    /// Pending bits, right-aligned: the low `acc_bits` bits.
    acc: u64,
    /// 0..=63.
    acc_bits: u8,
}

impl BitWriter {
    pub(crate) fn with_bytes(bytes: Vec<u8>) -> BitWriter {
        BitWriter {
            bytes,
            acc: 0,
            acc_bits: 0,
        }
    }

    #[inline]
    pub(crate) fn bit(&mut self, b: bool) {
        self.bits(u64::from(b), 1);
    }

    /// Writes the low `n` bits of `v` (`n` ≤ 64).
    #[inline]
    pub(crate) fn bits(&mut self, v: u64, n: u8) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        let n = u32::from(n);
        let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
        let have = u32::from(self.acc_bits);
        if have + n < 64 {
            self.acc = (self.acc << n) | v;
            self.acc_bits = (have + n) as u8;
            return;
        }
        // Fill the accumulator to exactly 64 bits, flush it, keep the rest.
        let take = 64 - have; // 1..=64
        let rest = n - take; // 0..=63
        let top = if rest == 0 { v } else { v >> rest };
        let full = if take == 64 {
            top
        } else {
            (self.acc << take) | top
        };
        self.bytes.extend_from_slice(&full.to_be_bytes());
        self.acc = if rest == 0 {
            0
        } else {
            v & ((1u64 << rest) - 1)
        };
        self.acc_bits = rest as u8;
    }

    /// Appends the pending bits to `out` as whole bytes, zero-padded.
    pub(crate) fn finish_into(&self, out: &mut Vec<u8>) {
        let n = u32::from(self.acc_bits);
        if n > 0 {
            let aligned = (self.acc << (64 - n)).to_be_bytes();
            out.extend_from_slice(&aligned[..n.div_ceil(8) as usize]);
        }
    }

    /// The finished stream.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.bytes);
        self.finish_into(&mut out);
        out
    }

    /// Bytes the finished stream takes.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() + usize::from(self.acc_bits).div_ceil(8)
    }
}

/// Reads bits written by `BitWriter`.
#[derive(Debug, Clone)]
pub(crate) struct BitReader {
    pub(crate) pos: usize,
}

impl BitReader {
    #[inline]
    pub(crate) fn bit(&mut self, data: &[u8]) -> Result<bool, DecodeError> {
        let byte = *data.get(self.pos >> 3).ok_or(DecodeError::Truncated)?;
        let b = byte & (0x80 >> (self.pos & 7)) != 0;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn bits(&mut self, data: &[u8], n: u8) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        let mut n = u32::from(n);
        while n > 0 {
            let byte = *data.get(self.pos >> 3).ok_or(DecodeError::Truncated)?;
            let off = (self.pos & 7) as u32;
            let avail = 8 - off;
            let take = avail.min(n);
            let chunk = (u64::from(byte) >> (avail - take)) & ((1u64 << take) - 1);
            v = if take == 64 {
                chunk
            } else {
                (v << take) | chunk
            };
            self.pos += take as usize;
            n -= take;
        }
        Ok(v)
    }

    /// A varint written byte by byte into the bit stream.
    pub(crate) fn uvarint(&mut self, data: &[u8]) -> Result<u64, DecodeError> {
        let mut buf = [0u8; 10];
        for (i, slot) in buf.iter_mut().enumerate() {
            *slot = self.bits(data, 8)? as u8;
            if *slot < 0x80 {
                return Decoder::new(&buf[..=i]).uvarint();
            }
        }
        Err(DecodeError::Invalid)
    }
}

/// Delta-of-delta buckets: (prefix bits, prefix length, value bits).
/// Tuned for scrape jitter: most deltas repeat exactly (one `0` bit) and
/// jitter of a few milliseconds fits the 7-bit bucket.
const DOD_BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 7), (0b110, 3, 14), (0b1110, 4, 20)];

#[inline]
fn fits_signed(v: i64, bits: u8) -> bool {
    let lim = 1i64 << (bits - 1);
    (-lim..lim).contains(&v)
}

/// A float chunk being written (the head's open chunk) or finished.
#[derive(Debug, Clone)]
pub struct XorChunk {
    w: BitWriter,
    count: u16,
    t: i64,
    t_delta: u64,
    v: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> XorChunk {
        // Room for a typical chunk's first samples; growth doubles from
        // here, and `shrink` trims the slack when the chunk is cut.
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&[0, 0]);
        XorChunk {
            w: BitWriter::with_bytes(bytes),
            count: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Rebuilds an appendable chunk from its bytes (decoding it once to
    /// recover the appender state).
    pub fn from_bytes(bytes: &[u8]) -> Result<XorChunk, DecodeError> {
        let mut it = XorIter::new(bytes);
        let mut c = XorChunk::new();
        while it.next_sample() {
            let (t, v) = it.at();
            c.append(t, v);
        }
        it.err().map_or(Ok(c), Err)
    }

    /// Number of samples.
    pub fn len(&self) -> u16 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The chunk's bytes: count header plus bit stream. A copy, since
    /// the newest bits and the count are kept outside the byte vector
    /// until then (see `BitWriter`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.w.len());
        out.extend_from_slice(&self.w.bytes);
        out[..2].copy_from_slice(&self.count.to_be_bytes());
        self.w.finish_into(&mut out);
        out
    }

    /// The length of `to_bytes()`.
    pub fn size(&self) -> usize {
        self.w.len()
    }

    /// Bytes of heap held.
    pub fn heap_bytes(&self) -> usize {
        self.w.bytes.capacity()
    }

    /// Releases spare capacity once the chunk is full.
    pub fn shrink(&mut self) {
        self.w.bytes.shrink_to_fit();
    }

    /// Appends a sample; the caller guarantees `t` is after the last one.
    pub fn append(&mut self, t: i64, v: f64) {
        let vb = v.to_bits();
        match self.count {
            0 => {
                let mut tmp = Vec::with_capacity(10);
                put_varint(&mut tmp, t);
                for b in tmp {
                    self.w.bits(u64::from(b), 8);
                }
                self.w.bits(vb, 64);
            }
            1 => {
                let delta = t.wrapping_sub(self.t) as u64;
                let mut tmp = Vec::with_capacity(10);
                put_uvarint(&mut tmp, delta);
                for b in tmp {
                    self.w.bits(u64::from(b), 8);
                }
                self.write_value(vb);
                self.t_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.t) as u64;
                let dod = delta.wrapping_sub(self.t_delta) as i64;
                self.write_dod(dod);
                self.write_value(vb);
                self.t_delta = delta;
            }
        }
        self.t = t;
        self.v = vb;
        self.count += 1;
    }

    #[inline]
    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.w.bit(false);
            return;
        }
        for (prefix, plen, bits) in DOD_BUCKETS {
            if fits_signed(dod, bits) {
                self.w.bits(prefix, plen);
                self.w.bits(dod as u64 & ((1u64 << bits) - 1), bits);
                return;
            }
        }
        self.w.bits(0b1111, 4);
        self.w.bits(dod as u64, 64);
    }

    #[inline]
    fn write_value(&mut self, vb: u64) {
        let x = vb ^ self.v;
        if x == 0 {
            self.w.bit(false);
            return;
        }
        self.w.bit(true);
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.bit(false);
            let sig = 64 - self.leading - self.trailing;
            self.w.bits(x >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.w.bit(true);
        self.w.bits(u64::from(leading), 5);
        let sig = 64 - leading - trailing;
        // 64 significant bits do not fit 6 bits; 0 stands for 64 since a
        // non-zero XOR always has at least one.
        self.w.bits(u64::from(sig & 63), 6);
        self.w.bits(x >> trailing, sig);
    }
}

/// Decodes an XOR chunk. `B` owns or borrows the bytes so iterators can
/// outlive the structure they were read from.
#[derive(Debug, Clone)]
pub struct XorIter<B> {
    data: B,
    r: BitReader,
    total: u16,
    read: u16,
    t: i64,
    t_delta: u64,
    v: u64,
    leading: u8,
    trailing: u8,
    err: Option<DecodeError>,
}

impl<B: AsRef<[u8]>> XorIter<B> {
    /// An iterator over the chunk bytes `data`.
    pub fn new(data: B) -> XorIter<B> {
        let d = data.as_ref();
        let (total, err) = match d {
            [a, b, ..] => (u16::from_be_bytes([*a, *b]), None),
            _ => (0, Some(DecodeError::Truncated)),
        };
        XorIter {
            data,
            r: BitReader { pos: 16 },
            total,
            read: 0,
            t: 0,
            t_delta: 0,
            v: 0,
            leading: 0,
            trailing: 0,
            err,
        }
    }

    /// Number of samples the header claims.
    pub fn total(&self) -> u16 {
        self.total
    }

    /// The current sample.
    #[inline]
    pub fn at(&self) -> (i64, f64) {
        (self.t, f64::from_bits(self.v))
    }

    /// The decode error that stopped iteration, if any.
    pub fn err(&self) -> Option<DecodeError> {
        self.err
    }

    /// Advances; false at the end or on a decode error.
    #[inline]
    pub fn next_sample(&mut self) -> bool {
        if self.err.is_some() || self.read >= self.total {
            return false;
        }
        match self.decode() {
            Ok(()) => {
                self.read += 1;
                true
            }
            Err(e) => {
                self.err = Some(e);
                false
            }
        }
    }

    fn decode(&mut self) -> Result<(), DecodeError> {
        let data = self.data.as_ref();
        match self.read {
            0 => {
                let u = self.r.uvarint(data)?;
                self.t = ((u >> 1) as i64) ^ -((u & 1) as i64);
                self.v = self.r.bits(data, 64)?;
            }
            1 => {
                self.t_delta = self.r.uvarint(data)?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
            _ => {
                let dod = self.read_dod()?;
                self.t_delta = self.t_delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
        }
        Ok(())
    }

    #[inline]
    fn read_dod(&mut self) -> Result<i64, DecodeError> {
        let data = self.data.as_ref();
        let mut ones = 0u8;
        while ones < 4 && self.r.bit(data)? {
            ones += 1;
        }
        let bits = match ones {
            0 => return Ok(0),
            1..=3 => DOD_BUCKETS[usize::from(ones) - 1].2,
            _ => return Ok(self.r.bits(data, 64)? as i64),
        };
        let raw = self.r.bits(data, bits)?;
        // Sign-extend the `bits`-wide two's complement value.
        let shift = 64 - u32::from(bits);
        Ok(((raw << shift) as i64) >> shift)
    }

    #[inline]
    fn read_value(&mut self) -> Result<(), DecodeError> {
        let data = self.data.as_ref();
        if !self.r.bit(data)? {
            return Ok(());
        }
        if self.r.bit(data)? {
            self.leading = self.r.bits(data, 5)? as u8;
            let mut sig = self.r.bits(data, 6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            if u32::from(self.leading) + u32::from(sig) > 64 {
                return Err(DecodeError::Invalid);
            }
            self.trailing = 64 - self.leading - sig;
        }
        let sig = 64 - self.leading - self.trailing;
        let x = self.r.bits(data, sig)?;
        self.v ^= x << self.trailing;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `bits` writes exactly the bit string a naive packer makes.
        #[test]
        fn bits_match_a_naive_packer(items in proptest::collection::vec((any::<u64>(), 0u8..=64), 0..40)) {
            let mut w = BitWriter::with_bytes(vec![0xAB]);
            let mut naive: Vec<bool> = Vec::new();
            for (v, n) in items {
                w.bits(v, n);
                naive.extend((0..n).rev().map(|i| (v >> i) & 1 == 1));
            }
            let mut want = vec![0xABu8];
            for byte in naive.chunks(8) {
                want.push(byte.iter().enumerate().fold(0, |acc, (i, b)| acc | (u8::from(*b) << (7 - i))));
            }
            let mut got = w.bytes.clone();
            w.finish_into(&mut got);
            prop_assert_eq!(w.len(), got.len());
            prop_assert_eq!(got, want);
        }
    }

    fn round_trip(samples: &[(i64, f64)]) -> Vec<(i64, u64)> {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v);
        }
        let mut it = XorIter::new(c.to_bytes());
        let mut out = Vec::new();
        while it.next_sample() {
            let (t, v) = it.at();
            out.push((t, v.to_bits()));
        }
        assert_eq!(it.err(), None);
        out
    }

    fn check(samples: &[(i64, f64)]) {
        let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(round_trip(samples), want);
        // An appendable chunk rebuilt from bytes continues identically.
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v);
        }
        let back = XorChunk::from_bytes(&c.to_bytes()).unwrap();
        assert_eq!(back.to_bytes(), c.to_bytes());
    }

    #[test]
    fn edge_cases() {
        check(&[]);
        check(&[(0, 0.0)]);
        check(&[(i64::MIN, f64::NAN), (i64::MAX, f64::INFINITY)]);
        check(&[(i64::MIN, 1.0), (0, -0.0), (i64::MAX, f64::NEG_INFINITY)]);
        check(&[(1, 1.0), (2, 1.0), (3, 1.0), (1000, f64::MIN_POSITIVE)]);
        check(&[(-5, 1.5), (-4, beacon_model::stale_nan()), (7, 1.5)]);
    }

    #[test]
    fn regular_scrapes_compress_well() {
        let samples: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, 42.0)).collect();
        let c = {
            let mut c = XorChunk::new();
            samples.iter().for_each(|&(t, v)| c.append(t, v));
            c
        };
        // Constant value and interval: ~2 bits per sample after the first.
        assert!(c.size() < 50, "{} bytes", c.size());
    }

    #[test]
    fn garbage_never_panics() {
        for seed in 0u32..200 {
            let data: Vec<u8> = (0..40u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed * 97) >> 7) as u8)
                .collect();
            let mut it = XorIter::new(&data[..]);
            while it.next_sample() {}
        }
        let mut it = XorIter::new(&[0u8][..]);
        assert!(!it.next_sample());
        assert_eq!(it.err(), Some(DecodeError::Truncated));
    }

    proptest! {
        #[test]
        fn prop_round_trip(
            start in any::<i64>(),
            deltas in proptest::collection::vec(1u64..1u64 << 40, 0..150),
            vals in proptest::collection::vec(any::<u64>(), 150),
            jitter in proptest::collection::vec(0u64..40, 150),
        ) {
            let mut t = start;
            let mut samples = Vec::new();
            for (i, d) in deltas.iter().enumerate() {
                // Mix tiny jitter, huge jumps and repeated values.
                let d = if i % 3 == 0 { *d } else { 15_000 + jitter[i] };
                let v = if i % 2 == 0 { f64::from_bits(vals[i]) } else { (i / 4) as f64 };
                samples.push((t, v));
                t = t.wrapping_add(d as i64);
                if t <= samples.last().map_or(i64::MIN, |s| s.0) { break; }
            }
            let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            prop_assert_eq!(round_trip(&samples), want);
        }
    }
}
