//! The discovery crate's error type: what failed, where, and why.

use std::path::PathBuf;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a provider could not produce target groups.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A target group list (file or HTTP body) is not valid JSON or YAML of
    /// the expected shape.
    #[error("{source_name}: invalid target groups: {reason}")]
    InvalidGroups { source_name: String, reason: String },

    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file SD path has an extension other than .json, .yml or .yaml.
    #[error("{}: file_sd files must end in .json, .yml or .yaml", path.display())]
    BadExtension { path: PathBuf },

    /// An HTTP request failed before a response arrived.
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },

    /// A request failed before a response arrived; `timed_out` tells a
    /// timeout from the rest.
    #[error("{url}: {reason}")]
    Request {
        url: String,
        reason: String,
        timed_out: bool,
    },

    /// No OAuth2 token could be obtained.
    #[error("oauth2 token from {token_url}: {reason}")]
    OAuth2 { token_url: String, reason: String },

    /// An HTTP endpoint answered with an unexpected status.
    #[error("{url}: server returned HTTP status {status}")]
    HttpStatus { url: String, status: u16 },

    /// A response body was larger than the limit.
    #[error("{url}: response body exceeds {limit_bytes} bytes")]
    BodyTooLarge { url: String, limit_bytes: usize },

    /// A DNS lookup failed.
    #[error("DNS lookup of {name} ({record_type}) failed: {reason}")]
    Dns {
        name: String,
        record_type: String,
        reason: String,
    },

    /// No AWS credentials could be found in any source of the chain.
    #[error("no AWS credentials: {reason}")]
    NoCredentials { reason: String },

    /// An AWS API call failed.
    #[error("AWS {action} at {endpoint}: {reason}")]
    Aws {
        action: String,
        endpoint: String,
        reason: String,
    },

    /// A setting is invalid (for example a missing region).
    #[error("invalid {provider} config: {reason}")]
    Config { provider: String, reason: String },
}
