//! Keeps the crate layering honest: every `beacon-*` crate may depend only
//! on crates of a lower layer (ARCHITECTURE.md has the table), and a few
//! boundaries are checked by name, such as "PromQL never sees the TSDB".
//!
//! A new crate must be added to `LAYERS` before this test passes, which is
//! the point: its place in the architecture is decided, not drifted into.

use std::collections::BTreeMap;
use std::process::Command;

/// Each crate's layer (see ARCHITECTURE.md).
const LAYERS: &[(&str, u32)] = &[
    ("beacon-model", 0),
    ("beacon-exposition", 1),
    ("beacon-config", 1),
    ("beacon-storage", 1),
    ("beacon-tsdb", 2),
    ("beacon-promql", 2),
    ("beacon-discovery", 2),
    ("beacon-webserve", 2),
    ("beacon-scrape", 3),
    ("beacon-rules", 3),
    ("beacon-notifier", 3),
    ("beacon-remote", 3),
    ("beacon-promqltest", 3),
    ("beacon-web", 4),
    ("beacon-server", 5),
    ("beacon-tool", 5),
    ("beacon-alertmanager", 5),
    ("beacon-node-exporter", 5),
];

/// Pairs (crate, forbidden dependency) beyond the layer rule.
const FORBIDDEN: &[(&str, &str)] = &[
    ("beacon-promql", "beacon-tsdb"),
    ("beacon-scrape", "beacon-tsdb"),
    ("beacon-rules", "beacon-tsdb"),
    ("beacon-web", "beacon-tsdb"),
];

/// Crates that may use only layers 0 and 1, plus the shared HTTP serving
/// crate: they ship as small standalone binaries.
const LOW_LAYERS_ONLY: &[&str] = &["beacon-alertmanager", "beacon-node-exporter"];

/// Higher-layer crates the standalone binaries may still use.
const LOW_LAYERS_EXTRA: &[&str] = &["beacon-webserve"];

fn workspace_deps() -> BTreeMap<String, Vec<String>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let mut map = BTreeMap::new();
    for pkg in meta["packages"].as_array().expect("packages") {
        let name = pkg["name"].as_str().expect("name").to_owned();
        let deps = pkg["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            // Dev-dependencies may reach anywhere (tests use real peers).
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .filter(|n| n.starts_with("beacon-"))
            .map(str::to_owned)
            .collect();
        map.insert(name, deps);
    }
    map
}

fn layer(name: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| {
            panic!("crate {name} has no layer: add it to LAYERS here and to ARCHITECTURE.md")
        })
}

#[test]
fn dependencies_point_down() {
    let deps = workspace_deps();
    assert!(
        deps.contains_key("beacon-model"),
        "workspace metadata looks wrong: {deps:?}"
    );
    let mut problems = Vec::new();
    for (krate, ds) in &deps {
        let l = layer(krate);
        for d in ds {
            if layer(d) >= l {
                problems.push(format!(
                    "{krate} (layer {l}) depends on {d} (layer {})",
                    layer(d)
                ));
            }
            if FORBIDDEN.contains(&(krate.as_str(), d.as_str())) {
                problems.push(format!(
                    "{krate} must not depend on {d} (it sees the storage traits only)"
                ));
            }
            if LOW_LAYERS_ONLY.contains(&krate.as_str())
                && layer(d) > 1
                && !LOW_LAYERS_EXTRA.contains(&d.as_str())
            {
                problems.push(format!(
                    "{krate} may use layers 0-1 only, but depends on {d}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_source_file_opens_with_a_doc_comment() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut missing = Vec::new();
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read crates dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | "testdata" | "corpus" | "artifacts") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).expect("read source");
                let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                if !first.starts_with("//!") {
                    missing.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files without a //! header:\n{}",
        missing.join("\n")
    );
}
