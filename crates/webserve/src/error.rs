//! Errors of start-up validation and serving: each names the setting or
//! file at fault so a binary can print it as one line.

use std::path::PathBuf;

/// Everything that can go wrong while preparing or running a server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate, key or CA file could not be read.
    #[error("failed to read {field} ({path}): {source}")]
    ReadFile {
        field: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// PEM text held no usable item, or a malformed one.
    #[error("{field} ({origin}): {reason}")]
    Pem {
        field: &'static str,
        origin: String,
        reason: String,
    },
    /// The TLS settings are inconsistent or ask for something rustls lacks.
    #[error("tls_server_config: {0}")]
    TlsPolicy(String),
    /// rustls refused the certificate, key or CA set.
    #[error("tls_server_config: {context}: {source}")]
    Rustls {
        context: &'static str,
        source: rustls::Error,
    },
    /// A `basic_auth_users` entry is not a bcrypt hash.
    #[error("basic_auth_users: user {user:?}: invalid bcrypt hash: {reason}")]
    PasswordHash { user: String, reason: String },
    /// An `http_server_config.headers` entry is not a valid HTTP header.
    #[error("http_server_config.headers: {name:?}: {reason}")]
    Header { name: String, reason: String },
    /// The web config file could not be re-read.
    #[error("{0}")]
    Config(beacon_config::Error),
    /// The listener could not report its address.
    #[error("listener: {0}")]
    Listener(std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
