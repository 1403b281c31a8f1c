//! The protobuf exposition format: a stream of varint-length-delimited
//! `io.prometheus.client.MetricFamily` messages (content type
//! `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited`).
//!
//! [`ProtobufParser`] yields the same [`Entry`] values as the text parsers:
//! metadata, float samples (summaries and classic histograms flattened to
//! `_bucket`/`_sum`/`_count` series as Prometheus does) and native
//! histograms. [`encode_protobuf`] writes families in this format.

use std::borrow::Cow;
use std::collections::VecDeque;

use beacon_model::{CounterResetHint, FloatHistogram, Histogram, Labels, MetricType, Span};
use prost::Message;

use crate::PROTOBUF_MESSAGE_BYTES_MAX;
use crate::encode::openmetrics_float;
use crate::entry::{Entry, ExemplarRef, FloatSample, HistogramSample, LabelsRef, NativeHistogram};
use crate::error::{Error, Result};
use crate::family::{Bucket, Metric, MetricFamily, MetricValue, Quantile};
use crate::proto;

/// Content type of the delimited protobuf format.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// Parses the delimited protobuf format; iterate it for [`Entry`] values.
/// After the first error it yields nothing more.
#[derive(Debug)]
pub struct ProtobufParser<'a> {
    input: &'a [u8],
    pos: usize,
    queue: VecDeque<Entry<'a>>,
    classic: bool,
    done: bool,
}

impl<'a> ProtobufParser<'a> {
    /// A parser over `input`. Classic buckets of native histograms are
    /// skipped unless [`ProtobufParser::with_classic_histograms`] says so.
    pub fn new(input: &'a [u8]) -> ProtobufParser<'a> {
        ProtobufParser {
            input,
            pos: 0,
            queue: VecDeque::new(),
            classic: false,
            done: false,
        }
    }

    /// Also yield the classic `_bucket` series of histograms that are
    /// native too (Prometheus's `always_scrape_classic_histograms`).
    pub fn with_classic_histograms(mut self, yes: bool) -> Self {
        self.classic = yes;
        self
    }

    /// Decodes the next family into the queue.
    fn decode_next(&mut self) -> Result<bool> {
        if self.pos >= self.input.len() {
            return Ok(false);
        }
        let offset = self.pos;
        let mut rest = &self.input[self.pos..];
        let before = rest.len();
        let len = prost::encoding::decode_varint(&mut rest).map_err(|e| Error::Protobuf {
            offset,
            msg: format!("bad length prefix: {e}"),
        })?;
        if len > PROTOBUF_MESSAGE_BYTES_MAX as u64 {
            return Err(Error::MessageTooLarge {
                offset,
                size: len,
                limit: PROTOBUF_MESSAGE_BYTES_MAX,
            });
        }
        let len = len as usize;
        if len > rest.len() {
            return Err(Error::Protobuf {
                offset,
                msg: format!("message of {len} bytes is cut short at {}", rest.len()),
            });
        }
        let msg = &rest[..len];
        self.pos += before - rest.len() + len;
        let fam = proto::MetricFamily::decode(msg).map_err(|e| Error::Protobuf {
            offset,
            msg: e.to_string(),
        })?;
        family_entries(&fam, self.classic, &mut self.queue)
            .map_err(|msg| Error::Protobuf { offset, msg })?;
        Ok(true)
    }
}

impl<'a> Iterator for ProtobufParser<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            match self.decode_next() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

fn metric_type(t: Option<i32>) -> Result<MetricType, String> {
    Ok(
        match proto::MetricType::try_from(t.unwrap_or(0))
            .map_err(|_| format!("unknown metric type {t:?}"))?
        {
            proto::MetricType::Counter => MetricType::Counter,
            proto::MetricType::Gauge => MetricType::Gauge,
            proto::MetricType::Summary => MetricType::Summary,
            proto::MetricType::Untyped => MetricType::Unknown,
            proto::MetricType::Histogram => MetricType::Histogram,
            proto::MetricType::GaugeHistogram => MetricType::GaugeHistogram,
        },
    )
}

fn labels_of(pairs: &[proto::LabelPair]) -> Result<Labels, String> {
    if pairs.len() > crate::LABELS_PER_SERIES_MAX {
        return Err(format!(
            "more than {} labels in one series",
            crate::LABELS_PER_SERIES_MAX
        ));
    }
    // Sort and compare neighbours: linear-logarithmic even for a hostile
    // message with thousands of labels per metric.
    let mut v: Vec<(&str, &str)> = Vec::with_capacity(pairs.len());
    for p in pairs {
        let n = p.name.as_deref().unwrap_or("");
        if n.is_empty() || n == beacon_model::METRIC_NAME {
            return Err(format!("invalid label name {n:?}"));
        }
        let value = p.value.as_deref().unwrap_or("");
        // Prometheus drops labels with empty values.
        if !value.is_empty() {
            v.push((n, value));
        }
    }
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if let Some(w) = v.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("duplicate label name {:?}", w[0].0));
    }
    Ok(Labels::from_sorted(v))
}

fn exemplar_of(e: &proto::Exemplar) -> Result<beacon_model::Exemplar, String> {
    Ok(beacon_model::Exemplar {
        labels: labels_of(&e.label)?,
        value: e.value.unwrap_or(0.0),
        t: e.timestamp.map(proto::Timestamp::to_ms),
    })
}

/// Everything a float sample of one metric shares.
struct Ctx<'m> {
    name: &'m str,
    labels: &'m Labels,
    timestamp_ms: Option<i64>,
}

impl Ctx<'_> {
    fn sample(
        &self,
        suffix: &str,
        extra: Option<(&str, String)>,
        value: f64,
        exemplar: Option<beacon_model::Exemplar>,
        created_ms: Option<i64>,
    ) -> Entry<'static> {
        let name = format!("{}{suffix}", self.name);
        let labels = match extra {
            None => self.labels.clone(),
            Some((n, v)) => {
                let mut b = self.labels.builder();
                b.set(n, &v);
                b.build()
            }
        };
        let series = labels.to_labels_string(&name);
        Entry::Sample(FloatSample {
            series: Cow::Owned(series),
            name: Cow::Owned(name),
            labels: LabelsRef::Owned(labels),
            value,
            timestamp_ms: self.timestamp_ms,
            exemplar: exemplar.map(|e| {
                Box::new(ExemplarRef {
                    labels: LabelsRef::Owned(e.labels),
                    value: e.value,
                    timestamp_ms: e.t,
                })
            }),
            created_ms,
            line: 0,
        })
    }
}

/// Renders a series canonically for [`FloatSample::series`].
trait SeriesText {
    fn to_labels_string(&self, name: &str) -> String;
}

impl SeriesText for Labels {
    fn to_labels_string(&self, name: &str) -> String {
        let mut b = self.builder();
        b.set(beacon_model::METRIC_NAME, name);
        b.build().to_string()
    }
}

fn family_entries<'a>(
    f: &proto::MetricFamily,
    classic: bool,
    out: &mut VecDeque<Entry<'a>>,
) -> Result<(), String> {
    let name = f.name.as_deref().unwrap_or("");
    if name.is_empty() {
        return Err("metric family without a name".into());
    }
    let t = metric_type(f.r#type)?;
    if let Some(h) = f.help.as_deref() {
        out.push_back(Entry::Help {
            name: Cow::Owned(name.to_owned()),
            help: Cow::Owned(h.to_owned()),
        });
    }
    out.push_back(Entry::Type {
        name: Cow::Owned(name.to_owned()),
        metric_type: t,
    });
    if let Some(u) = f.unit.as_deref().filter(|u| !u.is_empty()) {
        out.push_back(Entry::Unit {
            name: Cow::Owned(name.to_owned()),
            unit: Cow::Owned(u.to_owned()),
        });
    }
    for m in &f.metric {
        let labels = labels_of(&m.label)?;
        let ctx = Ctx {
            name,
            labels: &labels,
            timestamp_ms: m.timestamp_ms,
        };
        metric_entries(&ctx, t, m, classic, out)?;
    }
    Ok(())
}

fn metric_entries<'a>(
    ctx: &Ctx<'_>,
    t: MetricType,
    m: &proto::Metric,
    classic: bool,
    out: &mut VecDeque<Entry<'a>>,
) -> Result<(), String> {
    match t {
        MetricType::Counter => {
            let c = m
                .counter
                .as_ref()
                .ok_or("counter metric without a counter")?;
            let ex = c.exemplar.as_ref().map(exemplar_of).transpose()?;
            let created = c.created_timestamp.map(proto::Timestamp::to_ms);
            out.push_back(ctx.sample("", None, c.value.unwrap_or(0.0), ex, created));
        }
        MetricType::Gauge => {
            let g = m.gauge.as_ref().ok_or("gauge metric without a gauge")?;
            out.push_back(ctx.sample("", None, g.value.unwrap_or(0.0), None, None));
        }
        MetricType::Summary => {
            let s = m
                .summary
                .as_ref()
                .ok_or("summary metric without a summary")?;
            let created = s.created_timestamp.map(proto::Timestamp::to_ms);
            for q in &s.quantile {
                let qs = openmetrics_float(q.quantile.unwrap_or(0.0));
                let v = q.value.unwrap_or(0.0);
                out.push_back(ctx.sample("", Some(("quantile", qs)), v, None, created));
            }
            out.push_back(ctx.sample("_sum", None, s.sample_sum.unwrap_or(0.0), None, created));
            let count = s.sample_count.unwrap_or(0) as f64;
            out.push_back(ctx.sample("_count", None, count, None, created));
        }
        MetricType::Histogram | MetricType::GaugeHistogram => {
            let h = m
                .histogram
                .as_ref()
                .ok_or("histogram metric without a histogram")?;
            histogram_entries(ctx, t, h, classic, out)?;
        }
        _ => {
            let u = m.untyped.as_ref().ok_or("untyped metric without a value")?;
            out.push_back(ctx.sample("", None, u.value.unwrap_or(0.0), None, None));
        }
    }
    Ok(())
}

fn histogram_entries<'a>(
    ctx: &Ctx<'_>,
    t: MetricType,
    h: &proto::Histogram,
    classic: bool,
    out: &mut VecDeque<Entry<'a>>,
) -> Result<(), String> {
    let created = h.created_timestamp.map(proto::Timestamp::to_ms);
    let native = h.is_native();
    if native {
        let nh = native_histogram(h, t)?;
        let exemplars = h
            .exemplars
            .iter()
            .map(exemplar_of)
            .collect::<Result<_, _>>()?;
        out.push_back(Entry::Histogram(Box::new(HistogramSample {
            series: ctx.labels.to_labels_string(ctx.name),
            name: ctx.name.to_owned(),
            labels: ctx.labels.clone(),
            histogram: nh,
            timestamp_ms: ctx.timestamp_ms,
            created_ms: created,
            exemplars,
        })));
        if !classic || h.bucket.is_empty() {
            return Ok(());
        }
    }
    let count = h
        .sample_count_float
        .filter(|c| *c > 0.0 || h.sample_count.is_none())
        .unwrap_or(h.sample_count.unwrap_or(0) as f64);
    let mut saw_inf = false;
    for b in &h.bucket {
        let ub = b.upper_bound.unwrap_or(0.0);
        saw_inf |= ub == f64::INFINITY;
        let v = b
            .cumulative_count_float
            .filter(|c| *c > 0.0 || b.cumulative_count.is_none())
            .unwrap_or(b.cumulative_count.unwrap_or(0) as f64);
        let ex = b.exemplar.as_ref().map(exemplar_of).transpose()?;
        out.push_back(ctx.sample(
            "_bucket",
            Some(("le", openmetrics_float(ub))),
            v,
            ex,
            created,
        ));
    }
    if !saw_inf {
        out.push_back(ctx.sample("_bucket", Some(("le", "+Inf".into())), count, None, created));
    }
    let (sum_sfx, count_sfx) = if t == MetricType::GaugeHistogram {
        ("_gsum", "_gcount")
    } else {
        ("_sum", "_count")
    };
    out.push_back(ctx.sample(sum_sfx, None, h.sample_sum.unwrap_or(0.0), None, created));
    out.push_back(ctx.sample(count_sfx, None, count, None, created));
    Ok(())
}

fn spans(s: &[proto::BucketSpan]) -> Vec<Span> {
    s.iter()
        .map(|s| Span {
            offset: s.offset.unwrap_or(0),
            length: s.length.unwrap_or(0),
        })
        .collect()
}

fn native_histogram(h: &proto::Histogram, t: MetricType) -> Result<NativeHistogram, String> {
    let hint = if t == MetricType::GaugeHistogram {
        CounterResetHint::Gauge
    } else {
        CounterResetHint::Unknown
    };
    let schema = h.schema.unwrap_or(0);
    let custom_values: Vec<f64> = Vec::new();
    let float = h.sample_count_float.is_some()
        || h.zero_count_float.is_some()
        || !h.positive_count.is_empty()
        || !h.negative_count.is_empty();
    let nh = if float {
        let f = FloatHistogram {
            counter_reset_hint: hint,
            schema,
            zero_threshold: h.zero_threshold.unwrap_or(0.0),
            zero_count: h.zero_count_float.unwrap_or(0.0),
            count: h.sample_count_float.unwrap_or(0.0),
            sum: h.sample_sum.unwrap_or(0.0),
            positive_spans: spans(&h.positive_span),
            negative_spans: spans(&h.negative_span),
            positive_buckets: h.positive_count.clone(),
            negative_buckets: h.negative_count.clone(),
            custom_values,
        };
        f.validate().map_err(|e| e.to_string())?;
        NativeHistogram::Float(f)
    } else {
        let i = Histogram {
            counter_reset_hint: hint,
            schema,
            zero_threshold: h.zero_threshold.unwrap_or(0.0),
            zero_count: h.zero_count.unwrap_or(0),
            count: h.sample_count.unwrap_or(0),
            sum: h.sample_sum.unwrap_or(0.0),
            positive_spans: spans(&h.positive_span),
            negative_spans: spans(&h.negative_span),
            positive_buckets: h.positive_delta.clone(),
            negative_buckets: h.negative_delta.clone(),
            custom_values,
        };
        i.validate().map_err(|e| e.to_string())?;
        NativeHistogram::Int(i)
    };
    Ok(nh)
}

/// Encodes `families` as delimited protobuf messages.
pub fn encode_protobuf(families: &[MetricFamily]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in families {
        let msg = to_proto(f);
        // Writing to a Vec cannot fail.
        let _ = msg.encode_length_delimited(&mut out);
    }
    out
}

fn pairs(l: &Labels) -> Vec<proto::LabelPair> {
    l.iter()
        .filter(|l| l.name != beacon_model::METRIC_NAME)
        .map(|l| proto::LabelPair {
            name: Some(l.name.to_owned()),
            value: Some(l.value.to_owned()),
        })
        .collect()
}

fn ex_to_proto(e: &beacon_model::Exemplar) -> proto::Exemplar {
    proto::Exemplar {
        label: pairs(&e.labels),
        value: Some(e.value),
        timestamp: e.t.map(proto::Timestamp::from_ms),
    }
}

/// A count as protobuf carries it: integer when it is one.
fn count_fields(c: f64) -> (Option<u64>, Option<f64>) {
    if c >= 0.0 && c.fract() == 0.0 && c < 1.8e19 {
        (Some(c as u64), None)
    } else {
        (None, Some(c))
    }
}

fn created(c: Option<f64>) -> Option<proto::Timestamp> {
    c.map(|s| proto::Timestamp::from_ms(crate::openmetrics::seconds_to_ms(s)))
}

fn to_proto(f: &MetricFamily) -> proto::MetricFamily {
    let t = match f.metric_type {
        MetricType::Counter => proto::MetricType::Counter,
        MetricType::Gauge | MetricType::Info | MetricType::StateSet => proto::MetricType::Gauge,
        MetricType::Summary => proto::MetricType::Summary,
        MetricType::Histogram => proto::MetricType::Histogram,
        MetricType::GaugeHistogram => proto::MetricType::GaugeHistogram,
        MetricType::Unknown => proto::MetricType::Untyped,
    };
    let mut metrics = Vec::new();
    for m in &f.metrics {
        metric_to_proto(f, m, &mut metrics);
    }
    proto::MetricFamily {
        name: Some(f.name.clone()),
        help: (!f.help.is_empty()).then(|| f.help.clone()),
        r#type: Some(t as i32),
        metric: metrics,
        unit: (!f.unit.is_empty()).then(|| f.unit.clone()),
    }
}

fn metric_to_proto(f: &MetricFamily, m: &Metric, out: &mut Vec<proto::Metric>) {
    let base = proto::Metric {
        label: pairs(&m.labels),
        timestamp_ms: m.timestamp_ms,
        ..Default::default()
    };
    let gauge = |v: f64| proto::Gauge { value: Some(v) };
    match &m.value {
        MetricValue::Counter {
            value,
            created_s,
            exemplar,
        } => out.push(proto::Metric {
            counter: Some(proto::Counter {
                value: Some(*value),
                exemplar: exemplar.as_ref().map(ex_to_proto),
                created_timestamp: created(*created_s),
            }),
            ..base
        }),
        MetricValue::Gauge(v) => out.push(proto::Metric {
            gauge: Some(gauge(*v)),
            ..base
        }),
        MetricValue::Unknown(v) => out.push(proto::Metric {
            untyped: Some(proto::Untyped { value: Some(*v) }),
            ..base
        }),
        MetricValue::Info => out.push(proto::Metric {
            gauge: Some(gauge(1.0)),
            ..base
        }),
        MetricValue::StateSet(states) => {
            for (state, on) in states {
                let mut b = m.labels.builder();
                b.set(&f.name, state);
                out.push(proto::Metric {
                    label: pairs(&b.build()),
                    gauge: Some(gauge(if *on { 1.0 } else { 0.0 })),
                    ..base.clone()
                });
            }
        }
        MetricValue::Summary {
            count,
            sum,
            quantiles,
            created_s,
        } => out.push(proto::Metric {
            summary: Some(proto::Summary {
                sample_count: Some(*count as u64),
                sample_sum: Some(*sum),
                quantile: quantiles
                    .iter()
                    .map(|q: &Quantile| proto::Quantile {
                        quantile: Some(q.quantile),
                        value: Some(q.value),
                    })
                    .collect(),
                created_timestamp: created(*created_s),
            }),
            ..base
        }),
        MetricValue::Histogram {
            count,
            sum,
            buckets,
            created_s,
            native,
        } => out.push(proto::Metric {
            histogram: Some(histogram_to_proto(
                *count,
                *sum,
                buckets,
                *created_s,
                native.as_deref(),
            )),
            ..base
        }),
    }
}

fn histogram_to_proto(
    count: f64,
    sum: f64,
    buckets: &[Bucket],
    created_s: Option<f64>,
    native: Option<&Histogram>,
) -> proto::Histogram {
    let (c, cf) = count_fields(count);
    let mut h = proto::Histogram {
        sample_count: c,
        sample_count_float: cf,
        sample_sum: Some(sum),
        bucket: buckets
            .iter()
            .map(|b| {
                let (c, cf) = count_fields(b.cumulative_count);
                proto::Bucket {
                    cumulative_count: c,
                    cumulative_count_float: cf,
                    upper_bound: Some(b.upper_bound),
                    exemplar: b.exemplar.as_ref().map(ex_to_proto),
                }
            })
            .collect(),
        created_timestamp: created(created_s),
        ..Default::default()
    };
    if let Some(n) = native {
        let span = |s: &Span| proto::BucketSpan {
            offset: Some(s.offset),
            length: Some(s.length),
        };
        h.schema = Some(n.schema);
        h.zero_threshold = Some(n.zero_threshold);
        h.zero_count = Some(n.zero_count);
        h.positive_span = n.positive_spans.iter().map(span).collect();
        h.negative_span = n.negative_spans.iter().map(span).collect();
        h.positive_delta = n.positive_buckets.clone();
        h.negative_delta = n.negative_buckets.clone();
        if h.positive_span.is_empty() && h.negative_span.is_empty() {
            // Marks an empty native histogram, as client_golang does.
            h.positive_span.push(proto::BucketSpan {
                offset: Some(0),
                length: Some(0),
            });
        }
    }
    h
}
