//! The remote crate's errors: what can be wrong with a remote-write body
//! before any of it reaches storage.

/// Why a remote-write request body was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The snappy block says it expands to more than the limit.
    #[error("snappy: decoded size {size} bytes exceeds the limit of {limit} bytes")]
    DecodedTooLarge { size: usize, limit: usize },
    /// The body is not a valid snappy block.
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    /// The decoded bytes are not the protobuf message the Content-Type names.
    #[error("decoding {message}: {source}")]
    Protobuf {
        message: &'static str,
        source: prost::DecodeError,
    },
    /// A 2.0 reference points past the end of the symbols table.
    #[error("symbol reference {index} out of range: the symbols table has {len} entries")]
    SymbolOutOfRange { index: u32, len: usize },
    /// A 2.0 label reference list has an odd length (name without value).
    #[error("labels_refs has odd length {0}")]
    OddLabelRefs(usize),
}

/// The remote crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
