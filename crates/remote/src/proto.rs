//! The remote-write protobuf messages, written out by hand with
//! `prost::Message` so the build needs neither `protoc` nor a build script.
//!
//! Protocol 1.0 is `prometheus.WriteRequest` (prompb `remote.proto` and
//! `types.proto`); 2.0 is `io.prometheus.write.v2.Request`, which interns
//! every string in one symbols table and refers to it by index. Both share
//! the native histogram, bucket span and sample messages, which have the
//! same field numbers in the two schemas. Field numbers and types follow
//! the published schemas (proto3, so repeated scalars are packed).

use beacon_model::{
    CounterResetHint, FloatHistogram, Histogram as ModelHistogram, MetricType, Span,
};

/// The 1.0 message name, as Content-Type's `proto=` parameter spells it.
pub const V1_MESSAGE: &str = "prometheus.WriteRequest";
/// The 2.0 message name, as Content-Type's `proto=` parameter spells it.
pub const V2_MESSAGE: &str = "io.prometheus.write.v2.Request";

/// 1.0 `WriteRequest`. Field 2 is reserved.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// 1.0 `TimeSeries`: labels as name/value strings.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// 1.0 `Label`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `Sample` (1.0 and 2.0).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// 1.0 `Exemplar`. A zero timestamp means "not set".
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// 1.0 `MetricMetadata`: per metric family, not per series.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    #[prost(enumeration = "MetadataType", tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// The metric type enum; 1.0 `MetricMetadata.MetricType` and 2.0
/// `Metadata.MetricType` have the same numbers (0 is unknown/unspecified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetadataType {
    Unknown = 0,
    Counter = 1,
    Gauge = 2,
    Histogram = 3,
    GaugeHistogram = 4,
    Summary = 5,
    Info = 6,
    StateSet = 7,
}

impl MetadataType {
    /// The model's metric type; unknown numbers read as `Unknown`.
    pub fn to_model(raw: i32) -> MetricType {
        match MetadataType::try_from(raw).unwrap_or(MetadataType::Unknown) {
            MetadataType::Unknown => MetricType::Unknown,
            MetadataType::Counter => MetricType::Counter,
            MetadataType::Gauge => MetricType::Gauge,
            MetadataType::Histogram => MetricType::Histogram,
            MetadataType::GaugeHistogram => MetricType::GaugeHistogram,
            MetadataType::Summary => MetricType::Summary,
            MetadataType::Info => MetricType::Info,
            MetadataType::StateSet => MetricType::StateSet,
        }
    }

    /// The wire number for a model metric type.
    pub fn from_model(t: MetricType) -> i32 {
        let m = match t {
            MetricType::Unknown => MetadataType::Unknown,
            MetricType::Counter => MetadataType::Counter,
            MetricType::Gauge => MetadataType::Gauge,
            MetricType::Histogram => MetadataType::Histogram,
            MetricType::GaugeHistogram => MetadataType::GaugeHistogram,
            MetricType::Summary => MetadataType::Summary,
            MetricType::Info => MetadataType::Info,
            MetricType::StateSet => MetadataType::StateSet,
        };
        m as i32
    }
}

/// 2.0 `Request`. Fields 1 to 3 are reserved so a 1.0 body read as 2.0
/// decodes as an empty request rather than as garbage.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestV2 {
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeriesV2>,
}

/// 2.0 `TimeSeries`: labels as pairs of indexes into `symbols`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeriesV2 {
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<ExemplarV2>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<MetadataV2>,
    /// Milliseconds; zero means not set.
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// 2.0 `Exemplar`. A zero timestamp means "not set".
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExemplarV2 {
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// 2.0 `Metadata`: per series; help and unit are symbol references.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct MetadataV2 {
    #[prost(enumeration = "MetadataType", tag = "1")]
    pub r#type: i32,
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// `BucketSpan` (1.0 and 2.0).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// `Histogram.ResetHint` (1.0 and 2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResetHint {
    Unknown = 0,
    Yes = 1,
    No = 2,
    Gauge = 3,
}

/// The `count` oneof: an integer histogram sets `CountInt`, a float one
/// `CountFloat`; which one is set decides the histogram's kind.
#[derive(Clone, Copy, PartialEq, prost::Oneof)]
pub enum Count {
    #[prost(uint64, tag = "1")]
    Int(u64),
    #[prost(double, tag = "2")]
    Float(f64),
}

/// The `zero_count` oneof.
#[derive(Clone, Copy, PartialEq, prost::Oneof)]
pub enum ZeroCount {
    #[prost(uint64, tag = "6")]
    Int(u64),
    #[prost(double, tag = "7")]
    Float(f64),
}

/// A native histogram sample (1.0 and 2.0 `Histogram`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(oneof = "Count", tags = "1, 2")]
    pub count: Option<Count>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(oneof = "ZeroCount", tags = "6, 7")]
    pub zero_count: Option<ZeroCount>,
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    #[prost(enumeration = "ResetHint", tag = "14")]
    pub reset_hint: i32,
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
}

/// A decoded histogram sample: exactly one kind.
#[derive(Debug, Clone, PartialEq)]
pub enum HistogramValue {
    Int(ModelHistogram),
    Float(FloatHistogram),
}

fn spans_to_model(spans: &[BucketSpan]) -> Vec<Span> {
    spans
        .iter()
        .map(|s| Span {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn spans_from_model(spans: &[Span]) -> Vec<BucketSpan> {
    spans
        .iter()
        .map(|s| BucketSpan {
            offset: s.offset,
            length: s.length,
        })
        .collect()
}

fn hint_to_model(raw: i32) -> CounterResetHint {
    match ResetHint::try_from(raw).unwrap_or(ResetHint::Unknown) {
        ResetHint::Unknown => CounterResetHint::Unknown,
        ResetHint::Yes => CounterResetHint::CounterReset,
        ResetHint::No => CounterResetHint::NotCounterReset,
        ResetHint::Gauge => CounterResetHint::Gauge,
    }
}

fn hint_from_model(h: CounterResetHint) -> i32 {
    let r = match h {
        CounterResetHint::Unknown => ResetHint::Unknown,
        CounterResetHint::CounterReset => ResetHint::Yes,
        CounterResetHint::NotCounterReset => ResetHint::No,
        CounterResetHint::Gauge => ResetHint::Gauge,
    };
    r as i32
}

impl Histogram {
    /// True when the count is a float: the sender had a float histogram.
    pub fn is_float(&self) -> bool {
        matches!(self.count, Some(Count::Float(_)))
    }

    /// The model histogram. An integer histogram keeps its bucket deltas;
    /// a float one its absolute counts. Mixed oneofs read as Prometheus
    /// does: a count of the other kind reads as zero.
    pub fn to_model(&self) -> HistogramValue {
        let hint = hint_to_model(self.reset_hint);
        if self.is_float() {
            let count = match self.count {
                Some(Count::Float(c)) => c,
                _ => 0.0,
            };
            let zero_count = match self.zero_count {
                Some(ZeroCount::Float(c)) => c,
                _ => 0.0,
            };
            return HistogramValue::Float(FloatHistogram {
                counter_reset_hint: hint,
                schema: self.schema,
                zero_threshold: self.zero_threshold,
                zero_count,
                count,
                sum: self.sum,
                positive_spans: spans_to_model(&self.positive_spans),
                negative_spans: spans_to_model(&self.negative_spans),
                positive_buckets: self.positive_counts.clone(),
                negative_buckets: self.negative_counts.clone(),
                custom_values: self.custom_values.clone(),
            });
        }
        let count = match self.count {
            Some(Count::Int(c)) => c,
            _ => 0,
        };
        let zero_count = match self.zero_count {
            Some(ZeroCount::Int(c)) => c,
            _ => 0,
        };
        HistogramValue::Int(ModelHistogram {
            counter_reset_hint: hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count,
            count,
            sum: self.sum,
            positive_spans: spans_to_model(&self.positive_spans),
            negative_spans: spans_to_model(&self.negative_spans),
            positive_buckets: self.positive_deltas.clone(),
            negative_buckets: self.negative_deltas.clone(),
            custom_values: self.custom_values.clone(),
        })
    }

    /// The wire form of an integer histogram at time `t`.
    pub fn from_int(t: i64, h: &ModelHistogram) -> Histogram {
        Histogram {
            count: Some(Count::Int(h.count)),
            sum: h.sum,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: Some(ZeroCount::Int(h.zero_count)),
            negative_spans: spans_from_model(&h.negative_spans),
            negative_deltas: h.negative_buckets.clone(),
            negative_counts: Vec::new(),
            positive_spans: spans_from_model(&h.positive_spans),
            positive_deltas: h.positive_buckets.clone(),
            positive_counts: Vec::new(),
            reset_hint: hint_from_model(h.counter_reset_hint),
            timestamp: t,
            custom_values: h.custom_values.clone(),
        }
    }

    /// The wire form of a float histogram at time `t`.
    pub fn from_float(t: i64, h: &FloatHistogram) -> Histogram {
        Histogram {
            count: Some(Count::Float(h.count)),
            sum: h.sum,
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: Some(ZeroCount::Float(h.zero_count)),
            negative_spans: spans_from_model(&h.negative_spans),
            negative_deltas: Vec::new(),
            negative_counts: h.negative_buckets.clone(),
            positive_spans: spans_from_model(&h.positive_spans),
            positive_deltas: Vec::new(),
            positive_counts: h.positive_buckets.clone(),
            reset_hint: hint_from_model(h.counter_reset_hint),
            timestamp: t,
            custom_values: h.custom_values.clone(),
        }
    }
}
