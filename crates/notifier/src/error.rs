//! The notifier's error type: what went wrong configuring an Alertmanager
//! set or delivering a batch to one Alertmanager.

use std::time::Duration;

/// Everything that can fail in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An `alertmanagers` entry cannot be used (its HTTP client settings or
    /// its discovery settings were refused).
    #[error("alertmanager set {set}: {source}")]
    Set {
        /// The set's name, `config-<index>` as in Prometheus.
        set: String,
        #[source]
        source: beacon_discovery::Error,
    },
    /// The request to an Alertmanager failed before a response arrived
    /// (connection refused, TLS, an OAuth 2 token that could not be had).
    #[error("sending {count} alerts to {url}: {source}")]
    Request {
        url: String,
        count: usize,
        #[source]
        source: beacon_discovery::Error,
    },
    /// The Alertmanager did not answer within the set's `timeout`.
    #[error("sending {count} alerts to {url}: no response within {timeout:?}")]
    Timeout {
        url: String,
        count: usize,
        timeout: Duration,
    },
    /// The Alertmanager answered with a status other than 2xx.
    #[error("sending {count} alerts to {url}: bad response status {status}")]
    Status {
        url: String,
        count: usize,
        status: reqwest::StatusCode,
    },
    /// The batch could not be encoded as JSON (never expected: labels are
    /// strings).
    #[error("encoding alerts as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
