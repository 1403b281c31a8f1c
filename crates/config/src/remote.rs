//! `remote_write` and `remote_read`: where samples are sent and read from,
//! with Prometheus's queue defaults.

use std::collections::BTreeMap;

use beacon_model::PromDuration;

use crate::Result;
use crate::discovery::LabelSet;
use crate::http::{HttpClientConfig, Url};
use crate::relabel::RelabelConfig;
use crate::yaml::{Cx, Fields, Node, Out, Pos, Section, Source, Value, pos, scalar_text};

/// Headers remote storage configs may not set (Prometheus's list).
const RESERVED_HEADERS: [&str; 16] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

fn check_headers(headers: &BTreeMap<String, String>, cx: &Cx, at: Pos) -> Result<()> {
    for name in headers.keys() {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" {
            return Err(cx.err(at, "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter"));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(cx.err(
                at,
                format!("{name} is a reserved header. It must not be changed"),
            ));
        }
    }
    Ok(())
}

/// Cloud authentication sections Beacon does not implement.
fn unsupported_auth(key: &str) -> Option<String> {
    ["sigv4", "azuread", "google_iam"]
        .contains(&key)
        .then(|| format!("{key} is not supported by Beacon"))
}

/// The remote write protocol message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtobufMessage {
    /// Remote write 1.0: `prometheus.WriteRequest`.
    #[default]
    V1,
    /// Remote write 2.0: `io.prometheus.write.v2.Request`.
    V2,
}

impl ProtobufMessage {
    pub fn as_str(self) -> &'static str {
        match self {
            ProtobufMessage::V1 => "prometheus.WriteRequest",
            ProtobufMessage::V2 => "io.prometheus.write.v2.Request",
        }
    }
}

impl Value for ProtobufMessage {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match scalar_text(n, cx)?.as_str() {
            "prometheus.WriteRequest" => Ok(ProtobufMessage::V1),
            "io.prometheus.write.v2.Request" => Ok(ProtobufMessage::V2),
            other => Err(cx.err(pos(n), format!(
                "invalid protobuf_message value: unknown type for remote write protobuf message {other}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"))),
        }
    }
    fn encode(&self) -> Out {
        Out::Str(self.as_str().to_owned())
    }
}

/// `queue_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Default 10000.
    pub capacity: i64,
    /// Default 50.
    pub max_shards: i64,
    /// Default 1.
    pub min_shards: i64,
    /// Default 2000.
    pub max_samples_per_send: i64,
    /// Default 5s.
    pub batch_send_deadline: PromDuration,
    /// Default 30ms.
    pub min_backoff: PromDuration,
    /// Default 5s.
    pub max_backoff: PromDuration,
    pub retry_on_http_429: bool,
    pub sample_age_limit: PromDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: PromDuration(5_000),
            min_backoff: PromDuration(30),
            max_backoff: PromDuration(5_000),
            retry_on_http_429: false,
            sample_age_limit: PromDuration(0),
        }
    }
}

impl Section for QueueConfig {
    const NAME: &'static str = "queue_config";
    fn initial() -> Self {
        QueueConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("capacity", &mut self.capacity)?;
        v.field("max_shards", &mut self.max_shards)?;
        v.field("min_shards", &mut self.min_shards)?;
        v.field("max_samples_per_send", &mut self.max_samples_per_send)?;
        v.field("batch_send_deadline", &mut self.batch_send_deadline)?;
        v.field("min_backoff", &mut self.min_backoff)?;
        v.field("max_backoff", &mut self.max_backoff)?;
        v.field("retry_on_http_429", &mut self.retry_on_http_429)?;
        v.field("sample_age_limit", &mut self.sample_age_limit)
    }
}

/// `metadata_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataConfig {
    /// Default true.
    pub send: bool,
    /// Default 1m.
    pub send_interval: PromDuration,
    /// Default 2000.
    pub max_samples_per_send: i64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: PromDuration(60_000),
            max_samples_per_send: 2_000,
        }
    }
}

impl Section for MetadataConfig {
    const NAME: &'static str = "metadata_config";
    fn initial() -> Self {
        MetadataConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("send", &mut self.send)?;
        v.field("send_interval", &mut self.send_interval)?;
        v.field("max_samples_per_send", &mut self.max_samples_per_send)
    }
}

/// One `remote_write` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWriteConfig {
    pub url: Url,
    /// Default 30s.
    pub remote_timeout: PromDuration,
    pub headers: BTreeMap<String, String>,
    pub write_relabel_configs: Vec<RelabelConfig>,
    pub name: String,
    pub send_exemplars: bool,
    pub send_native_histograms: bool,
    pub round_robin_dns: bool,
    pub protobuf_message: ProtobufMessage,
    /// `enable_http2` defaults to false here, unlike elsewhere.
    pub http: HttpClientConfig,
    pub queue_config: QueueConfig,
    pub metadata_config: MetadataConfig,
    /// Where the entry was written (ignored by equality).
    pub source: Source,
}

impl Section for RemoteWriteConfig {
    const NAME: &'static str = "remote write config";
    fn initial() -> Self {
        RemoteWriteConfig {
            url: Url::default(),
            remote_timeout: PromDuration(30_000),
            headers: BTreeMap::new(),
            write_relabel_configs: Vec::new(),
            name: String::new(),
            send_exemplars: false,
            send_native_histograms: false,
            round_robin_dns: false,
            protobuf_message: ProtobufMessage::V1,
            http: HttpClientConfig {
                enable_http2: false,
                ..HttpClientConfig::default()
            },
            queue_config: QueueConfig::default(),
            metadata_config: MetadataConfig::default(),
            source: Source::default(),
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("url", &mut self.url)?;
        v.field("remote_timeout", &mut self.remote_timeout)?;
        v.field("headers", &mut self.headers)?;
        v.field("write_relabel_configs", &mut self.write_relabel_configs)?;
        v.field("name", &mut self.name)?;
        v.field("send_exemplars", &mut self.send_exemplars)?;
        v.field("send_native_histograms", &mut self.send_native_histograms)?;
        v.field("round_robin_dns", &mut self.round_robin_dns)?;
        v.field("protobuf_message", &mut self.protobuf_message)?;
        v.inline(&mut self.http)?;
        v.field("queue_config", &mut self.queue_config)?;
        v.field("metadata_config", &mut self.metadata_config)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.url.0.is_empty() {
            return Err(cx.err(at, "url for remote_write is empty"));
        }
        self.source = Source { pos: at };
        check_headers(&self.headers, cx, at)?;
        self.http.validate(cx, at)
    }
    fn unsupported(key: &str) -> Option<String> {
        unsupported_auth(key)
    }
}

/// One `remote_read` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteReadConfig {
    pub url: Url,
    /// Default 1m.
    pub remote_timeout: PromDuration,
    /// Default 50,000,000 bytes per frame of a chunked response.
    pub chunked_read_limit: u64,
    pub headers: BTreeMap<String, String>,
    pub read_recent: bool,
    pub name: String,
    pub http: HttpClientConfig,
    pub required_matchers: LabelSet,
    /// Default true.
    pub filter_external_labels: bool,
    /// Where the entry was written (ignored by equality).
    pub source: Source,
}

/// Prometheus's default `chunked_read_limit`.
pub const DEFAULT_CHUNKED_READ_LIMIT: u64 = 50_000_000;

impl Section for RemoteReadConfig {
    const NAME: &'static str = "remote read config";
    fn initial() -> Self {
        RemoteReadConfig {
            url: Url::default(),
            remote_timeout: PromDuration(60_000),
            chunked_read_limit: DEFAULT_CHUNKED_READ_LIMIT,
            headers: BTreeMap::new(),
            read_recent: false,
            name: String::new(),
            http: HttpClientConfig::default(),
            required_matchers: LabelSet::default(),
            filter_external_labels: true,
            source: Source::default(),
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("url", &mut self.url)?;
        v.field("remote_timeout", &mut self.remote_timeout)?;
        v.field("chunked_read_limit", &mut self.chunked_read_limit)?;
        v.field("headers", &mut self.headers)?;
        v.field("read_recent", &mut self.read_recent)?;
        v.field("name", &mut self.name)?;
        v.inline(&mut self.http)?;
        v.field("required_matchers", &mut self.required_matchers)?;
        v.field("filter_external_labels", &mut self.filter_external_labels)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.url.0.is_empty() {
            return Err(cx.err(at, "url for remote_read is empty"));
        }
        self.source = Source { pos: at };
        check_headers(&self.headers, cx, at)?;
        self.http.validate(cx, at)
    }
}
