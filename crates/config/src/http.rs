//! The HTTP client settings Prometheus inlines into scrape configs, service
//! discovery, alertmanagers and remote storage (`prometheus/common`'s
//! `HTTPClientConfig`), and the [`Secret`] type that keeps credentials out
//! of printed configs.

use std::collections::BTreeMap;
use std::fmt;

use crate::Result;
use crate::yaml::{Cx, Fields, Node, Out, Pos, Section, Value, pos, scalar_text};

/// A credential: compares by value but prints, debugs and serialises as
/// `<secret>`, as Prometheus does in `/api/v1/status/config`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

/// What a secret prints as.
pub const SECRET_MASK: &str = "<secret>";

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The actual credential, for the code that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SECRET_MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SECRET_MASK)
    }
}

impl Value for Secret {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        scalar_text(n, cx).map(Secret)
    }
    fn encode(&self) -> Out {
        Out::Str(SECRET_MASK.to_owned())
    }
    fn omit(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks that two alternatives are not both set.
fn at_most_one(cx: &Cx, at: Pos, a: bool, b: bool, msg: &str) -> Result<()> {
    if a && b {
        return Err(cx.err(at, msg));
    }
    Ok(())
}

/// `basic_auth`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BasicAuth {
    pub username: String,
    pub username_file: String,
    pub password: Secret,
    pub password_file: String,
}

impl Section for BasicAuth {
    const NAME: &'static str = "basic_auth";
    fn initial() -> Self {
        BasicAuth::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("username", &mut self.username)?;
        v.field("username_file", &mut self.username_file)?;
        v.field("password", &mut self.password)?;
        v.field("password_file", &mut self.password_file)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        at_most_one(
            cx,
            at,
            !self.username.is_empty(),
            !self.username_file.is_empty(),
            "at most one of basic_auth username & username_file must be configured",
        )?;
        at_most_one(
            cx,
            at,
            !self.password.is_empty(),
            !self.password_file.is_empty(),
            "at most one of basic_auth password & password_file must be configured",
        )?;
        self.username_file = cx.join(&self.username_file);
        self.password_file = cx.join(&self.password_file);
        Ok(())
    }
}

/// `authorization`: a header `Authorization: <type> <credentials>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    /// Defaults to `Bearer`.
    pub r#type: String,
    pub credentials: Secret,
    pub credentials_file: String,
}

impl Section for Authorization {
    const NAME: &'static str = "authorization";
    fn initial() -> Self {
        Authorization {
            r#type: String::new(),
            credentials: Secret::default(),
            credentials_file: String::new(),
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("type", &mut self.r#type)?;
        v.field("credentials", &mut self.credentials)?;
        v.field("credentials_file", &mut self.credentials_file)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        self.r#type = self.r#type.trim().to_owned();
        if self.r#type.is_empty() {
            self.r#type = "Bearer".to_owned();
        }
        if self.r#type.eq_ignore_ascii_case("basic") {
            return Err(cx.err(
                at,
                r#"authorization type cannot be set to "basic", use "basic_auth" instead"#,
            ));
        }
        at_most_one(
            cx,
            at,
            !self.credentials.is_empty(),
            !self.credentials_file.is_empty(),
            "at most one of authorization credentials & credentials_file must be configured",
        )?;
        self.credentials_file = cx.join(&self.credentials_file);
        Ok(())
    }
}

/// TLS versions, as written in configs (`TLS12`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    const NAMES: [(TlsVersion, &'static str); 4] = [
        (TlsVersion::Tls10, "TLS10"),
        (TlsVersion::Tls11, "TLS11"),
        (TlsVersion::Tls12, "TLS12"),
        (TlsVersion::Tls13, "TLS13"),
    ];
    pub fn as_str(self) -> &'static str {
        TlsVersion::NAMES
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("", |(_, n)| n)
    }
}

impl Value for TlsVersion {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let s = scalar_text(n, cx)?;
        TlsVersion::NAMES
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(v, _)| *v)
            .ok_or_else(|| cx.err(pos(n), format!("unknown TLS version: {s}")))
    }
    fn encode(&self) -> Out {
        Out::Str(self.as_str().to_owned())
    }
}

/// `tls_config` for outgoing connections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsConfig {
    pub ca: String,
    pub ca_file: String,
    pub cert: String,
    pub cert_file: String,
    pub key: Secret,
    pub key_file: String,
    pub server_name: String,
    pub insecure_skip_verify: bool,
    pub min_version: Option<TlsVersion>,
    pub max_version: Option<TlsVersion>,
}

impl Section for TlsConfig {
    const NAME: &'static str = "tls_config";
    fn initial() -> Self {
        TlsConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("ca", &mut self.ca)?;
        v.field("ca_file", &mut self.ca_file)?;
        v.field("cert", &mut self.cert)?;
        v.field("cert_file", &mut self.cert_file)?;
        v.field("key", &mut self.key)?;
        v.field("key_file", &mut self.key_file)?;
        v.field("server_name", &mut self.server_name)?;
        v.field("insecure_skip_verify", &mut self.insecure_skip_verify)?;
        v.field("min_version", &mut self.min_version)?;
        v.field("max_version", &mut self.max_version)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        let (ca, cert, key) = (
            !self.ca.is_empty(),
            !self.cert.is_empty(),
            !self.key.is_empty(),
        );
        let (ca_f, cert_f, key_f) = (
            !self.ca_file.is_empty(),
            !self.cert_file.is_empty(),
            !self.key_file.is_empty(),
        );
        at_most_one(
            cx,
            at,
            ca,
            ca_f,
            "at most one of ca and ca_file must be configured",
        )?;
        at_most_one(
            cx,
            at,
            cert,
            cert_f,
            "at most one of cert and cert_file must be configured",
        )?;
        at_most_one(
            cx,
            at,
            key,
            key_f,
            "at most one of key and key_file must be configured",
        )?;
        if (cert || cert_f) && !(key || key_f) {
            return Err(cx.err(at, "exactly one of key or key_file must be configured when a client certificate is configured"));
        }
        if (key || key_f) && !(cert || cert_f) {
            return Err(cx.err(at, "exactly one of cert or cert_file must be configured when a client key is configured"));
        }
        if let (Some(min), Some(max)) = (self.min_version, self.max_version)
            && min > max
        {
            return Err(cx.err(at, format!(
                "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified, got {} < {}",
                max.as_str(), min.as_str())));
        }
        self.ca_file = cx.join(&self.ca_file);
        self.cert_file = cx.join(&self.cert_file);
        self.key_file = cx.join(&self.key_file);
        Ok(())
    }
}

/// `oauth2`: client-credentials grant. Parsed and validated; the HTTP
/// client that honours it lives in the scrape and remote crates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OAuth2 {
    pub client_id: String,
    pub client_secret: Secret,
    pub client_secret_file: String,
    pub scopes: Vec<String>,
    pub token_url: String,
    pub endpoint_params: BTreeMap<String, String>,
    pub tls_config: TlsConfig,
    pub proxy: ProxyConfig,
}

impl Section for OAuth2 {
    const NAME: &'static str = "oauth2";
    fn initial() -> Self {
        OAuth2::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("client_id", &mut self.client_id)?;
        v.field("client_secret", &mut self.client_secret)?;
        v.field("client_secret_file", &mut self.client_secret_file)?;
        v.field("scopes", &mut self.scopes)?;
        v.field("token_url", &mut self.token_url)?;
        v.field("endpoint_params", &mut self.endpoint_params)?;
        v.field("tls_config", &mut self.tls_config)?;
        v.inline(&mut self.proxy)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        if self.client_id.is_empty() {
            return Err(cx.err(at, "oauth2 client_id must be configured"));
        }
        if self.token_url.is_empty() {
            return Err(cx.err(at, "oauth2 token_url must be configured"));
        }
        at_most_one(
            cx,
            at,
            !self.client_secret.is_empty(),
            !self.client_secret_file.is_empty(),
            "at most one of oauth2 client_secret & client_secret_file must be configured",
        )?;
        self.client_secret_file = cx.join(&self.client_secret_file);
        self.proxy.validate(cx, at)
    }
}

/// Proxy settings (inlined wherever they appear).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyConfig {
    pub proxy_url: String,
    pub no_proxy: String,
    pub proxy_from_environment: bool,
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

impl Section for ProxyConfig {
    const NAME: &'static str = "proxy config";
    fn initial() -> Self {
        ProxyConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("proxy_url", &mut self.proxy_url)?;
        v.field("no_proxy", &mut self.no_proxy)?;
        v.field("proxy_from_environment", &mut self.proxy_from_environment)?;
        v.field("proxy_connect_header", &mut self.proxy_connect_header)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        let url = !self.proxy_url.is_empty();
        if url && let Err(e) = check_url(&self.proxy_url) {
            return Err(cx.err(at, format!("invalid proxy_url {:?}: {e}", self.proxy_url)));
        }
        if !self.proxy_connect_header.is_empty() && !url && !self.proxy_from_environment {
            return Err(cx.err(at, "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured"));
        }
        if self.proxy_from_environment && url {
            return Err(cx.err(
                at,
                "if proxy_from_environment is configured, proxy_url must not be configured",
            ));
        }
        if self.proxy_from_environment && !self.no_proxy.is_empty() {
            return Err(cx.err(
                at,
                "if proxy_from_environment is configured, no_proxy must not be configured",
            ));
        }
        if !url && !self.no_proxy.is_empty() {
            return Err(cx.err(
                at,
                "if no_proxy is configured, proxy_url must also be configured",
            ));
        }
        Ok(())
    }
}

/// One entry of `http_headers`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeaderValues {
    pub values: Vec<String>,
    pub secrets: Vec<Secret>,
    pub files: Vec<String>,
}

impl Section for HeaderValues {
    const NAME: &'static str = "http_headers entry";
    fn initial() -> Self {
        HeaderValues::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("values", &mut self.values)?;
        v.field("secrets", &mut self.secrets)?;
        v.field("files", &mut self.files)
    }
    fn validate(&mut self, cx: &Cx, _at: Pos) -> Result<()> {
        for f in &mut self.files {
            *f = cx.join(f);
        }
        Ok(())
    }
}

/// Headers Prometheus refuses to let `http_headers` override.
const RESERVED_HTTP_HEADERS: [&str; 10] = [
    "authorization",
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
];

/// The HTTP client settings, written inline in their parent section.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpClientConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub oauth2: Option<OAuth2>,
    /// Legacy; moved into `authorization` when loading, as Prometheus does.
    pub bearer_token: Secret,
    /// Legacy; moved into `authorization.credentials_file` when loading.
    pub bearer_token_file: String,
    pub tls_config: TlsConfig,
    pub proxy: ProxyConfig,
    /// Default true.
    pub follow_redirects: bool,
    /// Default true (false for remote write).
    pub enable_http2: bool,
    pub http_headers: BTreeMap<String, HeaderValues>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            bearer_token: Secret::default(),
            bearer_token_file: String::new(),
            tls_config: TlsConfig::default(),
            proxy: ProxyConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
        }
    }
}

impl Section for HttpClientConfig {
    const NAME: &'static str = "HTTP client config";
    fn initial() -> Self {
        HttpClientConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("basic_auth", &mut self.basic_auth)?;
        v.field("authorization", &mut self.authorization)?;
        v.field("oauth2", &mut self.oauth2)?;
        v.field("bearer_token", &mut self.bearer_token)?;
        v.field("bearer_token_file", &mut self.bearer_token_file)?;
        v.field("tls_config", &mut self.tls_config)?;
        v.inline(&mut self.proxy)?;
        v.field("follow_redirects", &mut self.follow_redirects)?;
        v.field("enable_http2", &mut self.enable_http2)?;
        v.field("http_headers", &mut self.http_headers)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        let bearer = !self.bearer_token.is_empty() || !self.bearer_token_file.is_empty();
        at_most_one(
            cx,
            at,
            !self.bearer_token.is_empty(),
            !self.bearer_token_file.is_empty(),
            "at most one of bearer_token & bearer_token_file must be configured",
        )?;
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && bearer {
            return Err(cx.err(at, "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"));
        }
        let auths = [
            self.basic_auth.is_some(),
            self.authorization.is_some(),
            self.oauth2.is_some(),
        ];
        if auths.iter().filter(|a| **a).count() > 1 {
            return Err(cx.err(
                at,
                "at most one of basic_auth, oauth2 & authorization must be configured",
            ));
        }
        if self.authorization.is_some() && bearer {
            return Err(cx.err(
                at,
                "authorization is not compatible with bearer_token & bearer_token_file",
            ));
        }
        if bearer {
            self.authorization = Some(Authorization {
                r#type: "Bearer".to_owned(),
                credentials: std::mem::take(&mut self.bearer_token),
                credentials_file: cx.join(&std::mem::take(&mut self.bearer_token_file)),
            });
        }
        for name in self.http_headers.keys() {
            if RESERVED_HTTP_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(cx.err(at, format!("setting header {name:?} is not allowed")));
            }
        }
        self.proxy.validate(cx, at)
    }
}

/// A minimal URL check: `scheme://host[...]`. Returns (scheme, host).
pub(crate) fn check_url(s: &str) -> Result<(&str, &str), String> {
    let (scheme, rest) = s.split_once("://").ok_or("missing scheme")?;
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err("invalid scheme".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("invalid character in URL".into());
    }
    Ok((scheme, host))
}

/// A URL that must parse (`remote_write.url`, `http_sd_configs.url`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Url(pub String);

impl Url {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Value for Url {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let s = scalar_text(n, cx)?;
        check_url(&s).map_err(|e| cx.err(pos(n), format!("invalid URL {s:?}: {e}")))?;
        Ok(Url(s))
    }
    fn encode(&self) -> Out {
        Out::Str(self.0.clone())
    }
    fn omit(&self) -> bool {
        self.0.is_empty()
    }
}
