//! `oauth2`: the client-credentials grant (RFC 6749 §4.4) as Prometheus's
//! HTTP client does it. A token is fetched from `token_url` on first use,
//! cached until shortly before it expires, and dropped when a target
//! answers 401 so the next request fetches a fresh one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use beacon_config::Secret;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};

use super::{TlsSettings, read_setting_file};
use crate::{Error, Result};

/// A token is renewed this long before it expires, so a request never
/// leaves with a token that dies on the way (Go's oauth2 uses 10 s).
pub const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// Token responses larger than this are refused.
pub const TOKEN_BODY_MAX_BYTES: usize = 1 << 20;
/// A token request that takes longer than this fails.
pub const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of an `oauth2` block with inline values resolved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuth2Settings {
    pub client_id: String,
    /// The inline secret; ignored when `client_secret_file` is set.
    pub client_secret: Secret,
    /// Read on every token request, so a rotated secret is picked up.
    pub client_secret_file: Option<String>,
    pub scopes: Vec<String>,
    pub token_url: String,
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS for the token endpoint.
    pub tls: TlsSettings,
    pub proxy_url: Option<String>,
}

#[derive(Debug, Clone)]
struct CachedToken {
    header: HeaderValue,
    /// `None`: the server gave no lifetime; kept until a 401.
    renew_at: Option<Instant>,
}

/// Fetches and caches tokens for one client.
#[derive(Debug)]
pub(super) struct TokenSource {
    settings: OAuth2Settings,
    client: reqwest::Client,
    /// Async so concurrent requests wait for one fetch instead of each
    /// asking the token server.
    token: tokio::sync::Mutex<Option<CachedToken>>,
}

/// The token request body (a plain `String`, so nothing that is not
/// `Send` lives across the request's await).
fn token_form(s: &OAuth2Settings) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if !s.scopes.is_empty() {
        form.append_pair("scope", &s.scopes.join(" "));
    }
    for (k, v) in &s.endpoint_params {
        form.append_pair(k, v);
    }
    form.finish()
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<f64>,
}

impl TokenSource {
    pub(super) fn new(settings: OAuth2Settings, client: reqwest::Client) -> TokenSource {
        TokenSource {
            settings,
            client,
            token: tokio::sync::Mutex::new(None),
        }
    }

    fn err(&self, reason: impl Into<String>) -> Error {
        Error::OAuth2 {
            token_url: self.settings.token_url.clone(),
            reason: reason.into(),
        }
    }

    /// The `Authorization` header to send, fetching a token if the cached
    /// one is missing or about to expire.
    pub(super) async fn header(&self) -> Result<HeaderValue> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref()
            && t.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(t.header.clone());
        }
        let fresh = self.fetch().await?;
        let header = fresh.header.clone();
        *slot = Some(fresh);
        Ok(header)
    }

    /// The cached token if it is valid and nobody is fetching one now;
    /// never waits.
    pub(super) fn cached_header(&self) -> Option<HeaderValue> {
        let slot = self.token.try_lock().ok()?;
        let t = slot.as_ref()?;
        t.renew_at
            .is_none_or(|at| Instant::now() < at)
            .then(|| t.header.clone())
    }

    /// Forgets the cached token (the server refused it).
    pub(super) async fn invalidate(&self) {
        *self.token.lock().await = None;
    }

    async fn fetch(&self) -> Result<CachedToken> {
        let s = &self.settings;
        let secret = match &s.client_secret_file {
            Some(f) => read_setting_file(f)?.trim().to_owned(),
            None => s.client_secret.expose().to_owned(),
        };
        let form = token_form(s);
        // RFC 6749 §2.3.1: id and secret are form-encoded before going
        // into the basic credentials.
        let enc = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let basic = super::base64(format!("{}:{}", enc(&s.client_id), enc(&secret)).as_bytes());
        let mut resp = self
            .client
            .post(&s.token_url)
            .header(AUTHORIZATION, format!("Basic {basic}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .timeout(TOKEN_REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| self.err(super::error_chain(&e)))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.err(super::error_chain(&e)))?
        {
            if body.len() + chunk.len() > TOKEN_BODY_MAX_BYTES {
                return Err(self.err(format!(
                    "token response exceeds {TOKEN_BODY_MAX_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
            return Err(self.err(format!(
                "token server returned HTTP status {status}: {text}"
            )));
        }
        self.parse(&body)
    }

    fn parse(&self, body: &[u8]) -> Result<CachedToken> {
        let t: TokenResponse = serde_json::from_slice(body)
            .map_err(|e| self.err(format!("invalid token response: {e}")))?;
        if t.access_token.is_empty() {
            return Err(self.err("token response has no access_token"));
        }
        // Go's oauth2 sends every token type as "Bearer" except the ones
        // it knows to spell differently; "bearer" from a server is
        // normalised the same way.
        let kind = match t.token_type.to_ascii_lowercase().as_str() {
            "" | "bearer" => "Bearer".to_owned(),
            "mac" => "MAC".to_owned(),
            "basic" => "Basic".to_owned(),
            _ => t.token_type.clone(),
        };
        let mut header = HeaderValue::from_str(&format!("{kind} {}", t.access_token))
            .map_err(|_| self.err("access_token contains characters not allowed in a header"))?;
        header.set_sensitive(true);
        let renew_at = t.expires_in.filter(|s| s.is_finite() && *s > 0.0).map(|s| {
            let life = Duration::from_secs_f64(s.min(1e9));
            Instant::now() + life.saturating_sub(TOKEN_EXPIRY_MARGIN)
        });
        Ok(CachedToken { header, renew_at })
    }
}
