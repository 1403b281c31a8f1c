//! The decimal float chunk (encoding 3): for chunks whose values are all
//! decimals with a few digits (counters of bytes or ticks, CPU seconds with
//! two decimals, gauges of whole numbers). Each value is stored as an
//! integer `m` with `v = m / 10^d` for one `d` per chunk, and the integers
//! as bucketed deltas or deltas-of-deltas — far fewer bits than XOR when
//! values change by small steps. Compaction writes whichever of XOR and
//! decimal is smaller; the head always writes XOR.
//!
//! Exactness: a chunk is only encoded this way when `m as f64 / 10^d`
//! reproduces every value bit for bit, so decoding is lossless.

use super::{BitReader, BitWriter};
use crate::encoding::{DecodeError, put_uvarint, put_varint};

/// Most decimal digits tried.
pub const DIGITS_MAX: u8 = 15;
/// Integers beyond ±2^53 are not all exact as `f64`.
const MANTISSA_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Timestamp delta-of-delta buckets (as the XOR chunk's).
const T_BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 7), (0b110, 3, 14), (0b1110, 4, 20)];
/// Value delta buckets; the all-ones prefix takes 64 raw bits.
const V_BUCKETS: [(u64, u8, u8); 4] = [
    (0b10, 2, 7),
    (0b110, 3, 14),
    (0b1110, 4, 22),
    (0b11110, 5, 36),
];

fn scale(d: u8) -> f64 {
    10f64.powi(i32::from(d))
}

/// The fewest digits `d` that represent every value exactly, with the
/// integers.
fn digits(samples: &[(i64, f64)]) -> Option<(u8, Vec<i64>)> {
    'd: for d in 0..=DIGITS_MAX {
        let s = scale(d);
        let mut ms = Vec::with_capacity(samples.len());
        for &(_, v) in samples {
            let m = (v * s).round();
            if !m.is_finite() || m.abs() >= MANTISSA_LIMIT {
                continue 'd;
            }
            // Check through the integer, exactly as the decoder computes
            // (this also refuses -0.0, whose sign the integer loses).
            let m = m as i64;
            if (m as f64 / s).to_bits() != v.to_bits() {
                continue 'd;
            }
            ms.push(m);
        }
        return Some((d, ms));
    }
    None
}

fn put_bucketed(w: &mut BitWriter, v: i64, buckets: &[(u64, u8, u8)]) {
    if v == 0 {
        w.bit(false);
        return;
    }
    for &(prefix, plen, bits) in buckets {
        let lim = 1i64 << (bits - 1);
        if (-lim..lim).contains(&v) {
            w.bits(prefix, plen);
            w.bits(v as u64 & ((1u64 << bits) - 1), bits);
            return;
        }
    }
    let ones = buckets.len() as u8 + 1;
    w.bits((1u64 << ones) - 1, ones);
    w.bits(v as u64, 64);
}

fn get_bucketed(
    r: &mut BitReader,
    data: &[u8],
    buckets: &[(u64, u8, u8)],
) -> Result<i64, DecodeError> {
    let max = buckets.len() + 1;
    let mut ones = 0;
    while ones < max && r.bit(data)? {
        ones += 1;
    }
    if ones == 0 {
        return Ok(0);
    }
    if ones == max {
        return Ok(r.bits(data, 64)? as i64);
    }
    let bits = buckets[ones - 1].2;
    let raw = r.bits(data, bits)?;
    let shift = 64 - u32::from(bits);
    Ok(((raw << shift) as i64) >> shift)
}

fn put_bytes_as_bits(w: &mut BitWriter, f: impl FnOnce(&mut Vec<u8>)) {
    let mut tmp = Vec::with_capacity(10);
    f(&mut tmp);
    for b in tmp {
        w.bits(u64::from(b), 8);
    }
}

/// Encodes `samples` (strictly increasing times) as a decimal chunk, or
/// `None` when the values are not all short decimals.
pub fn encode(samples: &[(i64, f64)]) -> Option<Vec<u8>> {
    if samples.is_empty() || samples.len() > usize::from(u16::MAX) {
        return None;
    }
    let (d, ms) = digits(samples)?;
    let a = encode_with(samples, d, &ms, false);
    let b = encode_with(samples, d, &ms, true);
    Some(if b.len() < a.len() { b } else { a })
}

fn encode_with(samples: &[(i64, f64)], d: u8, ms: &[i64], dod: bool) -> Vec<u8> {
    let mut w = BitWriter::with_bytes((samples.len() as u16).to_be_bytes().to_vec());
    w.bits(u64::from(d), 4);
    w.bit(dod);
    let (mut pt, mut pdt, mut pm, mut pdm) = (0i64, 0u64, 0i64, 0i64);
    for (i, (&(t, _), &m)) in samples.iter().zip(ms).enumerate() {
        match i {
            0 => {
                put_bytes_as_bits(&mut w, |b| put_varint(b, t));
                put_bytes_as_bits(&mut w, |b| put_varint(b, m));
            }
            _ => {
                let dt = t.wrapping_sub(pt) as u64;
                if i == 1 {
                    put_bytes_as_bits(&mut w, |b| put_uvarint(b, dt));
                } else {
                    put_bucketed(&mut w, dt.wrapping_sub(pdt) as i64, &T_BUCKETS);
                }
                let dm = m - pm;
                let x = if dod && i > 1 { dm - pdm } else { dm };
                put_bucketed(&mut w, x, &V_BUCKETS);
                pdt = dt;
                pdm = dm;
            }
        }
        pt = t;
        pm = m;
    }
    w.finish()
}

/// Decodes a decimal chunk.
#[derive(Debug, Clone)]
pub struct DecimalIter<B> {
    data: B,
    r: BitReader,
    total: u16,
    read: u16,
    scale: f64,
    dod: bool,
    t: i64,
    dt: u64,
    m: i64,
    dm: i64,
    err: Option<DecodeError>,
}

fn read_varint_bits(r: &mut BitReader, data: &[u8]) -> Result<i64, DecodeError> {
    let u = r.uvarint(data)?;
    Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
}

impl<B: AsRef<[u8]>> DecimalIter<B> {
    pub fn new(data: B) -> DecimalIter<B> {
        let mut it = DecimalIter {
            data,
            r: BitReader { pos: 16 },
            total: 0,
            read: 0,
            scale: 1.0,
            dod: false,
            t: 0,
            dt: 0,
            m: 0,
            dm: 0,
            err: None,
        };
        let d = it.data.as_ref();
        match d {
            [a, b, ..] => it.total = u16::from_be_bytes([*a, *b]),
            _ => it.err = Some(DecodeError::Truncated),
        }
        if it.err.is_none() && it.total > 0 {
            let data = it.data.as_ref();
            match (it.r.bits(data, 4), it.r.bit(data)) {
                (Ok(digits), Ok(dod)) => {
                    it.scale = scale(digits as u8);
                    it.dod = dod;
                }
                _ => it.err = Some(DecodeError::Truncated),
            }
        }
        it
    }

    pub fn at(&self) -> (i64, f64) {
        (self.t, self.m as f64 / self.scale)
    }

    pub fn err(&self) -> Option<DecodeError> {
        self.err
    }

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
        if self.read == 0 {
            self.t = read_varint_bits(&mut self.r, data)?;
            self.m = read_varint_bits(&mut self.r, data)?;
            return Ok(());
        }
        if self.read == 1 {
            self.dt = self.r.uvarint(data)?;
        } else {
            let dod = get_bucketed(&mut self.r, data, &T_BUCKETS)?;
            self.dt = self.dt.wrapping_add(dod as u64);
        }
        self.t = self.t.wrapping_add(self.dt as i64);
        let x = get_bucketed(&mut self.r, data, &V_BUCKETS)?;
        let dm = if self.dod && self.read > 1 {
            self.dm.wrapping_add(x)
        } else {
            x
        };
        self.m = self.m.wrapping_add(dm);
        self.dm = dm;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(bytes: &[u8]) -> Vec<(i64, u64)> {
        let mut it = DecimalIter::new(bytes);
        let mut out = Vec::new();
        while it.next_sample() {
            let (t, v) = it.at();
            out.push((t, v.to_bits()));
        }
        assert_eq!(it.err(), None);
        out
    }

    fn check(samples: &[(i64, f64)], encodable: bool) {
        let got = encode(samples);
        assert_eq!(got.is_some(), encodable, "{samples:?}");
        if let Some(b) = got {
            let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
            assert_eq!(decode(&b), want);
        }
    }

    #[test]
    fn cases() {
        check(&[(0, 1.0)], true);
        check(
            &[(0, 12345.67), (15_000, 12346.01), (30_001, 12350.5)],
            true,
        );
        check(&[(i64::MIN, 0.1), (i64::MAX, 0.3)], true);
        check(&[(0, 1.0), (1, f64::NAN)], false);
        check(&[(0, -0.0)], false);
        check(&[(0, 1e300)], false);
        check(&[(0, 1.0 / 3.0)], false);
        check(&[(0, 9.007e15), (1, -9.007e15)], true);
    }

    #[test]
    fn counters_beat_xor() {
        let samples: Vec<(i64, f64)> = (0..120)
            .map(|i| (i * 15_000, 1000.0 + (i * 37 % 11) as f64 * 0.01 * i as f64))
            .collect();
        let dec = encode(&samples).unwrap();
        let mut x = super::super::XorChunk::new();
        samples.iter().for_each(|&(t, v)| x.append(t, v));
        assert!(dec.len() < x.size(), "{} vs {}", dec.len(), x.size());
    }

    #[test]
    fn garbage_never_panics() {
        for seed in 0u32..300 {
            let data: Vec<u8> = (0..30u32)
                .map(|i| (i.wrapping_mul(2654435761) ^ seed.wrapping_mul(40503)) as u8)
                .collect();
            let mut it = DecimalIter::new(&data[..]);
            while it.next_sample() {}
        }
    }

    proptest! {
        #[test]
        fn prop_round_trip(
            start in -1_000_000_000_000i64..1_000_000_000_000,
            steps in proptest::collection::vec((1i64..100_000, -100_000i64..100_000), 1..130),
            digits in 0u8..6,
        ) {
            let s = 10f64.powi(i32::from(digits));
            let mut t = start;
            let mut m = 0i64;
            let mut samples = Vec::new();
            for (dt, dm) in steps {
                samples.push((t, m as f64 / s));
                t += dt;
                m += dm;
            }
            if let Some(b) = encode(&samples) {
                let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
                prop_assert_eq!(decode(&b), want);
            }
        }
    }
}
