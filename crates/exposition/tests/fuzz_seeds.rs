//! Replays every committed fuzz seed (`fuzz/seeds/<target>/*`) through the
//! same entry points the cargo-fuzz targets use, on stable Rust, so CI
//! catches a regression without a fuzzer. Also pins what a few seeds must
//! give, so the seeds cannot silently stop reaching the code they target.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use beacon_exposition::{Entry, ParseFormat, Parser, fuzzing};

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds");

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(SEEDS).join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("dir entry").path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("read seed"))
        })
        .collect();
    out.sort();
    out
}

/// A fuzz entry point.
type Target = fn(&[u8]);

#[test]
fn every_seed_replays_without_panic() {
    let targets: [(&str, Target); 3] = [
        ("text", fuzzing::text),
        ("openmetrics", fuzzing::openmetrics),
        ("protobuf", fuzzing::protobuf),
    ];
    for (target, run) in targets {
        let all = seeds(target);
        assert!(all.len() >= 12, "{target}: only {} seeds", all.len());
        for (name, data) in &all {
            let r = catch_unwind(AssertUnwindSafe(|| run(data)));
            assert!(r.is_ok(), "{target}/{name} panicked");
        }
    }
}

/// Whether `format` parses the seed without error.
fn parses(format: ParseFormat, target: &str, name: &str) -> bool {
    let (_, data) = seeds(target)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no seed {target}/{name}"));
    Parser::new(format, &data).all(|e| e.is_ok())
}

#[test]
fn seeds_reach_their_code() {
    for ok in [
        "simple",
        "labels_escapes",
        "specials",
        "utf8_names",
        "whitespace",
        "no_final_newline",
    ] {
        assert!(parses(ParseFormat::Text, "text", ok), "text/{ok}");
    }
    for bad in ["unterminated", "invalid_utf8", "dup_labels", "long_number"] {
        assert!(!parses(ParseFormat::Text, "text", bad), "text/{bad}");
    }
    for ok in [
        "counter",
        "histogram",
        "gaugehistogram",
        "stateset_info",
        "summary_unit",
        "no_newline_eof",
    ] {
        assert!(
            parses(ParseFormat::OpenMetricsStrict, "openmetrics", ok),
            "openmetrics/{ok}"
        );
    }
    for bad in [
        "text_after_eof",
        "missing_eof",
        "blank_line",
        "bad_exemplar",
        "interleaved",
    ] {
        assert!(
            !parses(ParseFormat::OpenMetricsStrict, "openmetrics", bad),
            "openmetrics/{bad}"
        );
    }
    for ok in [
        "all",
        "native_histogram",
        "native_packed",
        "float_histogram",
        "empty",
    ] {
        assert!(
            parses(ParseFormat::Protobuf, "protobuf", ok),
            "protobuf/{ok}"
        );
    }
    for bad in [
        "truncated",
        "huge_length",
        "bad_varint",
        "bad_spans",
        "unknown_type",
    ] {
        assert!(
            !parses(ParseFormat::Protobuf, "protobuf", bad),
            "protobuf/{bad}"
        );
    }
    let (_, packed) = seeds("protobuf")
        .into_iter()
        .find(|(n, _)| n == "native_packed")
        .expect("seed");
    let histograms = Parser::new(ParseFormat::Protobuf, &packed)
        .filter(|e| matches!(e, Ok(Entry::Histogram(_))))
        .count();
    assert_eq!(histograms, 1);
}
