//! `prometheus.yml` as Prometheus 2.x and 3.x read it: typed sections,
//! strict decoding (unknown keys and wrong types are errors with
//! `file:line:col`), Prometheus's defaults and validation rules, secrets
//! that print as `<secret>`, relabelling, and the exporter-toolkit
//! `web.config.yml`.
//!
//! ```
//! use beacon_config::Config;
//!
//! let cfg = Config::from_yaml_str(
//!     "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['localhost:9100']\n",
//!     "prometheus.yml",
//! )
//! .unwrap();
//! let job = &cfg.scrape_configs[0];
//! assert_eq!(job.scrape_interval.to_string(), "1m"); // from global's default
//! assert_eq!(job.metrics_path, "/metrics");
//!
//! let err = Config::from_yaml_str("scrape_configs:\n  - job_name: x\n    scrape_intreval: 5s\n", "p.yml")
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "p.yml:3:5: field scrape_intreval not found in scrape config (did you mean scrape_interval?)");
//! ```
//!
//! Layout: `yaml` turns text into positioned nodes and walks each
//! section's field list to decode and encode; one module per section
//! family (`global`, `scrape`, `discovery`, `http`, `alerting`, `remote`,
//! `runtime`); `config` ties them together; `relabel` holds the rules and
//! their hot-path evaluation; `web` the web config; `glob` Go-style globs.

mod alerting;
mod config;
mod discovery;
mod error;
pub mod glob;
mod global;
mod http;
pub mod relabel;
mod remote;
mod runtime;
mod scrape;
pub mod tree;
pub mod web;
mod yaml;

pub use alerting::{AlertingConfig, AlertmanagerApiVersion, AlertmanagerConfig};
pub use config::{Config, DEFAULT_CONFIG};
pub use discovery::{
    DnsRecordType, DnsSdConfig, Ec2Filter, Ec2SdConfig, FileSdConfig, HttpSdConfig, LabelSet,
    ServiceDiscovery, StaticConfig, UNSUPPORTED_SD,
};
pub use error::{Error, Result};
pub use global::{
    DEFAULT_EVALUATION_INTERVAL, DEFAULT_SCRAPE_INTERVAL, DEFAULT_SCRAPE_TIMEOUT, GlobalConfig,
    expand_env,
};
pub use http::{
    Authorization, BasicAuth, HeaderValues, HttpClientConfig, OAuth2, ProxyConfig, SECRET_MASK,
    Secret, TlsConfig, TlsVersion, Url,
};
pub use relabel::{Action, RelabelConfig, process};
pub use remote::{
    DEFAULT_CHUNKED_READ_LIMIT, MetadataConfig, ProtobufMessage, QueueConfig, RemoteReadConfig,
    RemoteWriteConfig,
};
pub use runtime::{
    DEFAULT_MAX_EXEMPLARS, ExemplarsConfig, OtlpConfig, RetentionConfig, RuntimeConfig,
    StorageConfig, TracingClientType, TracingConfig, TsdbConfig,
};
pub use scrape::{
    ByteSize, DEFAULT_SCRAPE_PROTOCOLS, ESCAPING_SCHEMES, PROTO_FIRST_SCRAPE_PROTOCOLS,
    ScrapeConfig, ScrapeProtocol,
};
pub use yaml::{CONFIG_FILE_MAX_BYTES, Source, YAML_DEPTH_MAX, YAML_EVENTS_MAX, YAML_NODES_MAX};
