//! Service discovery sections: `static_configs`, `file_sd_configs`,
//! `ec2_sd_configs`, `dns_sd_configs` and `http_sd_configs`, as they appear
//! in scrape configs and alertmanager configs. Prometheus's other
//! mechanisms are named in [`UNSUPPORTED_SD`] so that using one is a clear
//! error rather than a job that silently finds no targets.

use std::collections::BTreeMap;

use beacon_model::{NameValidation, PromDuration};

use crate::Result;
use crate::http::{HttpClientConfig, Secret, Url, check_url};
use crate::yaml::{Cx, Fields, Node, Out, Pos, Section, Value, pos, scalar_text};

/// Service discovery mechanisms Prometheus has and Beacon does not.
pub const UNSUPPORTED_SD: [&str; 26] = [
    "azure_sd_configs",
    "consul_sd_configs",
    "digitalocean_sd_configs",
    "docker_sd_configs",
    "dockerswarm_sd_configs",
    "eureka_sd_configs",
    "gce_sd_configs",
    "hetzner_sd_configs",
    "ionos_sd_configs",
    "kubernetes_sd_configs",
    "kuma_sd_configs",
    "lightsail_sd_configs",
    "linode_sd_configs",
    "marathon_sd_configs",
    "nerve_sd_configs",
    "nomad_sd_configs",
    "openstack_sd_configs",
    "ovhcloud_sd_configs",
    "puppetdb_sd_configs",
    "scaleway_sd_configs",
    "serverset_sd_configs",
    "stackit_sd_configs",
    "triton_sd_configs",
    "uyuni_sd_configs",
    "vultr_sd_configs",
    "outscale_sd_configs",
];

/// The message for a known-but-unsupported section, if `key` is one.
pub(crate) fn unsupported(key: &str) -> Option<String> {
    UNSUPPORTED_SD
        .contains(&key)
        .then(|| format!("{key} is not supported by Beacon"))
}

/// A label set of a target group, with names checked as label names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSet(pub BTreeMap<String, String>);

impl Value for LabelSet {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let map = BTreeMap::<String, String>::decode(n, cx)?;
        for name in map.keys() {
            if !NameValidation::Utf8.label_name(name) {
                return Err(cx.err(pos(n), format!("{name:?} is not a valid label name")));
            }
        }
        Ok(LabelSet(map))
    }
    fn encode(&self) -> Out {
        self.0.encode()
    }
    fn omit(&self) -> bool {
        self.0.is_empty()
    }
}

/// One `static_configs` entry: a target group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticConfig {
    /// `host:port` addresses; a missing port is allowed (the scheme's default applies).
    pub targets: Vec<String>,
    pub labels: LabelSet,
}

impl Section for StaticConfig {
    const NAME: &'static str = "static_configs entry";
    fn initial() -> Self {
        StaticConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("targets", &mut self.targets)?;
        v.field("labels", &mut self.labels)
    }
}

/// `file_sd_configs`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSdConfig {
    /// Globs (only in the last path element), joined with the config dir.
    pub files: Vec<String>,
    /// Default 5m.
    pub refresh_interval: PromDuration,
}

impl Section for FileSdConfig {
    const NAME: &'static str = "file_sd_configs entry";
    fn initial() -> Self {
        FileSdConfig {
            files: Vec::new(),
            refresh_interval: PromDuration(5 * 60_000),
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("files", &mut self.files)?;
        v.field("refresh_interval", &mut self.refresh_interval)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.files.is_empty() {
            return Err(cx.err(
                at,
                "file service discovery config must contain at least one path name",
            ));
        }
        for f in &mut self.files {
            if !valid_sd_file(f) {
                return Err(cx.err(
                    at,
                    format!("path name {f:?} is not valid for file discovery"),
                ));
            }
            *f = cx.join(f);
        }
        Ok(())
    }
}

/// Prometheus accepts `*` only in the last path element and requires a
/// `.json`, `.yml` or `.yaml` extension.
fn valid_sd_file(f: &str) -> bool {
    let ext_ok = [".json", ".yml", ".yaml", ".JSON", ".YML", ".YAML"]
        .iter()
        .any(|e| f.ends_with(e));
    let star_ok = match f.find('*') {
        None => true,
        Some(i) => !f[i..].contains('/'),
    };
    ext_ok && star_ok
}

/// One `filters` entry of `ec2_sd_configs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ec2Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Section for Ec2Filter {
    const NAME: &'static str = "ec2 filter";
    fn initial() -> Self {
        Ec2Filter::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("name", &mut self.name)?;
        v.field("values", &mut self.values)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.name.is_empty() || self.values.is_empty() {
            return Err(cx.err(at, "EC2 SD configuration filter values cannot be empty"));
        }
        Ok(())
    }
}

/// `ec2_sd_configs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ec2SdConfig {
    /// Empty means: ask the instance metadata service at discovery time.
    pub region: String,
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: Secret,
    pub profile: String,
    pub role_arn: String,
    /// Default 60s.
    pub refresh_interval: PromDuration,
    /// Default 80.
    pub port: u64,
    pub filters: Vec<Ec2Filter>,
    pub http: HttpClientConfig,
}

impl Section for Ec2SdConfig {
    const NAME: &'static str = "ec2_sd_configs entry";
    fn initial() -> Self {
        Ec2SdConfig {
            region: String::new(),
            endpoint: String::new(),
            access_key: String::new(),
            secret_key: Secret::default(),
            profile: String::new(),
            role_arn: String::new(),
            refresh_interval: PromDuration(60_000),
            port: 80,
            filters: Vec::new(),
            http: HttpClientConfig::default(),
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("region", &mut self.region)?;
        v.field("endpoint", &mut self.endpoint)?;
        v.field("access_key", &mut self.access_key)?;
        v.field("secret_key", &mut self.secret_key)?;
        v.field("profile", &mut self.profile)?;
        v.field("role_arn", &mut self.role_arn)?;
        v.field("refresh_interval", &mut self.refresh_interval)?;
        v.field("port", &mut self.port)?;
        v.field("filters", &mut self.filters)?;
        v.inline(&mut self.http)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.port > u64::from(u16::MAX) {
            return Err(cx.err(at, format!("EC2 SD port {} is out of range", self.port)));
        }
        self.http.validate(cx, at)
    }
}

/// DNS record types `dns_sd_configs` may query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DnsRecordType {
    #[default]
    Srv,
    A,
    Aaaa,
    Mx,
    Ns,
}

impl DnsRecordType {
    const NAMES: [(DnsRecordType, &'static str); 5] = [
        (DnsRecordType::Srv, "SRV"),
        (DnsRecordType::A, "A"),
        (DnsRecordType::Aaaa, "AAAA"),
        (DnsRecordType::Mx, "MX"),
        (DnsRecordType::Ns, "NS"),
    ];
    pub fn as_str(self) -> &'static str {
        DnsRecordType::NAMES
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("", |(_, n)| n)
    }
}

impl Value for DnsRecordType {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let s = scalar_text(n, cx)?;
        let upper = s.to_ascii_uppercase();
        DnsRecordType::NAMES
            .iter()
            .find(|(_, name)| *name == upper)
            .map(|(t, _)| *t)
            .ok_or_else(|| cx.err(pos(n), format!("invalid DNS-SD records type {s}")))
    }
    fn encode(&self) -> Out {
        Out::Str(self.as_str().to_owned())
    }
}

/// `dns_sd_configs`.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsSdConfig {
    pub names: Vec<String>,
    /// Default 30s.
    pub refresh_interval: PromDuration,
    /// Default SRV.
    pub r#type: DnsRecordType,
    /// Required for every type but SRV.
    pub port: u64,
}

impl Section for DnsSdConfig {
    const NAME: &'static str = "dns_sd_configs entry";
    fn initial() -> Self {
        DnsSdConfig {
            names: Vec::new(),
            refresh_interval: PromDuration(30_000),
            r#type: DnsRecordType::Srv,
            port: 0,
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("names", &mut self.names)?;
        v.field("refresh_interval", &mut self.refresh_interval)?;
        v.field("type", &mut self.r#type)?;
        v.field("port", &mut self.port)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.names.is_empty() {
            return Err(cx.err(
                at,
                "DNS-SD config must contain at least one SRV record name",
            ));
        }
        if self.r#type != DnsRecordType::Srv && self.port == 0 {
            return Err(cx.err(
                at,
                "a port is required in DNS-SD configs for all record types except SRV",
            ));
        }
        if self.port > u64::from(u16::MAX) {
            return Err(cx.err(at, format!("DNS-SD port {} is out of range", self.port)));
        }
        Ok(())
    }
}

/// `http_sd_configs`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSdConfig {
    pub url: Url,
    /// Default 60s.
    pub refresh_interval: PromDuration,
    pub http: HttpClientConfig,
}

impl Section for HttpSdConfig {
    const NAME: &'static str = "http_sd_configs entry";
    fn initial() -> Self {
        HttpSdConfig {
            url: Url::default(),
            refresh_interval: PromDuration(60_000),
            http: HttpClientConfig::default(),
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("url", &mut self.url)?;
        v.field("refresh_interval", &mut self.refresh_interval)?;
        v.inline(&mut self.http)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.url.0.is_empty() {
            return Err(cx.err(at, "URL is missing"));
        }
        let (scheme, host) = check_url(&self.url.0).map_err(|e| cx.err(at, e))?;
        if scheme != "http" && scheme != "https" {
            return Err(cx.err(at, "URL scheme must be 'http' or 'https'"));
        }
        if host.is_empty() {
            return Err(cx.err(at, "host is missing in URL"));
        }
        self.http.validate(cx, at)
    }
}

/// Every discovery mechanism of one scrape job or alertmanager set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceDiscovery {
    pub static_configs: Vec<StaticConfig>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub ec2_sd_configs: Vec<Ec2SdConfig>,
    pub dns_sd_configs: Vec<DnsSdConfig>,
    pub http_sd_configs: Vec<HttpSdConfig>,
}

impl Section for ServiceDiscovery {
    const NAME: &'static str = "service discovery";
    fn initial() -> Self {
        ServiceDiscovery::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("static_configs", &mut self.static_configs)?;
        v.field("file_sd_configs", &mut self.file_sd_configs)?;
        v.field("ec2_sd_configs", &mut self.ec2_sd_configs)?;
        v.field("dns_sd_configs", &mut self.dns_sd_configs)?;
        v.field("http_sd_configs", &mut self.http_sd_configs)
    }
}

impl ServiceDiscovery {
    /// Prometheus rejects URLs in static targets when no relabelling could
    /// fix them up: `"http://host:9100" is not a valid hostname`.
    pub(crate) fn check_static_targets(&self, cx: &Cx, at: Pos) -> Result<()> {
        for t in self.static_configs.iter().flat_map(|s| &s.targets) {
            if t.contains('/') {
                return Err(cx.err(at, format!("{t:?} is not a valid hostname")));
            }
        }
        Ok(())
    }

    /// Whether no mechanism is configured.
    pub fn is_empty(&self) -> bool {
        self.static_configs.is_empty()
            && self.file_sd_configs.is_empty()
            && self.ec2_sd_configs.is_empty()
            && self.dns_sd_configs.is_empty()
            && self.http_sd_configs.is_empty()
    }
}
