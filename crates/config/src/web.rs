//! `web.config.yml`, the exporter-toolkit format Prometheus, Alertmanager
//! and node_exporter read with `--web.config.file`: server TLS, HTTP
//! options and basic-auth users (bcrypt hashes). Types, strict parsing and
//! validation only; the binaries wire up TLS and check passwords.
//!
//! ```
//! use beacon_config::web::WebConfig;
//!
//! let w = WebConfig::from_yaml_str("basic_auth_users:\n  admin: $2y$10$abc\n", "web.yml").unwrap();
//! assert!(!w.tls_enabled());
//! assert_eq!(w.basic_auth_users["admin"].expose(), "$2y$10$abc");
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::Result;
use crate::config::read_limited;
use crate::http::{Secret, TlsVersion};
use crate::yaml::{self, Cx, Fields, Pos, Section};

/// How the server asks for client certificates.
pub const CLIENT_AUTH_TYPES: [&str; 5] = [
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
];

/// Cipher suite names Go's TLS stack knows (TLS 1.0–1.2; TLS 1.3 suites
/// are not configurable).
pub const CIPHER_SUITES: [&str; 22] = [
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// Key exchange curves.
pub const CURVES: [&str; 5] = [
    "CurveP256",
    "CurveP384",
    "CurveP521",
    "X25519",
    "X25519MLKEM768",
];

/// Response headers `http_server_config.headers` may set, with the values
/// allowed (empty: any value).
const SETTABLE_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// `tls_server_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsServerConfig {
    pub cert_file: String,
    pub key_file: String,
    pub cert: String,
    pub key: Secret,
    /// Default `NoClientCert`.
    pub client_auth_type: String,
    pub client_ca_file: String,
    pub client_ca: String,
    pub client_allowed_sans: Vec<String>,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
    /// Default TLS 1.2.
    pub min_version: TlsVersion,
    /// Default TLS 1.3.
    pub max_version: TlsVersion,
    /// Default true.
    pub prefer_server_cipher_suites: bool,
}

impl Default for TlsServerConfig {
    fn default() -> Self {
        TlsServerConfig {
            cert_file: String::new(),
            key_file: String::new(),
            cert: String::new(),
            key: Secret::default(),
            client_auth_type: String::new(),
            client_ca_file: String::new(),
            client_ca: String::new(),
            client_allowed_sans: Vec::new(),
            cipher_suites: Vec::new(),
            curve_preferences: Vec::new(),
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            prefer_server_cipher_suites: true,
        }
    }
}

impl Section for TlsServerConfig {
    const NAME: &'static str = "tls_server_config";
    fn initial() -> Self {
        TlsServerConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("cert_file", &mut self.cert_file)?;
        v.field("key_file", &mut self.key_file)?;
        v.field("cert", &mut self.cert)?;
        v.field("key", &mut self.key)?;
        v.field("client_auth_type", &mut self.client_auth_type)?;
        v.field("client_ca_file", &mut self.client_ca_file)?;
        v.field("client_ca", &mut self.client_ca)?;
        v.field("client_allowed_sans", &mut self.client_allowed_sans)?;
        v.field("cipher_suites", &mut self.cipher_suites)?;
        v.field("curve_preferences", &mut self.curve_preferences)?;
        v.field("min_version", &mut self.min_version)?;
        v.field("max_version", &mut self.max_version)?;
        v.field(
            "prefer_server_cipher_suites",
            &mut self.prefer_server_cipher_suites,
        )
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        let err = |m: String| cx.err(at, m);
        let has_cert = !self.cert_file.is_empty() || !self.cert.is_empty();
        let has_key = !self.key_file.is_empty() || !self.key.is_empty();
        if !self.cert_file.is_empty() && !self.cert.is_empty() {
            return Err(err("cert_file and cert are mutually exclusive".into()));
        }
        if !self.key_file.is_empty() && !self.key.is_empty() {
            return Err(err("key_file and key are mutually exclusive".into()));
        }
        if has_cert != has_key {
            let missing = if has_cert { "key_file" } else { "cert_file" };
            return Err(err(format!("missing {missing}")));
        }
        if !self.client_auth_type.is_empty()
            && !CLIENT_AUTH_TYPES.contains(&self.client_auth_type.as_str())
        {
            return Err(err(format!(
                "Invalid ClientAuth: {}",
                self.client_auth_type
            )));
        }
        let has_ca = !self.client_ca_file.is_empty() || !self.client_ca.is_empty();
        if has_ca && matches!(self.client_auth_type.as_str(), "" | "NoClientCert") {
            return Err(err(
                "Client CA's have been configured without a Client Auth Policy".into(),
            ));
        }
        if !has_ca && self.client_auth_type == "RequireAndVerifyClientCert" {
            return Err(err(
                "client_ca_file is required for client_auth_type RequireAndVerifyClientCert".into(),
            ));
        }
        if let Some(c) = self
            .cipher_suites
            .iter()
            .find(|c| !CIPHER_SUITES.contains(&c.as_str()))
        {
            return Err(err(format!("unknown cipher: {c}")));
        }
        if let Some(c) = self
            .curve_preferences
            .iter()
            .find(|c| !CURVES.contains(&c.as_str()))
        {
            return Err(err(format!("unknown curve: {c}")));
        }
        if self.min_version > self.max_version {
            return Err(err(
                "min_version must not be greater than max_version".into()
            ));
        }
        for f in [
            &mut self.cert_file,
            &mut self.key_file,
            &mut self.client_ca_file,
        ] {
            *f = cx.join(f);
        }
        Ok(())
    }
}

/// `http_server_config`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpServerConfig {
    /// Default true.
    pub http2: bool,
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        HttpServerConfig {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

impl Section for HttpServerConfig {
    const NAME: &'static str = "http_server_config";
    fn initial() -> Self {
        HttpServerConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("http2", &mut self.http2)?;
        v.field("headers", &mut self.headers)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        for (name, value) in &self.headers {
            let Some((_, allowed)) = SETTABLE_HEADERS
                .iter()
                .find(|(h, _)| h.eq_ignore_ascii_case(name))
            else {
                return Err(cx.err(at, format!("HTTP header {name:?} can not be configured")));
            };
            if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
                return Err(cx.err(
                    at,
                    format!(
                        "invalid value for {name}. Expected one of: {allowed:?}, but got: {value:?}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// `rate_limit` (newer exporter-toolkit releases).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateLimitConfig {
    pub burst: u64,
    pub interval: beacon_model::PromDuration,
}

impl Section for RateLimitConfig {
    const NAME: &'static str = "rate_limit";
    fn initial() -> Self {
        RateLimitConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("burst", &mut self.burst)?;
        v.field("interval", &mut self.interval)
    }
}

/// A whole `web.config.yml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebConfig {
    pub tls_server_config: TlsServerConfig,
    pub http_server_config: HttpServerConfig,
    pub rate_limit: RateLimitConfig,
    /// User name → bcrypt hash.
    pub basic_auth_users: BTreeMap<String, Secret>,
}

impl Section for WebConfig {
    const NAME: &'static str = "web config";
    fn initial() -> Self {
        WebConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("tls_server_config", &mut self.tls_server_config)?;
        v.field("http_server_config", &mut self.http_server_config)?;
        v.field("rate_limit", &mut self.rate_limit)?;
        v.field("basic_auth_users", &mut self.basic_auth_users)
    }
}

impl WebConfig {
    /// Reads and validates a web config file; relative paths are joined
    /// with its directory.
    pub fn load(path: impl AsRef<Path>) -> Result<WebConfig> {
        let path = path.as_ref();
        let text = read_limited(path)?;
        let cx = Cx {
            origin: path.display().to_string(),
            dir: Some(path.parent().unwrap_or(Path::new("")).to_path_buf()),
        };
        yaml::decode_section(&yaml::parse(&text, &cx.origin)?, &cx)
    }

    /// Parses and validates a web config held in memory.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<WebConfig> {
        let cx = Cx {
            origin: origin.to_owned(),
            dir: None,
        };
        yaml::decode_section(&yaml::parse(text, origin)?, &cx)
    }

    /// Whether the server should speak TLS (a certificate is configured).
    pub fn tls_enabled(&self) -> bool {
        let t = &self.tls_server_config;
        !t.cert_file.is_empty() || !t.cert.is_empty()
    }

    /// The config as YAML, secrets (password hashes, keys) masked.
    pub fn to_yaml(&self) -> String {
        yaml::to_string(&yaml::encode_section(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(text: &str, at: (u32, u32), msg: &str) {
        let err = WebConfig::from_yaml_str(text, "web.yml").expect_err(text);
        assert_eq!(err.position(), Some(at), "{err}");
        assert!(err.to_string().contains(msg), "{err}\nwanted {msg}");
    }

    #[test]
    fn defaults() {
        let w = WebConfig::from_yaml_str("", "web.yml").unwrap();
        assert_eq!(w, WebConfig::default());
        assert!(w.http_server_config.http2);
        assert_eq!(w.tls_server_config.min_version, TlsVersion::Tls12);
        assert_eq!(w.tls_server_config.max_version, TlsVersion::Tls13);
        assert!(w.tls_server_config.prefer_server_cipher_suites);
    }

    #[test]
    fn full_config() {
        let text = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519]\nhttp_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  alice: $2y$10$hash\n";
        let w = WebConfig::from_yaml_str(text, "web.yml").unwrap();
        assert!(w.tls_enabled());
        assert_eq!(w.tls_server_config.min_version, TlsVersion::Tls13);
        assert!(!w.http_server_config.http2);
        let out = w.to_yaml();
        assert!(!out.contains("$2y$10$hash"), "{out}");
        assert!(out.contains("<secret>"), "{out}");
    }

    #[test]
    fn errors() {
        check_err(
            "tls_server_config:\n  cert_file: a\n",
            (2, 3),
            "missing key_file",
        );
        check_err(
            "tls_server_config:\n  key_file: a\n",
            (2, 3),
            "missing cert_file",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n",
            (2, 3),
            "Invalid ClientAuth: Sometimes",
        );
        check_err(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
            (2, 3),
            "without a Client Auth Policy",
        );
        check_err(
            "tls_server_config:\n  min_version: TLS14\n",
            (2, 16),
            "unknown TLS version: TLS14",
        );
        check_err(
            "tls_server_config:\n  cipher_suites: [NOPE]\n",
            (2, 3),
            "unknown cipher: NOPE",
        );
        check_err(
            "http_server_config:\n  headers:\n    Server: x\n",
            (2, 3),
            "HTTP header \"Server\" can not be configured",
        );
        check_err(
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            (2, 3),
            "invalid value for X-Frame-Options",
        );
        check_err(
            "basic_auth_user:\n  a: b\n",
            (1, 1),
            "field basic_auth_user not found in web config (did you mean basic_auth_users?)",
        );
        check_err(
            "http_server_config:\n  http2: maybe\n",
            (2, 10),
            "cannot unmarshal a string \"maybe\" into a boolean",
        );
    }
}
