//! End to end: the `beacon` binary scrapes a local target that serves
//! samples with explicit timestamps, answers queries about them, reloads
//! (a bad config keeps the old one), shuts down cleanly on SIGTERM and
//! still has the data after a restart. Also: the embedded default config
//! and serving under a path prefix.

mod support;

use std::time::Duration;

use support::{Proc, Target, eventually, free_port, get, http, http_raw, now_ms, read};

const BEACON: &str = env!("CARGO_BIN_EXE_beacon");

fn exposition(t0: i64) -> String {
    format!(
        "# HELP e2e_requests_total Requests served.\n# TYPE e2e_requests_total counter\n\
         e2e_requests_total{{code=\"200\"}} 42 {t0}\ne2e_requests_total{{code=\"500\"}} 3 {t0}\n\
         # HELP e2e_temperature Temperature.\n# TYPE e2e_temperature gauge\ne2e_temperature 21.5 {t0}\n"
    )
}

fn config(target_port: u16) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: e2e\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    )
}

fn args(dir: &std::path::Path, port: u16) -> Vec<String> {
    vec![
        format!("--config.file={}", dir.join("prometheus.yml").display()),
        "--storage.tsdb.path".into(),
        dir.join("data").display().to_string(),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-lifecycle".into(),
    ]
}

fn metric_value(port: u16, name: &str) -> Option<String> {
    let (_, body) = get(port, "/metrics");
    body.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_owned)
}

#[test]
fn scrape_query_reload_restart() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = (now_ms() / 1000 - 60) * 1000;
    let target = Target::start(move |_| exposition(t0));
    std::fs::write(dir.path().join("prometheus.yml"), config(target.port)).unwrap();
    let port = free_port();
    let log = dir.path().join("beacon.log");
    let mut p = Proc::spawn("beacon", BEACON, &args(dir.path(), port), port, &log);
    p.wait_ready(&log);

    let q = format!("/api/v1/query?query=e2e_temperature&time={}", t0 / 1000);
    let want = format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"__name__":"e2e_temperature","instance":"127.0.0.1:{}","job":"e2e"}},"value":[{},"21.5"]}}]}}}}"#,
        target.port,
        t0 / 1000
    );
    assert!(
        eventually(Duration::from_secs(20), || get(port, &q).1 == want),
        "query never answered {want}; last: {:?}; log:\n{}",
        get(port, &q),
        read(&log)
    );
    let (s, body) = get(
        port,
        &format!(
            "/api/v1/query?query=sum(e2e_requests_total)&time={}",
            t0 / 1000
        ),
    );
    assert_eq!(s, 200);
    assert!(
        body.contains(r#""value":["#) && body.contains(r#","45"]"#),
        "{body}"
    );
    let (_, targets) = get(port, "/api/v1/targets");
    assert!(targets.contains(r#""health":"up""#), "{targets}");
    assert!(metric_value(port, "prometheus_tsdb_head_series").is_some_and(|v| v != "0"));
    assert_eq!(
        metric_value(port, "prometheus_config_last_reload_successful").as_deref(),
        Some("1")
    );

    // A bad config on SIGHUP: the old one stays, the failure is visible.
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "scrape_configs: [{job_name: x, bogus: 1}]\n",
    )
    .unwrap();
    p.signal(libc::SIGHUP);
    assert!(eventually(Duration::from_secs(10), || {
        metric_value(port, "prometheus_config_last_reload_successful").as_deref() == Some("0")
    }));
    assert!(
        get(port, "/api/v1/status/config")
            .1
            .contains("job_name: e2e")
    );
    // A good one through the lifecycle endpoint.
    std::fs::write(dir.path().join("prometheus.yml"), config(target.port)).unwrap();
    assert_eq!(http(port, "POST", "/-/reload", None).unwrap().0, 200);
    assert_eq!(
        metric_value(port, "prometheus_config_last_reload_successful").as_deref(),
        Some("1")
    );

    assert!(
        p.terminate(),
        "SIGTERM did not stop beacon cleanly; log:\n{}",
        read(&log)
    );
    drop(target);

    // Restart without the target: the samples come back from disk.
    let mut p = Proc::spawn("beacon", BEACON, &args(dir.path(), port), port, &log);
    p.wait_ready(&log);
    assert_eq!(get(port, &q).1, want, "after restart; log:\n{}", read(&log));
    assert!(p.terminate(), "second SIGTERM; log:\n{}", read(&log));
}

#[test]
fn default_config_and_path_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("beacon.log");
    let child = std::process::Command::new(BEACON)
        .current_dir(dir.path())
        .args([
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.external-url=http://proxy.example/prometheus/".to_owned(),
        ])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut p = Proc {
        child,
        port,
        name: "beacon",
    };
    assert!(
        eventually(support::READY_TIMEOUT, || get(port, "/prometheus/-/ready")
            .0
            == 200),
        "not ready under /prometheus; log:\n{}",
        read(&log)
    );
    assert!(
        read(&log).contains("embedded default configuration"),
        "{}",
        read(&log)
    );
    assert_eq!(get(port, "/prometheus/-/healthy").0, 200);
    assert_eq!(get(port, "/-/healthy").0, 404);
    let (s, body) = get(port, "/prometheus/api/v1/status/config");
    assert_eq!(s, 200);
    assert!(body.contains("job_name: beacon"), "{body}");
    // Lifecycle is off by default.
    assert_eq!(
        http(port, "POST", "/prometheus/-/quit", None).unwrap().0,
        403
    );
    assert!(
        dir.path().join("data").is_dir(),
        "default --storage.tsdb.path is data/"
    );
    assert!(p.terminate(), "log:\n{}", read(&log));
}

#[test]
fn basic_auth_and_headers_from_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!("basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), "scrape_configs: []\n").unwrap();
    let port = free_port();
    let log = dir.path().join("beacon.log");
    let mut a = args(dir.path(), port);
    a.push(format!("--web.config.file={}", web.display()));
    let mut p = Proc::spawn("beacon", BEACON, &a, port, &log);
    // Readiness needs credentials too, so poll with them.
    let alice = "Authorization: Basic YWxpY2U6czNjcmV0\r\n";
    assert!(
        eventually(support::READY_TIMEOUT, || {
            http_raw(port, "GET", "/-/ready", None, alice).is_ok_and(|r| r.0 == 200)
        }),
        "log:\n{}",
        read(&log)
    );
    let (s, head, _) = http_raw(port, "GET", "/api/v1/labels", None, "").unwrap();
    assert_eq!(s, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{head}"
    );
    let wrong = "Authorization: Basic YWxpY2U6d3Jvbmc=\r\n";
    assert_eq!(
        http_raw(port, "GET", "/api/v1/labels", None, wrong)
            .unwrap()
            .0,
        401
    );
    let (s, head, body) = http_raw(port, "GET", "/api/v1/labels", None, alice).unwrap();
    assert_eq!(s, 200, "{body}");
    assert!(
        head.to_ascii_lowercase().contains("x-frame-options: deny"),
        "{head}"
    );
    assert!(p.terminate(), "log:\n{}", read(&log));
}

#[test]
fn exemplars_and_wal_replay_status() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = (now_ms() / 1000 - 60) * 1000;
    let ts = t0 as f64 / 1000.0;
    let target = Target::start(move |_| {
        format!(
            "# TYPE e2e_requests counter\ne2e_requests_total{{code=\"200\"}} 7 {ts} # {{trace_id=\"4bf92f35\"}} 0.25 {ts}\n# EOF\n"
        )
    });
    std::fs::write(dir.path().join("prometheus.yml"), config(target.port)).unwrap();
    let port = free_port();
    let log = dir.path().join("beacon.log");
    let mut p = Proc::spawn("beacon", BEACON, &args(dir.path(), port), port, &log);
    p.wait_ready(&log);
    let q = format!(
        "/api/v1/query_exemplars?query=rate(e2e_requests_total[5m])&start={}&end={}",
        t0 / 1000 - 10,
        t0 / 1000 + 10
    );
    assert!(
        eventually(Duration::from_secs(30), || get(port, &q)
            .1
            .contains("4bf92f35")),
        "{}\nlog:\n{}",
        get(port, &q).1,
        read(&log)
    );
    let want = format!(
        r#"{{"status":"success","data":[{{"seriesLabels":{{"__name__":"e2e_requests_total","code":"200","instance":"127.0.0.1:{}","job":"e2e"}},"exemplars":[{{"labels":{{"trace_id":"4bf92f35"}},"value":"0.25","timestamp":{}}}]}}]}}"#,
        target.port,
        t0 / 1000
    );
    assert_eq!(get(port, &q).1, want);
    let (s, body) = get(port, "/api/v1/status/walreplay");
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    for k in ["min", "max", "current"] {
        assert!(v["data"][k].is_u64(), "{body}");
    }
    assert!(
        metric_value(port, "prometheus_tsdb_exemplar_exemplars_in_storage")
            .is_some_and(|v| v != "0")
    );
    assert!(p.terminate(), "log:\n{}", read(&log));
}

/// A GET over TLS trusting only `ca_pem`; `None` when the request fails.
fn tls_get(port: u16, path: &str, ca_pem: &str) -> Option<(u16, String)> {
    use rustls::pki_types::pem::PemObject as _;
    use std::io::{Read, Write};
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).ok()?;
    roots.add(der).ok()?;
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").ok()?;
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).ok()?;
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    // A peer that closes without close_notify still gave us the response.
    let _ = tls.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}

#[test]
fn serves_tls_from_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = key.cert.pem();
    std::fs::write(dir.path().join("tls.crt"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), key.key_pair.serialize_pem()).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), "scrape_configs: []\n").unwrap();
    let port = free_port();
    let log = dir.path().join("beacon.log");
    let mut a = args(dir.path(), port);
    a.push(format!("--web.config.file={}", web.display()));
    let mut p = Proc::spawn("beacon", BEACON, &a, port, &log);
    assert!(
        eventually(support::READY_TIMEOUT, || {
            tls_get(port, "/-/ready", &cert_pem).is_some_and(|r| r.0 == 200)
        }),
        "no TLS answer; log:\n{}",
        read(&log)
    );
    let (s, body) = tls_get(port, "/api/v1/status/buildinfo", &cert_pem).unwrap();
    assert_eq!(s, 200, "{body}");
    // Plain HTTP on the TLS port gets no API answer.
    assert!(!matches!(http(port, "GET", "/-/ready", None), Ok((200, _))));
    assert!(p.terminate(), "log:\n{}", read(&log));

    // A web config naming a missing certificate stops start-up with one
    // line that names the file.
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: tls.key\n",
    )
    .unwrap();
    let out = std::process::Command::new(BEACON)
        .args(&a)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.crt"), "{err}");
}
