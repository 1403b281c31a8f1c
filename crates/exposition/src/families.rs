//! Reassembles parsed entries into [`MetricFamily`] values: the
//! convenience view for tests and tools (`parse_to_families`), and the
//! inverse of the encoders.
//!
//! Samples join the current family when their name is the family name
//! plus a suffix its type owns; otherwise they start a family of unknown
//! type. Within a family, samples with the same labels (less `le`,
//! `quantile` or the state label) and timestamp form one [`Metric`].
//! OpenMetrics counter and info families get their `_total`/`_info`
//! suffix back in the family name, so both text formats give one shape.
//! Float native histograms from protobuf have no place in `MetricValue`
//! and are left out.

use std::collections::HashMap;

use beacon_model::{Labels, MetricType};

use crate::entry::{Entry, FloatSample, NativeHistogram};
use crate::error::Result;
use crate::family::{Bucket, Metric, MetricFamily, MetricValue, Quantile};
use crate::om_strict::{parse_le, sample_suffix};
use crate::parser::{ParseFormat, Parser};

/// Whether a sample named `sample` belongs to family `family` of type
/// `t` as `format` names samples (OpenMetrics counters own `_total` and
/// `_created`, histograms `_bucket`/`_count`/`_sum`, and so on). A scraper
/// uses it to attach metadata to samples.
pub fn sample_belongs_to(family: &str, t: MetricType, sample: &str, format: ParseFormat) -> bool {
    let om = matches!(
        format,
        ParseFormat::OpenMetrics | ParseFormat::OpenMetricsStrict
    );
    sample_suffix(family, t, sample, om).is_some()
}

/// Parses a whole body and groups it into families.
pub fn parse_to_families(format: ParseFormat, input: &[u8]) -> Result<Vec<MetricFamily>> {
    let om = matches!(
        format,
        ParseFormat::OpenMetrics | ParseFormat::OpenMetricsStrict
    );
    let mut b = Builder {
        om,
        families: Vec::new(),
        index: HashMap::new(),
    };
    for e in Parser::new(format, input) {
        b.entry(e?);
    }
    Ok(b.finish())
}

struct Builder {
    /// OpenMetrics naming (counter samples carry `_total`).
    om: bool,
    families: Vec<MetricFamily>,
    /// Metric index by (labels, timestamp) in the last family.
    index: HashMap<(Labels, Option<i64>), usize>,
}

impl Builder {
    fn current(&mut self, name: &str) -> &mut MetricFamily {
        if self
            .families
            .last()
            .is_none_or(|f| f.name != name || !f.metrics.is_empty())
        {
            self.index.clear();
            self.families
                .push(MetricFamily::new(name, "", MetricType::Unknown));
        }
        let last = self.families.len() - 1;
        &mut self.families[last]
    }

    fn entry(&mut self, e: Entry<'_>) {
        match e {
            Entry::Help { name, help } => self.current(&name).help = help.into_owned(),
            Entry::Type { name, metric_type } => self.current(&name).metric_type = metric_type,
            Entry::Unit { name, unit } => self.current(&name).unit = unit.into_owned(),
            Entry::Sample(s) => self.sample(&s),
            Entry::Histogram(h) => {
                let h = *h;
                if let NativeHistogram::Int(nh) = h.histogram {
                    if self.families.last().is_none_or(|f| f.name != h.name) {
                        self.index.clear();
                        let f = MetricFamily::new(h.name.as_str(), "", MetricType::Histogram);
                        self.families.push(f);
                    }
                    let m = self.metric(h.labels, h.timestamp_ms, MetricType::Histogram);
                    if let MetricValue::Histogram {
                        native, count, sum, ..
                    } = &mut m.value
                    {
                        *count = nh.count as f64;
                        *sum = nh.sum;
                        *native = Some(Box::new(nh));
                    }
                }
            }
            Entry::Eof => {}
        }
    }

    /// The family `sample` belongs to, and the suffix it has there.
    fn family_for(&mut self, sample: &str, default: MetricType) -> &'static str {
        let om = self.om;
        if let Some(s) = self
            .families
            .last()
            .and_then(|f| sample_suffix(&f.name, f.metric_type, sample, om))
        {
            return s;
        }
        self.index.clear();
        self.families.push(MetricFamily::new(sample, "", default));
        ""
    }

    /// The metric with `labels` at `ts` in the last family, made if new.
    fn metric(&mut self, labels: Labels, ts: Option<i64>, t: MetricType) -> &mut Metric {
        let last = self.families.len() - 1;
        let f = &mut self.families[last];
        let i = *self.index.entry((labels.clone(), ts)).or_insert_with(|| {
            f.metrics.push(Metric {
                labels,
                value: empty_value(t),
                timestamp_ms: ts,
            });
            f.metrics.len() - 1
        });
        &mut f.metrics[i]
    }

    fn sample(&mut self, s: &FloatSample<'_>) {
        let suffix = self.family_for(&s.name, MetricType::Unknown);
        let last = self.families.len() - 1;
        let (t, fname) = (
            self.families[last].metric_type,
            self.families[last].name.clone(),
        );
        let special = match t {
            MetricType::Histogram | MetricType::GaugeHistogram if suffix == "_bucket" => Some("le"),
            MetricType::Summary if suffix.is_empty() => Some("quantile"),
            MetricType::StateSet => Some(fname.as_str()),
            _ => None,
        };
        let all = s.labels.to_labels(None);
        let special_value = special.and_then(|n| all.get(n).map(str::to_owned));
        let labels = match special {
            Some(n) => all.drop_names(&[n]),
            None => all,
        };
        let exemplar = s.exemplar.as_ref().map(|e| e.to_model());
        let m = self.metric(labels, s.timestamp_ms, t);
        place(&mut m.value, suffix, s.value, special_value, exemplar);
    }

    fn finish(mut self) -> Vec<MetricFamily> {
        if self.om {
            for f in &mut self.families {
                let sfx = match f.metric_type {
                    MetricType::Counter => "_total",
                    MetricType::Info => "_info",
                    _ => continue,
                };
                f.name.push_str(sfx);
            }
        }
        self.families
    }
}

fn empty_value(t: MetricType) -> MetricValue {
    match t {
        MetricType::Counter => MetricValue::Counter {
            value: 0.0,
            created_s: None,
            exemplar: None,
        },
        MetricType::Gauge => MetricValue::Gauge(0.0),
        MetricType::Unknown => MetricValue::Unknown(0.0),
        MetricType::Info => MetricValue::Info,
        MetricType::StateSet => MetricValue::StateSet(Vec::new()),
        MetricType::Summary => MetricValue::Summary {
            count: 0.0,
            sum: 0.0,
            quantiles: Vec::new(),
            created_s: None,
        },
        MetricType::Histogram | MetricType::GaugeHistogram => MetricValue::Histogram {
            count: 0.0,
            sum: 0.0,
            buckets: Vec::new(),
            created_s: None,
            native: None,
        },
    }
}

/// Puts one sample's value where its suffix says.
fn place(
    m: &mut MetricValue,
    suffix: &str,
    v: f64,
    special: Option<String>,
    exemplar: Option<beacon_model::Exemplar>,
) {
    match m {
        MetricValue::Counter {
            value,
            created_s,
            exemplar: ex,
        } => {
            if suffix == "_created" {
                *created_s = Some(v);
            } else {
                *value = v;
                *ex = exemplar;
            }
        }
        MetricValue::Gauge(x) | MetricValue::Unknown(x) => *x = v,
        MetricValue::Info => {}
        MetricValue::StateSet(states) => states.push((special.unwrap_or_default(), v != 0.0)),
        MetricValue::Summary {
            count,
            sum,
            quantiles,
            created_s,
        } => match suffix {
            "_count" => *count = v,
            "_sum" => *sum = v,
            "_created" => *created_s = Some(v),
            _ => quantiles.push(Quantile {
                quantile: special
                    .as_deref()
                    .and_then(|q| crate::lex::parse_value(q.as_bytes()))
                    .unwrap_or(f64::NAN),
                value: v,
            }),
        },
        MetricValue::Histogram {
            count,
            sum,
            buckets,
            created_s,
            ..
        } => match suffix {
            "_count" | "_gcount" => *count = v,
            "_sum" | "_gsum" => *sum = v,
            "_created" => *created_s = Some(v),
            _ => buckets.push(Bucket {
                upper_bound: special
                    .as_deref()
                    .and_then(|l| parse_le(l).or_else(|| crate::lex::parse_value(l.as_bytes())))
                    .unwrap_or(f64::NAN),
                cumulative_count: v,
                exemplar,
            }),
        },
    }
}
