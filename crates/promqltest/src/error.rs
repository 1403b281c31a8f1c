//! Errors of the test-script runner: script syntax (with line and column),
//! data that cannot be loaded, unreadable files and malformed skip lists.

use std::path::PathBuf;

/// Why a script, a skip list or a load could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The script does not follow the test-script grammar.
    #[error("line {line}:{col}: {msg}")]
    Parse {
        line: usize,
        col: usize,
        msg: String,
    },

    /// A `load` block produced data the storage refused, or a
    /// `load_with_nhcb` conversion failed.
    #[error("line {line}: load failed: {msg}")]
    Load { line: usize, msg: String },

    /// A file could not be read.
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A skip-list line is malformed (a reason is mandatory).
    #[error("{path}:{line}: bad skip entry: {msg}", path = path.display())]
    SkipList {
        path: PathBuf,
        line: usize,
        msg: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
