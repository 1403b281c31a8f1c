//! `dns_sd_configs`: targets from DNS A, AAAA, SRV and MX records,
//! resolved with hickory every `refresh_interval`.
//!
//! Every target carries `__meta_dns_name` and the record-specific labels
//! (`__meta_dns_srv_record_target`, `__meta_dns_srv_record_port`,
//! `__meta_dns_mx_record_target`), empty where they do not apply, so
//! relabel rules can rely on them existing. Each queried name is one group.

use std::net::SocketAddr;
use std::time::Duration;

use beacon_model::Labels;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;

use crate::{ADDRESS_LABEL, Error, Result, TargetGroup};

pub const META_DNS_NAME: &str = "__meta_dns_name";
pub const META_SRV_TARGET: &str = "__meta_dns_srv_record_target";
pub const META_SRV_PORT: &str = "__meta_dns_srv_record_port";
pub const META_MX_TARGET: &str = "__meta_dns_mx_record_target";
/// A lookup that takes longer than this fails.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// Which record type to query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecordType {
    A,
    Aaaa,
    Srv,
    Mx,
}

impl DnsRecordType {
    /// Parses the `type` setting (`SRV` is Prometheus's default).
    pub fn parse(s: &str) -> Option<DnsRecordType> {
        Some(match s {
            "A" => DnsRecordType::A,
            "AAAA" => DnsRecordType::Aaaa,
            "SRV" | "" => DnsRecordType::Srv,
            "MX" => DnsRecordType::Mx,
            _ => return None,
        })
    }

    fn record_type(self) -> RecordType {
        match self {
            DnsRecordType::A => RecordType::A,
            DnsRecordType::Aaaa => RecordType::AAAA,
            DnsRecordType::Srv => RecordType::SRV,
            DnsRecordType::Mx => RecordType::MX,
        }
    }
}

/// Settings of one `dns_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSdConfig {
    pub names: Vec<String>,
    pub record_type: DnsRecordType,
    /// Port for A, AAAA and MX targets (SRV records carry their own).
    pub port: u16,
    pub refresh_interval: Duration,
    /// Name servers to ask; empty means the system's resolv.conf. Not a
    /// Prometheus setting: tests point it at a local server.
    pub nameservers: Vec<SocketAddr>,
}

/// One DNS SD provider.
pub struct DnsProvider {
    config: DnsSdConfig,
    resolver: TokioResolver,
}

impl std::fmt::Debug for DnsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl DnsProvider {
    pub fn new(config: DnsSdConfig) -> Result<DnsProvider> {
        let mut opts = ResolverOpts::default();
        opts.timeout = DNS_TIMEOUT;
        // Discovery must see changes promptly; the refresh interval is the
        // cache we want.
        opts.cache_size = 0;
        let builder = if config.nameservers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| Error::Config {
                provider: "dns_sd".into(),
                reason: format!("reading system resolver config: {e}"),
            })?
        } else {
            let mut rc = ResolverConfig::new();
            for addr in &config.nameservers {
                rc.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
            }
            TokioResolver::builder_with_config(rc, TokioConnectionProvider::default())
        };
        let resolver = builder.with_options(opts).build();
        Ok(DnsProvider { config, resolver })
    }

    pub fn config(&self) -> &DnsSdConfig {
        &self.config
    }

    /// Resolves every name; one failing name fails the refresh so the
    /// manager keeps the last good groups.
    pub async fn refresh(&self) -> Result<Vec<TargetGroup>> {
        let mut out = Vec::with_capacity(self.config.names.len());
        for name in &self.config.names {
            out.push(self.lookup(name).await?);
        }
        Ok(out)
    }

    async fn lookup(&self, name: &str) -> Result<TargetGroup> {
        let rt = self.config.record_type;
        let lookup = self
            .resolver
            .lookup(name, rt.record_type())
            .await
            .map_err(|e| Error::Dns {
                name: name.to_owned(),
                record_type: format!("{:?}", rt.record_type()),
                reason: e.to_string(),
            })?;
        let port = self.config.port;
        let mut targets = Vec::new();
        for rdata in lookup.iter() {
            let (addr, srv_target, srv_port, mx_target) = match rdata {
                RData::A(a) if rt == DnsRecordType::A => (
                    format!("{a}:{port}"),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
                RData::AAAA(a) if rt == DnsRecordType::Aaaa => (
                    format!("[{a}]:{port}"),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
                RData::SRV(s) => {
                    let t = trim_dot(&s.target().to_string());
                    let p = s.port();
                    (join_host_port(&t, p), t, p.to_string(), String::new())
                }
                RData::MX(m) => {
                    let t = trim_dot(&m.exchange().to_string());
                    (join_host_port(&t, port), String::new(), String::new(), t)
                }
                // CNAMEs along the way and unrelated records are skipped.
                _ => continue,
            };
            targets.push(Labels::from_pairs([
                (ADDRESS_LABEL, addr.as_str()),
                (META_DNS_NAME, name),
                (META_SRV_TARGET, srv_target.as_str()),
                (META_SRV_PORT, srv_port.as_str()),
                (META_MX_TARGET, mx_target.as_str()),
            ]));
        }
        Ok(TargetGroup {
            source: name.to_owned(),
            targets,
            labels: Labels::empty(),
        })
    }
}

fn trim_dot(s: &str) -> String {
    s.strip_suffix('.').unwrap_or(s).to_owned()
}

/// `host:port`, bracketing IPv6 literals.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
