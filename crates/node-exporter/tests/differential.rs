//! Differential test against Prometheus's node_exporter (Debian package
//! `prometheus-node-exporter`, 1.5): both exporters run on free loopback
//! ports with the same flags and are scraped once each.
//!
//! Checked: every family both expose has the same TYPE, HELP and label
//! names, and values that cannot drift between two scrapes
//! (`node_memory_MemTotal_bytes`, `node_boot_time_seconds`, filesystem
//! sizes, `node_uname_info`/`node_os_info` labels, MTUs) are equal.
//! Families only one side has are printed, not failed: node_exporter adds
//! `go_*` and `promhttp_*`, and each side may have collectors the other
//! lacks.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use beacon_exposition::family::{MetricFamily, MetricValue};

const REFERENCE: &str = "/usr/bin/prometheus-node-exporter";
/// How long an exporter may take to start listening.
const STARTUP_MAX: Duration = Duration::from_secs(20);

/// Kills the child (by its PID) when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A plain HTTP/1.1 GET; returns the body.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "unexpected response: {head}"
        )));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(dechunk(body));
    }
    Ok(body.to_string())
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn start(bin: &str, port: u16, flags: &[String]) -> Running {
    let child = Command::new(bin)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
    let running = Running(child);
    let deadline = Instant::now() + STARTUP_MAX;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{bin} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

fn families(text: &str, who: &str) -> BTreeMap<String, MetricFamily> {
    let parsed = beacon_node_exporter::textparse::parse(text)
        .unwrap_or_else(|e| panic!("{who} output does not parse at line {}: {}", e.line, e.msg));
    parsed
        .into_iter()
        .map(|(f, _)| (f.name.clone(), f))
        .collect()
}

fn label_names(f: &MetricFamily) -> BTreeSet<Vec<String>> {
    f.metrics
        .iter()
        .map(|m| m.labels.iter().map(|l| l.name.to_string()).collect())
        .collect()
}

fn plain(v: &MetricValue) -> Option<f64> {
    match v {
        MetricValue::Gauge(v) | MetricValue::Unknown(v) => Some(*v),
        MetricValue::Counter { value, .. } => Some(*value),
        _ => None,
    }
}

/// Samples of `name` by their label set rendered as text.
fn samples(fams: &BTreeMap<String, MetricFamily>, name: &str) -> BTreeMap<String, Option<f64>> {
    fams.get(name)
        .map(|f| {
            f.metrics
                .iter()
                .map(|m| (m.labels.to_string(), plain(&m.value)))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn matches_node_exporter_1_5() {
    assert!(
        Path::new(REFERENCE).exists(),
        "node_exporter reference NOT FOUND at {REFERENCE}: install it with \
         `apt-get update && apt-get install -y prometheus-node-exporter` (Debian package \
         prometheus-node-exporter, 1.5); if apt starts its service, stop it so nothing holds :9100"
    );
    let textfiles = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        textfiles.path().join("a.prom"),
        "# HELP job_ok Whether the job ran.\n# TYPE job_ok gauge\njob_ok{job=\"x\"} 1\n",
    )
    .expect("write textfile");
    // The same explicit flags for both, so Debian's patched defaults
    // (it excludes /mnt and lo) do not count as differences.
    let flags: Vec<String> = vec![
        format!(
            "--collector.textfile.directory={}",
            textfiles.path().display()
        ),
        format!(
            "--collector.filesystem.mount-points-exclude={}",
            beacon_node_exporter::collector::DEFAULT_MOUNT_POINTS_EXCLUDE
        ),
        format!(
            "--collector.filesystem.fs-types-exclude={}",
            beacon_node_exporter::collector::DEFAULT_FS_TYPES_EXCLUDE
        ),
        "--collector.netdev.device-exclude=^lo$".to_string(),
        "--collector.cpu.info.flags-include=^(sse.*|avx.*|aes|nx|hypervisor)$".to_string(),
        "--collector.cpu.info.bugs-include=.".to_string(),
    ];
    let (ref_port, our_port) = (free_port(), free_port());
    let _reference = start(REFERENCE, ref_port, &flags);
    let _ours = start(env!("CARGO_BIN_EXE_beacon-node-exporter"), our_port, &flags);
    let theirs = families(
        &http_get(ref_port, "/metrics").expect("scrape reference"),
        "reference",
    );
    let ours = families(
        &http_get(our_port, "/metrics").expect("scrape ours"),
        "beacon",
    );

    let mut problems = Vec::new();
    let mut common = 0;
    for (name, t) in &theirs {
        let Some(o) = ours.get(name) else { continue };
        common += 1;
        if t.metric_type != o.metric_type {
            problems.push(format!(
                "{name}: TYPE {:?} vs ours {:?}",
                t.metric_type, o.metric_type
            ));
        }
        if t.help != o.help {
            problems.push(format!("{name}: HELP {:?} vs ours {:?}", t.help, o.help));
        }
        if label_names(t) != label_names(o) {
            problems.push(format!(
                "{name}: labels {:?} vs ours {:?}",
                label_names(t),
                label_names(o)
            ));
        }
    }
    for name in [
        "node_memory_MemTotal_bytes",
        "node_boot_time_seconds",
        "node_filesystem_size_bytes",
        "node_filesystem_files",
        "node_uname_info",
        "node_os_info",
        "node_os_version",
        "node_network_mtu_bytes",
        "node_entropy_pool_size_bits",
        "node_nf_conntrack_entries_limit",
        "node_filefd_maximum",
        "node_cpu_flag_info",
        "node_cpu_bug_info",
    ] {
        let (t, o) = (samples(&theirs, name), samples(&ours, name));
        if t != o {
            problems.push(format!("{name}: reference {t:?} vs ours {o:?}"));
        }
    }
    let only_theirs: Vec<&String> = theirs.keys().filter(|n| !ours.contains_key(*n)).collect();
    let only_ours: Vec<&String> = ours.keys().filter(|n| !theirs.contains_key(*n)).collect();
    println!("families in common: {common}");
    println!(
        "only node_exporter ({}): {only_theirs:?}",
        only_theirs.len()
    );
    println!("only beacon ({}): {only_ours:?}", only_ours.len());
    assert!(
        common > 100,
        "too few common families ({common}); is the reference working?"
    );
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
