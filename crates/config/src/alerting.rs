//! `alerting`: how alerts are relabelled and which Alertmanagers receive them.

use beacon_model::PromDuration;

use crate::Result;
use crate::discovery::{ServiceDiscovery, unsupported};
use crate::http::HttpClientConfig;
use crate::relabel::RelabelConfig;
use crate::yaml::{Cx, Fields, Node, Out, Pos, Section, Value, pos, scalar_text};

/// `api_version`: only v2 exists since Prometheus 2.x dropped v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertmanagerApiVersion {
    #[default]
    V2,
}

impl Value for AlertmanagerApiVersion {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match scalar_text(n, cx)?.as_str() {
            "v2" => Ok(AlertmanagerApiVersion::V2),
            other => Err(cx.err(
                pos(n),
                format!("expected Alertmanager api version to be one of [v2] but got {other}"),
            )),
        }
    }
    fn encode(&self) -> Out {
        Out::Str("v2".to_owned())
    }
}

/// One `alertmanagers` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertmanagerConfig {
    pub service_discovery: ServiceDiscovery,
    pub http: HttpClientConfig,
    /// Default `http`.
    pub scheme: String,
    pub path_prefix: String,
    /// Default 10s.
    pub timeout: PromDuration,
    pub api_version: AlertmanagerApiVersion,
    pub relabel_configs: Vec<RelabelConfig>,
    pub alert_relabel_configs: Vec<RelabelConfig>,
}

impl Section for AlertmanagerConfig {
    const NAME: &'static str = "alertmanager config";
    fn initial() -> Self {
        AlertmanagerConfig {
            service_discovery: ServiceDiscovery::default(),
            http: HttpClientConfig::default(),
            scheme: "http".to_owned(),
            path_prefix: String::new(),
            timeout: PromDuration(10_000),
            api_version: AlertmanagerApiVersion::V2,
            relabel_configs: Vec::new(),
            alert_relabel_configs: Vec::new(),
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.inline(&mut self.service_discovery)?;
        v.inline(&mut self.http)?;
        v.field("scheme", &mut self.scheme)?;
        v.field("path_prefix", &mut self.path_prefix)?;
        v.field("timeout", &mut self.timeout)?;
        v.keep("api_version", &mut self.api_version)?;
        v.field("relabel_configs", &mut self.relabel_configs)?;
        v.field("alert_relabel_configs", &mut self.alert_relabel_configs)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        self.http.validate(cx, at)?;
        if self.relabel_configs.is_empty() {
            self.service_discovery.check_static_targets(cx, at)?;
        }
        Ok(())
    }
    fn unsupported(key: &str) -> Option<String> {
        (key == "sigv4")
            .then(|| "sigv4 is not supported by Beacon".to_owned())
            .or_else(|| unsupported(key))
    }
}

/// `alerting`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertingConfig {
    pub alert_relabel_configs: Vec<RelabelConfig>,
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

impl Section for AlertingConfig {
    const NAME: &'static str = "alerting config";
    fn initial() -> Self {
        AlertingConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("alert_relabel_configs", &mut self.alert_relabel_configs)?;
        v.field("alertmanagers", &mut self.alertmanagers)
    }
}
