//! `scrape_configs` entries, and the value types they share with `global`:
//! scrape protocols, byte sizes, name validation and escaping schemes.

use std::collections::BTreeMap;
use std::fmt;

use beacon_model::{NameValidation, PromDuration};

use crate::Result;
use crate::discovery::{ServiceDiscovery, unsupported};
use crate::global::GlobalConfig;
use crate::http::HttpClientConfig;
use crate::relabel::RelabelConfig;
use crate::yaml::{Cx, Fields, Node, Out, Pos, Section, Source, Value, pos, scalar_text};

/// An exposition format a scrape may negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    PrometheusProto,
    PrometheusText0_0_4,
    PrometheusText1_0_0,
    OpenMetricsText0_0_1,
    OpenMetricsText1_0_0,
}

impl ScrapeProtocol {
    const ALL: [(ScrapeProtocol, &'static str, &'static str); 5] = [
        (
            ScrapeProtocol::PrometheusProto,
            "PrometheusProto",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
        ),
        (
            ScrapeProtocol::PrometheusText0_0_4,
            "PrometheusText0.0.4",
            "text/plain;version=0.0.4",
        ),
        (
            ScrapeProtocol::PrometheusText1_0_0,
            "PrometheusText1.0.0",
            "text/plain;version=1.0.0",
        ),
        (
            ScrapeProtocol::OpenMetricsText0_0_1,
            "OpenMetricsText0.0.1",
            "application/openmetrics-text;version=0.0.1",
        ),
        (
            ScrapeProtocol::OpenMetricsText1_0_0,
            "OpenMetricsText1.0.0",
            "application/openmetrics-text;version=1.0.0",
        ),
    ];

    /// The name used in configs (`OpenMetricsText1.0.0`).
    pub fn as_str(self) -> &'static str {
        ScrapeProtocol::ALL
            .iter()
            .find(|p| p.0 == self)
            .map_or("", |p| p.1)
    }

    /// The media type with parameters, for the `Accept` header.
    pub fn accept_header(self) -> &'static str {
        ScrapeProtocol::ALL
            .iter()
            .find(|p| p.0 == self)
            .map_or("", |p| p.2)
    }
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Value for ScrapeProtocol {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let s = scalar_text(n, cx)?;
        ScrapeProtocol::ALL
            .iter()
            .find(|p| p.1 == s)
            .map(|p| p.0)
            .ok_or_else(|| {
                let mut names: Vec<&str> = ScrapeProtocol::ALL.iter().map(|p| p.1).collect();
                names.sort_unstable();
                cx.err(
                    pos(n),
                    format!(
                        "unknown scrape protocol {s}, supported: [{}]",
                        names.join(" ")
                    ),
                )
            })
    }
    fn encode(&self) -> Out {
        Out::Str(self.as_str().to_owned())
    }
}

/// Prometheus 3's default protocol preference.
pub const DEFAULT_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

/// The preference when native histograms are scraped: protobuf first.
pub const PROTO_FIRST_SCRAPE_PROTOCOLS: [ScrapeProtocol; 5] = [
    ScrapeProtocol::PrometheusProto,
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

pub(crate) fn check_protocols(list: &[ScrapeProtocol]) -> Result<(), String> {
    if list.is_empty() {
        return Err("scrape_protocols cannot be empty".into());
    }
    for (i, p) in list.iter().enumerate() {
        if list[..i].contains(p) {
            let names: Vec<&str> = list.iter().map(|p| p.as_str()).collect();
            return Err(format!(
                "duplicated protocol in scrape_protocols, got [{}]",
                names.join(" ")
            ));
        }
    }
    Ok(())
}

/// A size in bytes written with base-2 units (`10MB` = 10 MiB, `512KiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

const BYTE_UNITS: [(&str, &str, u64); 7] = [
    ("EiB", "EB", 1 << 60),
    ("PiB", "PB", 1 << 50),
    ("TiB", "TB", 1 << 40),
    ("GiB", "GB", 1 << 30),
    ("MiB", "MB", 1 << 20),
    ("KiB", "KB", 1 << 10),
    ("B", "B", 1),
];

impl ByteSize {
    /// Parses sizes the way Prometheus's `units.ParseBase2Bytes` does:
    /// one or more `<number><unit>` parts (`1GB512MB`, `1.5KB`), or `0`.
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        if s == "0" {
            return Ok(ByteSize(0));
        }
        let bad = || format!("units: invalid {s}");
        let mut rest = s;
        let mut total = 0f64;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let num = &rest[..num_len];
            if num.is_empty() || num == "." || num.matches('.').count() > 1 {
                return Err(bad());
            }
            let value: f64 = num.parse().map_err(|_| bad())?;
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            let scale = BYTE_UNITS
                .iter()
                .find(|(a, b, _)| *a == unit || *b == unit)
                .map(|u| u.2)
                .ok_or_else(|| format!("units: unknown unit {unit} in {s}"))?;
            total += value * scale as f64;
            rest = &rest[unit_len..];
        }
        if total >= u64::MAX as f64 {
            return Err("units: overflow parsing unit".into());
        }
        Ok(ByteSize(total as u64))
    }
}

impl fmt::Display for ByteSize {
    /// Prints as Prometheus does: the largest units first (`1GiB512MiB`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0B");
        }
        let mut rest = self.0;
        for (name, _, scale) in BYTE_UNITS {
            if rest >= scale {
                write!(f, "{}{name}", rest / scale)?;
                rest %= scale;
            }
        }
        Ok(())
    }
}

impl Value for ByteSize {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let s = scalar_text(n, cx)?;
        if s.is_empty() {
            return Ok(ByteSize(0));
        }
        ByteSize::parse(&s).map_err(|e| cx.err(pos(n), e))
    }
    fn encode(&self) -> Out {
        Out::Str(self.to_string())
    }
    fn omit(&self) -> bool {
        self.0 == 0
    }
}

/// `metric_name_validation_scheme`: `utf8` or `legacy`.
impl Value for NameValidation {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match scalar_text(n, cx)?.as_str() {
            "utf8" | "" => Ok(NameValidation::Utf8),
            "legacy" => Ok(NameValidation::Legacy),
            other => Err(cx.err(pos(n), format!(
                "unknown name validation method specified, must be either '', 'legacy' or 'utf8', got {other}"))),
        }
    }
    fn encode(&self) -> Out {
        Out::Str(
            match self {
                NameValidation::Utf8 => "utf8",
                NameValidation::Legacy => "legacy",
            }
            .to_owned(),
        )
    }
}

/// `metric_name_escaping_scheme` values.
pub const ESCAPING_SCHEMES: [&str; 4] = ["allow-utf-8", "underscores", "dots", "values"];

pub(crate) fn check_escaping(s: &str, whose: &str) -> Result<(), String> {
    if s.is_empty() || ESCAPING_SCHEMES.contains(&s) {
        return Ok(());
    }
    Err(format!(
        "unknown {whose} name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {s:?}"
    ))
}

/// One `scrape_configs` entry. After loading, every field that defaults
/// from `global` holds the effective value.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub honor_labels: bool,
    /// Default true.
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    /// Default `http`.
    pub scheme: String,
    /// Default `/metrics`.
    pub metrics_path: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub scrape_interval: PromDuration,
    pub scrape_timeout: PromDuration,
    pub scrape_protocols: Vec<ScrapeProtocol>,
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    pub scrape_native_histograms: Option<bool>,
    /// Also read from Prometheus 2's `scrape_classic_histograms`.
    pub always_scrape_classic_histograms: Option<bool>,
    pub convert_classic_histograms_to_nhcb: Option<bool>,
    pub scrape_failure_log_file: String,
    /// Default true.
    pub enable_compression: bool,
    pub body_size_limit: ByteSize,
    pub sample_limit: u64,
    pub target_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub native_histogram_bucket_limit: u64,
    pub native_histogram_min_bucket_factor: f64,
    pub keep_dropped_targets: u64,
    pub metric_name_validation_scheme: Option<NameValidation>,
    pub metric_name_escaping_scheme: String,
    pub extra_scrape_metrics: Option<bool>,
    pub service_discovery: ServiceDiscovery,
    pub http: HttpClientConfig,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    /// Where the job was written (ignored by equality).
    pub source: Source,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        ScrapeConfig {
            job_name: String::new(),
            honor_labels: false,
            honor_timestamps: true,
            track_timestamps_staleness: false,
            scheme: "http".to_owned(),
            metrics_path: "/metrics".to_owned(),
            params: BTreeMap::new(),
            scrape_interval: PromDuration(0),
            scrape_timeout: PromDuration(0),
            scrape_protocols: Vec::new(),
            fallback_scrape_protocol: None,
            scrape_native_histograms: None,
            always_scrape_classic_histograms: None,
            convert_classic_histograms_to_nhcb: None,
            scrape_failure_log_file: String::new(),
            enable_compression: true,
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            native_histogram_bucket_limit: 0,
            native_histogram_min_bucket_factor: 0.0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: None,
            metric_name_escaping_scheme: String::new(),
            extra_scrape_metrics: None,
            service_discovery: ServiceDiscovery::default(),
            http: HttpClientConfig::default(),
            relabel_configs: Vec::new(),
            metric_relabel_configs: Vec::new(),
            source: Source::default(),
        }
    }
}

impl Section for ScrapeConfig {
    const NAME: &'static str = "scrape config";
    fn initial() -> Self {
        ScrapeConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.keep("job_name", &mut self.job_name)?;
        v.field("honor_labels", &mut self.honor_labels)?;
        v.field("honor_timestamps", &mut self.honor_timestamps)?;
        v.field(
            "track_timestamps_staleness",
            &mut self.track_timestamps_staleness,
        )?;
        v.field("scheme", &mut self.scheme)?;
        v.field("metrics_path", &mut self.metrics_path)?;
        v.field("params", &mut self.params)?;
        v.field("scrape_interval", &mut self.scrape_interval)?;
        v.field("scrape_timeout", &mut self.scrape_timeout)?;
        v.field("scrape_protocols", &mut self.scrape_protocols)?;
        v.field(
            "fallback_scrape_protocol",
            &mut self.fallback_scrape_protocol,
        )?;
        v.field(
            "scrape_native_histograms",
            &mut self.scrape_native_histograms,
        )?;
        v.field(
            "always_scrape_classic_histograms",
            &mut self.always_scrape_classic_histograms,
        )?;
        v.alias(
            "scrape_classic_histograms",
            &mut self.always_scrape_classic_histograms,
        )?;
        v.field(
            "convert_classic_histograms_to_nhcb",
            &mut self.convert_classic_histograms_to_nhcb,
        )?;
        v.field("scrape_failure_log_file", &mut self.scrape_failure_log_file)?;
        v.field("enable_compression", &mut self.enable_compression)?;
        v.field("body_size_limit", &mut self.body_size_limit)?;
        v.field("sample_limit", &mut self.sample_limit)?;
        v.field("target_limit", &mut self.target_limit)?;
        v.field("label_limit", &mut self.label_limit)?;
        v.field("label_name_length_limit", &mut self.label_name_length_limit)?;
        v.field(
            "label_value_length_limit",
            &mut self.label_value_length_limit,
        )?;
        v.field(
            "native_histogram_bucket_limit",
            &mut self.native_histogram_bucket_limit,
        )?;
        v.field(
            "native_histogram_min_bucket_factor",
            &mut self.native_histogram_min_bucket_factor,
        )?;
        v.field("keep_dropped_targets", &mut self.keep_dropped_targets)?;
        v.field(
            "metric_name_validation_scheme",
            &mut self.metric_name_validation_scheme,
        )?;
        v.field(
            "metric_name_escaping_scheme",
            &mut self.metric_name_escaping_scheme,
        )?;
        v.field("extra_scrape_metrics", &mut self.extra_scrape_metrics)?;
        v.inline(&mut self.service_discovery)?;
        v.inline(&mut self.http)?;
        v.field("relabel_configs", &mut self.relabel_configs)?;
        v.field("metric_relabel_configs", &mut self.metric_relabel_configs)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        self.source = Source { pos: at };
        if self.job_name.is_empty() {
            return Err(cx.err(at, "job_name is empty"));
        }
        self.http.validate(cx, at)?;
        if self.relabel_configs.is_empty() {
            self.service_discovery.check_static_targets(cx, at)?;
        }
        self.scrape_failure_log_file = cx.join(&self.scrape_failure_log_file);
        Ok(())
    }
    fn unsupported(key: &str) -> Option<String> {
        unsupported(key)
    }
}

impl ScrapeConfig {
    /// Fills what defaults from `global` and checks what depends on it,
    /// as Prometheus's `ScrapeConfig.Validate` does.
    pub(crate) fn apply_global(&mut self, g: &GlobalConfig) -> Result<(), String> {
        let job = &self.job_name;
        if self.scrape_interval.0 == 0 {
            self.scrape_interval = g.scrape_interval;
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(format!(
                "scrape timeout greater than scrape interval for scrape config with job name {job:?}"
            ));
        }
        if self.scrape_timeout.0 == 0 {
            self.scrape_timeout = g.scrape_timeout.min(self.scrape_interval);
        }
        fill(&mut self.body_size_limit.0, g.body_size_limit.0);
        fill(&mut self.sample_limit, g.sample_limit);
        fill(&mut self.target_limit, g.target_limit);
        fill(&mut self.label_limit, g.label_limit);
        fill(&mut self.label_name_length_limit, g.label_name_length_limit);
        fill(
            &mut self.label_value_length_limit,
            g.label_value_length_limit,
        );
        fill(&mut self.keep_dropped_targets, g.keep_dropped_targets);
        if self.scrape_failure_log_file.is_empty() {
            self.scrape_failure_log_file = g.scrape_failure_log_file.clone();
        }
        self.scrape_native_histograms = self
            .scrape_native_histograms
            .or(Some(g.scrape_native_histograms));
        self.extra_scrape_metrics = self.extra_scrape_metrics.or(Some(g.extra_scrape_metrics));
        if self.scrape_protocols.is_empty() {
            self.scrape_protocols = match &g.scrape_protocols {
                Some(p) => p.clone(),
                None if self.scrape_native_histograms == Some(true) => {
                    PROTO_FIRST_SCRAPE_PROTOCOLS.to_vec()
                }
                None => DEFAULT_SCRAPE_PROTOCOLS.to_vec(),
            };
        }
        check_protocols(&self.scrape_protocols)
            .map_err(|e| format!("{e} for scrape config with job name {job:?}"))?;
        self.resolve_names(g)?;
        self.always_scrape_classic_histograms = self
            .always_scrape_classic_histograms
            .or(Some(g.always_scrape_classic_histograms));
        self.convert_classic_histograms_to_nhcb = self
            .convert_classic_histograms_to_nhcb
            .or(Some(g.convert_classic_histograms_to_nhcb));
        Ok(())
    }

    /// Re-checks the relabel rules under this job's name validation scheme.
    pub(crate) fn check_relabel(&mut self, cx: &Cx) -> Result<()> {
        let scheme = self.name_validation();
        for rc in self
            .relabel_configs
            .iter_mut()
            .chain(self.metric_relabel_configs.iter_mut())
        {
            rc.check_in(scheme, cx)?;
        }
        Ok(())
    }

    /// Resolves the name validation and escaping schemes against global.
    fn resolve_names(&mut self, g: &GlobalConfig) -> Result<(), String> {
        let local_unset = self.metric_name_validation_scheme.is_none();
        let validation = self
            .metric_name_validation_scheme
            .unwrap_or(g.metric_name_validation_scheme);
        self.metric_name_validation_scheme = Some(validation);
        let global_escaping = match g.metric_name_escaping_scheme.as_str() {
            "" if g.metric_name_validation_scheme == NameValidation::Legacy => "underscores",
            "" => "allow-utf-8",
            other => other,
        };
        check_escaping(&self.metric_name_escaping_scheme, "scrape config")?;
        if self.metric_name_escaping_scheme.is_empty() {
            self.metric_name_escaping_scheme = if local_unset {
                global_escaping.to_owned()
            } else if validation == NameValidation::Legacy {
                "underscores".to_owned()
            } else {
                "allow-utf-8".to_owned()
            };
        }
        if self.metric_name_escaping_scheme == "allow-utf-8" && validation != NameValidation::Utf8 {
            return Err(
                "utf8 metric names requested but validation scheme is not set to UTF8".into(),
            );
        }
        Ok(())
    }

    /// The effective name validation scheme (UTF-8 unless set to legacy).
    pub fn name_validation(&self) -> NameValidation {
        self.metric_name_validation_scheme.unwrap_or_default()
    }
}

fn fill(slot: &mut u64, global: u64) {
    if *slot == 0 {
        *slot = global;
    }
}
