//! End to end: the real Prometheus (Debian's `prometheus`, started here on
//! a free 127.0.0.1 port) remote-writes what it scrapes into `beacon`
//! started with `--web.enable-remote-write-receiver`, and `beacon` answers
//! queries over it.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Proc, eventually, free_port, get, read};

const BEACON: &str = env!("CARGO_BIN_EXE_beacon");
const PROMETHEUS: &str = "/usr/bin/prometheus";

#[test]
fn prometheus_remote_writes_into_beacon() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} NOT FOUND: this test needs the Debian package prometheus (bash .ci/run installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("beacon.yml"), "scrape_configs: []\n").unwrap();
    let port = free_port();
    let log = dir.path().join("beacon.log");
    let args = vec![
        format!("--config.file={}", dir.path().join("beacon.yml").display()),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-remote-write-receiver".into(),
    ];
    let mut beacon = Proc::spawn("beacon", BEACON, &args, port, &log);
    beacon.wait_ready(&log);

    let prom_port = free_port();
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  external_labels:\n    replica: a\n\
             scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{prom_port}']\n\
             remote_write:\n  - url: http://127.0.0.1:{port}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n"
        ),
    )
    .unwrap();
    let prom_log = dir.path().join("prometheus.log");
    let prom_args = vec![
        format!("--config.file={}", prom_cfg.display()),
        format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom-data").display()
        ),
        format!("--web.listen-address=127.0.0.1:{prom_port}"),
    ];
    let mut prom = Proc::spawn("prometheus", PROMETHEUS, &prom_args, prom_port, &prom_log);
    prom.wait_ready(&prom_log);

    let q = "/api/v1/query?query=up%7Bjob%3D%22prometheus%22%2Creplica%3D%22a%22%7D";
    assert!(
        eventually(Duration::from_secs(60), || get(port, q)
            .1
            .contains(r#""1"]"#)),
        "no remote-written `up` in beacon: {}\nbeacon log:\n{}\nprometheus log:\n{}",
        get(port, q).1,
        read(&log),
        read(&prom_log)
    );
    let (_, body) = get(port, "/api/v1/query?query=count(prometheus_build_info)");
    assert!(body.contains(r#""1"]"#), "{body}");
    let (_, metrics) = get(port, "/metrics");
    assert!(
        metrics.contains("beacon_remote_write_samples_written_total"),
        "{metrics}"
    );
    assert!(prom.terminate(), "prometheus log:\n{}", read(&prom_log));
    assert!(beacon.terminate(), "log:\n{}", read(&log));
}
