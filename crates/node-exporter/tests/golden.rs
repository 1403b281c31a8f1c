//! Golden tests: every collector that has fixture data runs over the
//! `/proc`, `/sys` and rootfs trees in `testdata/` and its exposition is
//! compared with `testdata/golden/<collector>.txt`.
//!
//! `UPDATE_GOLDEN=1 cargo test -p beacon-node-exporter --test golden`
//! rewrites the golden files; review the diff before keeping it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use beacon_exposition::encode::{Format, encode};
use beacon_node_exporter::collector::filesystem::{Filesystem, FsStats};
use beacon_node_exporter::collector::{self, Collector, Config};
use beacon_node_exporter::metric_set::MetricSet;

/// Collectors whose output depends only on the fixture trees.
const FIXTURE_COLLECTORS: &[&str] = &[
    "arp",
    "bonding",
    "btrfs",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "dmi",
    "edac",
    "entropy",
    "filefd",
    "hwmon",
    "loadavg",
    "mdadm",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "os",
    "powersupplyclass",
    "pressure",
    "rapl",
    "schedstat",
    "selinux",
    "sockstat",
    "softnet",
    "stat",
    "thermal_zone",
    "udp_queues",
    "vmstat",
    "watchdog",
    "xfs",
    "zfs",
];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn config(textfile_dir: Option<PathBuf>) -> Arc<Config> {
    let td = testdata();
    let re = |p: &str| collector::compile("test", p).expect("test pattern compiles");
    Arc::new(Config {
        procfs: td.join("proc"),
        sysfs: td.join("sys"),
        rootfs: td.join("rootfs"),
        udev_data: td.join("udev"),
        textfile_directory: textfile_dir,
        cpu_info: true,
        cpu_flags_include: Some(re("^(aes|avx.?|sse2?|nx)$")),
        cpu_bugs_include: Some(re("^(spectre_.*|mds)$")),
        ..Config::default()
    })
}

/// Runs `c` and renders its families (and error, if any) as text, with
/// machine-specific paths replaced by placeholders.
fn render(c: &dyn Collector, replace: &[(&Path, &str)]) -> String {
    let mut set = MetricSet::new();
    let result = c.update(&mut set);
    let mut text = encode(Format::Text004, &set.into_sorted());
    if let Err(e) = result {
        text.push_str(&format!("# error: {e}\n"));
    }
    for (path, placeholder) in replace {
        text = text.replace(&*path.to_string_lossy(), placeholder);
    }
    text
}

/// Compares `actual` with the golden file `name`, or rewrites it under
/// `UPDATE_GOLDEN=1`; returns a description of any mismatch.
fn check(name: &str, actual: &str) -> Option<String> {
    let path = testdata().join("golden").join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("golden dir")).expect("create golden dir");
        std::fs::write(&path, actual).expect("write golden file");
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    let first_diff = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.lines().count().min(actual.lines().count()));
    Some(format!(
        "{name}: output differs from {} at line {}\n--- expected\n{}\n--- actual\n{}",
        path.display(),
        first_diff + 1,
        expected.lines().nth(first_diff).unwrap_or("<end>"),
        actual.lines().nth(first_diff).unwrap_or("<end>"),
    ))
}

fn assert_all(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} golden mismatches (UPDATE_GOLDEN=1 regenerates):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn collectors_match_golden_files() {
    let cfg = config(None);
    let td = testdata();
    let mut failures = Vec::new();
    for name in FIXTURE_COLLECTORS {
        let c = collector::build(name, &cfg).expect("known collector");
        failures.extend(check(name, &render(c.as_ref(), &[(&td, "<testdata>")])));
    }
    assert_all(failures);
}

#[test]
fn filesystem_matches_golden_file() {
    // statfs answers come from the hook, so the output does not depend on
    // the disks of the machine running the test.
    // Mount points in the fixture are the host's, so no rootfs prefix.
    let cfg = Arc::new(Config {
        rootfs: "/".into(),
        ..(*config(None)).clone()
    });
    let fs = Filesystem::with_stat(
        cfg,
        Arc::new(|p: &Path| {
            if p.to_string_lossy().contains("nfs") {
                return Err(std::io::Error::from_raw_os_error(libc_eacces()));
            }
            Ok(FsStats {
                block_bytes: 4096,
                blocks: 1000,
                blocks_free: 400,
                blocks_avail: 300,
                files: 500,
                files_free: 200,
            })
        }),
    );
    let td = testdata();
    assert_all(
        check("filesystem", &render(&fs, &[(&td, "<testdata>")]))
            .into_iter()
            .collect(),
    );
}

/// EACCES, spelled out so the test needs no libc dependency.
fn libc_eacces() -> i32 {
    13
}

#[test]
fn textfile_with_malformed_file_matches_golden_file() {
    // Copy the files so their mtime can be pinned without touching the
    // checkout.
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["good.prom", "broken.prom"] {
        let dst = dir.path().join(name);
        std::fs::copy(testdata().join("textfile").join(name), &dst).expect("copy fixture");
        let f = std::fs::File::options()
            .write(true)
            .open(&dst)
            .expect("open copy");
        let pinned = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        f.set_modified(pinned).expect("set mtime");
    }
    let cfg = config(Some(dir.path().to_path_buf()));
    let c = collector::build("textfile", &cfg).expect("textfile collector");
    let text = render(c.as_ref(), &[(dir.path(), "<textfile>")]);
    assert!(text.contains("node_textfile_scrape_error 1\n"), "{text}");
    assert!(text.contains("raid_ok 1\n"), "good file lost: {text}");
    assert_all(check("textfile", &text).into_iter().collect());
}
