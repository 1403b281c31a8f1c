//! Runs the upstream PromQL conformance scripts (the copied
//! `conformance/promql/*.test` files in the shared reference data) and
//! prints the pass count per file and in total.
//!
//! It does not demand that everything passes: the engine is still growing.
//! It fails when the total falls below the baseline committed in
//! `conformance-baseline.txt`, so a regression is caught; raise the
//! baseline as the engine improves. When the suite is absent it says so
//! loudly instead of passing silently.
//!
//! Set `PROMQLTEST_FILTER=<text>` to run only the files whose name contains
//! it (the baseline is then not checked): a fast loop while fixing one area
//! of the engine, e.g. `PROMQLTEST_FILTER=functions cargo test -p
//! beacon-promqltest --test conformance -- --nocapture`.

use std::path::{Path, PathBuf};

use std::io::Write;

use beacon_promqltest::{SkipList, print_counts, print_failures, run_files};

const SUITE_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/promql"
);
const BASELINE_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance-baseline.txt");
/// Evals in the copied suite (its COUNTS.md).
const SUITE_EVALS: usize = 2214;

/// Reads the baseline: the first line that is not blank or a comment.
fn baseline() -> usize {
    let text =
        std::fs::read_to_string(BASELINE_FILE).expect("conformance-baseline.txt is readable");
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.parse().ok())
        .expect("conformance-baseline.txt holds a number")
}

/// Writes straight to the process's stderr, which the test harness does not
/// capture: the counts show on every run, not only with `--nocapture`.
fn shout(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[test]
fn promql_conformance_suite() {
    let dir = Path::new(SUITE_DIR);
    let Ok(entries) = std::fs::read_dir(dir) else {
        shout(&format!(
            "promql conformance: SUITE NOT FOUND at {}\n",
            dir.display()
        ));
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "promql conformance: no .test files in {}",
        dir.display()
    );
    let filter = std::env::var("PROMQLTEST_FILTER")
        .ok()
        .filter(|f| !f.is_empty());
    if let Some(f) = &filter {
        files.retain(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(f.as_str()))
        });
        println!(
            "promql conformance: PROMQLTEST_FILTER={f:?} selects {} files",
            files.len()
        );
    }
    let started = std::time::Instant::now();
    let summary = run_files(&files, &SkipList::empty());
    // The diffs go to the captured output (shown with --nocapture or when
    // the test fails); the counts always show.
    let mut out = Vec::new();
    print_failures(&summary, &mut out).expect("writing to memory");
    println!("{}", String::from_utf8_lossy(&out));
    let mut counts = Vec::new();
    print_counts(&summary, &mut counts).expect("writing to memory");
    // Keep the per-file lines but not the CLI's plain `N passed, N failed`
    // closing line: in the test log it would read as the suite's verdict,
    // while the verdict here is the baseline check below.
    let counts: String = String::from_utf8_lossy(&counts)
        .lines()
        .filter(|l| !l.contains(" passed, "))
        .map(|l| format!("{l}\n"))
        .collect();
    let passed = summary.passed();
    let floor = baseline();
    shout(&format!(
        "{}promql conformance: {passed}/{} passed (suite has {SUITE_EVALS}), baseline {floor}, {:.1}s\n",
        counts,
        summary.total(),
        started.elapsed().as_secs_f64()
    ));
    if filter.is_some() {
        println!("promql conformance: filtered run, baseline not checked");
        return;
    }
    if summary.total() != SUITE_EVALS {
        println!(
            "promql conformance: note: counted {} evals, COUNTS.md says {SUITE_EVALS}",
            summary.total()
        );
    }
    if passed > floor {
        println!(
            "promql conformance: above the baseline; raise conformance-baseline.txt to {passed}"
        );
    }
    assert!(
        passed >= floor,
        "promql conformance regressed: {passed} passed, baseline is {floor}"
    );
}
