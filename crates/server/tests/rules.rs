//! End to end: `beacon` evaluates a rule file over what it scrapes — a
//! recording rule is queryable, an alert fires and reaches a real
//! Alertmanager (Debian's `prometheus-alertmanager`, started here on a
//! free 127.0.0.1 port) — the rules and alerts API show both, and a
//! reload with a broken rule file fails and keeps the running rules.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Proc, Target, eventually, free_port, get, http, read};

const BEACON: &str = env!("CARGO_BIN_EXE_beacon");
const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const WAIT: Duration = Duration::from_secs(60);

const RULES: &str = r#"groups:
  - name: e2e
    interval: 1s
    rules:
      - record: job:e2e_temperature:max
        expr: max by (job) (e2e_temperature)
      - alert: TooHot
        expr: e2e_temperature > 20
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is at {{ $value }} degrees"
"#;

fn start_alertmanager(dir: &Path) -> Proc {
    assert!(
        Path::new(ALERTMANAGER).exists(),
        "{ALERTMANAGER} NOT FOUND: this test needs the Debian package prometheus-alertmanager (bash .ci/run installs it)"
    );
    let cfg = dir.join("alertmanager.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n",
    )
    .unwrap();
    let port = free_port();
    let log = dir.join("alertmanager.log");
    let args = vec![
        format!("--config.file={}", cfg.display()),
        format!("--storage.path={}", dir.join("am-data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--cluster.listen-address=".to_owned(),
    ];
    let mut p = Proc::spawn("alertmanager", ALERTMANAGER, &args, port, &log);
    p.wait_ready(&log);
    p
}

fn config(am_port: u16, target_port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels:\n    site: e2e\n\
         rule_files: ['rules.yml']\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
         scrape_configs:\n  - job_name: e2e\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    )
}

#[test]
fn rules_alerts_and_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let mut am = start_alertmanager(dir.path());
    let target =
        Target::start(|_| "# TYPE e2e_temperature gauge\ne2e_temperature 21.5\n".to_owned());
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        config(am.port, target.port),
    )
    .unwrap();
    let port = free_port();
    let log = dir.path().join("beacon.log");
    let args = vec![
        format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        format!("--web.external-url=http://beacon.example:{port}/"),
        "--web.enable-lifecycle".into(),
    ];
    let mut p = Proc::spawn("beacon", BEACON, &args, port, &log);
    p.wait_ready(&log);

    // The recording rule's output is stored and queryable.
    let recorded = "/api/v1/query?query=job:e2e_temperature:max";
    assert!(
        eventually(WAIT, || get(port, recorded).1.contains(r#""value":["#)),
        "no recorded series; log:\n{}",
        read(&log)
    );
    let (_, body) = get(port, recorded);
    assert!(
        body.contains(r#""job":"e2e""#) && body.contains(r#""21.5"]"#),
        "{body}"
    );

    // The alert fires (no `for`) and the API shows it.
    assert!(
        eventually(WAIT, || get(port, "/api/v1/alerts")
            .1
            .contains(r#""state":"firing""#)),
        "alert never fired: {}\nlog:\n{}",
        get(port, "/api/v1/alerts").1,
        read(&log)
    );
    let (_, rules) = get(port, "/api/v1/rules");
    let v: serde_json::Value = serde_json::from_str(&rules).unwrap();
    let group = &v["data"]["groups"][0];
    assert_eq!(group["name"], "e2e", "{rules}");
    assert_eq!(group["rules"].as_array().map(Vec::len), Some(2), "{rules}");
    assert_eq!(group["rules"][0]["type"], "recording", "{rules}");
    assert_eq!(group["rules"][1]["type"], "alerting", "{rules}");
    assert_eq!(group["rules"][1]["health"], "ok", "{rules}");
    let (_, only_alerts) = get(port, "/api/v1/rules?type=alert");
    assert!(!only_alerts.contains("recording"), "{only_alerts}");
    let (_, ams) = get(port, "/api/v1/alertmanagers");
    assert!(
        ams.contains(&format!("http://127.0.0.1:{}/api/v2/alerts", am.port)),
        "{ams}"
    );

    // The real Alertmanager received it, with labels, external labels and
    // the expanded annotation.
    let instance = format!("127.0.0.1:{}", target.port);
    assert!(
        eventually(WAIT, || get(am.port, "/api/v2/alerts").1.contains("TooHot")),
        "Alertmanager got no alert; beacon log:\n{}",
        read(&log)
    );
    let (_, got) = get(am.port, "/api/v2/alerts");
    let alerts: serde_json::Value = serde_json::from_str(&got).unwrap();
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "TooHot", "{got}");
    assert_eq!(a["labels"]["severity"], "page", "{got}");
    assert_eq!(a["labels"]["site"], "e2e", "{got}");
    assert_eq!(a["labels"]["instance"], instance.as_str(), "{got}");
    assert_eq!(
        a["annotations"]["summary"],
        format!("{instance} is at 21.5 degrees"),
        "{got}"
    );
    let generator = format!("http://beacon.example:{port}/graph?g0.expr=");
    assert!(
        a["generatorURL"]
            .as_str()
            .is_some_and(|u| u.starts_with(&generator)),
        "{got}"
    );

    // The self-metrics count evaluations and notifications.
    let (_, metrics) = get(port, "/metrics");
    assert!(
        metrics.contains("prometheus_rule_evaluations_total{rule_group="),
        "{metrics}"
    );
    assert!(
        metrics.contains("prometheus_notifications_sent_total{alertmanager="),
        "{metrics}"
    );

    // A broken rule file: the reload fails, the old rules keep running.
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: e2e\n    rules:\n      - record: x\n        expr: sum(\n",
    )
    .unwrap();
    let (status, body) = http(port, "POST", "/-/reload", None).unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("rules.yml"), "{body}");
    let (_, metrics) = get(port, "/metrics");
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "{metrics}"
    );
    let (_, rules) = get(port, "/api/v1/rules");
    assert!(rules.contains("job:e2e_temperature:max"), "{rules}");

    assert!(p.terminate(), "log:\n{}", read(&log));
    let am_log = dir.path().join("alertmanager.log");
    assert!(am.terminate(), "alertmanager log:\n{}", read(&am_log));
}
