//! The data model every other Beacon crate speaks: labels, matchers,
//! timestamps, samples, metric metadata and native histograms.
//!
//! This crate does no I/O and has no async code. It sits at layer 0: every
//! other crate may depend on it, and it depends on none of ours.
//!
//! ```
//! use beacon_model::{Labels, Matcher, MatchType};
//!
//! let series = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
//! let m = Matcher::new(MatchType::Regex, "job", "no.*").unwrap();
//! assert!(m.matches(series.get("job").unwrap_or("")));
//! assert_eq!(series.to_string(), r#"up{job="node"}"#);
//! ```

pub mod duration;
mod error;
mod float;
pub mod histogram;
mod labels;
mod matcher;
mod metadata;
pub mod regex;
mod sample;
mod validate;

pub use duration::{PromDuration, format_duration_ms, parse_duration_ms};
pub use error::{Error, Result};
pub use float::format_float;
pub use histogram::{Bucket, CounterResetHint, FloatHistogram, Histogram, Span};
pub use labels::{Label, Labels, LabelsBuilder, LabelsIter};
pub use matcher::{MatchType, Matcher};
pub use metadata::{Metadata, MetricType};
pub use regex::StringMatcher;
pub use sample::{Exemplar, STALE_NAN_BITS, Sample, SeriesRef, Timestamp, is_stale_nan, stale_nan};
pub use validate::{
    NameValidation, is_valid_legacy_label_name, is_valid_legacy_metric_name, is_valid_utf8_name,
};

/// The label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";
/// The label that holds a bucket's upper bound in classic histograms.
pub const BUCKET_LABEL: &str = "le";
/// The label that holds a summary's quantile.
pub const QUANTILE_LABEL: &str = "quantile";
