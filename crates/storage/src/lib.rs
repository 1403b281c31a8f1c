//! The storage traits: the only view of stored samples that PromQL,
//! scraping and rules have.
//!
//! Writers get an [`Appender`] from an [`Appendable`], add samples, and
//! `commit` them as one atomic batch (one scrape is one batch). Readers get a
//! [`Querier`] over a time range from a [`Queryable`] and `select` series by
//! label matchers; each [`Series`] yields its samples through a
//! [`SampleIterator`].
//!
//! Implementations: `beacon-tsdb` (the real database), [`MemStorage`] here
//! (a small, obviously correct in-memory store for tests and for the PromQL
//! test runner), and [`Fanout`], which merges several queryables.
//!
//! ```
//! use beacon_model::{Labels, Matcher};
//! use beacon_storage::{Appendable, MemStorage, Queryable, ValueType};
//!
//! let db = MemStorage::new();
//! let mut app = db.appender();
//! app.append(Default::default(), &Labels::from_pairs([("__name__", "up")]), 1000, 1.0).unwrap();
//! app.commit().unwrap();
//! let q = db.querier(0, 2000).unwrap();
//! let mut series = q.select(&[Matcher::equal("__name__", "up")]).unwrap();
//! assert_eq!(series[0].samples.next(), ValueType::Float);
//! assert_eq!(series[0].samples.at(), (1000, 1.0));
//! ```

mod error;
mod exemplar;
mod fanout;
mod mem;

use std::sync::Arc;

use beacon_model::{Exemplar, FloatHistogram, Histogram, Labels, Matcher, Metadata, SeriesRef};

pub use error::{AppendError, Error, Result};
pub use exemplar::{
    EXEMPLAR_LABEL_CHARS_MAX, ExemplarQueryable, ExemplarSeries, ExemplarVerdict, judge_exemplar,
    matches_some_set,
};
pub use fanout::Fanout;
pub use mem::MemStorage;

/// Adds samples in a batch that becomes visible (and durable, for a
/// database with a WAL) only when `commit` returns `Ok`.
///
/// Every `append*` takes the series' labels and a `SeriesRef` from an
/// earlier call (or `SeriesRef::NONE`); with a valid ref the storage may skip
/// the label lookup. It returns the ref to use next time.
///
/// After `commit` or `rollback` the appender is empty and may be reused.
pub trait Appender: Send {
    /// Appends a float sample (the staleness marker included).
    fn append(&mut self, r: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef>;

    /// Appends a native histogram sample; exactly one of `h`/`fh` is set.
    fn append_histogram(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        t: i64,
        h: Option<&Histogram>,
        fh: Option<&FloatHistogram>,
    ) -> Result<SeriesRef>;

    /// Attaches an exemplar to a series.
    fn append_exemplar(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef> {
        let _ = (labels, e);
        Ok(r)
    }

    /// Records a series' metadata (type, help, unit).
    fn update_metadata(
        &mut self,
        r: SeriesRef,
        labels: &Labels,
        m: &Metadata,
    ) -> Result<SeriesRef> {
        let _ = (labels, m);
        Ok(r)
    }

    /// Makes the batch visible and durable. On error nothing of it is kept.
    fn commit(&mut self) -> Result<()>;

    /// Discards the batch.
    fn rollback(&mut self) -> Result<()>;
}

/// Something that hands out appenders.
pub trait Appendable: Send + Sync {
    fn appender(&self) -> Box<dyn Appender + '_>;
}

/// What kind of sample an iterator is positioned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Exhausted (or failed: see `err`).
    None,
    Float,
    Histogram,
    FloatHistogram,
}

/// Iterates one series' samples in time order.
pub trait SampleIterator: Send {
    /// Advances to the next sample.
    fn next(&mut self) -> ValueType;

    /// Advances to the first sample at or after `t`. If the current sample
    /// is already at or after `t` it stays put. Never moves backwards.
    fn seek(&mut self, t: i64) -> ValueType;

    /// The current float sample.
    fn at(&self) -> (i64, f64);

    /// The current integer histogram sample.
    fn at_histogram(&self) -> (i64, Histogram);

    /// The current histogram as a float histogram (works for both kinds).
    fn at_float_histogram(&self) -> (i64, FloatHistogram);

    /// The current sample's timestamp.
    fn at_t(&self) -> i64;

    /// The error that ended iteration early, if any.
    fn err(&self) -> Option<&Error> {
        None
    }
}

/// One selected series.
pub struct Series {
    pub labels: Labels,
    pub samples: Box<dyn SampleIterator>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// Limits and hints for label name/value lookups.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabelHints {
    /// Return at most this many names or values (0: no limit).
    pub limit: usize,
}

/// Reads a fixed time range `[mint, maxt]` (milliseconds, both inclusive).
pub trait Querier: Send + Sync {
    /// The series matching every matcher, sorted by labels. Their iterators
    /// yield only samples inside the querier's range.
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>>;

    /// Sorted distinct values of label `name` over series that match
    /// `matchers` (all series when empty).
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        hints: &LabelHints,
    ) -> Result<Vec<String>>;

    /// Sorted distinct label names over series that match `matchers`.
    fn label_names(&self, matchers: &[Matcher], hints: &LabelHints) -> Result<Vec<String>>;
}

/// Something that hands out queriers.
pub trait Queryable: Send + Sync {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>>;
}

impl<T: Queryable + ?Sized> Queryable for Arc<T> {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>> {
        (**self).querier(mint, maxt)
    }
}

impl<T: Appendable + ?Sized> Appendable for Arc<T> {
    fn appender(&self) -> Box<dyn Appender + '_> {
        (**self).appender()
    }
}

/// A `SampleIterator` over owned float samples, for tests and merges.
pub struct VecIterator {
    samples: Vec<(i64, SampleValue)>,
    pos: Option<usize>,
}

/// One stored value: a float or a histogram.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    Float(f64),
    Histogram(Arc<Histogram>),
    FloatHistogram(Arc<FloatHistogram>),
}

impl SampleValue {
    fn value_type(&self) -> ValueType {
        match self {
            SampleValue::Float(_) => ValueType::Float,
            SampleValue::Histogram(_) => ValueType::Histogram,
            SampleValue::FloatHistogram(_) => ValueType::FloatHistogram,
        }
    }
}

impl VecIterator {
    /// Iterates `samples`, which must be sorted by time.
    pub fn new(samples: Vec<(i64, SampleValue)>) -> VecIterator {
        debug_assert!(samples.windows(2).all(|w| w[0].0 < w[1].0));
        VecIterator { samples, pos: None }
    }

    fn current(&self) -> Option<&(i64, SampleValue)> {
        self.pos.and_then(|p| self.samples.get(p))
    }
}

impl SampleIterator for VecIterator {
    fn next(&mut self) -> ValueType {
        let p = self.pos.map_or(0, |p| p + 1);
        self.pos = Some(p.min(self.samples.len()));
        self.current().map_or(ValueType::None, |s| s.1.value_type())
    }

    fn seek(&mut self, t: i64) -> ValueType {
        let start = self.pos.unwrap_or(0);
        if start >= self.samples.len() {
            self.pos = Some(self.samples.len());
            return ValueType::None;
        }
        let off = self.samples[start..].partition_point(|s| s.0 < t);
        self.pos = Some(start + off);
        self.current().map_or(ValueType::None, |s| s.1.value_type())
    }

    fn at(&self) -> (i64, f64) {
        match self.current() {
            Some((t, SampleValue::Float(v))) => (*t, *v),
            Some((t, _)) => (*t, f64::NAN),
            None => (i64::MIN, f64::NAN),
        }
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        match self.current() {
            Some((t, SampleValue::Histogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, Histogram::default()),
            None => (i64::MIN, Histogram::default()),
        }
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        match self.current() {
            Some((t, SampleValue::Histogram(h))) => (*t, h.to_float()),
            Some((t, SampleValue::FloatHistogram(h))) => (*t, (**h).clone()),
            Some((t, _)) => (*t, FloatHistogram::default()),
            None => (i64::MIN, FloatHistogram::default()),
        }
    }

    fn at_t(&self) -> i64 {
        self.current().map_or(i64::MIN, |s| s.0)
    }
}

/// Applies `matchers` to `labels` (all must match).
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_iterator_seek_never_goes_back() {
        let mut it = VecIterator::new(
            (0..10)
                .map(|i| (i * 10, SampleValue::Float(i as f64)))
                .collect(),
        );
        assert_eq!(it.seek(35), ValueType::Float);
        assert_eq!(it.at(), (40, 4.0));
        assert_eq!(it.seek(0), ValueType::Float);
        assert_eq!(it.at_t(), 40);
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(it.at_t(), 50);
        assert_eq!(it.seek(1000), ValueType::None);
        assert_eq!(it.next(), ValueType::None);
    }
}
