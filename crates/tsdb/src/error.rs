//! The TSDB's error type. Every variant names what an operator needs to act:
//! the file, the byte offset, the limit that was hit.

use std::path::{Path, PathBuf};

use beacon_storage::AppendError;

/// Errors from the TSDB.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt data in {path} at offset {offset}: {reason}")]
    Corruption {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("data directory {path} is locked by another process")]
    Locked { path: PathBuf },
    #[error("invalid option {name}: {reason}")]
    InvalidOption { name: &'static str, reason: String },
    #[error("query range [{mint}, {maxt}] is invalid")]
    InvalidRange { mint: i64, maxt: i64 },
    #[error("database is closed")]
    Closed,
    #[error("WAL record of {len} bytes exceeds the limit of {limit} bytes")]
    RecordTooLarge { len: usize, limit: usize },
    #[error("head chunk of {len} bytes exceeds the head chunk file limit of {limit} bytes")]
    HeadChunkTooLarge { len: usize, limit: u64 },
}

/// The TSDB's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Corruption in `path` at `offset`.
    pub fn corruption(path: impl AsRef<Path>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption {
            path: path.as_ref().to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }
}

impl From<Error> for beacon_storage::Error {
    fn from(e: Error) -> beacon_storage::Error {
        match e {
            Error::Append(a) => beacon_storage::Error::Append(a),
            Error::Io { path, source } => beacon_storage::Error::Io {
                path: path.display().to_string(),
                source,
            },
            Error::Corruption {
                path,
                offset,
                reason,
            } => beacon_storage::Error::Corruption {
                path: path.display().to_string(),
                offset,
                reason,
            },
            Error::InvalidRange { mint, maxt } => {
                beacon_storage::Error::InvalidRange { mint, maxt }
            }
            Error::Closed => beacon_storage::Error::Closed,
            other => beacon_storage::Error::Other(other.to_string()),
        }
    }
}
