//! Timestamps, samples, exemplars, series references and the staleness marker.

use std::fmt;
use std::ops::{Add, Sub};

use crate::Labels;

/// Milliseconds since the Unix epoch, as Prometheus stores time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The smallest timestamp Prometheus's API accepts (`minTime`).
    pub const MIN: Timestamp = Timestamp(i64::MIN / 2);
    /// The largest timestamp Prometheus's API accepts (`maxTime`).
    pub const MAX: Timestamp = Timestamp(i64::MAX / 2);

    /// From milliseconds.
    pub const fn from_ms(ms: i64) -> Timestamp {
        Timestamp(ms)
    }

    /// Milliseconds since the epoch.
    pub const fn ms(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch as a float (the API's representation).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// From float seconds, rounded to the millisecond.
    pub fn from_secs_f64(s: f64) -> Timestamp {
        Timestamp((s * 1000.0).round() as i64)
    }

    /// The wall clock now.
    pub fn now() -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }
}

impl Add<i64> for Timestamp {
    type Output = Timestamp;
    fn add(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

impl Sub<i64> for Timestamp {
    type Output = Timestamp;
    fn sub(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_sub(ms))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A float sample: a timestamp in milliseconds and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

/// The bit pattern of Prometheus's staleness marker, a NaN that no
/// arithmetic produces.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Is `v` the staleness marker (and not just any NaN)?
#[inline]
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// An exemplar: a sample of a traced event attached to a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds; `None` when the exposition gave no timestamp.
    pub t: Option<i64>,
}

/// A storage's handle for a series, so repeated appends skip the label
/// lookup. `SeriesRef(0)` means "unknown".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SeriesRef(pub u64);

impl SeriesRef {
    /// The "no reference yet" value.
    pub const NONE: SeriesRef = SeriesRef(0);

    /// True when this is a real reference.
    pub fn is_some(self) -> bool {
        self.0 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_distinct_nan() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
        assert!(stale_nan().is_nan());
    }
}
