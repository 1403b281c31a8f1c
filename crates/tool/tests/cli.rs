//! End-to-end checks of the `beacontool` binary: each subcommand on a
//! small input, exit codes included.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn beacontool(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_beacontool"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start beacontool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for beacontool")
}

fn check(args: &[&str], stdin: &str, code: i32, stdout_has: &[&str]) {
    let out = beacontool(args, stdin);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: stdout {text}\nstderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in stdout_has {
        assert!(text.contains(want), "{args:?}: {want:?} not in {text}");
    }
}

#[test]
fn promql_format() {
    check(
        &["promql", "format", "sum(rate(x[5m]))by(job)"],
        "",
        0,
        &["sum by (job) (rate(x[5m]))"],
    );
    let out = beacontool(&["promql", "format", "sum(("], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("parse error"));
}

#[test]
fn check_metrics() {
    let good = "# HELP up_total Ups.\n# TYPE up_total counter\nup_total 1\n";
    check(&["check", "metrics"], good, 0, &[]);
    check(
        &["check", "metrics"],
        "# TYPE foo_ms counter\nfoo_ms 1\n",
        1,
        &["foo_ms", "_total"],
    );
}

#[test]
fn check_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['localhost:9100']\n").unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "scrape_configs:\n  - job_name: a\n    scrape_intervall: 1m\n",
    )
    .unwrap();
    check(
        &["check", "config", good.to_str().unwrap()],
        "",
        0,
        &["SUCCESS"],
    );
    check(
        &["check", "config", bad.to_str().unwrap()],
        "",
        1,
        &["FAILED", "scrape_intervall", "3:"],
    );
}

#[test]
fn promql_test_runs_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("t.test");
    std::fs::write(
        &script,
        "load 1m\n  x 1+1x5\n\neval instant at 5m x\n  x 6\n\neval instant at 5m x\n  x 7\n",
    )
    .unwrap();
    check(
        &["promql-test", script.to_str().unwrap()],
        "",
        1,
        &["t.test: 1/2", "1 passed, 1 failed"],
    );
}

#[test]
fn check_rules_and_the_rule_files_a_config_lists() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n      - alert: Down\n        expr: up == 0\n        for: 5m\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up\n",
    )
    .unwrap();
    let good_s = good.to_str().unwrap();
    let bad_s = bad.to_str().unwrap();
    check(
        &["check", "rules", good_s],
        "",
        0,
        &["SUCCESS: 2 rules found"],
    );
    check(
        &["check", "rules", good_s, bad_s],
        "",
        1,
        &["SUCCESS: 2 rules found", "FAILED:", "bad.yml"],
    );

    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(&cfg, "rule_files:\n  - good.yml\n").unwrap();
    check(
        &["check", "config", cfg.to_str().unwrap()],
        "",
        0,
        &["SUCCESS: 1 rule files found", "SUCCESS: 2 rules found"],
    );
    std::fs::write(&cfg, "rule_files:\n  - '*.yml'\n").unwrap();
    check(
        &["check", "config", cfg.to_str().unwrap()],
        "",
        1,
        &["FAILED:"],
    );
}
