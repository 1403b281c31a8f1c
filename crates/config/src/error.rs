//! The config crate's error type: every problem names the file and, when it
//! comes from the YAML, the `line:col` of the offending node.

use std::path::PathBuf;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than `limit_bytes`, the most Beacon reads as config.
    #[error("{}: file is {size_bytes} bytes, larger than the {limit_bytes}-byte limit for configuration files", path.display())]
    TooLarge {
        path: PathBuf,
        size_bytes: u64,
        limit_bytes: u64,
    },
    /// The YAML is malformed, breaks a parser limit (alias bombs, depth), or
    /// a value is of the wrong type, unknown, or fails validation.
    #[error("{origin}:{line}:{col}: {msg}")]
    At {
        /// The file name (or the name given to `from_yaml_str`).
        origin: String,
        /// 1-based line; 0 when the problem concerns the whole document.
        line: u32,
        /// 1-based column.
        col: u32,
        msg: String,
    },
    /// A file glob (`scrape_config_files`, `rule_files`) is malformed.
    #[error("{origin}: invalid glob pattern {pattern:?}: {reason}")]
    Glob {
        origin: String,
        pattern: String,
        reason: String,
    },
}

impl Error {
    /// The `(line, col)` of a positioned error.
    pub fn position(&self) -> Option<(u32, u32)> {
        match self {
            Error::At { line, col, .. } => Some((*line, *col)),
            _ => None,
        }
    }

    /// The message without file and position.
    pub fn message(&self) -> String {
        match self {
            Error::At { msg, .. } => msg.clone(),
            other => other.to_string(),
        }
    }
}

/// The config crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
