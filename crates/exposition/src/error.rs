//! The exposition crate's error type.
//!
//! Text errors print as `line:col: what is wrong` (both 1-based, the
//! column counted in characters) so an operator can open the scraped body
//! and go straight to the problem. Protobuf errors name the byte offset of
//! the length-delimited message that failed.

/// What can go wrong while parsing an exposition.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input breaks the format's syntax or, in strict OpenMetrics
    /// mode, one of its rules about families, values or labels.
    #[error("{line}:{col}: {msg}")]
    Syntax { line: u32, col: u32, msg: String },
    /// A line is longer than [`crate::LINE_BYTES_MAX`].
    #[error("{line}:1: line is longer than the limit of {limit} bytes")]
    LineTooLong { line: u32, limit: usize },
    /// A series carries more labels than [`crate::LABELS_PER_SERIES_MAX`].
    #[error("{line}:{col}: more than {limit} labels in one series")]
    TooManyLabels { line: u32, col: u32, limit: usize },
    /// The input is not valid UTF-8.
    #[error("{line}:{col}: invalid UTF-8")]
    InvalidUtf8 { line: u32, col: u32 },
    /// A protobuf message could not be decoded.
    #[error("protobuf message at offset {offset}: {msg}")]
    Protobuf { offset: usize, msg: String },
    /// A protobuf message is larger than [`crate::PROTOBUF_MESSAGE_BYTES_MAX`].
    #[error("protobuf message at offset {offset}: {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        offset: usize,
        size: u64,
        limit: usize,
    },
}

impl Error {
    /// The `(line, col)` the error points at, for text formats.
    pub fn position(&self) -> Option<(u32, u32)> {
        match self {
            Error::Syntax { line, col, .. }
            | Error::TooManyLabels { line, col, .. }
            | Error::InvalidUtf8 { line, col } => Some((*line, *col)),
            Error::LineTooLong { line, .. } => Some((*line, 1)),
            Error::Protobuf { .. } | Error::MessageTooLarge { .. } => None,
        }
    }
}

/// The exposition crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
