//! `load_with_nhcb`: turning classic histogram series (`X_bucket` with `le`,
//! `X_count`, `X_sum`) into native histograms with custom buckets
//! (schema −53), one per base name, label set and timestamp.
//!
//! Bucket series are cumulative; the native histogram stores each bucket's
//! own count, so consecutive counts are subtracted. The bound `+Inf` is
//! implicit: the last custom bound is the highest finite `le`. A missing
//! `+Inf` bucket is taken from the count; a missing count from the highest
//! bucket. Inconsistent input (decreasing counts, a count that disagrees
//! with the `+Inf` bucket) fails the load, as upstream's conversion does.

use std::collections::BTreeMap;

use beacon_model::histogram::CUSTOM_BUCKETS_SCHEMA;
use beacon_model::{FloatHistogram, Labels, Span};

use crate::histogram::compact;

/// The classic-histogram data collected for one timestamp.
#[derive(Debug, Default)]
struct Collected {
    /// Cumulative counts by upper bound (duplicates: the first one wins).
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
}

impl Collected {
    fn add_bucket(&mut self, le: f64, c: f64) {
        if !self.buckets.iter().any(|(b, _)| *b == le) {
            self.buckets.push((le, c));
        }
    }

    fn convert(mut self) -> Result<FloatHistogram, String> {
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((le, c)) = self.buckets.iter().find(|(_, c)| *c < 0.0) {
            return Err(format!(
                "bucket count must be non-negative: le={le}, count={c}"
            ));
        }
        if let Some(w) = self.buckets.windows(2).find(|w| w[1].1 < w[0].1) {
            return Err(format!("count is not cumulative: {} < {}", w[1].1, w[0].1));
        }
        let count = match (self.count, self.buckets.last()) {
            (Some(c), _) if c < 0.0 => return Err(format!("count must be non-negative: {c}")),
            (Some(c), _) => c,
            (None, Some((_, c))) => *c,
            (None, None) => return Err("count must be provided when no buckets are present".into()),
        };
        if self
            .buckets
            .last()
            .is_none_or(|(le, _)| *le != f64::INFINITY)
        {
            self.buckets.push((f64::INFINITY, count));
        }
        let last = self.buckets[self.buckets.len() - 1].1;
        if last != count {
            return Err(format!(
                "count mismatch: count={count} != le=+Inf count={last}"
            ));
        }
        let mut prev = 0.0;
        let mut counts = Vec::with_capacity(self.buckets.len());
        let mut bounds = Vec::with_capacity(self.buckets.len());
        for (le, c) in &self.buckets {
            counts.push(c - prev);
            prev = *c;
            if le.is_finite() {
                bounds.push(*le);
            }
        }
        let h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum: self.sum,
            positive_spans: vec![Span {
                offset: 0,
                length: counts.len() as u32,
            }],
            positive_buckets: counts,
            custom_values: bounds,
            ..Default::default()
        };
        Ok(compact(&h))
    }
}

/// Float samples of one series.
pub type FloatSeries = (Labels, Vec<(i64, f64)>);
/// Histogram samples of one series.
pub type HistogramSeries = (Labels, Vec<(i64, FloatHistogram)>);

/// What a classic series contributes.
enum Part {
    Bucket(f64),
    Count,
    Sum,
}

/// The base series a classic series belongs to and its part, or `None` for
/// other series (and for buckets whose `le` is missing, unparsable or NaN).
fn classify(labels: &Labels) -> Option<(Labels, Part)> {
    let name = labels.metric_name()?;
    let (base, part) = if let Some(b) = name.strip_suffix("_bucket") {
        let le = parse_le(labels.get("le")?)?;
        (b, Part::Bucket(le))
    } else if let Some(b) = name.strip_suffix("_count") {
        (b, Part::Count)
    } else if let Some(b) = name.strip_suffix("_sum") {
        (b, Part::Sum)
    } else {
        return None;
    };
    let mut builder = labels.builder();
    builder.set("__name__", base).del("le");
    Some((builder.build(), part))
}

/// Reads an `le` value like Go's `ParseFloat` (`+Inf`, `inf`, `1e3`, …).
fn parse_le(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// Converts the float samples of every classic histogram series in
/// `series` into custom-bucket native histogram series.
pub fn convert(series: &[FloatSeries]) -> Result<Vec<HistogramSeries>, String> {
    let mut groups: BTreeMap<Labels, BTreeMap<i64, Collected>> = BTreeMap::new();
    for (labels, samples) in series {
        let Some((base, part)) = classify(labels) else {
            continue;
        };
        let by_time = groups.entry(base).or_default();
        for (t, v) in samples {
            let c = by_time.entry(*t).or_default();
            match part {
                Part::Bucket(le) => c.add_bucket(le, *v),
                Part::Count => c.count = Some(*v),
                Part::Sum => c.sum = *v,
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (base, by_time) in groups {
        let mut samples = Vec::with_capacity(by_time.len());
        for (t, c) in by_time {
            let h = c.convert().map_err(|e| format!("{base} at t={t}: {e}"))?;
            samples.push((t, h));
        }
        out.push((base, samples));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::format_histogram;

    fn l(name: &str, le: Option<&str>) -> Labels {
        let mut pairs = vec![("__name__", name), ("job", "a")];
        if let Some(le) = le {
            pairs.push(("le", le));
        }
        Labels::from_pairs(pairs)
    }

    fn check(series: &[(Labels, Vec<(i64, f64)>)], expected: &str) {
        let got = match convert(series) {
            Ok(v) => v
                .iter()
                .map(|(l, s)| {
                    let items: Vec<String> = s
                        .iter()
                        .map(|(t, h)| format!("{t}:{}", format_histogram(h)))
                        .collect();
                    format!("{l} {}", items.join(" "))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn buckets_count_and_sum_become_one_histogram() {
        check(
            &[
                (l("x_bucket", Some("0.1")), vec![(0, 1.0)]),
                (l("x_bucket", Some("1")), vec![(0, 3.0)]),
                (l("x_bucket", Some("+Inf")), vec![(0, 4.0)]),
                (l("x_count", None), vec![(0, 4.0)]),
                (l("x_sum", None), vec![(0, 2.5)]),
                (l("other", None), vec![(0, 9.0)]),
            ],
            r#"x{job="a"} 0:{{schema:-53 count:4 sum:2.5 custom_values:[0.1 1] buckets:[1 2 1]}}"#,
        );
    }

    #[test]
    fn missing_inf_bucket_comes_from_count_and_nan_le_is_skipped() {
        check(
            &[
                (l("x_bucket", Some("1")), vec![(0, 3.0)]),
                (l("x_bucket", Some("NaN")), vec![(0, 3.0)]),
                (l("x_count", None), vec![(0, 5.0)]),
            ],
            r#"x{job="a"} 0:{{schema:-53 count:5 sum:0 custom_values:[1] buckets:[3 2]}}"#,
        );
    }

    #[test]
    fn inconsistent_input_fails() {
        check(
            &[
                (l("x_bucket", Some("1")), vec![(0, 3.0)]),
                (l("x_bucket", Some("2")), vec![(0, 2.0)]),
            ],
            r#"error: x{job="a"} at t=0: count is not cumulative: 2 < 3"#,
        );
        check(
            &[
                (l("x_bucket", Some("+Inf")), vec![(0, 3.0)]),
                (l("x_count", None), vec![(0, 4.0)]),
            ],
            r#"error: x{job="a"} at t=0: count mismatch: count=4 != le=+Inf count=3"#,
        );
    }
}
