//! Rule evaluation over `MemStorage` at explicit timestamps: recording
//! output, the alert state machine step by step, `ALERTS` series,
//! staleness, restoring `for` state, reloads, the API JSON and metrics.

use std::sync::Arc;

use beacon_model::{Labels, Matcher, is_stale_nan};
use beacon_promql::Engine;
use beacon_rules::{
    AlertState, AlertToSend, EvalEnv, Group, ParseOptions, Rule, RuleTypeFilter, RulesFilter,
    alerts_response, metric_families, parse_str, rules_response,
};
use beacon_storage::{Appendable, MemStorage, Queryable, ValueType};

const MIN: i64 = 60_000;

struct Fixture {
    db: Arc<MemStorage>,
    engine: Engine,
    ext: Labels,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            db: Arc::new(MemStorage::new()),
            engine: Engine::default(),
            ext: Labels::from_pairs([("cluster", "eu1")]),
        }
    }

    fn env(&self) -> EvalEnv<'_> {
        EvalEnv {
            queryable: &*self.db,
            appendable: &*self.db,
            engine: &self.engine,
            external_labels: &self.ext,
            external_url: "http://prom.example:9090",
            resend_delay_ms: MIN,
        }
    }

    /// Adds `(labels, [(t, v)])` samples.
    fn add(&self, pairs: &[(&str, &str)], samples: &[(i64, f64)]) {
        let l = Labels::from_pairs(pairs.iter().copied());
        let mut app = self.db.appender();
        for (t, v) in samples {
            app.append(Default::default(), &l, *t, *v).unwrap();
        }
        app.commit().unwrap();
    }

    /// Every series of `metric` as `labels t=v t=v`, stale markers as `stale`.
    fn dump(&self, metric: &str) -> Vec<String> {
        let q = self.db.querier(i64::MIN / 4, i64::MAX / 4).unwrap();
        let mut out = Vec::new();
        for mut s in q.select(&[Matcher::equal("__name__", metric)]).unwrap() {
            let mut line = s.labels.to_string();
            while s.samples.next() == ValueType::Float {
                let (t, v) = s.samples.at();
                let v = if is_stale_nan(v) {
                    "stale".to_owned()
                } else {
                    v.to_string()
                };
                line.push_str(&format!(" {}={v}", t / 1000));
            }
            out.push(line);
        }
        out
    }
}

fn group(yaml: &str) -> Group {
    let mut specs = parse_str(yaml, "rules.yml", ParseOptions::default()).unwrap();
    Group::new(specs.remove(0), MIN, 0)
}

fn alert_state(g: &Group, rule: usize) -> Vec<(String, AlertState, i64)> {
    let Rule::Alerting(a) = &g.rules[rule] else {
        panic!("rule {rule} is not an alerting rule")
    };
    a.active_alerts()
        .iter()
        .map(|x| (x.labels.to_string(), x.state, x.active_at_ms / 1000))
        .collect()
}

fn sent(alerts: &[AlertToSend]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            format!(
                "{} {}..{}",
                a.labels,
                a.starts_at_ms / 1000,
                a.ends_at_ms / 1000
            )
        })
        .collect()
}

#[test]
fn recording_rules_write_results_and_staleness() {
    let f = Fixture::new();
    f.add(
        &[("__name__", "req"), ("job", "a"), ("i", "1")],
        &[(0, 1.0), (MIN, 2.0)],
    );
    f.add(
        &[("__name__", "req"), ("job", "a"), ("i", "2")],
        &[(0, 3.0), (MIN, 4.0)],
    );
    let mut g = group(
        "groups:\n  - name: g\n    labels: {team: t}\n    rules:\n      - record: job:req:sum\n        expr: sum by (job) (req)\n        labels: {env: prod}\n      - record: one\n        expr: '1'\n",
    );
    assert!(g.eval(&f.env(), MIN).is_empty());
    assert_eq!(
        f.dump("job:req:sum"),
        [r#"job:req:sum{env="prod", job="a", team="t"} 60=6"#]
    );
    assert_eq!(f.dump("one"), [r#"one{team="t"} 60=1"#]);
    // Five minutes after the last input sample the result disappears: a
    // staleness marker follows.
    g.eval(&f.env(), 7 * MIN);
    assert_eq!(
        f.dump("job:req:sum"),
        [r#"job:req:sum{env="prod", job="a", team="t"} 60=6 420=stale"#]
    );
    assert_eq!(g.rules[0].status().health, beacon_rules::Health::Ok);
    assert_eq!(g.rules[0].status().last_eval_ms, Some(7 * MIN));
}

#[test]
fn recording_rules_keep_native_histograms() {
    let f = Fixture::new();
    let h = beacon_model::FloatHistogram {
        count: 4.0,
        sum: 10.0,
        zero_count: 4.0,
        ..Default::default()
    };
    let l = Labels::from_pairs([("__name__", "lat"), ("job", "a")]);
    let mut app = f.db.appender();
    app.append_histogram(Default::default(), &l, 0, None, Some(&h))
        .unwrap();
    app.commit().unwrap();
    drop(app);
    let mut g = group(
        "groups:\n  - name: g\n    rules:\n      - record: job:lat:sum\n        expr: sum by (job) (lat)\n",
    );
    g.eval(&f.env(), MIN);
    let q = f.db.querier(0, 2 * MIN).unwrap();
    let mut series = q
        .select(&[Matcher::equal("__name__", "job:lat:sum")])
        .unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].samples.next(), ValueType::FloatHistogram);
    let (t, got) = series[0].samples.at_float_histogram();
    assert_eq!((t, got.count, got.sum), (MIN, 4.0, 10.0));
}

#[test]
fn recording_rule_errors() {
    let f = Fixture::new();
    f.add(&[("__name__", "a"), ("x", "1")], &[(0, 1.0)]);
    f.add(&[("__name__", "b"), ("x", "1")], &[(0, 1.0)]);
    let mut g = group(
        "groups:\n  - name: g\n    limit: 1\n    rules:\n      - record: dup\n        expr: '{__name__=~\"a|b\"}'\n      - record: str\n        expr: '\"text\"'\n      - record: many\n        expr: label_replace(a, \"y\", \"1\", \"\", \"\") or label_replace(b, \"y\", \"2\", \"\", \"\")\n",
    );
    g.eval(&f.env(), 1000);
    let errs: Vec<String> = g
        .rules
        .iter()
        .map(|r| r.status().last_error.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        errs,
        [
            "vector contains metrics with the same labelset after applying rule labels",
            "rule result is not a vector or scalar: string",
            "exceeded limit of 1 with 2 series",
        ]
    );
    assert_eq!(g.metrics.evaluation_failures, 3);
    assert!(f.dump("dup").is_empty());
}

#[test]
fn alert_state_machine_step_by_step() {
    let f = Fixture::new();
    let up = [("__name__", "up"), ("job", "n"), ("instance", "i")];
    let samples: Vec<(i64, f64)> = (0..30)
        .map(|m| (m * MIN, if (5..10).contains(&m) { 1.0 } else { 0.0 }))
        .collect();
    f.add(&up, &samples[..10]);
    let mut g = group(
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 2m\n        labels: {severity: page}\n        annotations:\n          summary: '{{ $labels.instance }} of {{ $externalLabels.cluster }} is {{ $value }}'\n",
    );
    let key = r#"{alertname="Down", instance="i", job="n", severity="page"}"#;
    let steps: [(i64, &str, Vec<String>); 7] = [
        (0, "pending@0", vec![]),
        (1, "pending@0", vec![]),
        (2, "firing@0", vec![format!("{key} 120..360")]),
        (3, "firing@0", vec![]),
        (4, "firing@0", vec![format!("{key} 120..480")]),
        // up is 1 from minute 5: resolved, sent once more with its end.
        (5, "-", vec![format!("{key} 120..300")]),
        (6, "-", vec![]),
    ];
    for (m, want_state, want_sent) in steps {
        let out = g.eval(&f.env(), m * MIN);
        let st: Vec<String> = alert_state(&g, 0)
            .iter()
            .map(|(_, s, at)| format!("{}@{at}", s.as_str()))
            .collect();
        assert_eq!(
            st.first().map_or("-", String::as_str),
            want_state,
            "minute {m}"
        );
        assert_eq!(sent(&out), want_sent, "minute {m}");
    }
    let Rule::Alerting(a) = &g.rules[0] else {
        unreachable!()
    };
    let resolved = a.alerts_snapshot();
    assert_eq!(
        resolved[0].annotations.get("summary").map(String::as_str),
        Some("i of eu1 is 0")
    );
    assert_eq!(resolved[0].state, AlertState::Inactive);
    // Resolved alerts are re-sent every resend delay for 15 minutes, then dropped.
    assert_eq!(
        sent(&g.eval(&f.env(), 7 * MIN)),
        [format!("{key} 120..300")]
    );
    g.eval(&f.env(), 21 * MIN);
    let Rule::Alerting(a) = &g.rules[0] else {
        unreachable!()
    };
    assert!(a.alerts_snapshot().is_empty());

    assert_eq!(
        f.dump("ALERTS"),
        [
            r#"ALERTS{alertname="Down", alertstate="firing", instance="i", job="n", severity="page"} 120=1 180=1 240=1 300=stale"#.to_owned(),
            r#"ALERTS{alertname="Down", alertstate="pending", instance="i", job="n", severity="page"} 0=1 60=1 120=stale"#.to_owned(),
        ]
    );
    assert_eq!(
        f.dump("ALERTS_FOR_STATE"),
        [
            r#"ALERTS_FOR_STATE{alertname="Down", instance="i", job="n", severity="page"} 0=0 60=0 120=0 180=0 240=0 300=stale"#
        ]
    );
}

#[test]
fn keep_firing_for_holds_a_firing_alert() {
    let f = Fixture::new();
    f.add(&[("__name__", "bad"), ("x", "1")], &[(0, 1.0)]);
    let mut g = group(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: bad > 0 unless bad offset 1s\n        keep_firing_for: 2m\n",
    );
    // `for: 0` fires on the first evaluation.
    g.eval(&f.env(), 0);
    assert_eq!(alert_state(&g, 0)[0].1, AlertState::Firing);
    for m in [1, 2] {
        g.eval(&f.env(), m * MIN);
        assert_eq!(alert_state(&g, 0)[0].1, AlertState::Firing, "minute {m}");
        let Rule::Alerting(a) = &g.rules[0] else {
            unreachable!()
        };
        assert_eq!(a.alerts_snapshot()[0].keep_firing_since_ms, Some(MIN));
    }
    g.eval(&f.env(), 3 * MIN);
    assert!(alert_state(&g, 0).is_empty());
}

#[test]
fn alert_limit_and_duplicate_labels() {
    let f = Fixture::new();
    f.add(&[("__name__", "m"), ("x", "1")], &[(0, 1.0)]);
    f.add(&[("__name__", "m"), ("x", "2")], &[(0, 1.0)]);
    let mut g = group(
        "groups:\n  - name: g\n    limit: 1\n    rules:\n      - alert: A\n        expr: m\n      - alert: B\n        expr: m\n        labels: {x: same}\n",
    );
    g.eval(&f.env(), 1000);
    assert_eq!(
        g.rules[0].status().last_error.as_deref(),
        Some("exceeded limit of 1 with 2 alerts")
    );
    assert_eq!(
        g.rules[1].status().last_error.as_deref(),
        Some("vector contains metrics with the same labelset after applying alert labels")
    );
    assert!(alert_state(&g, 0).is_empty());
}

#[test]
fn template_errors_become_annotation_text() {
    let f = Fixture::new();
    f.add(&[("__name__", "m")], &[(0, 5.0)]);
    let mut g = group(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: m\n        annotations:\n          v: '{{ $value | humanize }} {{ with query \"m * 2\" }}{{ . | first | value }}{{ end }}'\n          bad: '{{ query \"m\" | first | label 1 }}'\n",
    );
    g.eval(&f.env(), 1000);
    let Rule::Alerting(a) = &g.rules[0] else {
        unreachable!()
    };
    let al = &a.alerts_snapshot()[0];
    assert_eq!(al.annotations.get("v").map(String::as_str), Some("5 10"));
    assert_eq!(
        al.annotations.get("bad").map(String::as_str),
        Some(
            "<error expanding template: error executing template __alert_A: template: __alert_A:1: executing \"__alert_A\": error calling label: wrong type for value; expected string; got int>"
        )
    );
}

#[test]
fn restore_for_state_after_restart() {
    let f = Fixture::new();
    for i in ["a", "b", "c"] {
        f.add(&[("__name__", "up"), ("instance", i)], &[(1_200_000, 0.0)]);
    }
    fn series(i: &str) -> [(&str, &str); 3] {
        [
            ("__name__", "ALERTS_FOR_STATE"),
            ("alertname", "Down"),
            ("instance", i),
        ]
    }
    // a: pending 100s of 30m when the server went down at 1000s.
    f.add(&series("a"), &[(1_000_000, 900.0)]);
    // b: only 50s were left: restored to fire one grace period from now.
    f.add(&series("b"), &[(1_000_000, -750.0)]);
    // c: nothing stored: keeps its fresh activeAt.
    let mut g = group(
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 30m\n",
    );
    g.prepare_restore();
    g.eval(&f.env(), 1_200_000);
    // Until restored, no ALERTS series are written.
    assert!(f.dump("ALERTS").is_empty());
    g.restore_for_state(&f.env(), 1_200_000, 600_000, 3_600_000);
    let got: Vec<(String, i64)> = alert_state(&g, 0)
        .into_iter()
        .map(|(l, _, at)| (l, at))
        .collect();
    assert_eq!(
        got,
        [
            (r#"{alertname="Down", instance="a"}"#.to_owned(), 1100),
            (r#"{alertname="Down", instance="b"}"#.to_owned(), 0),
            (r#"{alertname="Down", instance="c"}"#.to_owned(), 1200),
        ]
    );
    g.eval(&f.env(), 1_260_000);
    assert_eq!(f.dump("ALERTS").len(), 3);
}

#[test]
fn reload_keeps_state_and_stales_dropped_rules() {
    let f = Fixture::new();
    f.add(&[("__name__", "m")], &[(0, 1.0)]);
    let v1 = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: m\n        for: 2m\n      - record: old\n        expr: m\n";
    let v2 = "groups:\n  - name: g\n    rules:\n      - record: new\n        expr: m\n      - alert: A\n        expr: m\n        for: 2m\n";
    let mut g1 = group(v1);
    g1.eval(&f.env(), 0);
    let mut g2 = group(v2);
    g2.copy_state(&g1);
    assert_eq!(
        alert_state(&g2, 1),
        [(r#"{alertname="A"}"#.to_owned(), AlertState::Pending, 0)]
    );
    g2.eval(&f.env(), 2 * MIN);
    assert_eq!(alert_state(&g2, 1)[0].1, AlertState::Firing);
    assert_eq!(f.dump("old"), ["old 0=1 120=stale"]);
    assert_eq!(f.dump("new"), ["new 120=1"]);
    // A rule renamed in place: the old name's series go stale, but a
    // series the group still produces is left alone.
    let v3 = "groups:\n  - name: g\n    rules:\n      - record: new\n        expr: m\n        labels: {x: y}\n      - alert: A\n        expr: m\n        for: 2m\n";
    let mut g3 = group(v3);
    g3.copy_state(&g2);
    let mut g4 = group(v2);
    g3.eval(&f.env(), 150_000);
    g4.copy_state(&g3);
    g4.eval(&f.env(), 160_000);
    assert_eq!(
        f.dump("new"),
        ["new 120=1 150=stale 160=1", r#"new{x="y"} 150=1 160=stale"#,]
    );
    g2 = g4;

    // Removing the group marks everything it wrote stale.
    g2.mark_stale(&f.env(), 3 * MIN);
    assert_eq!(f.dump("new")[0], "new 120=1 150=stale 160=1 180=stale");
    assert_eq!(
        f.dump("ALERTS"),
        [
            r#"ALERTS{alertname="A", alertstate="firing"} 120=1 150=1 160=1 180=stale"#,
            r#"ALERTS{alertname="A", alertstate="pending"} 0=1 120=stale"#,
        ]
    );
}

#[test]
fn query_offset_shifts_query_and_output() {
    let f = Fixture::new();
    f.add(&[("__name__", "m")], &[(0, 1.0), (MIN, 2.0)]);
    let mut g = group(
        "groups:\n  - name: g\n    query_offset: 1m\n    rules:\n      - record: r\n        expr: m\n",
    );
    g.eval(&f.env(), 2 * MIN);
    assert_eq!(f.dump("r"), ["r 60=2"]);
}

#[test]
fn api_json_shape() {
    let f = Fixture::new();
    f.add(
        &[("__name__", "up"), ("instance", "i")],
        &[(1_700_000_000_000, 0.0)],
    );
    let mut g = group(
        "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - record: job:up\n        expr: sum(up)\n      - alert: Down\n        expr: up==0\n        for: 5m\n        labels: {severity: page}\n        annotations: {summary: 'down {{ $value }}'}\n",
    );
    g.eval(&f.env(), 1_700_000_000_500);
    g.last_duration = std::time::Duration::from_millis(5);
    for r in &mut g.rules {
        match r {
            Rule::Recording(x) => x.status.eval_duration = std::time::Duration::from_millis(1),
            Rule::Alerting(x) => x.status.eval_duration = std::time::Duration::from_millis(2),
        }
    }
    let groups = vec![g];
    let got = serde_json::to_value(rules_response(&groups, &RulesFilter::default())).unwrap();
    let alert = serde_json::json!({
        "labels": {"alertname": "Down", "instance": "i", "severity": "page"},
        "annotations": {"summary": "down 0"},
        "state": "pending",
        "activeAt": "2023-11-14T22:13:20.5Z",
        "value": "0e+00"
    });
    let want = serde_json::json!({"groups": [{
        "name": "g", "file": "rules.yml", "interval": 30, "limit": 0,
        "evaluationTime": 0.005, "lastEvaluation": "2023-11-14T22:13:20.5Z",
        "rules": [
            {"name": "job:up", "query": "sum(up)", "health": "ok", "evaluationTime": 0.001,
             "lastEvaluation": "2023-11-14T22:13:20.5Z", "type": "recording"},
            {"state": "pending", "name": "Down", "query": "up == 0", "duration": 300, "keepFiringFor": 0,
             "labels": {"severity": "page"}, "annotations": {"summary": "down {{ $value }}"},
             "alerts": [alert.clone()], "health": "ok", "evaluationTime": 0.002,
             "lastEvaluation": "2023-11-14T22:13:20.5Z", "type": "alerting"}
        ]
    }]});
    assert_eq!(got, want);
    let text = serde_json::to_string(&rules_response(&groups, &RulesFilter::default())).unwrap();
    assert!(text.contains(r#""interval":30,"limit":0"#), "{text}");
    assert!(
        text.contains(r#""duration":300,"keepFiringFor":0"#),
        "{text}"
    );
    let alerts = serde_json::to_value(alerts_response(&groups)).unwrap();
    assert_eq!(alerts, serde_json::json!({"alerts": [alert]}));

    let names = |f: &RulesFilter| -> Vec<String> {
        rules_response(&groups, f)
            .groups
            .iter()
            .flat_map(|g| g.rules.iter())
            .map(|r| match r {
                beacon_rules::RuleJson::Alerting(a) => a.name.clone(),
                beacon_rules::RuleJson::Recording(r) => r.name.clone(),
            })
            .collect()
    };
    let filter = |f: fn(&mut RulesFilter)| {
        let mut x = RulesFilter::default();
        f(&mut x);
        x
    };
    assert_eq!(
        names(&filter(|f| f.rule_type = RuleTypeFilter::Alert)),
        ["Down"]
    );
    assert_eq!(
        names(&filter(|f| f.rule_type = RuleTypeFilter::Record)),
        ["job:up"]
    );
    assert_eq!(
        names(&filter(|f| f.rule_names = vec!["job:up".into()])),
        ["job:up"]
    );
    assert!(names(&filter(|f| f.rule_groups = vec!["other".into()])).is_empty());
    assert!(names(&filter(|f| f.files = vec!["other.yml".into()])).is_empty());
    assert_eq!(
        names(&filter(
            |f| f.matchers = vec![vec![Matcher::equal("severity", "page")]]
        )),
        ["Down"]
    );
    let excluded = rules_response(&groups, &filter(|f| f.exclude_alerts = true));
    let v = serde_json::to_value(&excluded).unwrap();
    assert_eq!(
        v["groups"][0]["rules"][1]["alerts"],
        serde_json::Value::Null
    );
}

#[test]
fn self_metrics() {
    let f = Fixture::new();
    let mut g = group(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: vector(1)\n      - record: bad\n        expr: '\"s\"'\n",
    );
    g.eval(&f.env(), 1000);
    g.eval(&f.env(), 2000);
    let fams = metric_families(&[g]);
    let value = |name: &str| -> f64 {
        let fam = fams
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(fam.metrics[0].labels.get("rule_group"), Some("rules.yml;g"));
        match &fam.metrics[0].value {
            beacon_exposition::family::MetricValue::Counter { value, .. } => *value,
            beacon_exposition::family::MetricValue::Gauge(v) => *v,
            beacon_exposition::family::MetricValue::Summary { count, .. } => *count,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(value("prometheus_rule_evaluations_total"), 4.0);
    assert_eq!(value("prometheus_rule_evaluation_failures_total"), 2.0);
    assert_eq!(value("prometheus_rule_group_iterations_total"), 2.0);
    assert_eq!(value("prometheus_rule_group_iterations_missed_total"), 0.0);
    assert_eq!(value("prometheus_rule_group_interval_seconds"), 60.0);
    assert_eq!(value("prometheus_rule_group_rules"), 2.0);
    assert_eq!(
        value("prometheus_rule_group_last_evaluation_timestamp_seconds"),
        2.0
    );
    assert_eq!(value("prometheus_rule_evaluation_duration_seconds"), 4.0);
    assert_eq!(value("prometheus_rule_group_last_evaluation_samples"), 1.0);
    assert!(value("prometheus_rule_group_last_duration_seconds") >= 0.0);
}
