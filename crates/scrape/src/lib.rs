//! Scraping: pulls metrics from targets into storage.
//!
//! The [`ScrapeManager`] holds one [`pool::ScrapePool`] per job; a pool
//! turns discovered target groups into [`target::Target`]s (Prometheus's
//! label rules: defaults, `relabel_configs`, `instance`), and runs a
//! [`scrape_loop::ScrapeLoop`] per target at a hash-spread offset. Each
//! scrape fetches the body ([`fetch`]: content negotiation, gzip, timeout,
//! `body_size_limit` while streaming, the parser chosen from the
//! `Content-Type` or `fallback_scrape_protocol`), appends it ([`append`]:
//! parse, the [`cache::ScrapeCache`] keyed by raw series text,
//! honor_labels, `metric_relabel_configs`, limits, exemplars, metadata for
//! new or changed series, staleness markers) and writes the synthetic `up`
//! and `scrape_*` series, all as one storage batch. A target that leaves
//! goes stale after its next due scrape, as in Prometheus; shutdown
//! writes no markers ([`pool`]).
//!
//! Scraping sees storage only through `beacon_storage::Appendable`.
//!
//! ```
//! use std::sync::Arc;
//! use beacon_scrape::{ManagerOptions, ScrapeManager, ScrapeOptions};
//! use beacon_storage::MemStorage;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let db = Arc::new(MemStorage::new());
//! let manager = ScrapeManager::new(db, ManagerOptions { run_loops: false, ..Default::default() });
//! manager.apply_options(&[ScrapeOptions::new("node")]).await.unwrap();
//! assert!(manager.targets().active.is_empty());
//! # });
//! ```

pub mod append;
pub mod cache;
mod error;
pub mod fetch;
pub mod from_config;
pub mod manager;
pub mod options;
pub mod pool;
pub mod scrape_loop;
pub mod stats;
pub mod target;

pub use error::{Error, Result};
pub use manager::{
    ActiveTarget, DroppedTarget, ManagerOptions, ScrapeManager, TargetMetadata, TargetsSnapshot,
};
pub use options::{Limits, ScrapeOptions};
pub use stats::ScrapeStatsSnapshot;
