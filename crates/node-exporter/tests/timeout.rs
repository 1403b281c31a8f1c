//! Per-collector timeouts: a stuck collector reports
//! `node_scrape_collector_success 0` while the rest of the scrape returns
//! on time, and a hung mount does not hold up the filesystem collector.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use beacon_exposition::family::{MetricFamily, MetricValue};
use beacon_node_exporter::collector::filesystem::{Filesystem, FsStats};
use beacon_node_exporter::collector::{Collector, Config};
use beacon_node_exporter::metric_set::MetricSet;
use beacon_node_exporter::scrape::{Registry, Selection};

/// Blocks in `update` until the test sends on its channel.
struct Stuck {
    release: Mutex<mpsc::Receiver<()>>,
}

impl Collector for Stuck {
    fn name(&self) -> &'static str {
        "stuck"
    }
    fn update(&self, out: &mut MetricSet) -> beacon_node_exporter::Result<()> {
        let rx = self.release.lock().expect("lock");
        let _ = rx.recv();
        out.gauge("stuck_done", "Set once released.", &[], 1.0);
        Ok(())
    }
}

/// Returns at once.
struct Quick;

impl Collector for Quick {
    fn name(&self) -> &'static str {
        "quick"
    }
    fn update(&self, out: &mut MetricSet) -> beacon_node_exporter::Result<()> {
        out.gauge("quick_value", "Always 42.", &[], 42.0);
        Ok(())
    }
}

/// The value of `family{label=value}` (or the only sample when `label` is
/// empty), if present.
fn value(fams: &[MetricFamily], family: &str, label: (&str, &str)) -> Option<f64> {
    let f = fams.iter().find(|f| f.name == family)?;
    let m = f
        .metrics
        .iter()
        .find(|m| label.0.is_empty() || m.labels.get(label.0) == Some(label.1))?;
    match m.value {
        MetricValue::Gauge(v) | MetricValue::Unknown(v) => Some(v),
        MetricValue::Counter { value, .. } => Some(value),
        _ => None,
    }
}

fn success(fams: &[MetricFamily], collector: &str) -> Option<f64> {
    value(
        fams,
        "node_scrape_collector_success",
        ("collector", collector),
    )
}

const TIMEOUT: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_collector_fails_alone_and_on_time() {
    let (release, rx) = mpsc::channel();
    let reg = Registry::new(
        vec![
            Arc::new(Stuck {
                release: Mutex::new(rx),
            }),
            Arc::new(Quick),
        ],
        TIMEOUT,
    );
    let sel = Selection::default();

    let start = Instant::now();
    let fams = reg.gather(&sel).await;
    let took = start.elapsed();
    assert!(took >= TIMEOUT, "returned before the timeout: {took:?}");
    assert!(
        took < TIMEOUT * 5,
        "scrape waited for the stuck collector: {took:?}"
    );
    assert_eq!(success(&fams, "stuck"), Some(0.0));
    assert_eq!(success(&fams, "quick"), Some(1.0));
    assert_eq!(value(&fams, "quick_value", ("", "")), Some(42.0));
    assert_eq!(value(&fams, "stuck_done", ("", "")), None);

    // Still stuck: the next scrape does not start it again and does not wait.
    let start = Instant::now();
    let fams = reg.gather(&sel).await;
    assert!(
        start.elapsed() < TIMEOUT,
        "second scrape waited: {:?}",
        start.elapsed()
    );
    assert_eq!(success(&fams, "stuck"), Some(0.0));
    assert_eq!(success(&fams, "quick"), Some(1.0));

    // Released (and told to return at once next time): it recovers.
    release.send(()).expect("release");
    release.send(()).expect("pre-release the next run");
    let mut recovered = None;
    for _ in 0..100 {
        let fams = reg.gather(&sel).await;
        if success(&fams, "stuck") == Some(1.0) {
            recovered = Some(fams);
            break;
        }
        tokio::task::yield_now().await;
    }
    let fams = recovered.expect("stuck collector recovered after release");
    assert_eq!(value(&fams, "stuck_done", ("", "")), Some(1.0));
}

#[test]
fn hung_mount_is_reported_and_skipped() {
    let (release, rx) = mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let (rx2, calls2) = (rx.clone(), calls.clone());
    let stat = Arc::new(move |p: &Path| {
        let p = p.to_string_lossy().into_owned();
        calls2.lock().expect("lock").push(p.clone());
        if p.ends_with("/mnt/nfs share") {
            let _ = rx2.lock().expect("lock").recv();
        }
        Ok(FsStats {
            block_bytes: 1024,
            blocks: 10,
            blocks_free: 5,
            blocks_avail: 4,
            files: 3,
            files_free: 2,
        })
    });
    let td = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let cfg = Arc::new(Config {
        procfs: td.join("proc"),
        mount_timeout: Duration::from_millis(200),
        ..Config::default()
    });
    let fs = Filesystem::with_stat(cfg, stat);

    let scrape = |fs: &Filesystem| {
        let mut set = MetricSet::new();
        fs.update(&mut set).expect("filesystem update");
        set.into_sorted()
    };
    let start = Instant::now();
    let fams = scrape(&fs);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "waited on the hung mount"
    );
    let err =
        |fams: &[MetricFamily], mp| value(fams, "node_filesystem_device_error", ("mountpoint", mp));
    assert_eq!(err(&fams, "/mnt/nfs share"), Some(1.0));
    assert_eq!(err(&fams, "/"), Some(0.0));
    let size = value(&fams, "node_filesystem_size_bytes", ("mountpoint", "/"));
    assert_eq!(size, Some(10240.0));
    // The mount after the hung one was still stat'ed by a fresh worker.
    assert_eq!(err(&fams, "/run/user/1000"), Some(0.0));

    // While it hangs, later scrapes skip it without waiting.
    let n_before = calls.lock().expect("lock").len();
    let start = Instant::now();
    let fams = scrape(&fs);
    assert!(start.elapsed() < Duration::from_millis(200), "waited again");
    assert_eq!(err(&fams, "/mnt/nfs share"), Some(1.0));
    let nfs_calls = calls.lock().expect("lock")[n_before..]
        .iter()
        .filter(|c| c.contains("nfs"))
        .count();
    assert_eq!(nfs_calls, 0, "stuck mount was stat'ed again");

    // Once its statfs returns, the mount is reported again (the second
    // message lets the next statfs of it return at once).
    release.send(()).expect("release");
    release.send(()).expect("pre-release the next statfs");
    let mut ok = false;
    for _ in 0..200 {
        let fams = scrape(&fs);
        if err(&fams, "/mnt/nfs share") == Some(0.0) {
            ok = true;
            break;
        }
        std::thread::yield_now();
    }
    assert!(ok, "mount stayed stuck after its statfs returned");
}

/// Takes a little while, well under the timeout.
struct Slow;

impl Collector for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn update(&self, out: &mut MetricSet) -> beacon_node_exporter::Result<()> {
        // Simulated work, long enough for two scrapes to overlap.
        std::thread::sleep(Duration::from_millis(50));
        out.gauge("slow_value", "Always 1.", &[], 1.0);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_both_succeed() {
    // Two Prometheus servers (an HA pair) may scrape at the same moment; a
    // collector busy for the other scrape is not "stuck".
    let reg = Registry::new(vec![Arc::new(Slow), Arc::new(Quick)], TIMEOUT);
    let sel = Selection::default();
    let (a, b) = tokio::join!(reg.gather(&sel), reg.gather(&sel));
    for fams in [a, b] {
        assert_eq!(success(&fams, "slow"), Some(1.0));
        assert_eq!(success(&fams, "quick"), Some(1.0));
    }
}
