//! Differential test against the real Prometheus (the Debian package,
//! `/usr/bin/prometheus`): both servers scrape the same local target,
//! which serves each of them the same sequence of samples with explicit
//! timestamps, then every case of `differential/corpus.yml` must get the
//! same answer from both (JSON compared after sorting).

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;
use support::{Proc, Target, eventually, free_port, get, now_ms, read};

const BEACON: &str = env!("CARGO_BIN_EXE_beacon");
const PROMETHEUS: &str = "/usr/bin/prometheus";
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/differential/corpus.yml");

/// Samples per series the target serves, 15 s apart.
const SAMPLES: i64 = 8;

/// The exposition for the `k`-th scrape: every series' sample `k`, at
/// `t0 + 15 s * k` (the last one again once the sequence is done).
fn exposition(t0_ms: i64, k: i64) -> String {
    let k = k.min(SAMPLES - 1);
    let t = t0_ms + 15_000 * k;
    let gauge = 10 + k % 3;
    format!(
        "# HELP diff_gauge A gauge.\n# TYPE diff_gauge gauge\ndiff_gauge{{room=\"a\"}} {gauge} {t}\n\
         # HELP diff_requests_total Requests.\n# TYPE diff_requests_total counter\n\
         diff_requests_total{{code=\"200\"}} {} {t}\ndiff_requests_total{{code=\"500\"}} {} {t}\n\
         # HELP diff_latency_seconds Latency.\n# TYPE diff_latency_seconds histogram\n\
         diff_latency_seconds_bucket{{le=\"0.1\"}} {} {t}\ndiff_latency_seconds_bucket{{le=\"0.5\"}} {} {t}\n\
         diff_latency_seconds_bucket{{le=\"+Inf\"}} {} {t}\ndiff_latency_seconds_sum {} {t}\n\
         diff_latency_seconds_count {} {t}\n",
        100 * k,
        3 * k,
        2 * k,
        5 * k,
        6 * k,
        1.5 * k as f64,
        6 * k
    )
}

fn config(target_port: u16, path: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: diff\n    metrics_path: {path}\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n"
    )
}

fn start(
    name: &'static str,
    bin: &str,
    dir: &Path,
    target_port: u16,
    path: &str,
) -> (Proc, std::path::PathBuf) {
    std::fs::write(dir.join("prometheus.yml"), config(target_port, path)).unwrap();
    let port = free_port();
    let log = dir.join("server.log");
    let args = vec![
        format!("--config.file={}", dir.join("prometheus.yml").display()),
        format!("--storage.tsdb.path={}", dir.join("data").display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    let mut p = Proc::spawn(name, bin, &args, port, &log);
    p.wait_ready(&log);
    (p, log)
}

/// Replaces `{t+N}` with T0 + N seconds.
fn expand(s: &str, t0_s: i64) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("{t+") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(j) = after.find('}') else { break };
        let off: f64 = after[..j].parse().expect("offset in {t+N}");
        let v = t0_s as f64 + off;
        out.push_str(&format!("{v}"));
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

fn query_string(params: &Value, t0_s: i64) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    if let Some(m) = params.as_object() {
        for (k, v) in m {
            match v {
                Value::Array(items) => {
                    for x in items {
                        ser.append_pair(k, &expand(x.as_str().unwrap_or_default(), t0_s));
                    }
                }
                other => {
                    ser.append_pair(k, &expand(other.as_str().unwrap_or_default(), t0_s));
                }
            }
        }
    }
    ser.finish()
}

/// Sorts arrays of objects or strings (series, label lists, vectors);
/// keeps arrays of arrays (sample points) in order.
fn canonical(v: Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(canonical).collect();
            if items.iter().all(|x| x.is_object() || x.is_string()) {
                items.sort_by_key(|x| x.to_string());
            }
            Value::Array(items)
        }
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, canonical(v))).collect()),
        other => other,
    }
}

fn answer(port: u16, path: &str, qs: &str) -> (u16, Value) {
    let (status, body) = get(port, &format!("{path}?{qs}"));
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, canonical(v))
}

#[test]
fn same_answers_as_prometheus() {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "differential test: Prometheus NOT FOUND at {PROMETHEUS}. Install the Debian package: \
         `apt-get update && apt-get install -y prometheus` (then make sure its service is not \
         left listening on 9090: `systemctl disable --now prometheus` where systemd runs)"
    );
    let corpus: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(CORPUS).expect("read corpus"))
            .expect("parse corpus");
    let cases = corpus["cases"].as_array().expect("cases").clone();

    let t0_s = (now_ms() / 1000 - 600) / 60 * 60;
    let scrapes: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let counts = Arc::clone(&scrapes);
    let target = Target::start(move |path| {
        let mut c = counts.lock();
        let k = c.entry(path.to_owned()).or_insert(0);
        let body = exposition(t0_s * 1000, *k);
        *k += 1;
        body
    });
    let bdir = tempfile::tempdir().unwrap();
    let pdir = tempfile::tempdir().unwrap();
    let (beacon, blog) = start("beacon", BEACON, bdir.path(), target.port, "/beacon");
    let (prom, plog) = start(
        "prometheus",
        PROMETHEUS,
        pdir.path(),
        target.port,
        "/prometheus",
    );

    // Wait until both stored the whole sequence.
    let probe = format!(
        "/api/v1/query?query=count_over_time(diff_gauge[10m])&time={}",
        t0_s + 15 * SAMPLES
    );
    let full = format!(r#","{SAMPLES}"]"#);
    for (p, log) in [(&beacon, &blog), (&prom, &plog)] {
        assert!(
            eventually(Duration::from_secs(40), || get(p.port, &probe)
                .1
                .contains(&full)),
            "{} never stored {SAMPLES} samples: {:?}; log:\n{}",
            p.name,
            get(p.port, &probe),
            read(log)
        );
    }

    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let path = case["path"].as_str().expect("path");
        let qs = query_string(&case["params"], t0_s);
        let (bs, bv) = answer(beacon.port, path, &qs);
        let (ps, pv) = answer(prom.port, path, &qs);
        if let Some(want) = case["beacon_status"].as_u64() {
            assert!(
                case["difference"].is_string(),
                "{name}: beacon_status needs a difference"
            );
            if u64::from(bs) != want {
                failures.push(format!(
                    "{name}: beacon answered {bs} {bv}, the corpus expects {want}"
                ));
            }
            continue;
        }
        let same = match case["compare"].as_str().unwrap_or("full") {
            "status" => bs == ps && bv["errorType"] == pv["errorType"],
            _ => bs == ps && bv == pv,
        };
        if !same {
            failures.push(format!(
                "{name}: {path}?{qs}\n  beacon     {bs} {bv}\n  prometheus {ps} {pv}"
            ));
        }
    }
    eprintln!(
        "differential: {}/{} cases agree with Prometheus",
        cases.len() - failures.len(),
        cases.len()
    );
    drop(beacon);
    drop(prom);
    assert!(failures.is_empty(), "differences:\n{}", failures.join("\n"));
}
