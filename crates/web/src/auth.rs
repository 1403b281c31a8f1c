//! The exporter-toolkit web configuration's HTTP side: `basic_auth_users`
//! (bcrypt hashes) checked on every request, and extra response headers.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

/// The most verified credentials kept, so bcrypt (slow on purpose) runs
/// once per distinct login rather than on every request.
pub const AUTH_CACHE_MAX: usize = 1024;

/// Basic auth users and extra headers.
#[derive(Debug, Default)]
pub struct WebSecurity {
    /// User name to bcrypt hash; empty means no authentication.
    pub users: BTreeMap<String, String>,
    /// Added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    verified: Mutex<HashSet<(String, String)>>,
}

impl WebSecurity {
    pub fn new(
        users: BTreeMap<String, String>,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> WebSecurity {
        WebSecurity {
            users,
            headers,
            verified: Mutex::new(HashSet::new()),
        }
    }

    /// Checks an `Authorization` header value.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some((user, pass)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let Some(hash) = self.users.get(&user) else {
            return false;
        };
        let key = (user, pass);
        if self.verified.lock().contains(&key) {
            return true;
        }
        let ok = bcrypt::verify(&key.1, hash).unwrap_or(false);
        if ok {
            let mut v = self.verified.lock();
            if v.len() >= AUTH_CACHE_MAX {
                v.clear();
            }
            v.insert(key);
        }
        ok
    }
}

/// `Basic base64(user:pass)` into its parts.
fn parse_basic(v: &str) -> Option<(String, String)> {
    let b64 = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))?;
    let raw = decode_base64(b64.trim())?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// Standard base64 with optional padding; `None` on any other byte.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in s.bytes().filter(|&b| b != b'=') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The middleware: 401 without valid credentials, headers on every answer.
pub async fn guard(State(sec): State<Arc<WebSecurity>>, req: Request, next: Next) -> Response {
    let authz = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sec2 = Arc::clone(&sec);
    // bcrypt costs milliseconds of CPU: keep it off the async threads.
    let allowed = tokio::task::spawn_blocking(move || sec2.allows(authz.as_deref()))
        .await
        .unwrap_or(false);
    let mut resp = if allowed {
        next.run(req).await
    } else {
        let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        r
    };
    for (k, v) in &sec.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_checks_bcrypt_hashes() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let sec = WebSecurity::new(BTreeMap::from([("alice".to_owned(), hash)]), Vec::new());
        // "alice:s3cret" and "alice:wrong"
        assert!(sec.allows(Some("Basic YWxpY2U6czNjcmV0")));
        assert!(sec.allows(Some("Basic YWxpY2U6czNjcmV0")), "cached");
        assert!(!sec.allows(Some("Basic YWxpY2U6d3Jvbmc=")));
        assert!(!sec.allows(None));
        assert!(!sec.allows(Some("Basic !!!")));
        assert!(WebSecurity::default().allows(None));
    }

    #[test]
    fn base64() {
        assert_eq!(decode_base64("YWxpY2U6czNjcmV0").unwrap(), b"alice:s3cret");
        assert_eq!(decode_base64("YQ==").unwrap(), b"a");
        assert!(decode_base64("a-b").is_none());
    }
}
