//! Interoperability with the real Alertmanager (Debian package
//! `prometheus-alertmanager`): alerts sent through the notifier are read
//! back from Alertmanager's own API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use beacon_config::Config;
use beacon_model::Labels;
use beacon_notifier::{Alert, Notifier, Options};
use serde_json::Value;

/// Generous: the machine is shared and Alertmanager starts in seconds.
const WAIT: Duration = Duration::from_secs(60);

const AM_CONFIG: &str = "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n";

/// Finds the Alertmanager binary; fails the test loudly when it is absent.
fn alertmanager_binary() -> PathBuf {
    let debian = Path::new("/usr/bin/prometheus-alertmanager");
    if debian.exists() {
        return debian.to_owned();
    }
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("prometheus-alertmanager"))
            .find(|c| c.exists())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "prometheus-alertmanager not found: install the Debian package \
             `prometheus-alertmanager` (apt-get install prometheus-alertmanager) \
             to run this interoperability test"
        )
    })
}

/// A running Alertmanager, killed (and reaped) when dropped, even when
/// the test panics.
struct AlertmanagerProcess {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for AlertmanagerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// How the Alertmanager under test is reached.
struct Access {
    /// `--web.route-prefix`, empty for none.
    prefix: &'static str,
    /// A user and password required through `--web.config.file`.
    basic_auth: Option<(&'static str, &'static str)>,
}

impl AlertmanagerProcess {
    fn start(access: &Access) -> AlertmanagerProcess {
        let bin = alertmanager_binary();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, AM_CONFIG).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=");
        if !access.prefix.is_empty() {
            cmd.arg(format!("--web.route-prefix={}", access.prefix));
        }
        if let Some((user, password)) = access.basic_auth {
            // The lowest cost bcrypt allows keeps each request cheap.
            let hash = bcrypt::hash(password, 4).unwrap();
            let web = dir.path().join("web.yml");
            std::fs::write(&web, format!("basic_auth_users:\n  {user}: '{hash}'\n")).unwrap();
            cmd.arg(format!("--web.config.file={}", web.display()));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("stderr.log")).unwrap(),
            ))
            .spawn()
            .expect("starting prometheus-alertmanager");
        AlertmanagerProcess {
            child,
            addr,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self, client: &reqwest::Client, access: &Access) {
        let start = tokio::time::Instant::now();
        let url = format!("http://{}{}/-/ready", self.addr, access.prefix);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("alertmanager exited with {status}:\n{}", self.log());
            }
            if let Ok(r) = authed(client.get(&url), access).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "alertmanager not ready:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `GET /api/v2/alerts` until at least `n` alerts are listed.
    async fn alerts(&self, client: &reqwest::Client, access: &Access, n: usize) -> Vec<Value> {
        let url = format!("http://{}{}/api/v2/alerts", self.addr, access.prefix);
        let start = tokio::time::Instant::now();
        loop {
            let resp = authed(client.get(&url), access).send().await.unwrap();
            let got: Vec<Value> = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < WAIT,
                "alerts never showed up: {got:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn authed(rb: reqwest::RequestBuilder, access: &Access) -> reqwest::RequestBuilder {
    match access.basic_auth {
        Some((u, p)) => rb.basic_auth(u, Some(p)),
        None => rb,
    }
}

/// A started notifier with every Alertmanager of `yaml` discovered.
async fn notifier(yaml: &str, expect_active: usize) -> Notifier {
    let n = Notifier::new(Options::default());
    n.apply_config(&Config::from_yaml_str(yaml, "prometheus.yml").unwrap())
        .unwrap();
    let start = tokio::time::Instant::now();
    while n.active_alertmanagers().len() < expect_active {
        assert!(start.elapsed() < WAIT, "alertmanagers not discovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    n
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn parse_ms(v: &Value) -> i64 {
    v.as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond()
}

fn alert(name: &str, severity: &str, starts_at: i64) -> Alert {
    Alert {
        labels: Labels::from_pairs([("alertname", name), ("severity", severity)]),
        annotations: Labels::from_pairs([("summary", format!("{name} fired").as_str())]),
        starts_at,
        ends_at: Some(starts_at + 3_600_000),
        generator_url: format!("http://beacon.example:9090/graph?g0.expr={name}"),
    }
}

#[tokio::test]
async fn alerts_round_trip_through_alertmanager() {
    let access = Access {
        prefix: "",
        basic_auth: None,
    };
    let mut am = AlertmanagerProcess::start(&access);
    let http = reqwest::Client::new();
    am.wait_ready(&http, &access).await;

    let yaml = format!(
        "global:\n  external_labels:\n    replica: a\nalerting:\n  alert_relabel_configs:\n  - source_labels: [severity]\n    regex: debug\n    action: drop\n  alertmanagers:\n  - static_configs:\n    - targets: ['{}']\n",
        am.addr
    );
    let n = notifier(&yaml, 1).await;
    let url = format!("http://{}/api/v2/alerts", am.addr);
    assert_eq!(n.active_alertmanagers(), std::slice::from_ref(&url));

    // Explicit instants a minute in the past, so Alertmanager keeps them active.
    let t0 = now_ms() - 60_000;
    n.send(vec![
        alert("DiskFull", "critical", t0),
        alert("HighLoad", "warning", t0 + 1_234),
        alert("Noise", "debug", t0),
    ]);
    let mut got = am.alerts(&http, &access, 2).await;
    got.sort_by_key(|a| {
        a["labels"]["alertname"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    assert_eq!(
        got.len(),
        2,
        "the debug alert must be relabelled away: {got:?}"
    );
    for (a, (name, severity, starts)) in got.iter().zip([
        ("DiskFull", "critical", t0),
        ("HighLoad", "warning", t0 + 1_234),
    ]) {
        assert_eq!(
            a["labels"],
            serde_json::json!({"alertname": name, "severity": severity, "replica": "a"})
        );
        assert_eq!(
            a["annotations"],
            serde_json::json!({"summary": format!("{name} fired")})
        );
        assert_eq!(parse_ms(&a["startsAt"]), starts);
        assert_eq!(parse_ms(&a["endsAt"]), starts + 3_600_000);
        assert_eq!(
            a["generatorURL"],
            format!("http://beacon.example:9090/graph?g0.expr={name}")
        );
        assert_eq!(a["status"]["state"], "active");
    }
    assert_eq!(n.alertmanager_counts(&url), Some((2, 0)));
    n.stop().await;
}

#[tokio::test]
async fn prefix_basic_auth_and_a_dead_peer() {
    let access = Access {
        prefix: "/am",
        basic_auth: Some(("beacon", "s3cret")),
    };
    let mut am = AlertmanagerProcess::start(&access);
    let http = reqwest::Client::new();
    am.wait_ready(&http, &access).await;
    // Nothing listens on the second address, so only the first accepts.
    let dead = format!("127.0.0.1:{}", free_port());
    let yaml = format!(
        "alerting:\n  alertmanagers:\n  - path_prefix: /am\n    timeout: 5s\n    basic_auth:\n      username: beacon\n      password: s3cret\n    static_configs:\n    - targets: ['{}', '{dead}']\n",
        am.addr
    );
    let n = notifier(&yaml, 2).await;
    // Without the password Alertmanager refuses; with it the alert lands.
    let url = format!("http://{}/am/api/v2/alerts", am.addr);
    let refused = http.get(&url).send().await.unwrap().status();
    assert_eq!(refused, reqwest::StatusCode::UNAUTHORIZED);

    let t0 = now_ms() - 30_000;
    let mut a = alert("Behind", "page", t0);
    a.ends_at = None;
    n.send(vec![a]);
    let got = am.alerts(&http, &access, 1).await;
    assert_eq!(got[0]["labels"]["alertname"], "Behind");
    assert_eq!(parse_ms(&got[0]["startsAt"]), t0);
    // An unset endsAt leaves the alert open: Alertmanager applies its own
    // resolve timeout, so it ends in the future.
    assert!(parse_ms(&got[0]["endsAt"]) > now_ms());

    let dead_url = format!("http://{dead}/am/api/v2/alerts");
    let start = tokio::time::Instant::now();
    while n.alertmanager_counts(&dead_url) != Some((0, 1)) {
        assert!(start.elapsed() < WAIT, "dead peer error not counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(n.alertmanager_counts(&url), Some((1, 0)));
    assert_eq!(n.dropped_total(), 0, "one accepting peer delivers the set");
    n.stop().await;
}
