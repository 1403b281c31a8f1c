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
