//! Storage errors, with Prometheus's append error kinds.

/// Why an append was refused. The messages match Prometheus's, since they
/// surface in scrape errors and remote-write responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("out of order sample")]
    OutOfOrderSample,
    #[error("out of bounds")]
    OutOfBounds,
    #[error("duplicate sample for timestamp")]
    DuplicateSampleForTimestamp,
    #[error("out of order exemplar")]
    OutOfOrderExemplar,
    /// The exemplar's label names and values together hold more than
    /// [`EXEMPLAR_LABEL_CHARS_MAX`](crate::EXEMPLAR_LABEL_CHARS_MAX)
    /// characters (OpenMetrics's limit; the count is carried).
    #[error(
        "label length for exemplar exceeds maximum of {max} UTF-8 characters ({0} given)",
        max = crate::EXEMPLAR_LABEL_CHARS_MAX
    )]
    ExemplarLabelLength(usize),
    #[error("invalid histogram: {0}")]
    InvalidHistogram(String),
    #[error("label set has duplicate label name {0:?}")]
    DuplicateLabel(String),
    #[error("empty label set")]
    EmptyLabels,
    #[error("label set exceeds limit: {0}")]
    LimitExceeded(String),
}

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("corrupt data in {path} at offset {offset}: {reason}")]
    Corruption {
        path: String,
        offset: u64,
        reason: String,
    },
    #[error("query range [{mint}, {maxt}] is invalid")]
    InvalidRange { mint: i64, maxt: i64 },
    #[error("storage closed")]
    Closed,
    #[error("{0}")]
    Other(String),
}

/// The storage crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
