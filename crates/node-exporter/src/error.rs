//! Errors of the node exporter library: reading `/proc` and `/sys`, parsing
//! their contents, compiling filter patterns and serving HTTP.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with the file, line or flag an operator needs to look at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than the exporter is willing to read.
    #[error("{} is larger than the {limit_bytes}-byte limit", path.display())]
    TooLarge { path: PathBuf, limit_bytes: u64 },
    /// A file's contents did not have the expected shape.
    #[error("{}:{line}: {msg}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    /// The kernel does not provide what a collector reads; the collector
    /// reports failure without logging an error.
    #[error("no data: {} does not exist", path.display())]
    NoData { path: PathBuf },
    /// A filter pattern given on the command line does not compile.
    #[error("flag {flag}: invalid regular expression {pattern:?}: {msg}")]
    Regex {
        flag: &'static str,
        pattern: String,
        msg: String,
    },
    /// A flag's value is not usable.
    #[error("flag --{flag}: invalid value {value:?}: {msg}")]
    Flag {
        flag: &'static str,
        value: String,
        msg: String,
    },
    /// The command line could not be parsed.
    #[error("{arg}: {msg}")]
    Usage { arg: String, msg: String },
    /// A system call failed.
    #[error("{call}: {source}")]
    Sys {
        call: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A collector did not finish within its timeout.
    #[error("collector {collector} did not finish within {timeout_ms} ms")]
    Timeout {
        collector: &'static str,
        timeout_ms: u64,
    },
    /// A collector is still stuck in an earlier scrape; it is not started again.
    #[error("collector {collector} is still running from an earlier scrape")]
    StillRunning { collector: &'static str },
    /// The web configuration file is invalid or asks for something unsupported.
    #[error("--web.config.file {}: {msg}", path.display())]
    WebConfig { path: PathBuf, msg: String },
}

impl Error {
    /// True when the error only means "this kernel lacks the data".
    pub fn is_no_data(&self) -> bool {
        match self {
            Error::NoData { .. } => true,
            Error::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }

    pub(crate) fn parse(path: &std::path::Path, line: usize, msg: impl Into<String>) -> Error {
        Error::Parse {
            path: path.to_path_buf(),
            line,
            msg: msg.into(),
        }
    }
}
