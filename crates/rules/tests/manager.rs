//! The manager end to end on a real tokio runtime: groups run on their
//! interval, alerts reach the notify callback, a bad reload keeps the old
//! groups, removed groups go stale, and `stop` ends every task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beacon_model::{Matcher, is_stale_nan};
use beacon_rules::{AlertToSend, Manager, ManagerOptions, RulesFilter};
use beacon_storage::{MemStorage, Queryable, ValueType};
use parking_lot::Mutex;

/// Generous: the test machine is shared and may be slow.
const WAIT: Duration = Duration::from_secs(20);

/// Values of every sample of `metric` in `db` (NaN for stale markers).
fn values(db: &MemStorage, metric: &str) -> Vec<f64> {
    let q = db.querier(0, i64::MAX / 4).unwrap();
    let mut out = Vec::new();
    for mut s in q.select(&[Matcher::equal("__name__", metric)]).unwrap() {
        while s.samples.next() == ValueType::Float {
            out.push(s.samples.at().1);
        }
    }
    out
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_run_reload_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    let files = vec![file.display().to_string()];
    std::fs::write(
        &file,
        "groups:\n  - name: fast\n    interval: 50ms\n    rules:\n      - record: one\n        expr: vector(1)\n      - alert: Always\n        expr: vector(1) > 0\n        annotations: {text: 'v={{ $value }}'}\n",
    )
    .unwrap();
    let db = Arc::new(MemStorage::new());
    let sent: Arc<Mutex<Vec<AlertToSend>>> = Arc::default();
    let sink = sent.clone();
    let mut opts = ManagerOptions::new(
        db.clone(),
        db.clone(),
        Arc::new(move |a| sink.lock().extend(a)),
    );
    opts.external_url = "http://prom.example:9090".into();
    let m = Manager::new(opts);
    m.update(&files, Duration::from_secs(60)).await.unwrap();

    wait_for("recorded samples", || values(&db, "one").len() >= 2).await;
    wait_for("a sent alert", || !sent.lock().is_empty()).await;
    {
        let a = &sent.lock()[0];
        assert_eq!(a.labels.get("alertname"), Some("Always"));
        assert_eq!(a.annotations.get("text").map(String::as_str), Some("v=1"));
        assert_eq!(
            a.generator_url,
            "http://prom.example:9090/graph?g0.expr=vector%281%29+%3E+0&g0.tab=1"
        );
    }
    let api = m.rules_api(&RulesFilter::default());
    assert_eq!(api.groups[0].name, "fast");
    assert_eq!(api.groups[0].interval, 0.05);
    assert_eq!(m.alerts_api().alerts.len(), 1);

    // A changed group restarts with its alerts: `activeAt` survives.
    let active_at = m.alerts_api().alerts[0].active_at.clone();
    std::fs::write(
        &file,
        "groups:\n  - name: fast\n    interval: 50ms\n    rules:\n      - record: one\n        expr: vector(1)\n      - alert: Always\n        expr: vector(1) > 0\n        annotations: {text: 'v={{ $value }}'}\n      - record: three\n        expr: vector(3)\n",
    )
    .unwrap();
    m.update(&files, Duration::from_secs(60)).await.unwrap();
    wait_for("the added rule", || !values(&db, "three").is_empty()).await;
    assert_eq!(m.alerts_api().alerts[0].active_at, active_at);
    assert_eq!(m.groups()[0].rules.len(), 3);

    // A broken file is refused and the running group keeps going.
    std::fs::write(&file, "groups:\n  - name: ''\n").unwrap();
    assert!(m.update(&files, Duration::from_secs(60)).await.is_err());
    let before = values(&db, "one").len();
    wait_for("evaluations after a failed reload", || {
        values(&db, "one").len() > before
    })
    .await;

    // Removing the group marks its series stale.
    std::fs::write(&file, "groups: []\n").unwrap();
    m.update(&files, Duration::from_secs(60)).await.unwrap();
    assert!(values(&db, "one").last().is_some_and(|v| is_stale_nan(*v)));
    assert!(m.rules_api(&RulesFilter::default()).groups.is_empty());

    let mut fams = Vec::new();
    m.collect(&mut fams);
    assert!(fams.iter().all(|f| f.metrics.is_empty()));
    m.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_groups_keep_running_and_stop_ends_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.yml");
    let files = vec![file.display().to_string()];
    let text = "groups:\n  - name: g\n    interval: 50ms\n    rules:\n      - record: two\n        expr: vector(2)\n";
    std::fs::write(&file, text).unwrap();
    let db = Arc::new(MemStorage::new());
    let m = Manager::new(ManagerOptions::new(
        db.clone(),
        db.clone(),
        Arc::new(|_| {}),
    ));
    m.update(&files, Duration::from_secs(60)).await.unwrap();
    wait_for("first evaluation", || !values(&db, "two").is_empty()).await;
    m.update(&files, Duration::from_secs(60)).await.unwrap();
    let iterations = m.groups()[0].metrics.iterations;
    assert!(iterations >= 1, "state kept across an identical reload");
    m.stop().await;
    let n = values(&db, "two").len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(values(&db, "two").len(), n, "no evaluations after stop");
    assert!(values(&db, "two").iter().all(|v| *v == 2.0));
}
