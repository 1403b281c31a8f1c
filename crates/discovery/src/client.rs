//! HTTP client settings shared by HTTP discovery and scraping: the
//! `http_client_config` block of prometheus.yml (auth, TLS, proxy,
//! redirects, HTTP/2), turned into a `reqwest` client on rustls.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::{Error, Result};

/// TLS settings (`tls_config`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// PEM bundle of CAs to trust in addition to the built-in roots.
    pub ca_pem: Option<String>,
    /// PEM client certificate and its key, for mutual TLS.
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    /// SNI and verification name. reqwest offers no override, so a client
    /// with this set is refused at build time rather than silently
    /// verifying against the wrong name.
    pub server_name: Option<String>,
    /// Skip certificate verification (testing only).
    pub insecure_skip_verify: bool,
}

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    /// `basic_auth`.
    Basic { username: String, password: String },
    /// `authorization` (`type` defaults to `Bearer`) or `bearer_token`.
    Authorization { kind: String, credentials: String },
}

/// An `http_client_config` with every file already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientSettings {
    pub auth: Auth,
    pub tls: TlsSettings,
    pub proxy_url: Option<String>,
    pub follow_redirects: bool,
    pub enable_http2: bool,
}

impl Default for HttpClientSettings {
    fn default() -> HttpClientSettings {
        HttpClientSettings {
            auth: Auth::None,
            tls: TlsSettings::default(),
            proxy_url: None,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

/// Reads a credentials or certificate file named in the configuration.
pub fn read_setting_file(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: PathBuf::from(path),
        source,
    })
}

/// A built client plus the `Authorization` header to send.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub client: reqwest::Client,
    auth_header: Option<HeaderValue>,
}

fn config_err(reason: impl Into<String>) -> Error {
    Error::Config {
        provider: "http client".into(),
        reason: reason.into(),
    }
}

impl HttpClient {
    /// Builds a client; `user_agent` names the caller.
    pub fn new(settings: &HttpClientSettings, user_agent: &str) -> Result<HttpClient> {
        let mut b = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(Duration::from_secs(30));
        if let Some(ca) = &settings.tls.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(ca.as_bytes())
                .map_err(|e| config_err(format!("tls ca: {e}")))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        match (&settings.tls.cert_pem, &settings.tls.key_pem) {
            (Some(c), Some(k)) => {
                let pem = format!("{c}\n{k}");
                let id = reqwest::Identity::from_pem(pem.as_bytes())
                    .map_err(|e| config_err(format!("tls client cert: {e}")))?;
                b = b.identity(id);
            }
            (None, None) => {}
            _ => return Err(config_err("tls cert and key must be given together")),
        }
        if let Some(name) = &settings.tls.server_name {
            return Err(config_err(format!(
                "tls server_name {name:?} is not supported"
            )));
        }
        if settings.tls.insecure_skip_verify {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(p) = &settings.proxy_url {
            let proxy =
                reqwest::Proxy::all(p).map_err(|e| config_err(format!("proxy_url: {e}")))?;
            b = b.proxy(proxy);
        } else {
            // Prometheus ignores HTTP(S)_PROXY unless told to; do the same.
            b = b.no_proxy();
        }
        if !settings.follow_redirects {
            b = b.redirect(reqwest::redirect::Policy::none());
        }
        if !settings.enable_http2 {
            b = b.http1_only();
        }
        let client = b.build().map_err(|e| config_err(e.to_string()))?;
        let auth_header = auth_header(&settings.auth)?;
        Ok(HttpClient {
            client,
            auth_header,
        })
    }

    /// A GET request with the configured authentication.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    /// A request of any method with the configured authentication.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, url);
        if let Some(h) = &self.auth_header {
            r = r.header(reqwest::header::AUTHORIZATION, h.clone());
        }
        r
    }
}

fn auth_header(auth: &Auth) -> Result<Option<HeaderValue>> {
    let text = match auth {
        Auth::None => return Ok(None),
        Auth::Basic { username, password } => {
            format!(
                "Basic {}",
                base64(format!("{username}:{password}").as_bytes())
            )
        }
        Auth::Authorization { kind, credentials } => format!("{kind} {credentials}"),
    };
    let mut v = HeaderValue::from_str(&text)
        .map_err(|_| config_err("credentials contain characters not allowed in a header"))?;
    v.set_sensitive(true);
    Ok(Some(v))
}

/// Standard base64 with padding (for basic auth only; too small to be
/// worth a dependency).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn auth_headers() {
        let h = auth_header(&Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        })
        .unwrap()
        .unwrap();
        assert_eq!(h.to_str().unwrap(), "Basic dTpw");
        let h = auth_header(&Auth::Authorization {
            kind: "Bearer".into(),
            credentials: "tok".into(),
        })
        .unwrap()
        .unwrap();
        assert_eq!(h.to_str().unwrap(), "Bearer tok");
        assert!(auth_header(&Auth::None).unwrap().is_none());
    }
}
