//! API errors: Prometheus's error types, their HTTP status codes, and the
//! crate's own error for serving (bind, TLS) failures.

use std::fmt;

use axum::http::StatusCode;

/// The `errorType` values of Prometheus's API, with their status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// Invalid parameters or query: 400.
    BadData,
    /// The query failed while running: 422.
    Execution,
    /// The query ran out of time: 503.
    Timeout,
    /// The query was cancelled: 503.
    Canceled,
    /// A server-side failure: 500.
    Internal,
    /// Something asked for does not exist: 404.
    NotFound,
    /// The feature is off or the server is not ready: 503.
    Unavailable,
}

impl ErrorType {
    /// The `errorType` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Unavailable => "unavailable",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Canceled | ErrorType::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }
}

/// One failed API call: its type and the message clients see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ErrorType,
    pub msg: String,
}

impl ApiError {
    pub fn new(kind: ErrorType, msg: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            msg: msg.into(),
        }
    }

    /// A `bad_data` error.
    pub fn bad_data(msg: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::BadData, msg)
    }

    /// Prometheus's wording for a parameter that failed to parse.
    pub fn invalid_param(param: &str, err: impl fmt::Display) -> ApiError {
        ApiError::bad_data(format!("invalid parameter {param:?}: {err}"))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.msg)
    }
}

/// Failures of the web server itself (not of one request).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("invalid --web.cors.origin regex {pattern:?}: {reason}")]
    CorsOrigin { pattern: String, reason: String },
    #[error("invalid route prefix {0:?}: it must start with '/'")]
    RoutePrefix(String),
    #[error("TLS setup from {path}: {reason}")]
    Tls { path: String, reason: String },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
