//! Beacon's embedded time-series database: head, WAL, chunks, blocks,
//! compaction and retention.

pub mod chunk;
pub mod encoding;
mod error;

pub use error::{Error, Result};
pub mod head;
pub mod iter;
pub mod postings;
pub mod record;
pub mod series;
pub mod wal;
