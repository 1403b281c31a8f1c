//! Service discovery: where the targets are.
//!
//! Each provider turns one `*_sd_configs` entry into [`TargetGroup`]s: a
//! list of targets (each a label set with at least `__address__`) plus
//! labels shared by the group, with Prometheus's `__meta_*` labels so the
//! same relabelling rules work unchanged. Providers:
//!
//! - [`static_config`]: `static_configs`, fixed groups;
//! - [`file`]: `file_sd_configs`, JSON or YAML files, watched by polling;
//! - [`http`]: `http_sd_configs`, a JSON endpoint polled on an interval;
//! - [`dns`]: `dns_sd_configs`, A, AAAA, SRV and MX lookups;
//! - [`ec2`]: `ec2_sd_configs`, AWS `DescribeInstances` signed with SigV4.
//!
//! The [`manager::DiscoveryManager`] runs every provider of every job as a
//! tokio task and publishes the latest groups per job through a
//! `tokio::sync::watch` channel; on reload it restarts only the providers
//! of jobs whose discovery settings changed.
//!
//! ```
//! use beacon_discovery::{TargetGroup, parse_groups_json};
//!
//! let groups = parse_groups_json(
//!     br#"[{"targets": ["a:9100"], "labels": {"env": "prod"}}]"#,
//!     "sd.json",
//! ).unwrap();
//! assert_eq!(groups[0].targets[0].get("__address__"), Some("a:9100"));
//! assert_eq!(groups[0].labels.get("env"), Some("prod"));
//! assert_eq!(groups[0].source, "sd.json:0");
//! ```

pub mod client;
pub mod dns;
pub mod ec2;
mod error;
pub mod file;
pub mod from_config;
mod group;
pub mod http;
pub mod manager;
pub mod static_config;

pub use error::{Error, Result};
pub use group::{
    ADDRESS_LABEL, TargetGroup, parse_groups_json, parse_groups_yaml, sanitize_label_name,
};
pub use manager::{DiscoveryManager, SdConfig};
