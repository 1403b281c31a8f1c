//! Differential check against the reference implementation: Prometheus's
//! `promtool check config` (Debian ships 2.42) must agree with Beacon on
//! which fixtures are valid. Fixtures using 3.x-only fields are left out,
//! and so are the few files Beacon rejects on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use beacon_config::Config;

/// Bad fixtures Prometheus 2.42 accepts but Beacon refuses by design:
/// Alertmanager API v1 (gone in Prometheus 3) and mechanisms Beacon lacks.
const BEACON_ONLY: [&str; 4] = [
    "alertmanager_v1.yml",
    "sigv4.yml",
    "kubernetes_sd.yml",
    "consul_sd_alertmanager.yml",
];

/// Good fixtures that use only fields Prometheus 2.42 knows.
const GOOD_FOR_2_42: [&str; 3] = [
    "good/empty.yml",
    "good/example.yml",
    "good/prometheus_2_42.yml",
];

/// Configs installed with the Debian package, when present.
const SYSTEM_CONFIGS: [&str; 2] = [
    "/etc/prometheus/prometheus.yml",
    "/usr/share/doc/prometheus/examples/prometheus.yml",
];

fn find_promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
}

/// Runs `promtool check config --syntax-only` on every file at once and
/// returns whether each was accepted.
fn promtool_accepts(promtool: &Path, files: &[PathBuf]) -> Vec<bool> {
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            Command::new(promtool)
                .args(["check", "config", "--syntax-only"])
                .arg(f)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("promtool starts")
        })
        .collect();
    children
        .into_iter()
        .map(|mut c| c.wait().expect("promtool exits").success())
        .collect()
}

#[test]
fn promtool_agrees_on_fixtures() {
    let Some(promtool) = find_promtool() else {
        panic!(
            "promtool differential: PROMTOOL NOT FOUND on PATH; install the Debian package `prometheus` (bash .ci/run does)"
        );
    };
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut good: Vec<PathBuf> = GOOD_FOR_2_42.iter().map(|f| testdata.join(f)).collect();
    let system: Vec<PathBuf> = SYSTEM_CONFIGS
        .iter()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    if system.is_empty() {
        println!(
            "promtool differential: NO SYSTEM prometheus.yml FOUND, packaged configs not compared"
        );
    }
    good.extend(system);
    let mut bad: Vec<PathBuf> = std::fs::read_dir(testdata.join("bad"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !BEACON_ONLY.contains(&p.file_name().unwrap().to_str().unwrap()))
        .collect();
    bad.sort();

    let all: Vec<PathBuf> = good.iter().chain(&bad).cloned().collect();
    let verdicts = promtool_accepts(&promtool, &all);
    let mut disagreements = Vec::new();
    for (file, promtool_ok) in all.iter().zip(verdicts) {
        let beacon = Config::load(file);
        if promtool_ok != beacon.is_ok() {
            disagreements.push(format!(
                "{}: promtool {}, beacon {:?}",
                file.display(),
                if promtool_ok { "accepts" } else { "rejects" },
                beacon.err().map(|e| e.to_string())
            ));
        }
    }
    println!(
        "promtool differential: {} of {} files agree",
        all.len() - disagreements.len(),
        all.len()
    );
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    assert!(good.iter().all(|f| Config::load(f).is_ok()));
}
