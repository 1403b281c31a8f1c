//! HTTP client settings shared by HTTP discovery and scraping: the
//! `http_client_config` block of prometheus.yml (auth, oauth2, extra
//! headers, TLS, proxy, redirects, HTTP/2), turned into a `reqwest` client
//! on a rustls config of our own (`client/tls.rs`).

mod oauth2;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use beacon_config::{Secret, TlsVersion};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

pub use oauth2::{OAuth2Settings, TOKEN_BODY_MAX_BYTES, TOKEN_EXPIRY_MARGIN};

use crate::{Error, Result};

/// TLS settings (`tls_config`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// PEM bundle of CAs to trust in addition to the built-in roots.
    pub ca_pem: Option<String>,
    /// PEM client certificate and its key, for mutual TLS.
    pub cert_pem: Option<String>,
    pub key_pem: Option<String>,
    /// The name the server's certificate must carry, instead of the URL's
    /// host. SNI still follows the URL host (none for IP addresses):
    /// reqwest picks it, and rustls cannot override it.
    pub server_name: Option<String>,
    /// Skip certificate verification (testing only).
    pub insecure_skip_verify: bool,
    /// Lowest version offered (default TLS 1.2). rustls has nothing below
    /// 1.2, so TLS10/TLS11 mean "1.2 and up".
    pub min_version: Option<TlsVersion>,
    /// Highest version offered (default TLS 1.3).
    pub max_version: Option<TlsVersion>,
}

/// How requests authenticate. Debug output masks the credentials.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    /// `basic_auth`.
    Basic { username: String, password: String },
    /// `authorization` (`type` defaults to `Bearer`) or `bearer_token`.
    Authorization { kind: String, credentials: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mask = beacon_config::SECRET_MASK;
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &mask)
                .finish(),
            Auth::Authorization { kind, .. } => f
                .debug_struct("Authorization")
                .field("kind", kind)
                .field("credentials", &mask)
                .finish(),
        }
    }
}

/// One header value from `http_headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSetting {
    pub name: String,
    /// Prints as `<secret>` whether or not it is one.
    pub value: Secret,
    /// From `secrets` or `files`: marked sensitive so it never shows in
    /// logs or debug output of the request.
    pub sensitive: bool,
}

/// An `http_client_config` with every file already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientSettings {
    pub auth: Auth,
    pub tls: TlsSettings,
    pub proxy_url: Option<String>,
    pub follow_redirects: bool,
    pub enable_http2: bool,
    /// `oauth2`: takes the place of `auth` (config validation allows only
    /// one of them).
    pub oauth2: Option<OAuth2Settings>,
    /// `http_headers`, in order; a name may repeat (several values).
    pub headers: Vec<HeaderSetting>,
}

impl Default for HttpClientSettings {
    fn default() -> HttpClientSettings {
        HttpClientSettings {
            auth: Auth::None,
            tls: TlsSettings::default(),
            proxy_url: None,
            follow_redirects: true,
            enable_http2: true,
            oauth2: None,
            headers: Vec::new(),
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

/// A built client plus the `Authorization` and extra headers to send.
///
/// With `oauth2` configured, send through [`HttpClient::send`]: it fetches
/// or renews the token and retries once on 401. [`HttpClient::request`]
/// alone attaches a token only when a valid one is already cached.
#[derive(Debug, Clone)]
pub struct HttpClient {
    pub client: reqwest::Client,
    auth_header: Option<HeaderValue>,
    headers: HeaderMap,
    oauth2: Option<Arc<oauth2::TokenSource>>,
}

fn config_err(reason: impl Into<String>) -> Error {
    Error::Config {
        provider: "http client".into(),
        reason: reason.into(),
    }
}

/// A reqwest client on our own rustls config.
fn build_reqwest(
    tls: &TlsSettings,
    proxy_url: Option<&str>,
    follow_redirects: bool,
    enable_http2: bool,
    user_agent: &str,
) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(Duration::from_secs(30))
        .use_preconfigured_tls(tls::client_config(tls, enable_http2)?);
    if let Some(p) = proxy_url {
        let proxy = reqwest::Proxy::all(p).map_err(|e| config_err(format!("proxy_url: {e}")))?;
        b = b.proxy(proxy);
    } else {
        // Prometheus ignores HTTP(S)_PROXY unless told to; do the same.
        b = b.no_proxy();
    }
    if !follow_redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    if !enable_http2 {
        b = b.http1_only();
    }
    b.build().map_err(|e| config_err(e.to_string()))
}

impl HttpClient {
    /// Builds a client; `user_agent` names the caller.
    pub fn new(settings: &HttpClientSettings, user_agent: &str) -> Result<HttpClient> {
        let client = build_reqwest(
            &settings.tls,
            settings.proxy_url.as_deref(),
            settings.follow_redirects,
            settings.enable_http2,
            user_agent,
        )?;
        let oauth2 = match &settings.oauth2 {
            Some(o) => {
                let token_client =
                    build_reqwest(&o.tls, o.proxy_url.as_deref(), true, true, user_agent)?;
                Some(Arc::new(oauth2::TokenSource::new(o.clone(), token_client)))
            }
            None => None,
        };
        Ok(HttpClient {
            client,
            auth_header: auth_header(&settings.auth)?,
            headers: header_map(&settings.headers)?,
            oauth2,
        })
    }

    /// A GET request with the configured authentication.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    /// A request of any method with the configured authentication and
    /// `http_headers`.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, url);
        if !self.headers.is_empty() {
            r = r.headers(self.headers.clone());
        }
        if let Some(h) = &self.auth_header {
            r = r.header(AUTHORIZATION, h.clone());
        } else if let Some(h) = self.oauth2.as_ref().and_then(|o| o.cached_header()) {
            r = r.header(AUTHORIZATION, h);
        }
        r
    }

    /// Sends a request made with [`HttpClient::request`]. With `oauth2`
    /// it carries a fresh token, and a 401 answer drops the token and
    /// retries once with a new one (when the body can be replayed).
    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let mut req = rb.build().map_err(|e| request_err("", &e))?;
        let Some(source) = &self.oauth2 else {
            return self.execute(req).await;
        };
        let retry = req.try_clone();
        req.headers_mut()
            .insert(AUTHORIZATION, source.header().await?);
        let resp = self.execute(req).await?;
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        source.invalidate().await;
        let Some(mut again) = retry else {
            return Ok(resp);
        };
        again
            .headers_mut()
            .insert(AUTHORIZATION, source.header().await?);
        self.execute(again).await
    }

    async fn execute(&self, req: reqwest::Request) -> Result<reqwest::Response> {
        let url = req.url().to_string();
        self.client
            .execute(req)
            .await
            .map_err(|e| request_err(&url, &e))
    }
}

fn request_err(url: &str, e: &reqwest::Error) -> Error {
    Error::Request {
        url: url.to_owned(),
        reason: error_chain(e),
        timed_out: e.is_timeout(),
    }
}

/// An error with its sources, which carry the useful part (connection
/// refused, certificate not valid for name, bad gzip).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        // hyper and reqwest often repeat the inner message in the outer.
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
    }
    msg
}

fn header_map(headers: &[HeaderSetting]) -> Result<HeaderMap> {
    let mut map = HeaderMap::new();
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| config_err(format!("http_headers: invalid header name {:?}", h.name)))?;
        let mut value = HeaderValue::from_str(h.value.expose()).map_err(|_| {
            config_err(format!(
                "http_headers: a value of {:?} has characters not allowed in a header",
                h.name
            ))
        })?;
        value.set_sensitive(h.sensitive);
        map.append(name, value);
    }
    Ok(map)
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
pub(crate) fn base64(input: &[u8]) -> String {
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
        let debug = format!(
            "{:?}",
            Auth::Basic {
                username: "u".into(),
                password: "hunter2".into(),
            }
        );
        assert_eq!(debug, r#"Basic { username: "u", password: "<secret>" }"#);
    }
}
