//! Rule files: a table of YAML inputs and the exact error text (with
//! `file:line:col`) or group/rule counts promtool-style checking reports.

use beacon_rules::{GroupSpec, ParseOptions, RuleKind, check_files, load_files, parse_str};

/// Parses `yaml` as `rules.yml`: `OK <groups> <rules>` or the error text.
fn outcome(yaml: &str) -> String {
    match parse_str(yaml, "rules.yml", ParseOptions::default()) {
        Ok(groups) => format!(
            "OK {} {}",
            groups.len(),
            groups.iter().map(|g| g.rules.len()).sum::<usize>()
        ),
        Err(e) => e.to_string(),
    }
}

fn check(cases: &[(&str, &str)]) {
    let mut failed = Vec::new();
    for (yaml, want) in cases {
        let got = outcome(yaml);
        if got != *want {
            failed.push(format!("{yaml}\n   got {got:?}\n  want {want:?}"));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

#[test]
fn valid_files() {
    check(&[
        ("", "OK 0 0"),
        ("groups: []\n", "OK 0 0"),
        (
            "groups:\n  - name: g\n    interval: 30s\n    query_offset: 1m\n    limit: 10\n    labels: {team: a}\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n        labels: {x: y}\n      - alert: Down\n        expr: up == 0\n        for: 5m\n        keep_firing_for: 1m\n        labels: {severity: page}\n        annotations:\n          summary: '{{ $labels.instance }} down'\n",
            "OK 1 2",
        ),
        (
            "groups:\n  - name: a\n    rules: []\n  - name: b\n",
            "OK 2 0",
        ),
        (
            "groups:\n  - name: n\n    rules:\n      - record: r\n        expr: 1\n",
            "OK 1 1",
        ),
    ]);
}

#[test]
fn decoding_errors_point_at_line_and_column() {
    check(&[
        (
            "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n        exprr: x\n",
            "rules.yml:6:9: field exprr not found in rule",
        ),
        (
            "groups:\n  - name: g\n    intervl: 1m\n",
            "rules.yml:3:5: field intervl not found in rule group",
        ),
        (
            "group:\n  - name: g\n",
            "rules.yml:1:1: field group not found in rule groups",
        ),
        (
            "groups:\n  - name: g\n    interval: 5x\n",
            "rules.yml:3:15: not a valid duration string: \"5x\"",
        ),
        (
            "groups:\n  - name: g\n    limit: -1\n",
            "rules.yml:3:12: limit must be a non-negative integer, got \"-1\"",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: [a]\n",
            "rules.yml:6:17: expected a mapping for rule labels, got a sequence",
        ),
        (
            "groups: {a: 1}\n",
            "rules.yml:1:9: expected a sequence of groups, got a mapping",
        ),
        (
            "groups:\n  - name: g\n    name: h\n",
            "rules.yml:3:5: duplicate mapping key: name",
        ),
    ]);
}

#[test]
fn validation_errors_read_like_promtool() {
    check(&[
        (
            "groups:\n  - name: ''\n",
            "rules.yml: 2:5: Groupname must not be empty",
        ),
        (
            "groups:\n  - name: a\n  - name: a\n",
            "rules.yml: 3:5: groupname: \"a\" is repeated in the same file",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        alert: A\n        expr: up\n",
            "rules.yml: 4:17: 5:16: group \"g\", rule 1, \"A\": only one of 'record' and 'alert' must be set",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - expr: up\n",
            "rules.yml: 4:9: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n",
            "rules.yml: 4:9: group \"g\", rule 1, \"r\": field 'expr' must be set in rule",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(up\n",
            "rules.yml: 5:15: group \"g\", rule 1, \"r\": could not parse expression: 1:7: parse error: unexpected end of input in aggregation, expected \")\"",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        for: 5m\n        annotations: {a: b}\n",
            "rules.yml: 4:17: group \"g\", rule 1, \"r\": invalid field 'annotations' in recording rule\nrules.yml: 4:17: group \"g\", rule 1, \"r\": invalid field 'for' in recording rule",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: up{job=\"x\"}\n        expr: up\n",
            "rules.yml: 4:17: group \"g\", rule 1, \"up{job=\\\"x\\\"}\": braces present in the recording rule name; should it be in expr?: up{job=\"x\"}",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels: {__name__: x}\n",
            "rules.yml: group \"g\", rule 1, \"A\": invalid label name: __name__",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ nosuch }}'\n",
            "rules.yml: group \"g\", rule 1, \"A\": annotation \"summary\": template: __alert_A:1: function \"nosuch\" not defined",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        labels:\n          sev: '{{ if }}'\n",
            "rules.yml: group \"g\", rule 1, \"A\": label \"sev\": template: __alert_A:1: missing value for if",
        ),
    ]);
}

#[test]
fn yaml_syntax_errors_and_garbage_never_panic() {
    let got = outcome("groups:\n  - name: [\n");
    assert!(got.starts_with("rules.yml:"), "{got}");
    for text in [
        "groups",
        "- a",
        "groups: [1, 2]",
        "groups:\n  - 5\n",
        "\u{0}",
        "groups: !!binary aGk=",
        "&a [*a]",
        "groups:\n  - rules:\n      - 7\n",
    ] {
        let _ = outcome(text);
    }
}

#[test]
fn spec_fields_and_group_labels() {
    let groups: Vec<GroupSpec> = parse_str(
        "groups:\n  - name: g\n    interval: 30s\n    query_offset: 1m\n    labels: {team: a}\n    rules:\n      - alert: A\n        expr: up == 0\n        for: 5m\n        keep_firing_for: 1m\n",
        "f.yml",
        ParseOptions::default(),
    )
    .unwrap();
    let g = &groups[0];
    assert_eq!(
        (g.file.as_str(), g.interval_ms, g.query_offset_ms),
        ("f.yml", Some(30_000), Some(60_000))
    );
    assert_eq!(g.labels.get("team").map(String::as_str), Some("a"));
    let r = &g.rules[0];
    assert_eq!(
        (r.kind, r.name.as_str(), r.for_ms, r.keep_firing_for_ms),
        (RuleKind::Alerting, "A", 300_000, 60_000)
    );
}

#[test]
fn globs_and_check_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a.rules.yml");
    let bad = dir.path().join("b.rules.yml");
    std::fs::write(
        &good,
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n",
    )
    .unwrap();
    std::fs::write(&bad, "groups:\n  - name: ''\n").unwrap();
    let pattern = format!("{}/*.rules.yml", dir.path().display());
    let err = load_files(std::slice::from_ref(&pattern), ParseOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: 2:5: Groupname must not be empty", bad.display())
    );
    let only_good = format!("{}/a.*.yml", dir.path().display());
    assert_eq!(
        load_files(&[only_good], ParseOptions::default())
            .unwrap()
            .len(),
        1
    );
    let report = check_files(
        &[good.display().to_string(), bad.display().to_string()],
        ParseOptions::default(),
    );
    assert_eq!(
        report[0].1.as_ref().unwrap().to_string(),
        "SUCCESS: 1 rules found"
    );
    assert!(report[1].1.is_err());
    let missing = check_files(&["/nonexistent/x.yml".to_owned()], ParseOptions::default());
    assert!(
        missing[0]
            .1
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("/nonexistent/x.yml: ")
    );
}
