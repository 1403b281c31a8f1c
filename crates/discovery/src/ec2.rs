//! `ec2_sd_configs`: targets from AWS EC2 `DescribeInstances`.
//!
//! Requests are form-encoded POSTs signed with SigV4 (`aws-sigv4`), sent
//! with `reqwest` and answered in XML (parsed with `quick-xml`'s serde
//! support). Every instance with a private IP becomes one target at
//! `<private ip>:<port>` with Prometheus's `__meta_ec2_*` labels; all of a
//! region's instances form one group whose source is the region.

pub mod credentials;
mod xml;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use beacon_model::Labels;
use tokio::sync::Mutex;

use crate::client::{HttpClient, HttpClientSettings};
use crate::{ADDRESS_LABEL, Error, Result, TargetGroup, sanitize_label_name};
use credentials::{AwsCredentials, CredentialChain, EnvLookup, imds_get, imds_token, read_ok_body};

/// The EC2 API version spoken.
pub const EC2_API_VERSION: &str = "2016-11-15";
/// Pages of `DescribeInstances` followed before giving up (a guard against
/// a server that always returns a next token).
pub const EC2_PAGES_MAX: usize = 1000;
/// Responses larger than this are refused.
pub const EC2_BODY_MAX_BYTES: usize = 64 << 20;
/// One API call may take this long.
pub const EC2_TIMEOUT: Duration = Duration::from_secs(30);
/// Prefix of every EC2 meta label.
pub const META_PREFIX: &str = "__meta_ec2_";

/// Settings of one `ec2_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2SdConfig {
    /// Empty: `AWS_REGION`, `AWS_DEFAULT_REGION`, then IMDS.
    pub region: String,
    /// API endpoint; default `https://ec2.<region>.amazonaws.com`.
    pub endpoint: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub port: u16,
    pub refresh_interval: Duration,
    /// `DescribeInstances` filters: name and accepted values.
    pub filters: Vec<(String, Vec<String>)>,
    pub client: HttpClientSettings,
}

impl Default for Ec2SdConfig {
    fn default() -> Ec2SdConfig {
        Ec2SdConfig {
            region: String::new(),
            endpoint: None,
            access_key: None,
            secret_key: None,
            profile: None,
            role_arn: None,
            port: 80,
            refresh_interval: Duration::from_secs(60),
            filters: Vec::new(),
            client: HttpClientSettings::default(),
        }
    }
}

/// One EC2 provider; caches credentials and the AZ name → ID map.
pub struct Ec2Provider {
    config: Ec2SdConfig,
    chain: CredentialChain,
    http: HttpClient,
    cached: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    credentials: Option<AwsCredentials>,
    region: Option<String>,
    az_ids: BTreeMap<String, String>,
}

impl std::fmt::Debug for Ec2Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2Provider")
            .field("config.region", &self.config.region)
            .finish_non_exhaustive()
    }
}

fn aws_err(action: &str, endpoint: &str, reason: impl Into<String>) -> Error {
    Error::Aws {
        action: action.to_owned(),
        endpoint: endpoint.to_owned(),
        reason: reason.into(),
    }
}

impl Ec2Provider {
    /// A provider reading the process environment for credentials.
    pub fn new(config: Ec2SdConfig) -> Result<Ec2Provider> {
        Ec2Provider::with_env(config, credentials::process_env())
    }

    /// A provider with an injected environment (for tests).
    pub fn with_env(config: Ec2SdConfig, env: EnvLookup) -> Result<Ec2Provider> {
        let chain = CredentialChain {
            access_key: config.access_key.clone(),
            secret_key: config.secret_key.clone(),
            profile: config.profile.clone(),
            env,
        };
        let http = HttpClient::new(&config.client, "Beacon/ec2_sd")?;
        Ok(Ec2Provider {
            config,
            chain,
            http,
            cached: Mutex::new(Cache::default()),
        })
    }

    pub fn config(&self) -> &Ec2SdConfig {
        &self.config
    }

    async fn region(&self, cache: &mut Cache) -> Result<String> {
        if !self.config.region.is_empty() {
            return Ok(self.config.region.clone());
        }
        if let Some(r) = &cache.region {
            return Ok(r.clone());
        }
        let env = &self.chain.env;
        let region = match env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
            Some(r) => r,
            None => {
                let base = self.chain.imds_endpoint();
                let token = imds_token(&self.http.client, &base).await?;
                imds_get(
                    &self.http.client,
                    &base,
                    &token,
                    "/latest/meta-data/placement/region",
                )
                .await?
            }
        };
        cache.region = Some(region.clone());
        Ok(region)
    }

    fn endpoint(&self, region: &str, service: &str) -> String {
        match &self.config.endpoint {
            Some(e) => e.trim_end_matches('/').to_owned(),
            None => format!("https://{service}.{region}.amazonaws.com"),
        }
    }

    async fn credentials(&self, cache: &mut Cache, region: &str) -> Result<AwsCredentials> {
        if let Some(c) = &cache.credentials
            && !c.expiring()
        {
            return Ok(c.clone());
        }
        let mut creds = self.chain.resolve(&self.http.client).await?;
        if let Some(arn) = &self.config.role_arn {
            creds = self.assume_role(&creds, region, arn).await?;
        }
        cache.credentials = Some(creds.clone());
        Ok(creds)
    }

    /// STS `AssumeRole`. With a custom `endpoint` STS is asked there too,
    /// which is what local AWS emulators expect.
    async fn assume_role(
        &self,
        base: &AwsCredentials,
        region: &str,
        arn: &str,
    ) -> Result<AwsCredentials> {
        let endpoint = self.endpoint(region, "sts");
        let form = form_body(&[
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", arn),
            ("RoleSessionName", "beacon-ec2-sd"),
        ]);
        let body = self
            .call(base, region, "sts", &endpoint, "AssumeRole", form)
            .await?;
        xml::parse_assume_role(&body).map_err(|r| aws_err("AssumeRole", &endpoint, r))
    }

    /// Sends one signed form POST and returns the body of a 2xx answer.
    async fn call(
        &self,
        creds: &AwsCredentials,
        region: &str,
        service: &str,
        endpoint: &str,
        action: &str,
        form: String,
    ) -> Result<String> {
        let url = format!("{endpoint}/");
        let ctype = "application/x-www-form-urlencoded; charset=utf-8";
        let headers = sign_request(creds, region, service, &url, ctype, &form)
            .map_err(|r| aws_err(action, endpoint, r))?;
        let mut req = self
            .http
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, ctype)
            .timeout(EC2_TIMEOUT)
            .body(form);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| aws_err(action, endpoint, e.to_string()))?;
        read_ok_body_limited(resp, &url)
            .await
            .map_err(|e| aws_err(action, endpoint, e.to_string()))
    }

    /// Lists instances and builds the region's group.
    pub async fn refresh(&self) -> Result<Vec<TargetGroup>> {
        let mut cache = self.cached.lock().await;
        let region = self.region(&mut cache).await?;
        let creds = self.credentials(&mut cache, &region).await?;
        let endpoint = self.endpoint(&region, "ec2");
        if cache.az_ids.is_empty() {
            let form = form_body(&[
                ("Action", "DescribeAvailabilityZones"),
                ("Version", EC2_API_VERSION),
            ]);
            let body = self
                .call(
                    &creds,
                    &region,
                    "ec2",
                    &endpoint,
                    "DescribeAvailabilityZones",
                    form,
                )
                .await?;
            cache.az_ids = xml::parse_availability_zones(&body)
                .map_err(|r| aws_err("DescribeAvailabilityZones", &endpoint, r))?;
        }
        let mut targets = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..EC2_PAGES_MAX {
            let form = self.describe_instances_form(next_token.as_deref());
            let body = self
                .call(&creds, &region, "ec2", &endpoint, "DescribeInstances", form)
                .await?;
            let page = xml::parse_describe_instances(&body)
                .map_err(|r| aws_err("DescribeInstances", &endpoint, r))?;
            for r in &page.reservations {
                for inst in &r.instances {
                    if let Some(t) =
                        instance_labels(inst, &r.owner_id, &region, &cache.az_ids, self.config.port)
                    {
                        targets.push(t);
                    }
                }
            }
            next_token = page.next_token.filter(|t| !t.is_empty());
            if next_token.is_none() {
                break;
            }
        }
        Ok(vec![TargetGroup {
            source: region,
            targets,
            labels: Labels::empty(),
        }])
    }

    fn describe_instances_form(&self, next_token: Option<&str>) -> String {
        let mut pairs: Vec<(String, String)> = vec![
            ("Action".into(), "DescribeInstances".into()),
            ("Version".into(), EC2_API_VERSION.into()),
        ];
        for (i, (name, values)) in self.config.filters.iter().enumerate() {
            pairs.push((format!("Filter.{}.Name", i + 1), name.clone()));
            for (j, v) in values.iter().enumerate() {
                pairs.push((format!("Filter.{}.Value.{}", i + 1, j + 1), v.clone()));
            }
        }
        if let Some(t) = next_token {
            pairs.push(("NextToken".into(), t.to_owned()));
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form_body(&refs)
    }
}

async fn read_ok_body_limited(resp: reqwest::Response, url: &str) -> Result<String> {
    if resp
        .content_length()
        .is_some_and(|l| l > EC2_BODY_MAX_BYTES as u64)
    {
        return Err(Error::BodyTooLarge {
            url: url.to_owned(),
            limit_bytes: EC2_BODY_MAX_BYTES,
        });
    }
    read_ok_body(resp, url).await
}

/// Signs a POST and returns the headers to add.
fn sign_request(
    creds: &AwsCredentials,
    region: &str,
    service: &str,
    url: &str,
    ctype: &str,
    body: &str,
) -> Result<Vec<(String, String)>, String> {
    let identity = Credentials::new(
        &creds.access_key_id,
        &creds.secret_access_key,
        creds.session_token.clone(),
        creds.expires,
        "beacon",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers = [("content-type", ctype)];
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.into_iter(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// `application/x-www-form-urlencoded` with RFC 3986 escaping, as SigV4
/// canonicalisation expects.
fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        percent_encode(k, &mut out);
        out.push('=');
        percent_encode(v, &mut out);
    }
    out
}

fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The labels of one instance, or `None` when it has no private IP.
fn instance_labels(
    inst: &xml::Instance,
    owner_id: &str,
    region: &str,
    az_ids: &BTreeMap<String, String>,
    port: u16,
) -> Option<Labels> {
    let private_ip = inst
        .private_ip_address
        .as_deref()
        .filter(|s| !s.is_empty())?;
    let mut b = Labels::empty().builder();
    let addr = if private_ip.contains(':') {
        format!("[{private_ip}]:{port}")
    } else {
        format!("{private_ip}:{port}")
    };
    b.set(ADDRESS_LABEL, &addr);
    let mut set = |name: &str, value: &str| {
        b.set(&format!("{META_PREFIX}{name}"), value);
    };
    set("instance_id", &inst.instance_id);
    set("instance_state", &inst.instance_state.name);
    set("instance_type", &inst.instance_type);
    set("owner_id", owner_id);
    set("region", region);
    set("private_ip", private_ip);
    set("availability_zone", &inst.placement.availability_zone);
    if let Some(id) = az_ids.get(&inst.placement.availability_zone) {
        set("availability_zone_id", id);
    }
    for (name, value) in [
        ("ami", &inst.image_id),
        ("architecture", &inst.architecture),
        ("instance_lifecycle", &inst.instance_lifecycle),
        ("platform", &inst.platform),
        ("private_dns_name", &inst.private_dns_name),
        ("public_dns_name", &inst.dns_name),
        ("public_ip", &inst.ip_address),
        ("vpc_id", &inst.vpc_id),
        ("primary_subnet_id", &inst.subnet_id),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            set(name, v);
        }
    }
    network_labels(inst, &mut set);
    for tag in &inst.tags.items {
        set(
            &format!("tag_{}", sanitize_label_name(&tag.key)),
            &tag.value,
        );
    }
    Some(b.build())
}

/// Subnet and IPv6 labels from the network interfaces, joined with commas
/// and wrapped in commas so `.*,subnet-x,.*` regexes match whole items.
fn network_labels(inst: &xml::Instance, set: &mut impl FnMut(&str, &str)) {
    if inst.vpc_id.as_deref().is_none_or(str::is_empty) {
        return;
    }
    let mut subnets: Vec<&str> = Vec::new();
    let mut ipv6: Vec<&str> = Vec::new();
    let mut nics: Vec<&xml::NetworkInterface> = inst.network_interfaces.items.iter().collect();
    nics.sort_by_key(|n| n.attachment.device_index);
    let mut primary_ipv6: Vec<&str> = Vec::new();
    for nic in &nics {
        if let Some(s) = nic.subnet_id.as_deref().filter(|s| !s.is_empty())
            && !subnets.contains(&s)
        {
            subnets.push(s);
        }
        let mut primary = "";
        for a in &nic.ipv6_addresses.items {
            ipv6.push(&a.ipv6_address);
            if a.is_primary_ipv6 {
                primary = &a.ipv6_address;
            }
        }
        primary_ipv6.push(primary);
    }
    let wrap = |items: &[&str]| format!(",{},", items.join(","));
    if !subnets.is_empty() {
        set("subnet_id", &wrap(&subnets));
    }
    if !ipv6.is_empty() {
        set("ipv6_addresses", &wrap(&ipv6));
    }
    if primary_ipv6.iter().any(|p| !p.is_empty()) {
        set("primary_ipv6_addresses", &wrap(&primary_ipv6));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_body(&[("Filter.1.Name", "tag:Role"), ("x", "a b/c~")]),
            "Filter.1.Name=tag%3ARole&x=a%20b%2Fc~"
        );
    }

    #[test]
    fn filters_in_form() {
        let p = Ec2Provider::new(Ec2SdConfig {
            region: "eu-west-1".into(),
            filters: vec![("tag:Role".into(), vec!["node".into(), "db".into()])],
            ..Ec2SdConfig::default()
        })
        .unwrap();
        let f = p.describe_instances_form(Some("tok"));
        assert_eq!(
            f,
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3ARole&Filter.1.Value.1=node&Filter.1.Value.2=db&NextToken=tok"
        );
    }
}
