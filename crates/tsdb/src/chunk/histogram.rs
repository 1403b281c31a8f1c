//! The native histogram chunk (encoding 2), version 1: each sample stored
//! whole with varints — timestamps as deltas, integer counts as varints,
//! floats as raw bits. Simple and exact; a delta/XOR codec across samples
//! can replace it under a new encoding byte.

use beacon_model::{CounterResetHint, FloatHistogram, Histogram, Span};

use crate::encoding::{DecodeError, DecodeResult, Decoder, put_uvarint, put_varint};

/// Spans or buckets per side, or custom bounds, a sample may carry.
pub const BUCKETS_MAX: usize = 1 << 16;

/// One histogram sample of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum HistSample {
    Int(Histogram),
    Float(FloatHistogram),
}

fn hint_byte(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn hint_of(b: u8) -> DecodeResult<CounterResetHint> {
    Ok(match b {
        0 => CounterResetHint::Unknown,
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => return Err(DecodeError::Invalid),
    })
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

fn put_spans(out: &mut Vec<u8>, spans: &[Span]) {
    put_uvarint(out, spans.len() as u64);
    for s in spans {
        put_varint(out, i64::from(s.offset));
        put_uvarint(out, u64::from(s.length));
    }
}

fn get_len(d: &mut Decoder<'_>) -> DecodeResult<usize> {
    let n = d.uvarint()?;
    if n > BUCKETS_MAX as u64 || n > d.remaining() as u64 {
        return Err(DecodeError::Invalid);
    }
    Ok(n as usize)
}

fn get_spans(d: &mut Decoder<'_>) -> DecodeResult<Vec<Span>> {
    let n = get_len(d)?;
    (0..n)
        .map(|_| {
            let offset = i32::try_from(d.varint()?).map_err(|_| DecodeError::Invalid)?;
            let length = d.uvarint32()?;
            Ok(Span { offset, length })
        })
        .collect()
}

fn get_f64(d: &mut Decoder<'_>) -> DecodeResult<f64> {
    Ok(f64::from_bits(d.u64_le()?))
}

/// Appends the encoding of one sample.
pub fn encode_sample(out: &mut Vec<u8>, s: &HistSample) {
    match s {
        HistSample::Int(h) => {
            out.push(1);
            out.push(hint_byte(h.counter_reset_hint));
            put_varint(out, i64::from(h.schema));
            put_f64(out, h.zero_threshold);
            put_uvarint(out, h.zero_count);
            put_uvarint(out, h.count);
            put_f64(out, h.sum);
            put_spans(out, &h.positive_spans);
            put_spans(out, &h.negative_spans);
            for b in [&h.positive_buckets, &h.negative_buckets] {
                put_uvarint(out, b.len() as u64);
                b.iter().for_each(|x| put_varint(out, *x));
            }
            put_uvarint(out, h.custom_values.len() as u64);
            h.custom_values.iter().for_each(|x| put_f64(out, *x));
        }
        HistSample::Float(h) => {
            out.push(2);
            out.push(hint_byte(h.counter_reset_hint));
            put_varint(out, i64::from(h.schema));
            put_f64(out, h.zero_threshold);
            put_f64(out, h.zero_count);
            put_f64(out, h.count);
            put_f64(out, h.sum);
            put_spans(out, &h.positive_spans);
            put_spans(out, &h.negative_spans);
            for b in [&h.positive_buckets, &h.negative_buckets] {
                put_uvarint(out, b.len() as u64);
                b.iter().for_each(|x| put_f64(out, *x));
            }
            put_uvarint(out, h.custom_values.len() as u64);
            h.custom_values.iter().for_each(|x| put_f64(out, *x));
        }
    }
}

/// Decodes one sample.
pub fn decode_sample(d: &mut Decoder<'_>) -> DecodeResult<HistSample> {
    let kind = d.u8()?;
    let hint = hint_of(d.u8()?)?;
    let schema = i32::try_from(d.varint()?).map_err(|_| DecodeError::Invalid)?;
    let zero_threshold = get_f64(d)?;
    match kind {
        1 => {
            let zero_count = d.uvarint()?;
            let count = d.uvarint()?;
            let sum = get_f64(d)?;
            let positive_spans = get_spans(d)?;
            let negative_spans = get_spans(d)?;
            let mut sides = [Vec::new(), Vec::new()];
            for side in &mut sides {
                let n = get_len(d)?;
                *side = (0..n).map(|_| d.varint()).collect::<DecodeResult<_>>()?;
            }
            let [positive_buckets, negative_buckets] = sides;
            let n = get_len(d)?;
            let custom_values = (0..n).map(|_| get_f64(d)).collect::<DecodeResult<_>>()?;
            Ok(HistSample::Int(Histogram {
                counter_reset_hint: hint,
                schema,
                zero_threshold,
                zero_count,
                count,
                sum,
                positive_spans,
                negative_spans,
                positive_buckets,
                negative_buckets,
                custom_values,
            }))
        }
        2 => {
            let zero_count = get_f64(d)?;
            let count = get_f64(d)?;
            let sum = get_f64(d)?;
            let positive_spans = get_spans(d)?;
            let negative_spans = get_spans(d)?;
            let mut sides = [Vec::new(), Vec::new()];
            for side in &mut sides {
                let n = get_len(d)?;
                *side = (0..n).map(|_| get_f64(d)).collect::<DecodeResult<_>>()?;
            }
            let [positive_buckets, negative_buckets] = sides;
            let n = get_len(d)?;
            let custom_values = (0..n).map(|_| get_f64(d)).collect::<DecodeResult<_>>()?;
            Ok(HistSample::Float(FloatHistogram {
                counter_reset_hint: hint,
                schema,
                zero_threshold,
                zero_count,
                count,
                sum,
                positive_spans,
                negative_spans,
                positive_buckets,
                negative_buckets,
                custom_values,
            }))
        }
        _ => Err(DecodeError::Invalid),
    }
}

/// A histogram chunk being written: `count:u16 BE`, then per sample the
/// time (zig-zag varint, a delta after the first) and the sample.
#[derive(Debug, Clone)]
pub struct HistChunk {
    bytes: Vec<u8>,
    count: u16,
    last_t: i64,
}

impl Default for HistChunk {
    fn default() -> Self {
        HistChunk::new()
    }
}

impl HistChunk {
    pub fn new() -> HistChunk {
        HistChunk {
            bytes: vec![0, 0],
            count: 0,
            last_t: 0,
        }
    }

    pub fn len(&self) -> u16 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends a sample; `t` must be after the last one.
    pub fn append(&mut self, t: i64, s: &HistSample) {
        let delta = if self.count == 0 {
            t
        } else {
            t.wrapping_sub(self.last_t)
        };
        put_varint(&mut self.bytes, delta);
        encode_sample(&mut self.bytes, s);
        self.last_t = t;
        self.count += 1;
        self.bytes[..2].copy_from_slice(&self.count.to_be_bytes());
    }
}

/// Decodes a histogram chunk.
#[derive(Debug, Clone)]
pub struct HistIter<B> {
    data: B,
    pos: usize,
    total: u16,
    read: u16,
    t: i64,
    cur: Option<HistSample>,
    err: Option<DecodeError>,
}

impl<B: AsRef<[u8]>> HistIter<B> {
    pub fn new(data: B) -> HistIter<B> {
        let (total, err) = match data.as_ref() {
            [a, b, ..] => (u16::from_be_bytes([*a, *b]), None),
            _ => (0, Some(DecodeError::Truncated)),
        };
        HistIter {
            data,
            pos: 2,
            total,
            read: 0,
            t: 0,
            cur: None,
            err,
        }
    }

    pub fn next_sample(&mut self) -> bool {
        if self.err.is_some() || self.read >= self.total {
            return false;
        }
        let data = self.data.as_ref();
        let mut d = Decoder::new(data.get(self.pos..).unwrap_or(&[]));
        let res = d.varint().and_then(|dt| Ok((dt, decode_sample(&mut d)?)));
        match res {
            Ok((dt, s)) => {
                self.t = if self.read == 0 {
                    dt
                } else {
                    self.t.wrapping_add(dt)
                };
                self.cur = Some(s);
                self.pos += d.position();
                self.read += 1;
                true
            }
            Err(e) => {
                self.err = Some(e);
                false
            }
        }
    }

    pub fn t(&self) -> i64 {
        self.t
    }

    pub fn sample(&self) -> Option<&HistSample> {
        self.cur.as_ref()
    }

    pub fn err(&self) -> Option<DecodeError> {
        self.err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_int(i: u64) -> Histogram {
        Histogram {
            counter_reset_hint: CounterResetHint::NotCounterReset,
            schema: 3,
            zero_threshold: 0.001,
            zero_count: i,
            count: 10 + i,
            sum: 1.5 * i as f64,
            positive_spans: vec![
                Span {
                    offset: -2,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 1,
                },
            ],
            negative_spans: vec![],
            positive_buckets: vec![1, -1, i as i64],
            negative_buckets: vec![],
            custom_values: vec![],
        }
    }

    #[test]
    fn chunk_round_trip_and_garbage() {
        let samples = vec![
            (i64::MIN + 5, HistSample::Int(sample_int(1))),
            (0, HistSample::Float(sample_int(2).to_float())),
            (i64::MAX, HistSample::Int(sample_int(3))),
        ];
        let mut c = HistChunk::new();
        for (t, s) in &samples {
            c.append(*t, s);
        }
        let mut it = HistIter::new(c.bytes());
        let mut got = Vec::new();
        while it.next_sample() {
            got.push((it.t(), it.sample().unwrap().clone()));
        }
        assert_eq!(it.err(), None);
        assert_eq!(got, samples);
        for cut in 0..c.bytes().len() {
            let mut it = HistIter::new(&c.bytes()[..cut]);
            while it.next_sample() {}
        }
    }
}
