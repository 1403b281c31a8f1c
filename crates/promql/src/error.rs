//! Error types: parse errors with line:column positions, and evaluation
//! errors whose text matches Prometheus's (test scripts compare it exactly).

/// A syntax or type error found while parsing, at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: parse error: {msg}")]
pub struct ParseError {
    /// Byte offset of the problem in the input.
    pub pos: usize,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in bytes from the start of the line.
    pub col: usize,
    /// What is wrong, without position.
    pub msg: String,
}

impl ParseError {
    /// Builds an error at byte offset `pos` of `input`.
    pub fn at(input: &str, pos: usize, msg: impl Into<String>) -> ParseError {
        let pos = pos.min(input.len());
        let before = &input.as_bytes()[..pos];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        ParseError {
            pos,
            line,
            col: pos - line_start + 1,
            msg: msg.into(),
        }
    }
}

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The query would hold more samples than `EngineOptions::max_samples`.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples { limit: usize },
    /// The query ran longer than `EngineOptions::timeout`.
    #[error("query timed out in query execution")]
    Timeout,
    /// The query's cancellation token was triggered.
    #[error("query was canceled in query execution")]
    Canceled,
    /// Reading from storage failed.
    #[error("{0}")]
    Storage(String),
    /// Any other evaluation error, with Prometheus's text.
    #[error("{0}")]
    Eval(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
