//! From `beacon_config` types (prometheus.yml as loaded) to the providers'
//! settings: files named in the configuration are read here, so a
//! provider never touches the configuration's paths again.

use std::collections::BTreeMap;
use std::time::Duration;

use beacon_config::{Config, HttpClientConfig, ScrapeConfig, TlsConfig};
use beacon_model::Labels;

use crate::client::{
    Auth, HeaderSetting, HttpClientSettings, OAuth2Settings, TlsSettings, read_setting_file,
};
use crate::dns::{DnsRecordType, DnsSdConfig};
use crate::ec2::Ec2SdConfig;
use crate::file::FileSdConfig;
use crate::http::HttpSdConfig;
use crate::manager::SdConfig;
use crate::{Error, Result, static_config};

fn inline_or_file(inline: &str, file: &str) -> Result<Option<String>> {
    if !inline.is_empty() {
        return Ok(Some(inline.to_owned()));
    }
    if !file.is_empty() {
        return Ok(Some(
            read_setting_file(file)?.trim_end_matches('\n').to_owned(),
        ));
    }
    Ok(None)
}

/// Turns an `http_client_config` into settings, reading its files
/// (except `oauth2.client_secret_file`, read at each token request).
pub fn http_settings(c: &HttpClientConfig) -> Result<HttpClientSettings> {
    let auth = if let Some(b) = &c.basic_auth {
        Auth::Basic {
            username: inline_or_file(&b.username, &b.username_file)?.unwrap_or_default(),
            password: inline_or_file(b.password.expose(), &b.password_file)?.unwrap_or_default(),
        }
    } else if let Some(a) = &c.authorization {
        Auth::Authorization {
            kind: if a.r#type.is_empty() {
                "Bearer".into()
            } else {
                a.r#type.clone()
            },
            credentials: inline_or_file(a.credentials.expose(), &a.credentials_file)?
                .unwrap_or_default(),
        }
    } else if let Some(t) = inline_or_file(c.bearer_token.expose(), &c.bearer_token_file)? {
        Auth::Authorization {
            kind: "Bearer".into(),
            credentials: t,
        }
    } else {
        Auth::None
    };
    let oauth2 = match &c.oauth2 {
        Some(o) => Some(OAuth2Settings {
            client_id: o.client_id.clone(),
            client_secret: o.client_secret.clone(),
            client_secret_file: Some(o.client_secret_file.clone()).filter(|f| !f.is_empty()),
            scopes: o.scopes.clone(),
            token_url: o.token_url.clone(),
            endpoint_params: o.endpoint_params.clone(),
            tls: tls_settings(&o.tls_config)?,
            proxy_url: Some(o.proxy.proxy_url.clone()).filter(|s| !s.is_empty()),
        }),
        None => None,
    };
    Ok(HttpClientSettings {
        auth,
        tls: tls_settings(&c.tls_config)?,
        proxy_url: Some(c.proxy.proxy_url.clone()).filter(|s| !s.is_empty()),
        follow_redirects: c.follow_redirects,
        enable_http2: c.enable_http2,
        oauth2,
        headers: header_settings(c)?,
    })
}

fn tls_settings(t: &TlsConfig) -> Result<TlsSettings> {
    Ok(TlsSettings {
        ca_pem: inline_or_file(&t.ca, &t.ca_file)?,
        cert_pem: inline_or_file(&t.cert, &t.cert_file)?,
        key_pem: inline_or_file(t.key.expose(), &t.key_file)?,
        server_name: Some(t.server_name.clone()).filter(|s| !s.is_empty()),
        insecure_skip_verify: t.insecure_skip_verify,
        min_version: t.min_version,
        max_version: t.max_version,
    })
}

/// `http_headers`: for each name its `values`, then `secrets`, then the
/// contents of `files` (trailing newlines trimmed), as Prometheus sends
/// them.
fn header_settings(c: &HttpClientConfig) -> Result<Vec<HeaderSetting>> {
    let mut out = Vec::new();
    for (name, h) in &c.http_headers {
        let mut push = |value: String, sensitive: bool| {
            out.push(HeaderSetting {
                name: name.clone(),
                value: beacon_config::Secret::new(value),
                sensitive,
            })
        };
        for v in &h.values {
            push(v.clone(), false);
        }
        for v in &h.secrets {
            push(v.expose().to_owned(), true);
        }
        for f in &h.files {
            push(
                read_setting_file(f)?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                true,
            );
        }
    }
    Ok(out)
}

fn port(p: u64, what: &str) -> Result<u16> {
    u16::try_from(p).map_err(|_| Error::Config {
        provider: what.into(),
        reason: format!("port {p} out of range"),
    })
}

/// The discovery mechanisms of one job.
pub fn sd_configs(job: &ScrapeConfig) -> Result<Vec<SdConfig>> {
    let sd = &job.service_discovery;
    let mut out = Vec::new();
    if !sd.static_configs.is_empty() {
        let labels: Vec<Labels> = sd
            .static_configs
            .iter()
            .map(|s| Labels::from_pairs(s.labels.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            .collect();
        let groups = static_config::groups(
            sd.static_configs
                .iter()
                .zip(&labels)
                .map(|(s, l)| (s.targets.as_slice(), l)),
        );
        out.push(SdConfig::Static(groups));
    }
    for f in &sd.file_sd_configs {
        out.push(SdConfig::File(FileSdConfig {
            files: f.files.clone(),
            refresh_interval: f.refresh_interval.to_std(),
        }));
    }
    for h in &sd.http_sd_configs {
        out.push(SdConfig::Http(HttpSdConfig {
            url: h.url.as_str().to_owned(),
            refresh_interval: h.refresh_interval.to_std(),
            client: http_settings(&h.http)?,
        }));
    }
    for d in &sd.dns_sd_configs {
        let record_type = DnsRecordType::parse(d.r#type.as_str()).ok_or_else(|| Error::Config {
            provider: "dns_sd".into(),
            reason: format!("record type {} is not supported", d.r#type.as_str()),
        })?;
        out.push(SdConfig::Dns(DnsSdConfig {
            names: d.names.clone(),
            record_type,
            port: port(d.port, "dns_sd")?,
            refresh_interval: d.refresh_interval.to_std(),
            nameservers: Vec::new(),
        }));
    }
    for e in &sd.ec2_sd_configs {
        let opt = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        out.push(SdConfig::Ec2(Ec2SdConfig {
            region: e.region.clone(),
            endpoint: opt(&e.endpoint),
            access_key: opt(&e.access_key),
            secret_key: opt(e.secret_key.expose()),
            profile: opt(&e.profile),
            role_arn: opt(&e.role_arn),
            port: port(e.port, "ec2_sd")?,
            refresh_interval: e.refresh_interval.to_std().max(Duration::from_secs(1)),
            filters: e
                .filters
                .iter()
                .map(|f| (f.name.clone(), f.values.clone()))
                .collect(),
            client: http_settings(&e.http)?,
        }));
    }
    Ok(out)
}

/// Each job's discovery mechanisms, by job name.
pub type JobSdConfigs = BTreeMap<String, Vec<SdConfig>>;

/// Every job's discovery mechanisms, for [`crate::DiscoveryManager::apply_config`].
/// A job whose settings cannot be used is reported (job name, error) and
/// left out.
pub fn jobs(cfg: &Config) -> (JobSdConfigs, Vec<(String, Error)>) {
    let mut ok = BTreeMap::new();
    let mut errors = Vec::new();
    for job in cfg.all_scrape_configs() {
        match sd_configs(job) {
            Ok(c) => {
                ok.insert(job.job_name.clone(), c);
            }
            Err(e) => errors.push((job.job_name.clone(), e)),
        }
    }
    (ok, errors)
}
