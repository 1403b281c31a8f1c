//! The rules crate's errors: loading rule files (with `file:line:col`),
//! parsing templates, and evaluating rules.

/// Why loading, parsing or evaluating rules failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A rule file could not be read.
    #[error("{file}: {msg}")]
    Io { file: String, msg: String },
    /// A rule file is larger than [`crate::RULE_FILE_MAX_BYTES`].
    #[error("{file}: file is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { file: String, size: u64, limit: u64 },
    /// A `rule_files` pattern is malformed.
    #[error("{pattern}: invalid glob: {msg}")]
    Glob { pattern: String, msg: String },
    /// The YAML itself is malformed, or a key or value is of the wrong kind.
    #[error("{file}:{line}:{col}: {msg}")]
    Yaml {
        file: String,
        line: u32,
        col: u32,
        msg: String,
    },
    /// Semantic problems found by validation, one message per problem, each
    /// already prefixed with its position like promtool prints them.
    #[error("{}", .errors.iter().map(|e| format!("{file}: {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid { file: String, errors: Vec<String> },
    /// A template does not parse (or uses something Beacon does not support).
    #[error("template: {name}:{line}: {msg}")]
    Template {
        name: String,
        line: usize,
        msg: String,
    },
    /// A template failed while executing.
    #[error("template: {name}:{line}: executing {name:?}: {msg}")]
    TemplateExec {
        name: String,
        line: usize,
        msg: String,
    },
    /// The rule's query failed.
    #[error(transparent)]
    Query(#[from] beacon_promql::Error),
    /// A rule's result could not be written.
    #[error("{0}")]
    Storage(String),
    /// A rule produced something it must not (a duplicate series, a string).
    #[error("{0}")]
    Eval(String),
}

impl From<beacon_storage::Error> for Error {
    fn from(e: beacon_storage::Error) -> Error {
        Error::Storage(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
