//! Settings for the server process itself: `storage`, `tracing`,
//! `runtime` and `otlp`.

use std::collections::BTreeMap;

use beacon_model::PromDuration;

use crate::Result;
use crate::http::TlsConfig;
use crate::scrape::ByteSize;
use crate::yaml::{Cx, Fields, Node, Out, Pos, Section, Value, pos, scalar_text};

/// `storage.tsdb.retention`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionConfig {
    pub time: PromDuration,
    pub size: ByteSize,
}

impl Section for RetentionConfig {
    const NAME: &'static str = "retention config";
    fn initial() -> Self {
        RetentionConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("time", &mut self.time)?;
        v.field("size", &mut self.size)
    }
}

/// `storage.tsdb`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TsdbConfig {
    /// How far back out-of-order samples are accepted; 0 disables them.
    pub out_of_order_time_window: PromDuration,
    pub retention: Option<RetentionConfig>,
}

impl Section for TsdbConfig {
    const NAME: &'static str = "tsdb config";
    fn initial() -> Self {
        TsdbConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field(
            "out_of_order_time_window",
            &mut self.out_of_order_time_window,
        )?;
        v.field("retention", &mut self.retention)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.out_of_order_time_window.0 < 0 {
            return Err(cx.err(at, "out_of_order_time_window must not be negative"));
        }
        Ok(())
    }
}

/// Prometheus's default exemplar buffer size (the flag's default).
pub const DEFAULT_MAX_EXEMPLARS: i64 = 100_000;

/// `storage.exemplars`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExemplarsConfig {
    /// 0 or less disables exemplar storage.
    pub max_exemplars: i64,
}

impl Section for ExemplarsConfig {
    const NAME: &'static str = "exemplars config";
    fn initial() -> Self {
        ExemplarsConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("max_exemplars", &mut self.max_exemplars)
    }
}

/// `storage`. Absent sub-sections leave the command-line defaults alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StorageConfig {
    pub tsdb: Option<TsdbConfig>,
    pub exemplars: Option<ExemplarsConfig>,
}

impl Section for StorageConfig {
    const NAME: &'static str = "storage config";
    fn initial() -> Self {
        StorageConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("tsdb", &mut self.tsdb)?;
        v.field("exemplars", &mut self.exemplars)
    }
}

/// How traces are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TracingClientType {
    #[default]
    Grpc,
    Http,
}

impl Value for TracingClientType {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match scalar_text(n, cx)?.as_str() {
            "grpc" => Ok(TracingClientType::Grpc),
            "http" => Ok(TracingClientType::Http),
            other => Err(cx.err(
                pos(n),
                format!("expected tracing client type to be to be http or grpc, but got {other}"),
            )),
        }
    }
    fn encode(&self) -> Out {
        Out::Str(
            match self {
                TracingClientType::Grpc => "grpc",
                TracingClientType::Http => "http",
            }
            .to_owned(),
        )
    }
}

/// `tracing` (parsed and validated; Beacon exports no traces yet).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracingConfig {
    pub client_type: TracingClientType,
    pub endpoint: String,
    pub sampling_fraction: f64,
    pub insecure: bool,
    pub tls_config: TlsConfig,
    pub headers: BTreeMap<String, String>,
    pub compression: String,
    pub timeout: PromDuration,
}

impl Section for TracingConfig {
    const NAME: &'static str = "tracing config";
    fn initial() -> Self {
        TracingConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("client_type", &mut self.client_type)?;
        v.field("endpoint", &mut self.endpoint)?;
        v.field("sampling_fraction", &mut self.sampling_fraction)?;
        v.field("insecure", &mut self.insecure)?;
        v.field("tls_config", &mut self.tls_config)?;
        v.field("headers", &mut self.headers)?;
        v.field("compression", &mut self.compression)?;
        v.field("timeout", &mut self.timeout)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.endpoint.is_empty() {
            return Err(cx.err(at, "tracing endpoint must be set"));
        }
        if !self.compression.is_empty() && self.compression != "gzip" {
            return Err(cx.err(
                at,
                format!(
                    "invalid compression type {} provided, valid options: gzip",
                    self.compression
                ),
            ));
        }
        Ok(())
    }
}

/// `runtime`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeConfig {
    /// Go's GC target; parsed for compatibility, meaningless to Beacon.
    pub gogc: i64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig { gogc: 75 }
    }
}

impl Section for RuntimeConfig {
    const NAME: &'static str = "runtime config";
    fn initial() -> Self {
        RuntimeConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("gogc", &mut self.gogc)
    }
}

/// OTLP translation strategies.
pub const OTLP_TRANSLATION_STRATEGIES: [&str; 4] = [
    "UnderscoreEscapingWithSuffixes",
    "UnderscoreEscapingWithoutSuffixes",
    "NoUTF8EscapingWithSuffixes",
    "NoTranslation",
];

/// `otlp` (for the OTLP receiver).
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    pub promote_all_resource_attributes: bool,
    pub promote_resource_attributes: Vec<String>,
    pub ignore_resource_attributes: Vec<String>,
    pub translation_strategy: String,
    pub keep_identifying_resource_attributes: bool,
    pub convert_histograms_to_nhcb: bool,
    pub promote_scope_metadata: bool,
    pub label_name_underscore_sanitization: bool,
    pub label_name_preserve_multiple_underscores: bool,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            promote_all_resource_attributes: false,
            promote_resource_attributes: Vec::new(),
            ignore_resource_attributes: Vec::new(),
            translation_strategy: OTLP_TRANSLATION_STRATEGIES[0].to_owned(),
            keep_identifying_resource_attributes: false,
            convert_histograms_to_nhcb: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
        }
    }
}

impl Section for OtlpConfig {
    const NAME: &'static str = "otlp config";
    fn initial() -> Self {
        OtlpConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field(
            "promote_all_resource_attributes",
            &mut self.promote_all_resource_attributes,
        )?;
        v.field(
            "promote_resource_attributes",
            &mut self.promote_resource_attributes,
        )?;
        v.field(
            "ignore_resource_attributes",
            &mut self.ignore_resource_attributes,
        )?;
        v.field("translation_strategy", &mut self.translation_strategy)?;
        v.field(
            "keep_identifying_resource_attributes",
            &mut self.keep_identifying_resource_attributes,
        )?;
        v.field(
            "convert_histograms_to_nhcb",
            &mut self.convert_histograms_to_nhcb,
        )?;
        v.field("promote_scope_metadata", &mut self.promote_scope_metadata)?;
        v.field(
            "label_name_underscore_sanitization",
            &mut self.label_name_underscore_sanitization,
        )?;
        v.field(
            "label_name_preserve_multiple_underscores",
            &mut self.label_name_preserve_multiple_underscores,
        )
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if !OTLP_TRANSLATION_STRATEGIES.contains(&self.translation_strategy.as_str()) {
            return Err(cx.err(
                at,
                format!(
                    "unsupported OTLP translation strategy {:?}",
                    self.translation_strategy
                ),
            ));
        }
        if self.promote_all_resource_attributes && !self.promote_resource_attributes.is_empty() {
            return Err(cx.err(at, "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously"));
        }
        if !self.promote_all_resource_attributes && !self.ignore_resource_attributes.is_empty() {
            return Err(cx.err(at, "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true"));
        }
        Ok(())
    }
}
