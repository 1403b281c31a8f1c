//! Exposition formats: how metrics travel from a target to a scraper.
//!
//! A target answers a scrape with one of three bodies: Prometheus text
//! 0.0.4, OpenMetrics 1.0 text, or delimited protobuf
//! `io.prometheus.client.MetricFamily` messages (the only one that carries
//! native histograms). This crate reads and writes all three.
//!
//! **Reading** is a pull parser per format ([`TextParser`],
//! [`OpenMetricsParser`], [`ProtobufParser`], or [`Parser`] to choose at
//! run time). Each is an iterator of [`Entry`] values in input order:
//! metadata (`Help`, `Type`, `Unit`), float samples, native histograms
//! and OpenMetrics' `Eof`. A text sample borrows from the body: its raw
//! series text (a scrape cache keys on it and skips everything else for
//! series it has seen), name, value, timestamp and exemplar; labels are
//! built as `beacon_model::Labels` only when asked
//! ([`FloatSample::to_labels`]). Parsers never panic, stop at the first
//! error, and report it as `line:col: what is wrong`. Memory stays bounded
//! by named limits: [`LINE_BYTES_MAX`], [`LABELS_PER_SERIES_MAX`],
//! [`PROTOBUF_MESSAGE_BYTES_MAX`].
//!
//! OpenMetrics has two modes: [`OpenMetricsMode::Lenient`] checks the
//! syntax exactly and is the scrape path; [`OpenMetricsMode::Strict`]
//! enforces the whole specification (family grouping, value and label
//! rules per type, histogram consistency) and passes the OpenMetrics
//! conformance suite.
//!
//! **Writing** is [`encode::encode`] for both text formats and
//! [`encode_protobuf`]; [`parse_to_families`] is the inverse, grouping a
//! body back into [`family::MetricFamily`] values for tests and tools.
//! [`negotiate`] builds a scraper's `Accept` header, picks the parser for
//! a `Content-Type`, and picks an exporter's format for an `Accept`.
//! [`check_metrics`] lints a body like `promtool check metrics`.
//!
//! ```
//! use beacon_exposition::{Entry, OpenMetricsMode, OpenMetricsParser};
//!
//! let body = b"# TYPE http_requests counter\n\
//!              http_requests_total{code=\"200\"} 1027 1700000000.5 # {trace_id=\"a1\"} 1\n\
//!              ## EOF\n"; // `##`: rustdoc would hide a line starting `# `
//! let mut samples = Vec::new();
//! for entry in OpenMetricsParser::new(body, OpenMetricsMode::Strict) {
//!     match entry.unwrap() {
//!         Entry::Sample(s) => {
//!             assert_eq!(s.series, r#"http_requests_total{code="200"}"#);
//!             assert_eq!(s.timestamp_ms, Some(1_700_000_000_500));
//!             assert_eq!(s.exemplar.as_ref().map(|e| e.value), Some(1.0));
//!             samples.push((s.to_labels().to_string(), s.value));
//!         }
//!         Entry::Type { name, .. } => assert_eq!(name, "http_requests"),
//!         Entry::Eof => {}
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! assert_eq!(samples, [(r#"http_requests_total{code="200"}"#.to_string(), 1027.0)]);
//!
//! let bad = beacon_exposition::TextParser::new(b"up{job=\"a\" 1\n").next().unwrap();
//! assert_eq!(bad.unwrap_err().to_string(), "1:12: expected ',' or '}' in label set");
//! ```
//!
//! **Testing.** `tests/openmetrics_conformance.rs` runs the OpenMetrics
//! suite against the strict parser (and reports the lenient one) and
//! fails below the committed baseline. `fuzz/` is a cargo-fuzz project
//! with one target per parser (`cargo fuzz run text|openmetrics|protobuf`,
//! nightly); its seeds replay in `tests/fuzz_seeds.rs` on stable.
//! `benches/parse.rs` measures throughput in CPU time.
//!
//! The encoders, as exporters use them:
//!
//! ```
//! use beacon_exposition::encode::{Format, encode};
//! use beacon_exposition::family::MetricFamily;
//! use beacon_model::{Labels, MetricType};
//!
//! let mut f = MetricFamily::new("up", "Target is up.", MetricType::Gauge);
//! f.push_value(Labels::empty(), 1.0);
//! assert_eq!(encode(Format::Text004, &[f]), "# HELP up Target is up.\n# TYPE up gauge\nup 1\n");
//! ```

pub mod encode;
pub mod entry;
mod error;
pub mod families;
pub mod family;
#[doc(hidden)]
pub mod fuzzing;
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
pub use families::{parse_to_families, sample_belongs_to};
pub use lint::{LintProblem, check_metrics};
pub use om_strict::EXEMPLAR_LABEL_CHARS_MAX;
pub use openmetrics::{OpenMetricsMode, OpenMetricsParser};
pub use parser::{ParseFormat, Parser};
pub use protobuf::{ProtobufParser, encode_protobuf};
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
