//! Runs the OpenMetrics parser conformance cases (kept in the shared
//! reference folder beside the workspace) against the strict parser, and
//! reports the lenient scrape parser's figure separately.
//!
//! A case passes when "the parser accepted the whole input" equals its
//! `shouldParse`; a panic is a failure either way. The test fails when the
//! strict pass count drops below `testdata/openmetrics_conformance_baseline.txt`.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use beacon_exposition::{Entry, OpenMetricsMode, OpenMetricsParser};

const SUITE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/openmetrics"
);
const BASELINE: &str = include_str!("../testdata/openmetrics_conformance_baseline.txt");

struct Case {
    name: String,
    input: Vec<u8>,
    should_parse: bool,
}

fn load_cases(root: &Path) -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("parsers"))
        .expect("read parsers folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|d| {
            let meta: serde_json::Value = serde_json::from_slice(
                &std::fs::read(d.join("test.json")).expect("read test.json"),
            )
            .expect("test.json is JSON");
            assert_eq!(
                meta["type"],
                "text",
                "{}: unsupported case type {}",
                d.display(),
                meta["type"]
            );
            let file = meta["file"].as_str().unwrap_or("metrics");
            Case {
                name: d
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                input: std::fs::read(d.join(file)).expect("read case input"),
                should_parse: meta["shouldParse"]
                    .as_bool()
                    .expect("shouldParse is a bool"),
            }
        })
        .collect()
}

/// Accepted means: no error and the document ended with `# EOF`.
fn accepts(input: &[u8], mode: OpenMetricsMode) -> Result<bool, ()> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut eof = false;
        for e in OpenMetricsParser::new(input, mode) {
            match e {
                Ok(Entry::Eof) => eof = true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        eof
    }))
    .map_err(|_| ())
}

struct Tally {
    passed: usize,
    positive: usize,
    negative: usize,
    failures: Vec<String>,
}

fn run(cases: &[Case], mode: OpenMetricsMode) -> Tally {
    let mut t = Tally {
        passed: 0,
        positive: 0,
        negative: 0,
        failures: Vec::new(),
    };
    for c in cases {
        let ok = match accepts(&c.input, mode) {
            Ok(accepted) => accepted == c.should_parse,
            Err(()) => false,
        };
        if ok {
            t.passed += 1;
            if c.should_parse {
                t.positive += 1;
            } else {
                t.negative += 1;
            }
        } else {
            t.failures.push(c.name.clone());
        }
    }
    t
}

/// Writes straight to stderr, past the test harness's capture, so the
/// figures show in every CI log.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[test]
fn openmetrics_conformance() {
    let root = Path::new(SUITE);
    if !root.join("parsers").is_dir() {
        say(&format!(
            "openmetrics conformance: SUITE NOT FOUND at {}",
            root.display()
        ));
        return;
    }
    let cases = load_cases(root);
    let total = cases.len();
    let pos_total = cases.iter().filter(|c| c.should_parse).count();
    let neg_total = total - pos_total;
    let strict = run(&cases, OpenMetricsMode::Strict);
    say(&format!(
        "openmetrics conformance: {}/{total} passed (positive {}/{pos_total}, negative {}/{neg_total})",
        strict.passed, strict.positive, strict.negative
    ));
    for f in &strict.failures {
        say(&format!("  strict failed: {f}"));
    }
    let lenient = run(&cases, OpenMetricsMode::Lenient);
    say(&format!(
        "openmetrics conformance (lenient scrape parser): {}/{total} passed (positive {}/{pos_total}, negative {}/{neg_total})",
        lenient.passed, lenient.positive, lenient.negative
    ));
    // The lenient parser must still accept everything valid.
    assert_eq!(
        lenient.positive, pos_total,
        "lenient parser rejects valid input"
    );
    let baseline: usize = BASELINE.trim().parse().expect("baseline is a number");
    assert!(
        strict.passed >= baseline,
        "openmetrics conformance regressed: {} passed, baseline {baseline}",
        strict.passed
    );
}
