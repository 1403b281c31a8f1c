//! The scrape crate's errors. A scrape error becomes the target's
//! `lastError` on the targets page, so each variant reads as a sentence an
//! operator can act on and names the limit or position involved.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a scrape (or target setup) failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request could not be sent or the response not read.
    #[error("{0}")]
    Http(String),
    /// The target answered with a status other than 200.
    #[error("server returned HTTP status {0}")]
    Status(String),
    /// The scrape took longer than `scrape_timeout`.
    #[error("scrape timed out after {timeout_ms}ms")]
    Timeout { timeout_ms: i64 },
    /// The response's `Content-Type` does not say how to parse it and the
    /// job has no `fallback_scrape_protocol`.
    #[error(
        "non-compliant scrape target sending {problem} and no fallback_scrape_protocol specified for target"
    )]
    ContentType { problem: String },
    /// The (decompressed) body is larger than `body_size_limit`.
    #[error("body size limit exceeded: more than {limit_bytes} bytes")]
    BodySizeLimit { limit_bytes: usize },
    /// The body is not a valid exposition.
    #[error("parsing {format} exposition: {source}")]
    Parse {
        format: &'static str,
        #[source]
        source: beacon_exposition::Error,
    },
    /// More samples than `sample_limit` survived metric relabelling.
    #[error("sample_limit exceeded: more than {limit} samples")]
    SampleLimit { limit: usize },
    /// A series has more labels than `label_limit`.
    #[error("label_limit exceeded (metric: {metric}, number of labels: {count}, limit: {limit})")]
    LabelLimit {
        metric: String,
        count: usize,
        limit: usize,
    },
    /// A label name is longer than `label_name_length_limit`.
    #[error(
        "label_name_length_limit exceeded (metric: {metric}, label name: {name}, limit: {limit})"
    )]
    LabelNameLength {
        metric: String,
        name: String,
        limit: usize,
    },
    /// A label value is longer than `label_value_length_limit`.
    #[error("label_value_length_limit exceeded (metric: {metric}, label: {name}, limit: {limit})")]
    LabelValueLength {
        metric: String,
        name: String,
        limit: usize,
    },
    /// The same series appears twice in one scrape.
    #[error("duplicate series in one scrape: {series}")]
    DuplicateSeries { series: String },
    /// A series has no metric name after relabelling.
    #[error("series without a metric name after relabelling: {series}")]
    NoMetricName { series: String },
    /// The pool has more targets than `target_limit`.
    #[error("target_limit exceeded (number of targets: {count}, limit: {limit})")]
    TargetLimit { count: usize, limit: usize },
    /// The storage refused the batch.
    #[error("appending to storage: {0}")]
    Storage(String),
    /// A target's labels are unusable (no address, bad interval, ...).
    #[error("invalid target {labels}: {reason}")]
    InvalidTarget { labels: String, reason: String },
    /// The scrape configuration cannot be turned into a client.
    #[error("scrape config for job {job}: {reason}")]
    Config { job: String, reason: String },
}
