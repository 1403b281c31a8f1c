//! The real scheduling path: loops spawned per target scrape on their own
//! at their interval, following discovery through `ScrapeManager::run`;
//! a target that leaves discovery goes stale one interval after its last
//! scrape, and `stop` (shutdown) writes no markers. Waits poll storage with a generous
//! deadline rather than sleeping for a fixed time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use beacon_discovery::TargetGroup;
use beacon_discovery::manager::JobGroups;
use beacon_model::{Labels, Matcher, is_stale_nan};
use beacon_scrape::{ManagerOptions, ScrapeManager, ScrapeOptions};
use beacon_storage::{MemStorage, Queryable, ValueType};

const READY_WAIT: Duration = Duration::from_secs(30);

fn up_points(db: &MemStorage) -> Vec<(i64, f64)> {
    let q = db.querier(0, i64::MAX / 2).unwrap();
    let mut out = Vec::new();
    for mut s in q.select(&[Matcher::equal("__name__", "up")]).unwrap() {
        while s.samples.next() == ValueType::Float {
            out.push(s.samples.at());
        }
    }
    out
}

fn up_samples(db: &MemStorage) -> Vec<f64> {
    up_points(db).into_iter().map(|p| p.1).collect()
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < READY_WAIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn loops_scrape_on_their_own_and_go_stale_when_the_target_leaves() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        axum::serve(
            l,
            Router::new().route("/metrics", get(|| async { "a 1\n" })),
        )
        .await
        .unwrap()
    });
    let db = Arc::new(MemStorage::new());
    let m = Arc::new(ScrapeManager::new(db.clone(), ManagerOptions::default()));
    let mut o = ScrapeOptions::new("fast");
    o.scrape_interval = Duration::from_millis(100);
    o.scrape_timeout = Duration::from_millis(100);
    m.apply_options(&[o]).await.unwrap();
    let mut groups = JobGroups::new();
    groups.insert(
        "fast".into(),
        vec![TargetGroup::from_addresses(
            "0",
            [addr.as_str()],
            Labels::empty(),
        )],
    );
    let (tx, rx) = tokio::sync::watch::channel(groups.clone());
    let runner = {
        let m = m.clone();
        tokio::spawn(async move { m.run(rx).await })
    };
    wait_until("three scrapes", || {
        up_samples(&db).iter().filter(|v| **v == 1.0).count() >= 3
    })
    .await;
    // The target leaves discovery: its series go stale at the time its
    // next scrape was due.
    tx.send_replace(JobGroups::new());
    wait_until("end-of-run staleness", || {
        up_samples(&db).last().is_some_and(|v| is_stale_nan(*v))
    })
    .await;
    let points = up_points(&db);
    let (last_real, marker) = (points[points.len() - 2], points[points.len() - 1]);
    assert!(last_real.1 == 1.0 && marker.0 > last_real.0, "{points:?}");
    // It comes back and scrapes again; shutdown leaves no marker.
    tx.send_replace(groups);
    let n = points.len();
    wait_until("scrapes after return", || up_samples(&db).len() >= n + 2).await;
    m.stop().await;
    runner.await.unwrap();
    let after_stop = up_samples(&db);
    assert_eq!(*after_stop.last().unwrap(), 1.0);
    let snap = m.stats();
    assert!(snap.beacon_scrapes_total >= 3);
    assert!(
        snap.prometheus_target_interval_length_seconds
            .contains_key("100ms")
    );
}
