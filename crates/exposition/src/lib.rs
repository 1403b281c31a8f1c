//! Exposition formats: how metrics travel from a target to a scraper.

pub mod encode;
pub mod entry;
mod error;
pub mod families;
pub mod family;
mod lex;
pub mod lint;
pub mod negotiate;
mod om_strict;
pub mod openmetrics;
pub mod parser;
pub mod proto;
pub mod protobuf;
pub mod text;

pub use entry::{Entry, ExemplarRef, FloatSample, HistogramSample, LabelsRef, NativeHistogram};
pub use error::{Error, Result};
pub use families::parse_to_families;
pub use lint::{LintProblem, check_metrics};
pub use parser::{ParseFormat, Parser};
pub use protobuf::{ProtobufParser, encode_protobuf};
pub use om_strict::EXEMPLAR_LABEL_CHARS_MAX;
pub use openmetrics::{OpenMetricsMode, OpenMetricsParser};
pub use text::TextParser;

/// The longest line the text parsers accept, in bytes. Real lines are
/// well under a kilobyte; the limit bounds how far a parser reads into a
/// garbage or hostile body before giving up.
pub const LINE_BYTES_MAX: usize = 4 << 20;
/// The most labels one series (or exemplar) may carry. Prometheus's
/// default is unlimited, but a per-scrape `label_limit` is common and far
/// below this; the constant keeps a hostile line from costing much.
pub const LABELS_PER_SERIES_MAX: usize = 4096;
/// The largest single protobuf `MetricFamily` message accepted, in bytes.
pub const PROTOBUF_MESSAGE_BYTES_MAX: usize = 64 << 20;
