//! `Fanout`: one queryable made of several (local TSDB plus remote read).
//!
//! Series with equal labels from different sources are merged into one;
//! where two sources hold a sample at the same timestamp, the first source
//! listed wins, so the primary storage is listed first.

use std::collections::BTreeMap;

use beacon_model::{Labels, Matcher};

use crate::{LabelHints, Querier, Queryable, Result, SampleValue, Series, ValueType, VecIterator};

/// Merges reads over several queryables.
pub struct Fanout {
    sources: Vec<Box<dyn Queryable>>,
}

impl Fanout {
    /// A fanout over `sources`, primary first.
    pub fn new(sources: Vec<Box<dyn Queryable>>) -> Fanout {
        Fanout { sources }
    }
}

struct FanoutQuerier {
    queriers: Vec<Box<dyn Querier>>,
}

fn drain(series: &mut Series) -> Vec<(i64, SampleValue)> {
    let mut out = Vec::new();
    loop {
        let v = match series.samples.next() {
            ValueType::None => break,
            ValueType::Float => {
                let (t, v) = series.samples.at();
                (t, SampleValue::Float(v))
            }
            ValueType::Histogram => {
                let (t, h) = series.samples.at_histogram();
                (t, SampleValue::Histogram(h.into()))
            }
            ValueType::FloatHistogram => {
                let (t, h) = series.samples.at_float_histogram();
                (t, SampleValue::FloatHistogram(h.into()))
            }
        };
        out.push(v);
    }
    out
}

impl Querier for FanoutQuerier {
    fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
        if self.queriers.len() == 1 {
            return self.queriers[0].select(matchers);
        }
        let mut merged: BTreeMap<Labels, Vec<(i64, SampleValue)>> = BTreeMap::new();
        for q in &self.queriers {
            for mut s in q.select(matchers)? {
                let samples = drain(&mut s);
                let slot = merged.entry(s.labels).or_default();
                if slot.is_empty() {
                    *slot = samples;
                    continue;
                }
                // Keep the earlier source's sample on equal timestamps.
                let mut all = std::mem::take(slot);
                all.extend(samples);
                all.sort_by_key(|s| s.0);
                all.dedup_by_key(|s| s.0);
                *slot = all;
            }
        }
        Ok(merged
            .into_iter()
            .map(|(labels, samples)| Series {
                labels,
                samples: Box::new(VecIterator::new(samples)),
            })
            .collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        hints: &LabelHints,
    ) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for q in &self.queriers {
            all.extend(q.label_values(name, matchers, hints)?);
        }
        Ok(sorted_limited(all, hints.limit))
    }

    fn label_names(&self, matchers: &[Matcher], hints: &LabelHints) -> Result<Vec<String>> {
        let mut all = Vec::new();
        for q in &self.queriers {
            all.extend(q.label_names(matchers, hints)?);
        }
        Ok(sorted_limited(all, hints.limit))
    }
}

fn sorted_limited(mut v: Vec<String>, limit: usize) -> Vec<String> {
    v.sort();
    v.dedup();
    if limit > 0 {
        v.truncate(limit);
    }
    v
}

impl Queryable for Fanout {
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>> {
        let queriers = self
            .sources
            .iter()
            .map(|s| s.querier(mint, maxt))
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(FanoutQuerier { queriers }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Appendable, MemStorage};
    use beacon_model::SeriesRef;

    #[test]
    fn merges_and_primary_wins() {
        let a = MemStorage::new();
        let b = MemStorage::new();
        let l = Labels::from_pairs([("__name__", "x")]);
        {
            let mut app = a.appender();
            app.append(SeriesRef::NONE, &l, 10, 1.0).unwrap();
            app.commit().unwrap();
            let mut app = b.appender();
            app.append(SeriesRef::NONE, &l, 10, 9.0).unwrap();
            app.append(SeriesRef::NONE, &l, 20, 2.0).unwrap();
            app.commit().unwrap();
        }
        let f = Fanout::new(vec![Box::new(a), Box::new(b)]);
        let mut s = f.querier(0, 100).unwrap().select(&[]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            drain(&mut s[0]),
            vec![(10, SampleValue::Float(1.0)), (20, SampleValue::Float(2.0))]
        );
    }
}
