//! beacon-node-exporter: node_exporter-compatible Linux host metrics.
//!
//! The exporter reads `/proc` and `/sys` with its own small readers and
//! exposes the same metric names, types, labels, help texts and units as
//! Prometheus's node_exporter 1.x, so dashboards and alerts keep working
//! when the binary is swapped.
//!
//! The pieces, from the bottom up:
//! - [`fsread`]: bounded file reads that name the path in every error.
//! - [`collector`]: the [`Collector`](collector::Collector) trait, the
//!   shared [`Config`](collector::Config) and one file per collector.
//! - [`metric_set`]: families under construction, sorted at the end.
//! - [`scrape`]: runs collectors concurrently, each under a timeout, and
//!   adds `node_scrape_collector_*`; one stuck collector cannot hold up a
//!   scrape (node_exporter's weak spot on hung NFS mounts).
//! - [`server`]: HTTP routes, content negotiation and [`gzip`]; [`web`]:
//!   serving them with `--web.config.file`; [`cli`]: the flags; [`log`]:
//!   log lines; [`mem`]: allocator tuning.
//!
//! Known differences from node_exporter 1.5: no `go_*` and `promhttp_*`
//! families (there is no Go runtime), `node_exporter_build_info` carries
//! this crate's version, `--collector.timeout` is new, and of the
//! collectors only the default Linux set that applies to servers and VMs
//! exists. Logs are go-kit shaped (`ts=… caller=… level=… msg=…`) but
//! `caller` names Rust files. A build without the default `web-config`
//! feature refuses `--web.config.file` at start-up.
//!
//! ```no_run
//! use std::sync::Arc;
//! use beacon_node_exporter::{collector, scrape};
//! # async fn demo() {
//! let cfg = Arc::new(collector::Config::default());
//! let cols = ["cpu", "meminfo"].iter().filter_map(|n| collector::build(n, &cfg)).collect();
//! let reg = scrape::Registry::new(cols, scrape::DEFAULT_COLLECTOR_TIMEOUT);
//! let families = reg.gather(&scrape::Selection::default()).await;
//! print!("{}", beacon_exposition::encode::encode(beacon_exposition::encode::Format::Text004, &families));
//! # }
//! ```

pub mod cli;
pub mod collector;
pub mod error;
pub mod fsread;
pub mod gzip;
pub mod log;
pub mod mem;
pub mod metric_set;
pub mod scrape;
pub mod selfmetrics;
pub mod server;
pub mod textparse;
pub mod web;

pub use error::{Error, Result};
