//! The model crate's error type.

/// What can go wrong when building model values from untrusted input.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// A regular expression did not compile, or used syntax Go's RE2 lacks.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    /// A label name is empty or outside the allowed character set.
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
    /// A metric name is empty or outside the allowed character set.
    #[error("invalid metric name {0:?}")]
    InvalidMetricName(String),
    /// The same label name appears twice in one label set.
    #[error("duplicate label name {0:?}")]
    DuplicateLabel(String),
    /// A duration is not in Prometheus's syntax (`1h30m`, `5m`, `100ms`).
    #[error("not a valid duration string: {0:?}")]
    InvalidDuration(String),
    /// A histogram's spans and buckets disagree, or its schema is unknown.
    #[error("invalid histogram: {0}")]
    InvalidHistogram(String),
}

/// The model crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
