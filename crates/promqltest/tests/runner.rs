//! The runner end to end against the real engine: passing and failing
//! evals, expected failures, skips, parse errors and a failed load, each
//! reported on its own line with a precise reason.

use std::collections::BTreeMap;

use beacon_promqltest::{Outcome, RunOptions, print_counts, run_script};

const SCRIPT: &str = r#"
load 1m
  up{job="a"} 0+1x10

eval instant at 5m up
  up{job="a"} 5

eval instant at 5m up
  up{job="a"} 6

eval instant at 5m up
  expect fail

eval instant at 5m sum(up
  {} 5

eval instant at 5m up
  up{job="a"} 7

load_with_nhcb 1m
  x_bucket{le="1"} 5
  x_bucket{le="2"} 3

eval instant at 0 up
  up{job="a"} 0
"#;

/// Renders each eval as `line: verdict`, failures cut to their first line.
fn verdicts(skips: &BTreeMap<usize, String>) -> Vec<String> {
    let report = run_script("t.test", SCRIPT, &RunOptions::default(), skips);
    assert!(report.error.is_none());
    report
        .evals
        .iter()
        .map(|e| {
            let v = match &e.outcome {
                Outcome::Passed => "passed".to_owned(),
                Outcome::Failed(why) => format!("failed: {}", why.lines().next().unwrap_or("")),
                Outcome::Skipped { reason, now_passes } => {
                    format!("skipped ({reason}), passes: {now_passes}")
                }
            };
            format!("{}: {v}", e.line)
        })
        .collect()
}

#[test]
fn every_eval_gets_a_precise_verdict() {
    let skips = BTreeMap::from([(17, "known".to_owned()), (5, "stale skip".to_owned())]);
    let got = verdicts(&skips);
    assert_eq!(got.len(), 6, "{got:#?}");
    assert_eq!(got[0], "5: skipped (stale skip), passes: true");
    assert_eq!(
        got[1],
        "8: failed: value of up{job=\"a\"} (line 9): expected 6, got 5"
    );
    assert_eq!(
        got[2],
        "11: failed: expected an error matching anything, but the query succeeded"
    );
    assert!(
        got[3].starts_with("14: failed: the expression does not parse: "),
        "{}",
        got[3]
    );
    assert!(got[3].contains("parse error"), "{}", got[3]);
    assert_eq!(got[4], "17: skipped (known), passes: false");
    assert_eq!(
        got[5],
        "24: failed: not run: an earlier load failed: line 20: load failed: x at t=0: count is not cumulative: 3 < 5"
    );
}

#[test]
fn counts_and_closing_line() {
    let report = run_script("t.test", SCRIPT, &RunOptions::default(), &BTreeMap::new());
    assert_eq!(
        (
            report.passed(),
            report.failed(),
            report.skipped(),
            report.total()
        ),
        (1, 5, 0, 6)
    );
    let summary = beacon_promqltest::Summary {
        files: vec![report],
        unused_skips: vec![],
    };
    let mut out = Vec::new();
    print_counts(&summary, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "t.test: 1/6\ntotal: 1/6\n1 passed, 5 failed\n"
    );
}

#[test]
fn a_file_that_does_not_parse_fails_all_its_evals() {
    let report = run_script(
        "bad.test",
        "load 1m\n  up 1\n\neval instant at 0 up\n  up 1\n\nbogus\n",
        &RunOptions::default(),
        &BTreeMap::new(),
    );
    assert_eq!(
        report.error.as_deref(),
        Some("parse error: line 7:1: invalid command \"bogus\"")
    );
    assert_eq!(
        (report.passed(), report.failed(), report.total()),
        (0, 1, 1)
    );
}

#[test]
fn timeouts_fail_evals_and_stop_the_file_after_a_few() {
    // A nanosecond is too short for nearly every query; a few may still
    // win the race, so the test only relies on timeouts adding up.
    let opts = RunOptions {
        eval_timeout: std::time::Duration::from_nanos(1),
        ..RunOptions::default()
    };
    let script = format!(
        "load 1m\n  up 1\n{}",
        "\neval instant at 1m up\n  up 1\n".repeat(8)
    );
    let report = run_script("slow.test", &script, &opts, &BTreeMap::new());
    let not_run = format!(
        "not run: {} queries of this file timed out already",
        beacon_promqltest::runner::TIMEOUTS_PER_FILE_MAX
    );
    for e in &report.evals {
        if let Outcome::Failed(why) = &e.outcome {
            assert!(
                why.contains("no answer within 1ns") || *why == not_run,
                "{why}"
            );
        }
    }
    assert_eq!(report.evals.len(), 8);
    assert_eq!(report.evals[7].outcome, Outcome::Failed(not_run));
}

#[test]
fn run_files_applies_the_skip_list_and_reports_unused_entries() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.test");
    let b = dir.path().join("b.test");
    std::fs::write(&a, "load 1m\n  up 1\n\neval instant at 0 up\n  up 2\n").unwrap();
    std::fs::write(&b, "load 1m\n  up 1\n\neval instant at 0 up\n  up 1\n").unwrap();
    let skips = beacon_promqltest::SkipList::parse(
        "a.test:4 wrong on purpose\na.test:99 no such eval\nother.test:1 not run here\n",
        std::path::Path::new("skip.txt"),
    )
    .unwrap();
    let summary = beacon_promqltest::run_files(&[a, b, dir.path().join("missing.test")], &skips);
    assert_eq!(summary.unused_skips, vec!["a.test:99".to_owned()]);
    assert_eq!(
        (
            summary.passed(),
            summary.failed(),
            summary.skipped(),
            summary.total()
        ),
        (1, 0, 1, 2)
    );
    assert!(
        summary.files[2].error.is_some(),
        "a missing file is reported"
    );
    let mut out = Vec::new();
    beacon_promqltest::print_summary(&summary, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("SKIP a.test:4: eval instant at 0s up (wrong on purpose)\n"),
        "{text}"
    );
    assert!(text.contains("unused skip entry: a.test:99"), "{text}");
    assert!(text.contains("FAIL missing.test: "), "{text}");
    assert!(
        text.ends_with("total: 1/2\n1 passed, 0 failed, 1 skipped, 1 files not run\n"),
        "{text}"
    );
    assert!(!summary.all_passed());
}
