//! `MemStorage`: a small in-memory storage that is obviously correct.
//!
//! It keeps every series as a sorted vector of samples in a `BTreeMap`,
//! so it is slow for large data but easy to trust: tests use it as the
//! reference model, and the PromQL test runner loads its scripts into it.
//! Exemplars are kept per series without a bound, under the same append
//! rules as the TSDB's ([`judge_exemplar`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use beacon_model::{Exemplar, FloatHistogram, Histogram, Labels, Matcher, SeriesRef, is_stale_nan};
use parking_lot::RwLock;

use crate::{
    AppendError, Appendable, Appender, ExemplarQueryable, ExemplarSeries, ExemplarVerdict,
    LabelHints, Querier, Queryable, Result, SampleValue, Series, VecIterator, judge_exemplar,
    matches_all, matches_some_set,
};

type SeriesMap = BTreeMap<Labels, Vec<(i64, SampleValue)>>;
type ExemplarMap = BTreeMap<Labels, Vec<Exemplar>>;

/// An in-memory storage with Prometheus's append rules (no out-of-order
/// window: an older sample, or another value at an existing timestamp, is
/// refused).
#[derive(Default, Clone)]
pub struct MemStorage {
    series: Arc<RwLock<SeriesMap>>,
    exemplars: Arc<RwLock<ExemplarMap>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// Drops all data.
    pub fn clear(&self) {
        self.series.write().clear();
        self.exemplars.write().clear();
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.series.read().len()
    }
}

struct MemAppender<'a> {
    store: &'a MemStorage,
    pending: Vec<(Labels, i64, SampleValue)>,
    pending_exemplars: Vec<(Labels, Exemplar)>,
}

fn same_value(a: &SampleValue, b: &SampleValue) -> bool {
    match (a, b) {
        (SampleValue::Float(x), SampleValue::Float(y)) => x.to_bits() == y.to_bits(),
        (x, y) => x == y,
    }
}

impl MemAppender<'_> {
    fn check(&self, labels: &Labels, t: i64, v: &SampleValue) -> Result<()> {
        if labels.is_empty() {
            return Err(AppendError::EmptyLabels.into());
        }
        let map = self.store.series.read();
        let last = self
            .pending
            .iter()
            .rev()
            .find(|p| &p.0 == labels)
            .map(|p| (p.1, p.2.clone()))
            .or_else(|| map.get(labels).and_then(|s| s.last().cloned()));
        if let Some((lt, lv)) = last {
            if t < lt {
                return Err(AppendError::OutOfOrderSample.into());
            }
            if t == lt && !same_value(&lv, v) {
                // A stale marker at the same timestamp is not a conflict.
                let stale = matches!(v, SampleValue::Float(f) if is_stale_nan(*f));
                if !stale {
                    return Err(AppendError::DuplicateSampleForTimestamp.into());
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, labels: &Labels, t: i64, v: SampleValue) -> Result<SeriesRef> {
        self.check(labels, t, &v)?;
        self.pending.push((labels.clone(), t, v));
        Ok(SeriesRef(labels.hash64() | 1))
    }

    /// The time of the series' newest sample, pending or stored (an
    /// exemplar without a time takes it).
    fn newest_sample_t(&self, labels: &Labels) -> Option<i64> {
        self.pending
            .iter()
            .rev()
            .find(|p| &p.0 == labels)
            .map(|p| p.1)
            .or_else(|| self.store.series.read().get(labels)?.last().map(|s| s.0))
    }

    fn newest_exemplar(&self, labels: &Labels) -> Option<Exemplar> {
        self.pending_exemplars
            .iter()
            .rev()
            .find(|p| &p.0 == labels)
            .map(|p| p.1.clone())
            .or_else(|| self.store.exemplars.read().get(labels)?.last().cloned())
    }
}

impl Appender for MemAppender<'_> {
    fn append(&mut self, _r: SeriesRef, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef> {
        self.push(labels, t, SampleValue::Float(v))
    }

    fn append_histogram(
        &mut self,
        _r: SeriesRef,
        labels: &Labels,
        t: i64,
        h: Option<&Histogram>,
        fh: Option<&FloatHistogram>,
    ) -> Result<SeriesRef> {
        let v = match (h, fh) {
            (Some(h), _) => SampleValue::Histogram(Arc::new(h.clone())),
            (None, Some(fh)) => SampleValue::FloatHistogram(Arc::new(fh.clone())),
            (None, None) => {
                return Err(AppendError::InvalidHistogram("no histogram given".into()).into());
            }
        };
        self.push(labels, t, v)
    }

    fn append_exemplar(
        &mut self,
        _r: SeriesRef,
        labels: &Labels,
        e: &Exemplar,
    ) -> Result<SeriesRef> {
        if labels.is_empty() {
            return Err(AppendError::EmptyLabels.into());
        }
        let mut e = e.clone();
        if e.t.is_none() {
            e.t = self.newest_sample_t(labels);
        }
        if e.t.is_none() {
            return Err(AppendError::OutOfOrderExemplar.into());
        }
        let newest = self.newest_exemplar(labels);
        if judge_exemplar(newest.as_ref(), &e)? == ExemplarVerdict::Add {
            self.pending_exemplars.push((labels.clone(), e));
        }
        Ok(SeriesRef(labels.hash64() | 1))
    }

    fn commit(&mut self) -> Result<()> {
        let mut exemplars = self.store.exemplars.write();
        for (labels, e) in self.pending_exemplars.drain(..) {
            let list = exemplars.entry(labels).or_default();
            // Another appender may have committed a newer one meanwhile.
            if judge_exemplar(list.last(), &e) == Ok(ExemplarVerdict::Add) {
                list.push(e);
            }
        }
        drop(exemplars);
        let mut map = self.store.series.write();
        for (labels, t, v) in self.pending.drain(..) {
            let s = map.entry(labels).or_default();
            match s.last() {
                Some((lt, _)) if *lt == t => {
                    let last = s.len() - 1;
                    s[last].1 = v;
                }
                _ => s.push((t, v)),
            }
        }
        Ok(())
    }

    fn rollback(&mut self) -> Result<()> {
        self.pending.clear();
        self.pending_exemplars.clear();
        Ok(())
    }
}

impl Appendable for MemStorage {
    fn appender(&self) -> Box<dyn Appender + '_> {
        Box::new(MemAppender {
            store: self,
            pending: Vec::new(),
            pending_exemplars: Vec::new(),
        })
    }
}

impl ExemplarQueryable for MemStorage {
    fn select_exemplars(
        &self,
        mint_ms: i64,
        maxt_ms: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Result<Vec<ExemplarSeries>> {
        if mint_ms > maxt_ms {
            return Err(crate::Error::InvalidRange {
                mint: mint_ms,
                maxt: maxt_ms,
            });
        }
        let map = self.exemplars.read();
        let in_range = |e: &&Exemplar| e.t.is_some_and(|t| (mint_ms..=maxt_ms).contains(&t));
        Ok(map
            .iter()
            .filter(|(labels, _)| matches_some_set(matcher_sets, labels))
            .map(|(labels, list)| ExemplarSeries {
                labels: labels.clone(),
                exemplars: list.iter().filter(in_range).cloned().collect(),
            })
            .filter(|s| !s.exemplars.is_empty())
            .collect())
    }
}

struct MemQuerier {
    series: Arc<RwLock<SeriesMap>>,
    mint: i64,
    maxt: i64,
}

impl MemQuerier {
    fn for_each_match(
        &self,
        matchers: &[Matcher],
        mut f: impl FnMut(&Labels, &[(i64, SampleValue)]),
    ) {
        let map = self.series.read();
        for (labels, samples) in map.iter() {
            if !matches_all(matchers, labels) {
                continue;
            }
            let lo = samples.partition_point(|s| s.0 < self.mint);
            let hi = samples.partition_point(|s| s.0 <= self.maxt);
            if lo < hi {
                f(labels, &samples[lo..hi]);
            }
        }
    }
}

fn limited(set: BTreeSet<String>, limit: usize) -> Vec<String> {
    let take = if limit == 0 { usize::MAX } else { limit };
    set.into_iter().take(take).collect()
}

impl Querier for MemQuerier {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
        let mut out = Vec::new();
        self.for_each_match(matchers, |labels, samples| {
            out.push(Series {
                labels: labels.clone(),
                samples: Box::new(VecIterator::new(samples.to_vec())),
            });
        });
        Ok(out)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        hints: &LabelHints,
    ) -> Result<Vec<String>> {
        let mut set = BTreeSet::new();
        self.for_each_match(matchers, |labels, _| {
            if let Some(v) = labels.get(name) {
                set.insert(v.to_owned());
            }
        });
        Ok(limited(set, hints.limit))
    }

    fn label_names(&self, matchers: &[Matcher], hints: &LabelHints) -> Result<Vec<String>> {
        let mut set = BTreeSet::new();
        self.for_each_match(matchers, |labels, _| {
            for l in labels {
                set.insert(l.name.to_owned());
            }
        });
        Ok(limited(set, hints.limit))
    }
}

impl Queryable for MemStorage {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>> {
        Ok(Box::new(MemQuerier {
            series: self.series.clone(),
            mint,
            maxt,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ValueType};

    fn l(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)])
    }

    #[test]
    fn append_rules_match_prometheus() {
        let db = MemStorage::new();
        let mut app = db.appender();
        app.append(SeriesRef::NONE, &l("a"), 10, 1.0).unwrap();
        app.commit().unwrap();
        let err = app.append(SeriesRef::NONE, &l("a"), 5, 1.0).unwrap_err();
        assert!(matches!(err, Error::Append(AppendError::OutOfOrderSample)));
        let err = app.append(SeriesRef::NONE, &l("a"), 10, 2.0).unwrap_err();
        assert!(matches!(
            err,
            Error::Append(AppendError::DuplicateSampleForTimestamp)
        ));
        app.append(SeriesRef::NONE, &l("a"), 10, 1.0).unwrap();
        app.append(SeriesRef::NONE, &l("a"), 20, 2.0).unwrap();
        app.rollback().unwrap();
        let q = db.querier(0, 100).unwrap();
        let mut s = q.select(&[]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].samples.next(), ValueType::Float);
        assert_eq!(s[0].samples.next(), ValueType::None);
    }

    #[test]
    fn exemplars_follow_the_append_rules_and_select_by_sets() {
        let db = MemStorage::new();
        let ex = |t: i64, trace: &str| Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value: 1.0,
            t: Some(t),
        };
        let mut app = db.appender();
        app.append(SeriesRef::NONE, &l("a"), 10, 1.0).unwrap();
        let untimed = Exemplar {
            t: None,
            ..ex(0, "x")
        };
        app.append_exemplar(SeriesRef::NONE, &l("a"), &untimed)
            .unwrap();
        app.append_exemplar(SeriesRef::NONE, &l("a"), &ex(10, "x"))
            .unwrap();
        app.append_exemplar(SeriesRef::NONE, &l("b"), &ex(30, "y"))
            .unwrap();
        app.commit().unwrap();
        let err = app
            .append_exemplar(SeriesRef::NONE, &l("b"), &ex(20, "z"))
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Append(AppendError::OutOfOrderExemplar)
        ));
        app.append_exemplar(SeriesRef::NONE, &l("b"), &ex(40, "z"))
            .unwrap();
        app.commit().unwrap();
        let got = db
            .select_exemplars(
                0,
                100,
                &[
                    vec![Matcher::equal("__name__", "a")],
                    vec![Matcher::equal("__name__", "b")],
                ],
            )
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].exemplars,
            vec![ex(10, "x")],
            "the repeat was ignored"
        );
        assert_eq!(got[1].exemplars, vec![ex(30, "y"), ex(40, "z")]);
        let got = db.select_exemplars(35, 100, &[vec![]]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels, l("b"));
        assert!(db.select_exemplars(0, 100, &[]).unwrap().is_empty());
        assert!(db.select_exemplars(5, 4, &[vec![]]).is_err());
    }

    #[test]
    fn select_respects_range_and_matchers() {
        let db = MemStorage::new();
        let mut app = db.appender();
        for t in 0..10 {
            app.append(SeriesRef::NONE, &l("a"), t * 10, t as f64)
                .unwrap();
            app.append(SeriesRef::NONE, &l("b"), t * 10, t as f64)
                .unwrap();
        }
        app.commit().unwrap();
        let q = db.querier(20, 40).unwrap();
        let mut s = q.select(&[Matcher::equal("__name__", "b")]).unwrap();
        assert_eq!(s.len(), 1);
        let mut ts = vec![];
        while s[0].samples.next() != ValueType::None {
            ts.push(s[0].samples.at_t());
        }
        assert_eq!(ts, vec![20, 30, 40]);
        assert_eq!(
            q.label_values("__name__", &[], &LabelHints::default())
                .unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(
            q.label_values("__name__", &[], &LabelHints { limit: 1 })
                .unwrap(),
            vec!["a"]
        );
    }
}
