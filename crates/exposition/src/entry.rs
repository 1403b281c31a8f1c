//! What the pull parsers yield: metadata, float samples, native histogram
//! samples and the end marker.
//!
//! A text sample borrows everything from the input: the raw series text
//! (what a scrape cache keys on), the name, and the label block, which is
//! re-read only when asked ([`LabelsRef::to_labels`] builds
//! `beacon_model::Labels`). Protobuf samples own their data.

use std::borrow::Cow;

use beacon_model::{FloatHistogram, Histogram, Labels, MetricType};
use smallvec::SmallVec;

use crate::lex::{scan_label_name, scan_quoted, scan_quoted_flag, skip_ws, str_less, unescape};

/// One item of an exposition, in input order.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`, the text with escapes resolved.
    Help {
        name: Cow<'a, str>,
        help: Cow<'a, str>,
    },
    /// `# TYPE name type`; text 0.0.4's `untyped` is `Unknown`.
    Type {
        name: Cow<'a, str>,
        metric_type: MetricType,
    },
    /// OpenMetrics `# UNIT name unit`.
    Unit {
        name: Cow<'a, str>,
        unit: Cow<'a, str>,
    },
    /// One float sample.
    Sample(FloatSample<'a>),
    /// One native histogram (protobuf only); boxed, it is large.
    Histogram(Box<HistogramSample>),
    /// OpenMetrics `# EOF`.
    Eof,
}

/// A float sample.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatSample<'a> {
    /// The series exactly as written (`name{labels}`); for protobuf, a
    /// canonical rendering. Equal text means equal series, so a scrape
    /// cache can key on it without building `Labels`.
    pub series: Cow<'a, str>,
    /// The metric name, escapes resolved.
    pub name: Cow<'a, str>,
    /// The labels other than the name.
    pub labels: LabelsRef<'a>,
    pub value: f64,
    /// Milliseconds since the epoch (OpenMetrics seconds are converted,
    /// rounded to the millisecond).
    pub timestamp_ms: Option<i64>,
    /// Boxed: exemplars are rare and the sample stays small to move.
    pub exemplar: Option<Box<ExemplarRef<'a>>>,
    /// The creation time in milliseconds (protobuf `created_timestamp`).
    pub created_ms: Option<i64>,
    /// The 1-based input line; 0 for protobuf.
    pub line: u32,
}

/// An exemplar attached to a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct ExemplarRef<'a> {
    pub labels: LabelsRef<'a>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A native histogram sample from the protobuf format.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSample {
    /// A canonical rendering of the series, as for [`FloatSample::series`].
    pub series: String,
    pub name: String,
    /// The labels other than the name.
    pub labels: Labels,
    pub histogram: NativeHistogram,
    pub timestamp_ms: Option<i64>,
    pub created_ms: Option<i64>,
    pub exemplars: Vec<beacon_model::Exemplar>,
}

/// Integer or float counts, as the exposition sent them.
#[derive(Debug, Clone, PartialEq)]
pub enum NativeHistogram {
    Int(Histogram),
    Float(FloatHistogram),
}

/// A sample's labels, not yet materialised.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelsRef<'a> {
    /// The label block as written, braces included (empty when absent).
    /// It has been validated, so reading it again cannot fail.
    Text(&'a str),
    /// Labels already built (protobuf).
    Owned(Labels),
}

impl<'a> LabelsRef<'a> {
    /// No labels.
    pub const EMPTY: LabelsRef<'static> = LabelsRef::Text("");

    /// Calls `f` with each label pair (escapes resolved), in input order.
    pub fn for_each(&self, mut f: impl FnMut(&str, &str)) {
        match self {
            LabelsRef::Text(block) => {
                for (n, v) in TextLabels::new(block) {
                    f(&n, &v);
                }
            }
            LabelsRef::Owned(l) => l.iter().for_each(|l| f(l.name, l.value)),
        }
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        match self {
            LabelsRef::Text(block) => TextLabels::new(block).find(|(n, _)| n == name).map(|p| p.1),
            LabelsRef::Owned(l) => l.get(name).map(|v| Cow::Owned(v.to_owned())),
        }
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        match self {
            LabelsRef::Text(block) => TextLabels::new(block).count(),
            LabelsRef::Owned(l) => l.len(),
        }
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Builds `Labels`, adding `__name__` when `metric_name` is given.
    /// Labels with an empty value are dropped, as Prometheus does.
    pub fn to_labels(&self, metric_name: Option<&str>) -> Labels {
        let block = match self {
            LabelsRef::Owned(l) => {
                return match metric_name {
                    None => l.clone(),
                    Some(n) => {
                        let mut b = l.builder();
                        b.set(beacon_model::METRIC_NAME, n);
                        b.build()
                    }
                };
            }
            LabelsRef::Text(block) => block,
        };
        let mut pairs: SmallVec<[(Cow<'_, str>, Cow<'_, str>); 16]> = SmallVec::new();
        if let Some(n) = metric_name.filter(|n| !n.is_empty()) {
            pairs.push((Cow::Borrowed(beacon_model::METRIC_NAME), Cow::Borrowed(n)));
        }
        pairs.extend(TextLabels::new(block).filter(|(_, v)| !v.is_empty()));
        if !pairs.windows(2).all(|w| str_less(&w[0].0, &w[1].0)) {
            pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            // The parser rejects duplicates; keep the first if one slips by.
            pairs.dedup_by(|a, b| a.0 == b.0);
        }
        Labels::from_sorted(pairs.iter().map(|(n, v)| (&**n, &**v)))
    }
}

impl FloatSample<'_> {
    /// The full label set, `__name__` included.
    pub fn to_labels(&self) -> Labels {
        self.labels.to_labels(Some(&self.name))
    }
}

impl ExemplarRef<'_> {
    /// The model's exemplar type.
    pub fn to_model(&self) -> beacon_model::Exemplar {
        beacon_model::Exemplar {
            labels: self.labels.to_labels(None),
            value: self.value,
            t: self.timestamp_ms,
        }
    }
}

/// Reads the pairs of a validated label block again. It skips a leading
/// quoted metric name, and stops quietly at anything unexpected rather
/// than panicking (the block was validated, so that does not happen).
#[derive(Debug, Clone)]
pub struct TextLabels<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> TextLabels<'a> {
    /// Iterates the pairs of `block` (`{...}` as written, or empty).
    pub fn new(block: &'a str) -> TextLabels<'a> {
        TextLabels { s: block, pos: 0 }
    }
}

impl<'a> Iterator for TextLabels<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.s;
        let b = s.as_bytes();
        loop {
            while let Some(b' ' | b'\t' | b',' | b'{') = b.get(self.pos) {
                self.pos += 1;
            }
            let name = match b.get(self.pos)? {
                b'"' => {
                    let (raw, end) = scan_quoted(s, self.pos).ok()?;
                    self.pos = end;
                    unescape(raw, true)
                }
                _ => {
                    let end = scan_label_name(b, self.pos);
                    if end == self.pos {
                        self.pos = b.len();
                        return None;
                    }
                    let n = Cow::Borrowed(&s[self.pos..end]);
                    self.pos = end;
                    n
                }
            };
            self.pos = skip_ws(b, self.pos);
            if b.get(self.pos) == Some(&b'=') {
                self.pos = skip_ws(b, self.pos + 1);
                let (raw, end, escaped) = scan_quoted_flag(s, self.pos).ok()?;
                self.pos = end;
                let value = if escaped {
                    unescape(raw, true)
                } else {
                    Cow::Borrowed(raw)
                };
                return Some((name, value));
            }
            // A quoted metric name: not a label, go on.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_labels_materialise() {
        let l = LabelsRef::Text(r#"{"my.metric", b="2\"x", a="1",c=""}"#);
        assert_eq!(l.len(), 3);
        assert_eq!(l.get("b").as_deref(), Some("2\"x"));
        assert_eq!(
            l.to_labels(Some("my.metric")),
            Labels::from_pairs([("__name__", "my.metric"), ("a", "1"), ("b", "2\"x")])
        );
        assert!(LabelsRef::EMPTY.is_empty());
    }
}
