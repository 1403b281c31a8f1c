//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the seed
//! replay test (`tests/fuzz_seeds.rs`), so both exercise exactly the same
//! code. Each runs a parser over arbitrary bytes to the end, touches every
//! entry (labels materialised, exemplars converted), and checks
//! invariants that must hold for any input. Not part of the stable API.

use crate::entry::Entry;
use crate::parser::{ParseFormat, Parser};

/// Drains a parser; returns whether it got through without an error.
fn drain(format: ParseFormat, data: &[u8]) -> bool {
    let mut ok = true;
    for e in Parser::new(format, data) {
        match e {
            Ok(Entry::Sample(s)) => {
                let labels = s.to_labels();
                assert!(labels.len() <= crate::LABELS_PER_SERIES_MAX + 1);
                if let Some(e) = &s.exemplar {
                    let _ = e.to_model();
                }
            }
            Ok(_) => {}
            Err(e) => {
                // Every text error names a position inside the input.
                if let Some((line, col)) = e.position() {
                    assert!(line >= 1 && col >= 1, "{e}");
                }
                ok = false;
            }
        }
    }
    ok
}

/// The text 0.0.4 target.
pub fn text(data: &[u8]) {
    drain(ParseFormat::Text, data);
}

/// The OpenMetrics target: both modes; strict accepting implies lenient
/// accepting.
pub fn openmetrics(data: &[u8]) {
    let lenient = drain(ParseFormat::OpenMetrics, data);
    let strict = drain(ParseFormat::OpenMetricsStrict, data);
    assert!(!strict || lenient, "strict accepted what lenient rejected");
}

/// The protobuf target.
pub fn protobuf(data: &[u8]) {
    drain(ParseFormat::Protobuf, data);
}
