//! Fetching a target's body over HTTP: `Accept` from the scrape
//! protocols, gzip, the scrape timeout, and `body_size_limit` enforced
//! while streaming, so a huge body or a gzip bomb never costs more memory
//! than the limit.

use std::time::Duration;

use beacon_discovery::client::HttpClient;
use beacon_exposition::negotiate::format_for_content_type;
use beacon_exposition::parser::ParseFormat;
use reqwest::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_TYPE};

use crate::{Error, Result};

/// The first read buffer when a target's previous body size is unknown.
pub const BODY_INITIAL_CAPACITY_BYTES: usize = 16 << 10;

/// A fetched body and its format.
#[derive(Debug)]
pub struct Fetched {
    pub format: ParseFormat,
    /// The `Content-Type` the target sent.
    pub content_type: String,
}

/// Fetches `url` into `buf` (cleared first).
pub async fn fetch(
    client: &HttpClient,
    url: &str,
    accept: &str,
    compression: bool,
    timeout: Duration,
    body_limit_bytes: usize,
    buf: &mut Vec<u8>,
) -> Result<Fetched> {
    let timeout_ms = timeout.as_millis() as i64;
    match tokio::time::timeout(
        timeout,
        fetch_inner(
            client,
            url,
            accept,
            compression,
            timeout,
            body_limit_bytes,
            buf,
        ),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout { timeout_ms }),
    }
}

async fn fetch_inner(
    client: &HttpClient,
    url: &str,
    accept: &str,
    compression: bool,
    timeout: Duration,
    limit: usize,
    buf: &mut Vec<u8>,
) -> Result<Fetched> {
    buf.clear();
    let mut req = client
        .get(url)
        .header(ACCEPT, accept)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", timeout.as_secs_f64()),
        )
        .timeout(timeout);
    if !compression {
        // reqwest adds gzip itself; saying identity turns that off.
        req = req.header(ACCEPT_ENCODING, "identity");
    }
    let mut resp = req.send().await.map_err(|e| http_error(e, timeout))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(Error::Status(resp.status().to_string()));
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if limit > 0 && resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(Error::BodySizeLimit { limit_bytes: limit });
    }
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_error(e, timeout))? {
        if limit > 0 && buf.len() + chunk.len() > limit {
            return Err(Error::BodySizeLimit { limit_bytes: limit });
        }
        buf.extend_from_slice(&chunk);
    }
    let (format, _) = format_for_content_type(Some(&content_type));
    Ok(Fetched {
        format,
        content_type,
    })
}

fn http_error(e: reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            timeout_ms: timeout.as_millis() as i64,
        };
    }
    // The chain carries the useful part (connection refused, bad gzip).
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    Error::Http(msg)
}
