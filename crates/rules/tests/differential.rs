//! Differential test against the real `promtool` (Prometheus 2.x, from the
//! Debian package) on the same rule file: every annotation template in
//! `TEMPLATES` is expanded by Beacon for several alert values, and the
//! results become the `exp_annotations` of a `promtool test rules` run,
//! which passes only if Go's `text/template` produces the same bytes. A
//! second test replays a scenario minute by minute and checks that the
//! firing alerts and the `ALERTS` / `ALERTS_FOR_STATE` series agree.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use beacon_model::Labels;
use beacon_promql::Engine;
use beacon_rules::{EvalEnv, Group, ParseOptions, Rule, parse_str};
use beacon_storage::{Appendable, MemStorage};

/// Templates whose output must match Go byte for byte. Templates that
/// fail are left out: Go's messages carry a column and the failing node,
/// which Beacon's do not.
const TEMPLATES: &[&str] = &[
    "{{ $labels.k }} is down",
    "{{ .Labels.k }}/{{ .Value }}",
    "{{ $value }}",
    "{{ $labels.missing }}|",
    "{{ $x := 5 }}{{ $x }}",
    "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
    "{{/* a comment */}}ok",
    "a  {{- \" b \" -}}  c",
    "x\n  {{- 1 }}\n",
    "{{ `raw\\n` }}",
    "{{ $value | humanize }}",
    "{{ humanize 0.0012 }}",
    "{{ humanize1024 1048576.0 }}",
    "{{ $value | humanizeDuration }}",
    "{{ $value | humanizePercentage }}",
    "{{ humanizeTimestamp 1700000000 }}",
    "{{ \"42\" | humanize }}",
    "{{ printf \"%.2f\" $value }}",
    "{{ printf \"%s=%d %v\" \"a\" 3 true }}",
    "{{ printf \"%d\" $value }}",
    "{{ toUpper \"abc\" }}{{ toLower \"DEF\" }}",
    "{{ title \"hello world\" }}",
    "{{ reReplaceAll \"(.)(.*)\" \"$2$1\" \"abc\" }}",
    "{{ match \"^v\" $labels.__name__ }}",
    "{{ with $x := args 1 \"b\" }}{{ $x.arg0 }}{{ .arg1 }}{{ end }}",
    "{{ len \"abc\" }} {{ index $labels \"k\" }}",
    "{{ stripPort \"host:9100\" }}",
    "{{ print 1 2 \"a\" }}",
    "{{ urlquery \"a b&c\" }}",
    "{{ if gt $value 10.0 }}high{{ else }}low{{ end }}",
    "{{ if eq $labels.k \"1\" \"2\" }}y{{ end }}",
    "{{ if and (lt 1 2) (le 2 2) }}y{{ end }}",
    "{{ if or false \"\" }}y{{ else }}n{{ end }}",
    "{{ if ge 1 2 }}a{{ else if eq 1 1 }}b{{ else }}c{{ end }}",
    "{{ range $i, $v := args \"x\" \"y\" }}{{ $i }}:{{ $v }} {{ end }}",
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}",
    "{{ with $labels.missing }}set{{ else }}unset{{ end }}",
    "{{ and 1 0 }} {{ or 0 2 }}",
    "{{ if and $labels.missing (gt $labels.missing.x 1.0) }}y{{ else }}n{{ end }}",
    "{{ or $labels.missing \"default\" }}",
    "{{ printf \"%.4g|%6.1f|%-4d|%q\" 1234567.0 2.37 7 \"x\" }}",
    // Go's engine returns an instant vector in no fixed order: sort it.
    "{{ range query \"v\" | sortByLabel \"k\" }}{{ .Labels.k }}={{ .Value }};{{ end }}",
    "{{ query \"v{k='1'}\" | first | value }}",
    "{{ (query \"v{k='1'} * 2\" | first).Value | humanize }}",
    "{{ range query \"nothing\" }}x{{ else }}empty{{ end }}",
    "{{ printf \"%v %v\" 1e6 0.000001 }}",
    "{{ printf \"%5.1f%%\" 99.44 }}",
    "{{ humanize 1e30 }}",
    "{{ humanize -0.5 }}",
    "{{ humanizeDuration 0.25 }}",
    "{{ humanizeDuration 90061.5 }}",
    "{{ humanize1024 -5000.0 }}",
    "{{ $value | printf \"%.3e\" }}",
    "{{ printf \"%x %X\" 255 \"hi\" }}",
    "{{ println 1 \"a\" }}",
    "{{ $labels }}",
    "{{ printf \"%s\" 5 }}",
    "{{ printf \"%s %s\" \"a\" }}",
    "{{ printf \"%d\" 1 2 }}",
    "{{ printf \"%t\" true }}",
    "{{ 1.5 }} {{ 1e3 }} {{ 0x10 }} {{ -3 }}",
    "{{ printf \"%08.3f|%+d|% d\" 3.5 5 5 }}",
    "{{ title \"o'neil x_y foo-bar\" }}",
    "{{ printf \"%v|%g|%e\" $value $value $value }}",
    "{{ $value | humanize1024 }}",
];

/// Alert values: each becomes one series `v{k="<index>"}` and one alert.
const VALUES: &[f64] = &[
    0.0, 1234567.0, 0.25, 2.345678, 3725.0, -12345.0, 1e-7, 1e21, 123456.0,
];

fn promtool() -> Option<&'static str> {
    ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn rules_yaml() -> String {
    let mut s = String::from(
        "groups:\n  - name: g\n    rules:\n      - alert: T\n        expr: v\n        annotations:\n",
    );
    for (i, t) in TEMPLATES.iter().enumerate() {
        s.push_str(&format!(
            "          a{i:02}: {}\n",
            serde_json::to_string(t).unwrap()
        ));
    }
    s
}

/// Beacon's alerts for `rules_yaml` at time 0: `(k, annotations)`.
fn beacon_alerts(rules: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let db = MemStorage::new();
    let mut app = db.appender();
    for (i, v) in VALUES.iter().enumerate() {
        let l = Labels::from_pairs([("__name__", "v".to_owned()), ("k", i.to_string())]);
        app.append(Default::default(), &l, 0, *v).unwrap();
    }
    app.commit().unwrap();
    let mut g = Group::new(
        parse_str(rules, "rules.yml", ParseOptions::default())
            .unwrap()
            .remove(0),
        60_000,
        0,
    );
    let engine = Engine::default();
    let env = EvalEnv {
        queryable: &db,
        appendable: &db,
        engine: &engine,
        external_labels: &Labels::empty(),
        external_url: "",
        resend_delay_ms: 60_000,
    };
    g.eval(&env, 0);
    let Rule::Alerting(a) = &g.rules[0] else {
        unreachable!("one alerting rule")
    };
    a.alerts_snapshot()
        .into_iter()
        .map(|al| {
            (
                al.labels.get("k").unwrap_or_default().to_owned(),
                al.annotations,
            )
        })
        .collect()
}

/// A missing peer fails the test: a comparison that did not run must not
/// look like one that passed.
const PROMTOOL_MISSING: &str = "promtool NOT FOUND: this differential test needs Prometheus's promtool; install the Debian package `prometheus` (bash .ci/run does)";

#[test]
fn annotations_match_promtool() {
    let Some(promtool) = promtool() else {
        panic!("{PROMTOOL_MISSING}");
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_yaml();
    std::fs::write(dir.path().join("rules.yml"), &rules).unwrap();
    let mut test = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (i, v) in VALUES.iter().enumerate() {
        test.push_str(&format!(
            "      - series: 'v{{k=\"{i}\"}}'\n        values: '{v:e}'\n"
        ));
    }
    test.push_str(
        "    alert_rule_test:\n      - eval_time: 0m\n        alertname: T\n        exp_alerts:\n",
    );
    let alerts = beacon_alerts(&rules);
    assert_eq!(alerts.len(), VALUES.len());
    for (k, ann) in &alerts {
        test.push_str(&format!(
            "          - exp_labels: {{k: \"{k}\"}}\n            exp_annotations:\n"
        ));
        for (name, value) in ann {
            test.push_str(&format!(
                "              {name}: {}\n",
                serde_json::to_string(value).unwrap()
            ));
        }
    }
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let out = Command::new(promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!(
        "promtool differential: {} templates x {} values",
        TEMPLATES.len(),
        VALUES.len()
    );
    assert!(out.status.success(), "promtool disagrees:\n{text}");
}

/// Input series of the state-machine scenario, promtool notation.
const SCENARIO_SERIES: &[(&str, &str)] = &[
    ("up{instance=\"a\"}", "0 0 0 1 1 0 0 0 0 0 1 1 1 1 1 1"),
    ("up{instance=\"b\"}", "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"),
    ("up{instance=\"c\"}", "1 1 0 1 0 0 1 1 1 1 1 1 1 1 1 1"),
];

const SCENARIO_RULES: &str = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 2m\n        labels: {severity: page}\n        annotations: {summary: '{{ $labels.instance }} down ({{ $value }})'}\n      - alert: Sticky\n        expr: up == 0\n        keep_firing_for: 3m\n";

/// Series values in promtool's expanding notation, as plain samples.
fn scenario_storage() -> MemStorage {
    let db = MemStorage::new();
    let mut app = db.appender();
    for (sel, values) in SCENARIO_SERIES {
        let instance = sel.split('"').nth(1).unwrap();
        let l = Labels::from_pairs([("__name__", "up"), ("instance", instance)]);
        for (m, v) in values.split(' ').enumerate() {
            app.append(
                Default::default(),
                &l,
                m as i64 * 60_000,
                v.parse().unwrap(),
            )
            .unwrap();
        }
    }
    app.commit().unwrap();
    drop(app);
    db
}

fn yaml_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = pairs
        .map(|(k, v)| format!("{k}: {}", serde_json::to_string(v).unwrap()))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// One `alert_rule_test` entry per alert name for minute `m`, from
/// Beacon's firing alerts.
fn alert_tests(g: &Group, m: usize) -> String {
    let mut out = String::new();
    for r in &g.rules {
        let Rule::Alerting(a) = r else { continue };
        out.push_str(&format!(
            "      - eval_time: {m}m\n        alertname: {}\n        exp_alerts:\n",
            a.spec.name
        ));
        let firing = a
            .active_alerts()
            .into_iter()
            .filter(|x| x.state == beacon_rules::AlertState::Firing);
        let mut any = false;
        for al in firing {
            any = true;
            let labels = yaml_map(
                al.labels
                    .iter()
                    .filter(|l| l.name != "alertname")
                    .map(|l| (l.name, l.value)),
            );
            let ann = yaml_map(al.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            out.push_str(&format!(
                "          - exp_labels: {labels}\n            exp_annotations: {ann}\n"
            ));
        }
        if !any {
            out = out.trim_end_matches("exp_alerts:\n").to_owned() + "exp_alerts: []\n";
        }
    }
    out
}

/// A `promql_expr_test` of `expr` at minute `m` from Beacon's storage.
fn expr_test(db: &MemStorage, engine: &Engine, expr: &str, m: usize) -> String {
    let res = engine.instant_query(db, expr, m as i64 * 60_000).unwrap();
    let beacon_promql::Value::Vector(v) = res.value else {
        panic!("{expr} is not a vector")
    };
    let mut out = format!("      - expr: {expr}\n        eval_time: {m}m\n        exp_samples:\n");
    if v.is_empty() {
        out = out.trim_end_matches("exp_samples:\n").to_owned() + "exp_samples: []\n";
    }
    for s in v {
        out.push_str(&format!(
            "          - labels: '{}'\n            value: {}\n",
            s.labels, s.f
        ));
    }
    out
}

#[test]
fn alert_states_and_series_match_promtool() {
    let Some(promtool) = promtool() else {
        panic!("{PROMTOOL_MISSING}");
    };
    let db = scenario_storage();
    let engine = Engine::default();
    let env = EvalEnv {
        queryable: &db,
        appendable: &db,
        engine: &engine,
        external_labels: &Labels::empty(),
        external_url: "",
        resend_delay_ms: 60_000,
    };
    let mut g = Group::new(
        parse_str(SCENARIO_RULES, "rules.yml", ParseOptions::default())
            .unwrap()
            .remove(0),
        60_000,
        0,
    );
    let (mut alerts, mut exprs) = (String::new(), String::new());
    for m in 0..14 {
        g.eval(&env, m as i64 * 60_000);
        alerts.push_str(&alert_tests(&g, m));
        exprs.push_str(&expr_test(&db, &engine, "ALERTS", m));
        exprs.push_str(&expr_test(&db, &engine, "ALERTS_FOR_STATE", m));
    }
    let mut test = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (sel, values) in SCENARIO_SERIES {
        test.push_str(&format!(
            "      - series: '{sel}'\n        values: '{values}'\n"
        ));
    }
    test.push_str("    alert_rule_test:\n");
    test.push_str(&alerts);
    test.push_str("    promql_expr_test:\n");
    test.push_str(&exprs);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), SCENARIO_RULES).unwrap();
    std::fs::write(dir.path().join("test.yml"), &test).unwrap();
    let out = Command::new(promtool)
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "promtool disagrees:\n{text}\n--- test file ---\n{test}"
    );
}
