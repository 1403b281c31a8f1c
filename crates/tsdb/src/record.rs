//! WAL record payloads: series, float samples, tombstones and metadata.
//! Each payload starts with its type byte; the framing (length, CRC32C)
//! belongs to `wal`. Layouts are in `docs/format/wal.md`.

use beacon_model::{Exemplar, Labels, Metadata, MetricType};

use crate::chunk::histogram::{HistSample, decode_sample, encode_sample};
use crate::encoding::{DecodeError, DecodeResult, Decoder, put_bytes, put_uvarint, put_varint};

pub const TYPE_SERIES: u8 = 1;
pub const TYPE_SAMPLES: u8 = 2;
pub const TYPE_TOMBSTONES: u8 = 3;
pub const TYPE_EXEMPLARS: u8 = 4;
pub const TYPE_METADATA: u8 = 5;
pub const TYPE_HIST_SAMPLES: u8 = 6;

/// Labels per series a record may carry; more is corruption, not data.
pub const LABELS_PER_SERIES_MAX: usize = 4096;

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Series(Vec<(u32, Labels)>),
    Samples(Vec<RefSample>),
    Tombstones(Vec<Tombstone>),
    Metadata(Vec<(u32, Metadata)>),
    HistSamples(Vec<RefHist>),
    Exemplars(Vec<(u32, Exemplar)>),
}

/// Appends an exemplars record: per exemplar the series id, time, value
/// and labels.
pub fn encode_exemplars(out: &mut Vec<u8>, items: &[(u32, Exemplar)]) {
    out.push(TYPE_EXEMPLARS);
    for (id, e) in items {
        put_uvarint(out, u64::from(*id));
        put_varint(out, e.t.unwrap_or(0));
        out.extend_from_slice(&e.value.to_bits().to_le_bytes());
        put_uvarint(out, e.labels.len() as u64);
        for l in &e.labels {
            put_bytes(out, l.name.as_bytes());
            put_bytes(out, l.value.as_bytes());
        }
    }
}

/// A native histogram sample of series `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct RefHist {
    pub id: u32,
    pub t: i64,
    pub h: HistSample,
}

/// Appends a histogram samples record: per sample the id, the time and the
/// sample as the histogram chunk encodes it.
pub fn encode_hist_samples<'a>(
    out: &mut Vec<u8>,
    samples: impl Iterator<Item = (u32, i64, &'a HistSample)>,
) {
    out.push(TYPE_HIST_SAMPLES);
    for (id, t, h) in samples {
        put_uvarint(out, u64::from(id));
        put_varint(out, t);
        encode_sample(out, h);
    }
}

/// A float sample of series `id`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    pub id: u32,
    pub t: i64,
    pub v: f64,
}

/// A deletion of `[mint, maxt]` from series `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    pub id: u32,
    pub mint: i64,
    pub maxt: i64,
}

/// Appends a series record.
pub fn encode_series<'a>(out: &mut Vec<u8>, series: impl Iterator<Item = (u32, &'a Labels)>) {
    out.push(TYPE_SERIES);
    for (id, labels) in series {
        put_uvarint(out, u64::from(id));
        put_uvarint(out, labels.len() as u64);
        for l in labels {
            put_bytes(out, l.name.as_bytes());
            put_bytes(out, l.value.as_bytes());
        }
    }
}

/// Appends a samples record: the first sample in full, then deltas of id
/// and time against the previous sample, values as raw bits.
pub fn encode_samples(out: &mut Vec<u8>, samples: &[RefSample]) {
    encode_samples_iter(out, samples.iter().copied());
}

/// `encode_samples` over any exactly sized sequence.
pub fn encode_samples_iter(out: &mut Vec<u8>, samples: impl ExactSizeIterator<Item = RefSample>) {
    out.push(TYPE_SAMPLES);
    put_uvarint(out, samples.len() as u64);
    out.reserve(samples.len() * 12);
    let (mut pid, mut pt) = (0i64, 0i64);
    for s in samples {
        put_varint(out, i64::from(s.id) - pid);
        put_varint(out, s.t.wrapping_sub(pt));
        out.extend_from_slice(&s.v.to_bits().to_le_bytes());
        pid = i64::from(s.id);
        pt = s.t;
    }
}

/// Appends a tombstones record.
pub fn encode_tombstones(out: &mut Vec<u8>, stones: &[Tombstone]) {
    out.push(TYPE_TOMBSTONES);
    for s in stones {
        put_uvarint(out, u64::from(s.id));
        put_varint(out, s.mint);
        put_varint(out, s.maxt);
    }
}

/// Appends a metadata record.
pub fn encode_metadata(out: &mut Vec<u8>, items: &[(u32, Metadata)]) {
    out.push(TYPE_METADATA);
    for (id, m) in items {
        put_uvarint(out, u64::from(*id));
        put_bytes(out, m.metric_type.as_str().as_bytes());
        put_bytes(out, m.unit.as_bytes());
        put_bytes(out, m.help.as_bytes());
    }
}

/// Decodes one record payload.
pub fn decode(payload: &[u8]) -> DecodeResult<Record> {
    let mut d = Decoder::new(payload);
    match d.u8()? {
        TYPE_SERIES => decode_series(&mut d).map(Record::Series),
        TYPE_SAMPLES => decode_samples(&mut d).map(Record::Samples),
        TYPE_TOMBSTONES => {
            let mut out = Vec::new();
            while !d.is_empty() {
                out.push(Tombstone {
                    id: d.uvarint32()?,
                    mint: d.varint()?,
                    maxt: d.varint()?,
                });
            }
            Ok(Record::Tombstones(out))
        }
        TYPE_METADATA => {
            let mut out = Vec::new();
            while !d.is_empty() {
                let id = d.uvarint32()?;
                let metric_type = MetricType::parse(d.str()?).ok_or(DecodeError::Invalid)?;
                let unit = d.str()?.to_owned();
                let help = d.str()?.to_owned();
                out.push((
                    id,
                    Metadata {
                        metric_type,
                        help,
                        unit,
                    },
                ));
            }
            Ok(Record::Metadata(out))
        }
        TYPE_EXEMPLARS => {
            let mut out = Vec::new();
            while !d.is_empty() {
                let id = d.uvarint32()?;
                let t = d.varint()?;
                let value = f64::from_bits(d.u64_le()?);
                let n = usize::try_from(d.uvarint()?).map_err(|_| DecodeError::Invalid)?;
                if n > LABELS_PER_SERIES_MAX {
                    return Err(DecodeError::Invalid);
                }
                let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(n);
                for _ in 0..n {
                    let name = d.str()?;
                    if pairs.last().is_some_and(|p| p.0 >= name) {
                        return Err(DecodeError::Invalid);
                    }
                    pairs.push((name, d.str()?));
                }
                let labels = Labels::from_sorted(pairs);
                out.push((
                    id,
                    Exemplar {
                        labels,
                        value,
                        t: Some(t),
                    },
                ));
            }
            Ok(Record::Exemplars(out))
        }
        TYPE_HIST_SAMPLES => {
            let mut out = Vec::new();
            while !d.is_empty() {
                let id = d.uvarint32()?;
                let t = d.varint()?;
                out.push(RefHist {
                    id,
                    t,
                    h: decode_sample(&mut d)?,
                });
            }
            Ok(Record::HistSamples(out))
        }
        _ => Err(DecodeError::Invalid),
    }
}

fn decode_series(d: &mut Decoder<'_>) -> DecodeResult<Vec<(u32, Labels)>> {
    let mut out = Vec::new();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    while !d.is_empty() {
        let id = d.uvarint32()?;
        let n = usize::try_from(d.uvarint()?).map_err(|_| DecodeError::Invalid)?;
        if n > LABELS_PER_SERIES_MAX {
            return Err(DecodeError::Invalid);
        }
        pairs.clear();
        for _ in 0..n {
            let name = d.str()?;
            let value = d.str()?;
            // Names must be sorted and unique, as `Labels` requires.
            if pairs.last().is_some_and(|p| p.0 >= name) {
                return Err(DecodeError::Invalid);
            }
            pairs.push((name, value));
        }
        out.push((id, Labels::from_sorted(pairs.iter().copied())));
    }
    Ok(out)
}

fn decode_samples(d: &mut Decoder<'_>) -> DecodeResult<Vec<RefSample>> {
    let n = usize::try_from(d.uvarint()?).map_err(|_| DecodeError::Invalid)?;
    // Each sample takes at least 10 bytes, which bounds a lying count.
    if n > d.remaining() / 10 + 1 {
        return Err(DecodeError::Invalid);
    }
    let mut out = Vec::with_capacity(n);
    let (mut pid, mut pt) = (0i64, 0i64);
    for _ in 0..n {
        let id = pid.checked_add(d.varint()?).ok_or(DecodeError::Invalid)?;
        let t = pt.wrapping_add(d.varint()?);
        let v = f64::from_bits(d.u64_le()?);
        out.push(RefSample {
            id: u32::try_from(id).map_err(|_| DecodeError::Invalid)?,
            t,
            v,
        });
        pid = id;
        pt = t;
    }
    if !d.is_empty() {
        return Err(DecodeError::Invalid);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rec: Record) {
        let mut buf = Vec::new();
        match &rec {
            Record::Series(s) => encode_series(&mut buf, s.iter().map(|(i, l)| (*i, l))),
            Record::Samples(s) => encode_samples(&mut buf, s),
            Record::Tombstones(s) => encode_tombstones(&mut buf, s),
            Record::Metadata(m) => encode_metadata(&mut buf, m),
            Record::Exemplars(e) => encode_exemplars(&mut buf, e),
            Record::HistSamples(h) => {
                encode_hist_samples(&mut buf, h.iter().map(|x| (x.id, x.t, &x.h)))
            }
        }
        assert_eq!(decode(&buf), Ok(rec));
        // Every strict prefix is an error, never a panic.
        for cut in 0..buf.len() {
            let _ = decode(&buf[..cut]);
        }
    }

    #[test]
    fn round_trips() {
        check(Record::Series(vec![
            (1, Labels::from_pairs([("__name__", "up"), ("job", "x")])),
            (u32::MAX, Labels::from_pairs([("a", "é")])),
        ]));
        check(Record::Samples(vec![
            RefSample {
                id: 7,
                t: i64::MIN,
                v: f64::MIN,
            },
            RefSample {
                id: 3,
                t: i64::MAX,
                v: -0.0,
            },
            RefSample {
                id: u32::MAX,
                t: 0,
                v: f64::INFINITY,
            },
        ]));
        check(Record::Exemplars(vec![(
            9,
            Exemplar {
                labels: Labels::from_pairs([("trace_id", "abc")]),
                value: 0.5,
                t: Some(-3),
            },
        )]));
        check(Record::Tombstones(vec![Tombstone {
            id: 1,
            mint: i64::MIN,
            maxt: 5,
        }]));
        check(Record::Metadata(vec![(
            2,
            Metadata {
                metric_type: MetricType::Counter,
                help: "h".into(),
                unit: "s".into(),
            },
        )]));
    }

    #[test]
    fn unknown_type_is_invalid() {
        assert_eq!(decode(&[99]), Err(DecodeError::Invalid));
        assert_eq!(decode(&[]), Err(DecodeError::Truncated));
    }
}
