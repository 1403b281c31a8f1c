//! Native histograms: sparse exponential buckets (schemas -4..=8) or
//! custom bucket boundaries (schema -53), in integer and float flavours.
//!
//! The layout follows Prometheus: buckets are described by spans (runs of
//! consecutive bucket indexes, each after a gap of `offset` buckets), and an
//! integer histogram stores its bucket counts as deltas from the previous
//! bucket, a float histogram stores absolute counts.
//!
//! For an exponential schema `s`, bucket index `i` covers
//! `(base^(i-1), base^i]` with `base = 2^(2^-s)`; the negative side mirrors
//! it. For schema -53 bucket `i` ends at `custom_values[i]` and the bucket
//! after the last bound ends at +Inf.

use crate::{Error, Result};

/// The schema value that marks custom bucket boundaries.
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// The smallest and largest exponential schemas.
pub const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
pub const EXPONENTIAL_SCHEMA_MAX: i32 = 8;

/// What the producer says about counter resets between this histogram and
/// the previous one of the same series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CounterResetHint {
    #[default]
    Unknown,
    CounterReset,
    NotCounterReset,
    Gauge,
}

/// A run of `length` consecutive buckets starting `offset` buckets after the
/// end of the previous span (the first span's offset is an absolute index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub offset: i32,
    pub length: u32,
}

/// An integer native histogram, as scraped and stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Histogram {
    pub counter_reset_hint: CounterResetHint,
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub count: u64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    /// Deltas: the first is an absolute count, each next is the difference.
    pub positive_buckets: Vec<i64>,
    pub negative_buckets: Vec<i64>,
    /// Upper bounds for schema -53.
    pub custom_values: Vec<f64>,
}

/// A float native histogram: the result type of PromQL on histograms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    pub counter_reset_hint: CounterResetHint,
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: f64,
    pub count: f64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub negative_spans: Vec<Span>,
    /// Absolute counts.
    pub positive_buckets: Vec<f64>,
    pub negative_buckets: Vec<f64>,
    /// Upper bounds for schema -53.
    pub custom_values: Vec<f64>,
}

fn spans_len(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.length as usize).sum()
}

fn check_schema(schema: i32, custom_values: &[f64]) -> Result<()> {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        if custom_values.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::InvalidHistogram(
                "custom bucket bounds must increase".into(),
            ));
        }
        return Ok(());
    }
    if !(EXPONENTIAL_SCHEMA_MIN..=EXPONENTIAL_SCHEMA_MAX).contains(&schema) {
        return Err(Error::InvalidHistogram(format!("unknown schema {schema}")));
    }
    Ok(())
}

fn check_spans(side: &str, spans: &[Span], buckets: usize) -> Result<()> {
    let n = spans_len(spans);
    if n != buckets {
        return Err(Error::InvalidHistogram(format!(
            "{side} side: spans need {n} buckets, have {buckets}"
        )));
    }
    if spans.iter().skip(1).any(|s| s.offset < 0) {
        return Err(Error::InvalidHistogram(format!(
            "{side} side: span has negative offset"
        )));
    }
    Ok(())
}

impl Histogram {
    /// True when the bucket bounds are custom (schema -53).
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Checks that spans and buckets agree and that counts are not negative.
    pub fn validate(&self) -> Result<()> {
        check_schema(self.schema, &self.custom_values)?;
        check_spans(
            "positive",
            &self.positive_spans,
            self.positive_buckets.len(),
        )?;
        check_spans(
            "negative",
            &self.negative_spans,
            self.negative_buckets.len(),
        )?;
        if self.uses_custom_buckets() && !self.negative_buckets.is_empty() {
            return Err(Error::InvalidHistogram(
                "custom buckets have no negative side".into(),
            ));
        }
        let mut total = self.zero_count;
        for buckets in [&self.positive_buckets, &self.negative_buckets] {
            let mut c: i64 = 0;
            for d in buckets {
                c = c
                    .checked_add(*d)
                    .ok_or_else(|| Error::InvalidHistogram("bucket count overflow".into()))?;
                if c < 0 {
                    return Err(Error::InvalidHistogram(format!(
                        "negative bucket count {c}"
                    )));
                }
                total = total.saturating_add(c as u64);
            }
        }
        if !self.sum.is_nan() && total > self.count {
            return Err(Error::InvalidHistogram(format!(
                "{total} observations in buckets exceed count {}",
                self.count
            )));
        }
        Ok(())
    }

    /// The same histogram with float counts.
    pub fn to_float(&self) -> FloatHistogram {
        let abs = |deltas: &[i64]| {
            let mut c = 0i64;
            deltas
                .iter()
                .map(|d| {
                    c = c.wrapping_add(*d);
                    c as f64
                })
                .collect()
        };
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count as f64,
            count: self.count as f64,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            negative_spans: self.negative_spans.clone(),
            positive_buckets: abs(&self.positive_buckets),
            negative_buckets: abs(&self.negative_buckets),
            custom_values: self.custom_values.clone(),
        }
    }
}

impl FloatHistogram {
    /// True when the bucket bounds are custom (schema -53).
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Checks that spans and buckets agree.
    pub fn validate(&self) -> Result<()> {
        check_schema(self.schema, &self.custom_values)?;
        check_spans(
            "positive",
            &self.positive_spans,
            self.positive_buckets.len(),
        )?;
        check_spans(
            "negative",
            &self.negative_spans,
            self.negative_buckets.len(),
        )?;
        if self.uses_custom_buckets() && !self.negative_buckets.is_empty() {
            return Err(Error::InvalidHistogram(
                "custom buckets have no negative side".into(),
            ));
        }
        Ok(())
    }

    /// The upper bound of positive bucket `index` for this schema.
    pub fn bucket_upper_bound(&self, index: i32) -> f64 {
        bucket_upper_bound(self.schema, &self.custom_values, index)
    }
}

/// The upper bound of bucket `index` (positive side) for `schema`.
pub fn bucket_upper_bound(schema: i32, custom_values: &[f64], index: i32) -> f64 {
    if schema == CUSTOM_BUCKETS_SCHEMA {
        return usize::try_from(index)
            .ok()
            .and_then(|i| custom_values.get(i).copied())
            .unwrap_or(f64::INFINITY);
    }
    // base^index with base = 2^(2^-schema), i.e. 2^(index * 2^-schema).
    let exp = f64::from(index) * (-f64::from(schema)).exp2();
    exp.exp2()
}

/// One bucket of a float histogram, with its bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub count: f64,
    pub index: i32,
    /// Whether the lower/upper bound belongs to the bucket.
    pub lower_inclusive: bool,
    pub upper_inclusive: bool,
}

/// Expands spans and counts into `(index, count)` pairs.
fn expand(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut k = 0usize;
    for (n, s) in spans.iter().enumerate() {
        idx = if n == 0 { s.offset } else { idx + s.offset };
        for _ in 0..s.length {
            if let Some(c) = counts.get(k) {
                out.push((idx, *c));
            }
            k += 1;
            idx += 1;
        }
    }
    out
}

/// Builds spans and counts from sorted `(index, count)` pairs, dropping
/// empty buckets (Prometheus's compaction with no empty buckets kept).
fn collapse(pairs: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    spans_from(pairs.iter().copied().filter(|p| p.1 != 0.0), pairs.len())
}

/// Maps bucket `idx` of a finer schema to the bucket of a schema `delta`
/// steps coarser.
fn coarser_index(idx: i32, delta: i32) -> i32 {
    ((idx - 1) >> delta) + 1
}

/// Merges sorted `(index, count)` lists, combining equal indexes with `op`.
fn merge(a: &[(i32, f64)], b: &[(i32, f64)], sign: f64) -> Vec<(i32, f64)> {
    let mut m: std::collections::BTreeMap<i32, f64> = a.iter().copied().collect();
    for &(i, c) in b {
        *m.entry(i).or_insert(0.0) += sign * c;
    }
    m.into_iter().collect()
}

fn reduce_pairs(pairs: &[(i32, f64)], delta: i32) -> Vec<(i32, f64)> {
    if delta <= 0 {
        return pairs.to_vec();
    }
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(pairs.len());
    for &(i, c) in pairs {
        let ni = coarser_index(i, delta);
        match out.last_mut() {
            Some(last) if last.0 == ni => last.1 += c,
            _ => out.push((ni, c)),
        }
    }
    out
}

impl FloatHistogram {
    /// Multiplies every count and the sum by `f`.
    pub fn mul(&mut self, f: f64) {
        self.count *= f;
        self.sum *= f;
        self.zero_count *= f;
        self.positive_buckets.iter_mut().for_each(|c| *c *= f);
        self.negative_buckets.iter_mut().for_each(|c| *c *= f);
    }

    /// Divides every count and the sum by `f`.
    pub fn div(&mut self, f: f64) {
        self.count /= f;
        self.sum /= f;
        self.zero_count /= f;
        self.positive_buckets.iter_mut().for_each(|c| *c /= f);
        self.negative_buckets.iter_mut().for_each(|c| *c /= f);
    }

    /// `(index, count)` pairs of the positive buckets.
    pub fn positive_pairs(&self) -> Vec<(i32, f64)> {
        expand(&self.positive_spans, &self.positive_buckets)
    }

    /// `(index, count)` pairs of the negative buckets.
    pub fn negative_pairs(&self) -> Vec<(i32, f64)> {
        expand(&self.negative_spans, &self.negative_buckets)
    }

    /// Lowers the resolution to `schema` (which must not be finer).
    pub fn reduce_resolution(&mut self, schema: i32) {
        if self.uses_custom_buckets() || schema >= self.schema {
            return;
        }
        let delta = self.schema - schema;
        let (ps, pb) = collapse_keep(&reduce_pairs(&self.positive_pairs(), delta));
        let (ns, nb) = collapse_keep(&reduce_pairs(&self.negative_pairs(), delta));
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.negative_spans = ns;
        self.negative_buckets = nb;
        self.schema = schema;
    }

    /// Removes empty buckets and merges adjacent spans.
    pub fn compact(&mut self) {
        let (ps, pb) = collapse(&self.positive_pairs());
        let (ns, nb) = collapse(&self.negative_pairs());
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.negative_spans = ns;
        self.negative_buckets = nb;
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `other`, at the lower of
    /// the two schemas and the wider zero bucket. Custom-bucket histograms
    /// with different bounds are combined over the bounds both share;
    /// the returned flag says whether that reconciliation happened.
    /// Mixing exponential and custom buckets is an error.
    pub fn add_signed(&mut self, other: &FloatHistogram, sign: f64) -> Result<bool> {
        let mut reconciled = false;
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(Error::InvalidHistogram(
                "cannot mix exponential and custom bucket schemas".into(),
            ));
        }
        let mut other = other.clone();
        if self.uses_custom_buckets() && self.custom_values != other.custom_values {
            let common: Vec<f64> = self
                .custom_values
                .iter()
                .copied()
                .filter(|b| other.custom_values.contains(b))
                .collect();
            self.rebucket_custom(&common);
            other.rebucket_custom(&common);
            reconciled = true;
        }
        if !self.uses_custom_buckets() {
            let schema = self.schema.min(other.schema);
            self.reduce_resolution(schema);
            other.reduce_resolution(schema);
            let zt = self.zero_threshold.max(other.zero_threshold);
            self.widen_zero_bucket(zt);
            other.widen_zero_bucket(zt);
        }
        self.count += sign * other.count;
        self.sum += sign * other.sum;
        self.zero_count += sign * other.zero_count;
        let (ps, pb) = collapse_keep(&merge(
            &self.positive_pairs(),
            &other.positive_pairs(),
            sign,
        ));
        let (ns, nb) = collapse_keep(&merge(
            &self.negative_pairs(),
            &other.negative_pairs(),
            sign,
        ));
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.negative_spans = ns;
        self.negative_buckets = nb;
        Ok(reconciled)
    }

    /// Moves buckets whose upper bound lies within `threshold` into the
    /// zero bucket and raises the zero threshold.
    pub fn widen_zero_bucket(&mut self, threshold: f64) {
        if threshold <= self.zero_threshold {
            return;
        }
        let schema = self.schema;
        let mut moved = 0.0;
        let mut keep = |pairs: Vec<(i32, f64)>| -> (Vec<Span>, Vec<f64>) {
            let kept: Vec<(i32, f64)> = pairs
                .into_iter()
                .filter(|&(i, c)| {
                    if bucket_upper_bound(schema, &[], i) <= threshold {
                        moved += c;
                        false
                    } else {
                        true
                    }
                })
                .collect();
            collapse_keep(&kept)
        };
        let (ps, pb) = keep(self.positive_pairs());
        let (ns, nb) = keep(self.negative_pairs());
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.negative_spans = ns;
        self.negative_buckets = nb;
        self.zero_count += moved;
        self.zero_threshold = threshold;
    }

    /// Re-buckets a custom-bucket histogram onto `bounds`, a subset of
    /// its own bounds.
    fn rebucket_custom(&mut self, bounds: &[f64]) {
        let mut m: std::collections::BTreeMap<i32, f64> = std::collections::BTreeMap::new();
        for (i, c) in self.positive_pairs() {
            let upper = bucket_upper_bound(self.schema, &self.custom_values, i);
            let ni = bounds.partition_point(|b| *b < upper) as i32;
            *m.entry(ni).or_insert(0.0) += c;
        }
        let pairs: Vec<(i32, f64)> = m.into_iter().collect();
        let (ps, pb) = collapse_keep(&pairs);
        self.positive_spans = ps;
        self.positive_buckets = pb;
        self.custom_values = bounds.to_vec();
    }

    /// The positive buckets with bounds, lowest first.
    pub fn positive_bucket_list(&self) -> Vec<Bucket> {
        self.positive_pairs()
            .into_iter()
            .map(|(i, c)| {
                let (lower, upper) = if self.uses_custom_buckets() {
                    let lower = if i == 0 {
                        f64::NEG_INFINITY
                    } else {
                        bucket_upper_bound(self.schema, &self.custom_values, i - 1)
                    };
                    (
                        lower,
                        bucket_upper_bound(self.schema, &self.custom_values, i),
                    )
                } else {
                    (
                        bucket_upper_bound(self.schema, &[], i - 1),
                        bucket_upper_bound(self.schema, &[], i),
                    )
                };
                Bucket {
                    lower,
                    upper,
                    count: c,
                    index: i,
                    lower_inclusive: false,
                    upper_inclusive: true,
                }
            })
            .collect()
    }

    /// The negative buckets with bounds, lowest (most negative) first.
    pub fn negative_bucket_list(&self) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = self
            .negative_pairs()
            .into_iter()
            .map(|(i, c)| Bucket {
                lower: -bucket_upper_bound(self.schema, &[], i),
                upper: -bucket_upper_bound(self.schema, &[], i - 1),
                count: c,
                index: i,
                lower_inclusive: true,
                upper_inclusive: false,
            })
            .collect();
        out.reverse();
        out
    }

    /// Every bucket in ascending order: negative, zero, positive.
    pub fn all_buckets(&self) -> Vec<Bucket> {
        let mut out = self.negative_bucket_list();
        if (self.zero_count != 0.0 || self.zero_threshold != 0.0) && !self.uses_custom_buckets() {
            out.push(Bucket {
                lower: -self.zero_threshold,
                upper: self.zero_threshold,
                count: self.zero_count,
                index: 0,
                lower_inclusive: true,
                upper_inclusive: true,
            });
        }
        out.extend(self.positive_bucket_list());
        out
    }

    /// Whether going from `prev` to `self` is a counter reset: the count
    /// or any bucket went down, the zero bucket narrowed, or the schema
    /// got finer. An explicit hint wins.
    pub fn detect_reset(&self, prev: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            _ => {}
        }
        if self.uses_custom_buckets() != prev.uses_custom_buckets() {
            return true;
        }
        if self.count < prev.count || self.zero_count < prev.zero_count {
            return true;
        }
        if self.uses_custom_buckets() && self.custom_values != prev.custom_values {
            // Different bounds are compared over the bounds both share.
            let common: Vec<f64> = self
                .custom_values
                .iter()
                .copied()
                .filter(|b| prev.custom_values.contains(b))
                .collect();
            let (mut cur, mut old) = (self.clone(), prev.clone());
            cur.rebucket_custom(&common);
            old.rebucket_custom(&common);
            cur.counter_reset_hint = CounterResetHint::Unknown;
            old.counter_reset_hint = CounterResetHint::Unknown;
            return cur.detect_reset(&old);
        }
        if self.schema > prev.schema || self.zero_threshold < prev.zero_threshold {
            return true;
        }
        let mut cur = self.clone();
        cur.reduce_resolution(prev.schema.min(self.schema));
        let mut old = prev.clone();
        old.reduce_resolution(prev.schema.min(self.schema));
        let side = |a: Vec<(i32, f64)>, b: Vec<(i32, f64)>| {
            let m: std::collections::BTreeMap<i32, f64> = a.into_iter().collect();
            b.into_iter()
                .any(|(i, c)| m.get(&i).copied().unwrap_or(0.0) < c)
        };
        side(cur.positive_pairs(), old.positive_pairs())
            || side(cur.negative_pairs(), old.negative_pairs())
    }
}

/// Neumaier-compensated addition: the new sum and compensation.
fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A compensated running total per bucket index.
type KahanBuckets = std::collections::BTreeMap<i32, (f64, f64)>;

fn kahan_side(acc: &mut KahanBuckets, pairs: Vec<(i32, f64)>, scale: f64) {
    for (i, c) in pairs {
        let e = acc.entry(i).or_insert((0.0, 0.0));
        *e = kahan_add(c * scale, e.0, e.1);
    }
}

/// Sums histograms, each multiplied by `scale`, with compensated
/// (Kahan-Neumaier) addition of every field, at the lowest schema and the
/// widest zero bucket among them. Custom-bucket histograms are summed over
/// the bounds they all share; the flag says whether bounds had to be
/// reconciled. Mixing exponential and custom buckets is an error.
pub fn sum_histograms(hs: &[&FloatHistogram], scale: f64) -> Result<(FloatHistogram, bool)> {
    let Some(first) = hs.first() else {
        return Ok((FloatHistogram::default(), false));
    };
    let custom = first.uses_custom_buckets();
    if hs.iter().any(|h| h.uses_custom_buckets() != custom) {
        return Err(Error::InvalidHistogram(
            "cannot mix exponential and custom bucket schemas".into(),
        ));
    }
    let mut reconciled = false;
    let mut bounds = first.custom_values.clone();
    if custom {
        for h in &hs[1..] {
            if h.custom_values != bounds {
                reconciled = true;
                bounds.retain(|b| h.custom_values.contains(b));
            }
        }
    }
    let schema = hs.iter().map(|h| h.schema).min().unwrap_or(0);
    let zt = hs.iter().map(|h| h.zero_threshold).fold(0.0, f64::max);
    let (mut sum, mut count, mut zero) = ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0));
    let (mut pos, mut neg) = (KahanBuckets::new(), KahanBuckets::new());
    for h in hs {
        let mut h = (*h).clone();
        if custom {
            if h.custom_values != bounds {
                h.rebucket_custom(&bounds);
            }
        } else {
            h.reduce_resolution(schema);
            h.widen_zero_bucket(zt);
        }
        sum = kahan_add(h.sum * scale, sum.0, sum.1);
        count = kahan_add(h.count * scale, count.0, count.1);
        zero = kahan_add(h.zero_count * scale, zero.0, zero.1);
        kahan_side(&mut pos, h.positive_pairs(), scale);
        kahan_side(&mut neg, h.negative_pairs(), scale);
    }
    let total = |m: KahanBuckets| -> Vec<(i32, f64)> {
        m.into_iter().map(|(i, (s, c))| (i, s + c)).collect()
    };
    let (ps, pb) = collapse_keep(&total(pos));
    let (ns, nb) = collapse_keep(&total(neg));
    let out = FloatHistogram {
        counter_reset_hint: CounterResetHint::Unknown,
        schema: if custom {
            CUSTOM_BUCKETS_SCHEMA
        } else {
            schema
        },
        zero_threshold: zt,
        zero_count: zero.0 + zero.1,
        count: count.0 + count.1,
        sum: sum.0 + sum.1,
        positive_spans: ps,
        negative_spans: ns,
        positive_buckets: pb,
        negative_buckets: nb,
        custom_values: if custom { bounds } else { Vec::new() },
    };
    Ok((out, reconciled))
}

/// Like `collapse`, but keeps empty buckets inside the populated range.
fn collapse_keep(pairs: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    spans_from(pairs.iter().copied(), pairs.len())
}

/// Spans and counts for `(bucket index, count)` pairs in index order:
/// consecutive indexes extend the last span, a gap starts a new one.
fn spans_from(pairs: impl Iterator<Item = (i32, f64)>, capacity: usize) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::with_capacity(capacity);
    let mut next: Option<i32> = None;
    for (idx, c) in pairs {
        match (next, spans.last_mut()) {
            (Some(n), Some(last)) if n == idx => last.length += 1,
            (Some(n), _) => spans.push(Span {
                offset: idx - n,
                length: 1,
            }),
            (None, _) => spans.push(Span {
                offset: idx,
                length: 1,
            }),
        }
        counts.push(c);
        next = Some(idx + 1);
    }
    (spans, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_float_and_validate() {
        let h = Histogram {
            schema: 0,
            count: 6,
            zero_count: 1,
            sum: 10.0,
            positive_spans: vec![
                Span {
                    offset: 0,
                    length: 2,
                },
                Span {
                    offset: 1,
                    length: 1,
                },
            ],
            positive_buckets: vec![2, -1, 1],
            ..Default::default()
        };
        h.validate().unwrap();
        let f = h.to_float();
        assert_eq!(f.positive_buckets, vec![2.0, 1.0, 2.0]);
        assert_eq!(f.bucket_upper_bound(0), 1.0);
        assert_eq!(f.bucket_upper_bound(3), 8.0);
        let bad = Histogram {
            positive_buckets: vec![1],
            ..h.clone()
        };
        assert!(bad.validate().is_err());
        let neg = Histogram {
            positive_buckets: vec![2, -3, 1],
            ..h
        };
        assert!(neg.validate().is_err());
    }

    #[test]
    fn arithmetic_and_resolution() {
        let a = FloatHistogram {
            schema: 1,
            count: 4.0,
            sum: 8.0,
            positive_spans: vec![Span {
                offset: 1,
                length: 3,
            }],
            positive_buckets: vec![1.0, 2.0, 1.0],
            ..Default::default()
        };
        let mut b = a.clone();
        b.reduce_resolution(0);
        // Schema-1 buckets 1,2 map to schema-0 bucket 1; bucket 3 to 2.
        assert_eq!(b.positive_pairs(), vec![(1, 3.0), (2, 1.0)]);
        let mut c = a.clone();
        c.add_signed(&b, 1.0).unwrap();
        assert_eq!(c.schema, 0);
        assert_eq!(c.positive_pairs(), vec![(1, 6.0), (2, 2.0)]);
        assert_eq!(c.count, 8.0);
        c.mul(0.5);
        assert_eq!(c.sum, 8.0);
        assert!(!c.detect_reset(&b));
        let mut d = b.clone();
        d.add_signed(&b, -1.0).unwrap();
        d.compact();
        assert!(d.positive_buckets.is_empty());
        assert!(d.detect_reset(&b));
    }

    #[test]
    fn schema_bounds() {
        assert_eq!(bucket_upper_bound(1, &[], 1), 2f64.sqrt());
        assert_eq!(bucket_upper_bound(-1, &[], 1), 4.0);
        assert_eq!(
            bucket_upper_bound(CUSTOM_BUCKETS_SCHEMA, &[1.0, 5.0], 1),
            5.0
        );
        assert_eq!(
            bucket_upper_bound(CUSTOM_BUCKETS_SCHEMA, &[1.0, 5.0], 2),
            f64::INFINITY
        );
    }
}
