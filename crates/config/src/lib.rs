//! prometheus.yml: configuration types, loading, validation and relabelling
mod error;
mod yaml;
pub use error::{Error, Result};
pub mod relabel;
