//! The notifier against a local Alertmanager stand-in (an axum server on
//! 127.0.0.1 that records every request): body shape, batching, external
//! labels, relabelling, authentication, timeouts, queue overflow,
//! discovery, reloads and draining on stop.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use beacon_config::Config;
use beacon_exposition::family::{MetricFamily, MetricValue};
use beacon_model::Labels;
use beacon_notifier::{Alert, Notifier, Options};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// Generous: the machine is shared and tests run in parallel.
const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
struct Request {
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

/// A recording receiver; stopped when dropped.
struct Receiver {
    addr: String,
    requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Answers every request with `status` after `delay`.
    async fn start(status: StatusCode, delay: Duration) -> Receiver {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let rec = requests.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, h: HeaderMap, body: Bytes| {
            let rec = rec.clone();
            async move {
                let header = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_owned());
                rec.lock().push(Request {
                    path: uri.path().to_owned(),
                    authorization: header("authorization"),
                    content_type: header("content-type"),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                });
                tokio::time::sleep(delay).await;
                status
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        Receiver {
            addr,
            requests,
            task,
        }
    }

    async fn ok() -> Receiver {
        Receiver::start(StatusCode::OK, Duration::ZERO).await
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().clone()
    }

    /// Every alert received, in arrival order.
    fn alerts(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .flat_map(|r| r.body.as_array().cloned().unwrap_or_default())
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A started notifier with `yaml` applied and every Alertmanager found.
async fn notifier(opts: Options, yaml: &str, expect_active: usize) -> Notifier {
    let n = Notifier::new(opts);
    n.apply_config(&Config::from_yaml_str(yaml, "prometheus.yml").unwrap())
        .unwrap();
    wait_until("alertmanager discovery", || {
        n.active_alertmanagers().len() == expect_active
    })
    .await;
    n
}

fn alert(name: &str, extra: &[(&str, &str)]) -> Alert {
    let mut pairs = vec![("alertname", name)];
    pairs.extend_from_slice(extra);
    Alert {
        labels: Labels::from_pairs(pairs),
        annotations: Labels::from_pairs([("summary", "disk full")]),
        starts_at: 1_700_000_000_000,
        ends_at: Some(1_700_003_600_000),
        generator_url: "http://beacon:9090/graph?g0.expr=up".into(),
    }
}

fn names(alerts: &[Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap().to_owned())
        .collect()
}

/// The value of `family{alertmanager=url}` (or the unlabelled one).
fn metric(n: &Notifier, family: &str, url: Option<&str>) -> Option<f64> {
    let mut out: Vec<MetricFamily> = Vec::new();
    n.collect(&mut out);
    let f = out.into_iter().find(|f| f.name == family)?;
    let m = f
        .metrics
        .into_iter()
        .find(|m| m.labels.get("alertmanager") == url)?;
    Some(match m.value {
        MetricValue::Counter { value, .. } => value,
        MetricValue::Gauge(v) => v,
        MetricValue::Summary { count, .. } => count,
        other => panic!("unexpected value {other:?}"),
    })
}

#[tokio::test]
async fn body_external_labels_and_basic_auth() {
    let r = Receiver::ok().await;
    let yaml = format!(
        "global:\n  external_labels:\n    dc: eu\n    job: global\nalerting:\n  alertmanagers:\n  - path_prefix: /am\n    basic_auth:\n      username: u\n      password: p\n    static_configs:\n    - targets: ['{}']\n",
        r.addr
    );
    let n = notifier(Options::default(), &yaml, 1).await;
    let url = r.url("/am/api/v2/alerts");
    assert_eq!(n.active_alertmanagers(), std::slice::from_ref(&url));
    assert_eq!(
        metric(&n, "prometheus_notifications_sent_total", Some(&url)),
        Some(0.0)
    );

    n.send(vec![alert("DiskFull", &[("job", "node")])]);
    wait_until("one request", || r.requests().len() == 1).await;
    let req = &r.requests()[0];
    assert_eq!(req.path, "/am/api/v2/alerts");
    assert_eq!(req.authorization.as_deref(), Some("Basic dTpw"));
    assert_eq!(req.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        req.body,
        json!([{
            "labels": {"alertname": "DiskFull", "dc": "eu", "job": "node"},
            "annotations": {"summary": "disk full"},
            "startsAt": "2023-11-14T22:13:20.000Z",
            "endsAt": "2023-11-14T23:13:20.000Z",
            "generatorURL": "http://beacon:9090/graph?g0.expr=up",
        }])
    );
    wait_until("sent counter", || {
        n.alertmanager_counts(&url) == Some((1, 0))
    })
    .await;
    assert_eq!(
        metric(&n, "prometheus_notifications_latency_seconds", Some(&url)),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &n,
            "prometheus_notifications_alertmanagers_discovered",
            None
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&n, "prometheus_notifications_dropped_total", None),
        Some(0.0)
    );
    n.stop().await;
}

#[tokio::test]
async fn batches_of_64_in_order() {
    let r = Receiver::ok().await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        r.addr
    );
    let n = notifier(Options::default(), &yaml, 1).await;
    let sent: Vec<Alert> = (0..150).map(|i| alert(&format!("A{i:03}"), &[])).collect();
    n.send(sent);
    wait_until("150 alerts", || r.alerts().len() == 150).await;
    let sizes: Vec<usize> = r
        .requests()
        .iter()
        .map(|q| q.body.as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [64, 64, 22]);
    let want: Vec<String> = (0..150).map(|i| format!("A{i:03}")).collect();
    assert_eq!(names(&r.alerts()), want);
    n.stop().await;
}

#[tokio::test]
async fn global_and_per_set_alert_relabelling() {
    let (a, b) = (Receiver::ok().await, Receiver::ok().await);
    let yaml = format!(
        concat!(
            "alerting:\n  alert_relabel_configs:\n",
            "  - source_labels: [severity]\n    regex: info\n    action: drop\n",
            "  alertmanagers:\n",
            "  - static_configs:\n    - targets: ['{}']\n",
            "  - static_configs:\n    - targets: ['{}']\n    alert_relabel_configs:\n",
            "    - source_labels: [team]\n      regex: db\n      action: keep\n",
            "    - target_label: routed\n      replacement: 'yes'\n",
        ),
        a.addr, b.addr
    );
    let n = notifier(Options::default(), &yaml, 2).await;
    n.send(vec![
        alert("Info", &[("severity", "info"), ("team", "db")]),
        alert("DbDown", &[("team", "db")]),
        alert("WebDown", &[("team", "web")]),
    ]);
    wait_until("both sets", || {
        a.alerts().len() == 2 && b.alerts().len() == 1
    })
    .await;
    assert_eq!(names(&a.alerts()), ["DbDown", "WebDown"]);
    let got = b.alerts();
    assert_eq!(
        got[0]["labels"],
        json!({"alertname": "DbDown", "team": "db", "routed": "yes"})
    );

    // A batch the second set's rules drop entirely is not sent there.
    n.send(vec![alert("WebSlow", &[("team", "web")])]);
    wait_until("first set", || a.alerts().len() == 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(b.requests().len(), 1);
    assert_eq!(n.dropped_total(), 0);
    n.stop().await;
}

#[tokio::test]
async fn timeout_and_error_status_count_as_errors() {
    let slow = Receiver::start(StatusCode::OK, Duration::from_secs(5)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - timeout: 200ms\n    static_configs:\n    - targets: ['{}']\n",
        slow.addr
    );
    let n = notifier(Options::default(), &yaml, 1).await;
    let url = slow.url("/api/v2/alerts");
    n.send(vec![alert("A", &[]), alert("B", &[])]);
    wait_until("error counted", || {
        n.alertmanager_counts(&url) == Some((0, 2))
    })
    .await;
    wait_until("dropped counted", || n.dropped_total() == 2).await;
    assert_eq!(
        metric(&n, "prometheus_notifications_errors_total", Some(&url)),
        Some(2.0)
    );
    n.stop().await;

    // A 5xx is an error too, but one healthy Alertmanager in the set
    // delivers the batch.
    let bad = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO).await;
    let good = Receiver::ok().await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}', '{}']\n",
        bad.addr, good.addr
    );
    let n = notifier(Options::default(), &yaml, 2).await;
    n.send(vec![alert("A", &[])]);
    let bad_url = bad.url("/api/v2/alerts");
    wait_until("5xx counted", || {
        n.alertmanager_counts(&bad_url) == Some((0, 1))
    })
    .await;
    wait_until("delivered", || {
        n.alertmanager_counts(&good.url("/api/v2/alerts")) == Some((1, 0))
    })
    .await;
    assert_eq!(n.dropped_total(), 0);
    n.stop().await;
}

#[tokio::test]
async fn queue_overflow_drops_oldest() {
    let r = Receiver::ok().await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        r.addr
    );
    let opts = Options {
        queue_capacity: 5,
        ..Options::default()
    };
    let n = notifier(opts, &yaml, 1).await;
    assert_eq!(
        metric(&n, "prometheus_notifications_queue_capacity", None),
        Some(5.0)
    );
    n.send((0..8).map(|i| alert(&format!("A{i}"), &[])).collect());
    assert_eq!(n.dropped_total(), 3);
    wait_until("five alerts", || r.alerts().len() == 5).await;
    assert_eq!(names(&r.alerts()), ["A3", "A4", "A5", "A6", "A7"]);
    assert_eq!(
        metric(&n, "prometheus_notifications_dropped_total", None),
        Some(3.0)
    );
    assert_eq!(
        metric(&n, "prometheus_notifications_queue_length", None),
        Some(0.0)
    );
    n.stop().await;
}

#[tokio::test]
async fn discovery_relabelling_and_reload() {
    let (a, b) = (Receiver::ok().await, Receiver::ok().await);
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("am.json");
    std::fs::write(
        &sd,
        format!(
            r#"[{{"targets": ["{}", "{}"], "labels": {{"dc": "eu"}}}}]"#,
            a.addr, b.addr
        ),
    )
    .unwrap();
    let yaml = format!(
        concat!(
            "alerting:\n  alertmanagers:\n  - file_sd_configs:\n    - files: ['{}']\n",
            "    relabel_configs:\n",
            "    - source_labels: [__address__]\n      regex: '{}'\n      action: drop\n",
            "    - target_label: __scheme__\n      replacement: http\n",
        ),
        sd.display(),
        regex_quote(&b.addr)
    );
    let n = notifier(Options::default(), &yaml, 1).await;
    assert_eq!(n.active_alertmanagers(), [a.url("/api/v2/alerts")]);
    assert_eq!(n.dropped_alertmanagers(), [b.url("/api/v2/alerts")]);

    // Reload onto b only.
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        b.addr
    );
    n.apply_config(&Config::from_yaml_str(&yaml, "prometheus.yml").unwrap())
        .unwrap();
    wait_until("reloaded set", || {
        n.active_alertmanagers() == [b.url("/api/v2/alerts")]
    })
    .await;
    assert!(n.dropped_alertmanagers().is_empty());
    n.send(vec![alert("AfterReload", &[])]);
    wait_until("b receives", || b.alerts().len() == 1).await;
    assert!(a.alerts().is_empty());
    n.stop().await;
}

fn regex_quote(s: &str) -> String {
    s.replace('.', "\\.")
}

#[tokio::test]
async fn stop_drains_the_queue() {
    let r = Receiver::start(StatusCode::OK, Duration::from_millis(50)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        r.addr
    );
    let opts = Options {
        max_batch_size: 2,
        ..Options::default()
    };
    let n = notifier(opts, &yaml, 1).await;
    n.send((0..10).map(|i| alert(&format!("A{i}"), &[])).collect());
    n.stop().await;
    assert_eq!(r.alerts().len(), 10);
    assert_eq!(n.queue_len(), 0);
    assert_eq!(n.dropped_total(), 0);
}

#[tokio::test]
async fn stop_past_deadline_drops_the_rest() {
    let r = Receiver::start(StatusCode::OK, Duration::from_secs(5)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        r.addr
    );
    let opts = Options {
        max_batch_size: 1,
        drain_deadline: Duration::from_millis(300),
        ..Options::default()
    };
    let n = notifier(opts, &yaml, 1).await;
    n.send((0..4).map(|i| alert(&format!("A{i}"), &[])).collect());
    wait_until("first request in flight", || r.requests().len() == 1).await;
    let started = tokio::time::Instant::now();
    n.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stop waited for the slow peer"
    );
    assert_eq!(n.queue_len(), 0);
    // The batch in flight is cut off and counted with the queued ones.
    assert_eq!(n.dropped_total(), 4);
}

#[tokio::test]
async fn stop_without_drain_drops_the_queue() {
    let r = Receiver::start(StatusCode::OK, Duration::from_millis(300)).await;
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        r.addr
    );
    let opts = Options {
        max_batch_size: 1,
        drain_on_shutdown: false,
        ..Options::default()
    };
    let n = notifier(opts, &yaml, 1).await;
    n.send((0..4).map(|i| alert(&format!("A{i}"), &[])).collect());
    wait_until("first request in flight", || r.requests().len() == 1).await;
    n.stop().await;
    // The batch in flight completes; the queued ones are dropped.
    assert_eq!(r.requests().len(), 1);
    assert_eq!(
        n.alertmanager_counts(&r.url("/api/v2/alerts")),
        Some((1, 0))
    );
    assert_eq!(n.dropped_total(), 3);
    assert_eq!(n.queue_len(), 0);
    // Nothing sends after stop: new alerts are counted as dropped.
    n.send(vec![alert("Late", &[])]);
    assert_eq!(n.dropped_total(), 4);
    assert_eq!(n.queue_len(), 0);
}

#[tokio::test]
async fn reload_keeps_the_queue() {
    let slow = Receiver::start(StatusCode::OK, Duration::from_millis(500)).await;
    let fresh = Receiver::ok().await;
    let config = |addr: &str| {
        let yaml = format!(
            "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{addr}']\n"
        );
        Config::from_yaml_str(&yaml, "prometheus.yml").unwrap()
    };
    let opts = Options {
        max_batch_size: 1,
        ..Options::default()
    };
    let n = Notifier::new(opts);
    n.apply_config(&config(&slow.addr)).unwrap();
    wait_until("first set", || n.active_alertmanagers().len() == 1).await;
    n.send((0..3).map(|i| alert(&format!("A{i}"), &[])).collect());
    wait_until("first request in flight", || slow.requests().len() == 1).await;
    n.apply_config(&config(&fresh.addr)).unwrap();
    wait_until("the rest at the new set", || fresh.alerts().len() == 2).await;
    assert_eq!(names(&slow.alerts()), ["A0"]);
    assert_eq!(names(&fresh.alerts()), ["A1", "A2"]);
    assert_eq!(n.dropped_total(), 0);
    n.stop().await;
}

#[tokio::test]
async fn unusable_set_is_refused_and_nothing_changes() {
    let r = Receiver::ok().await;
    let good = format!(
        "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        r.addr
    );
    let n = notifier(Options::default(), &good, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-password");
    let bad = format!(
        "{good}  - basic_auth:\n      username: u\n      password_file: '{}'\n    static_configs:\n    - targets: ['{}']\n",
        missing.display(),
        r.addr
    );
    let err = n
        .apply_config(&Config::from_yaml_str(&bad, "prometheus.yml").unwrap())
        .unwrap_err();
    assert!(
        matches!(&err, beacon_notifier::Error::Set { set, .. } if set == "config-1"),
        "{err}"
    );
    assert!(err.to_string().contains("missing-password"), "{err}");
    assert_eq!(n.active_alertmanagers(), [r.url("/api/v2/alerts")]);
    n.stop().await;
}
