//! The server's path: a `prometheus.yml` loaded by `beacon-config`, its
//! jobs handed to discovery and to the scrape manager, one scrape into
//! `MemStorage`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use beacon_config::Config;
use beacon_discovery::DiscoveryManager;
use beacon_model::Matcher;
use beacon_scrape::{ManagerOptions, ScrapeManager};
use beacon_storage::{MemStorage, Queryable};

#[tokio::test]
async fn yaml_to_samples() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = Router::new().route("/probe", get(|| async { "keep_me 1\ndrop_me 2\n" }));
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let yaml = format!(
        "scrape_configs:
  - job_name: node
    scrape_interval: 15s
    metrics_path: /probe
    static_configs:
      - targets: ['{addr}']
        labels: {{env: prod}}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: drop_.*
        action: drop
"
    );
    let cfg = Config::from_yaml_str(&yaml, "prometheus.yml").unwrap();
    let (jobs, errors) = beacon_discovery::from_config::jobs(&cfg);
    assert!(errors.is_empty(), "{errors:?}");
    let mut dm = DiscoveryManager::new();
    let mut rx = dm.subscribe();
    dm.apply_config(jobs);
    let groups = tokio::time::timeout(
        Duration::from_secs(30),
        rx.wait_for(|g| g.contains_key("node")),
    )
    .await
    .expect("discovery publishes the static job")
    .unwrap()
    .clone();

    let db = Arc::new(MemStorage::new());
    let now = Arc::new(AtomicI64::new(1_000_000));
    let m = ScrapeManager::new(
        db.clone(),
        ManagerOptions {
            run_loops: false,
            clock: Arc::new(move || now.fetch_add(1000, Ordering::SeqCst)),
            ..ManagerOptions::default()
        },
    );
    m.apply_config(&cfg).await.unwrap();
    m.sync(&groups).await;
    m.scrape_all().await;
    let t = m.targets();
    assert_eq!(t.active.len(), 1);
    assert_eq!(t.active[0].scrape_interval, Duration::from_secs(15));
    assert_eq!(t.active[0].scrape_url, format!("http://{addr}/probe"));
    let q = db.querier(0, i64::MAX / 2).unwrap();
    let kept = q.select(&[Matcher::equal("__name__", "keep_me")]).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].labels.get("env"), Some("prod"));
    assert_eq!(kept[0].labels.get("job"), Some("node"));
    assert!(
        q.select(&[Matcher::equal("__name__", "drop_me")])
            .unwrap()
            .is_empty()
    );
    dm.stop();
    m.stop().await;
}
