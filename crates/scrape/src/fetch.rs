//! Fetching a target's body over HTTP: `Accept` from the scrape
//! protocols, gzip, the scrape timeout, and `body_size_limit` enforced
//! while streaming, so a huge body or a gzip bomb never costs more memory
//! than the limit. The response's `Content-Type` picks the parser, with
//! Prometheus 3's rules for a missing or unknown one.

use std::time::Duration;

use beacon_discovery::client::{HttpClient, error_chain};
use beacon_exposition::negotiate::{ScrapeProtocol, format_for_content_type};
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

/// How to fetch: the pool's settings and the target's timeout.
#[derive(Debug, Clone, Copy)]
pub struct FetchOptions<'a> {
    /// The `Accept` header.
    pub accept: &'a str,
    /// Ask for gzip.
    pub compression: bool,
    pub timeout: Duration,
    /// 0: unlimited.
    pub body_limit_bytes: usize,
    pub fallback: Option<ScrapeProtocol>,
}

/// Fetches `url` into `buf` (cleared first).
pub async fn fetch(
    client: &HttpClient,
    url: &str,
    o: &FetchOptions<'_>,
    buf: &mut Vec<u8>,
) -> Result<Fetched> {
    let timeout_ms = o.timeout.as_millis() as i64;
    match tokio::time::timeout(o.timeout, fetch_inner(client, url, o, buf)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout { timeout_ms }),
    }
}

async fn fetch_inner(
    client: &HttpClient,
    url: &str,
    o: &FetchOptions<'_>,
    buf: &mut Vec<u8>,
) -> Result<Fetched> {
    buf.clear();
    let (timeout, limit) = (o.timeout, o.body_limit_bytes);
    let mut req = client
        .get(url)
        .header(ACCEPT, o.accept)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", timeout.as_secs_f64()),
        )
        .timeout(timeout);
    if !o.compression {
        // reqwest adds gzip itself; saying identity turns that off.
        req = req.header(ACCEPT_ENCODING, "identity");
    }
    let mut resp = client.send(req).await.map_err(|e| send_error(e, timeout))?;
    if resp.status() != reqwest::StatusCode::OK {
        return Err(Error::Status(resp.status().to_string()));
    }
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if limit > 0 && resp.content_length().is_some_and(|l| l > limit as u64) {
        return Err(Error::BodySizeLimit { limit_bytes: limit });
    }
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_error(e, timeout))? {
        if limit > 0 && buf.len() + chunk.len() > limit {
            return Err(Error::BodySizeLimit { limit_bytes: limit });
        }
        buf.extend_from_slice(&chunk);
    }
    // An empty body parses the same in every format, so it needs no type
    // (Prometheus accepts it too: it only writes staleness markers).
    let format = if buf.is_empty() {
        ParseFormat::Text
    } else {
        select_format(&content_type, o.fallback)?
    };
    Ok(Fetched {
        format,
        content_type,
    })
}

/// The parser for a response's `Content-Type`, as Prometheus 3 chooses
/// it: a known type is used; a missing, unparsable or unknown one falls
/// back to `fallback`, and without a fallback the scrape fails.
pub fn select_format(content_type: &str, fallback: Option<ScrapeProtocol>) -> Result<ParseFormat> {
    let ct = content_type.trim();
    let problem = if ct.is_empty() {
        "blank Content-Type".to_owned()
    } else if !media_type_parses(ct) {
        format!("unparsable Content-Type {ct:?}")
    } else {
        match format_for_content_type(Some(ct)) {
            (format, true) => return Ok(format),
            (_, false) => format!("unsupported Content-Type {ct:?}"),
        }
    };
    match fallback {
        Some(p) => {
            tracing::debug!(
                content_type = ct,
                fallback = p.as_str(),
                "{problem}, using fallback_scrape_protocol"
            );
            Ok(protocol_format(p))
        }
        None => Err(Error::ContentType { problem }),
    }
}

/// The parser for a scrape protocol.
pub fn protocol_format(p: ScrapeProtocol) -> ParseFormat {
    match p {
        ScrapeProtocol::PrometheusProto => ParseFormat::Protobuf,
        ScrapeProtocol::OpenMetricsText1_0_0 | ScrapeProtocol::OpenMetricsText0_0_1 => {
            ParseFormat::OpenMetrics
        }
        ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::PrometheusText0_0_4 => {
            ParseFormat::Text
        }
    }
}

/// RFC 2045 shape, as Go's `mime.ParseMediaType` checks it: `type/subtype`
/// of token characters, then `;`-separated `key=value` parameters.
fn media_type_parses(ct: &str) -> bool {
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    let mut parts = ct.split(';');
    let essence = parts.next().unwrap_or("").trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    if !is_token(ty) || !is_token(sub) {
        return false;
    }
    parts.all(|p| {
        let p = p.trim();
        // Go tolerates a trailing `;`.
        p.is_empty()
            || p.split_once('=').is_some_and(|(k, v)| {
                let v = v.trim();
                is_token(k.trim())
                    && (is_token(v) || (v.len() >= 2 && v.starts_with('"') && v.ends_with('"')))
            })
    })
}

fn http_error(e: reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            timeout_ms: timeout.as_millis() as i64,
        };
    }
    Error::Http(error_chain(&e))
}

fn send_error(e: beacon_discovery::Error, timeout: Duration) -> Error {
    match e {
        beacon_discovery::Error::Request {
            timed_out: true, ..
        } => Error::Timeout {
            timeout_ms: timeout.as_millis() as i64,
        },
        // The URL is the target's, already shown beside the error.
        beacon_discovery::Error::Request { reason, .. } => Error::Http(reason),
        other => Error::Http(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ct: &str, fallback: Option<ScrapeProtocol>, expected: Result<ParseFormat, &str>) {
        let got = select_format(ct, fallback).map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "{ct:?} {fallback:?}");
    }

    #[test]
    fn content_types_and_fallback() {
        use ParseFormat::*;
        let om = Some(ScrapeProtocol::OpenMetricsText1_0_0);
        check("text/plain; version=0.0.4", None, Ok(Text));
        check(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            None,
            Ok(OpenMetrics),
        );
        check(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
            None,
            Ok(Protobuf),
        );
        check(
            "",
            None,
            Err(
                "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target",
            ),
        );
        check("", om, Ok(OpenMetrics));
        check("  ", Some(ScrapeProtocol::PrometheusProto), Ok(Protobuf));
        check(
            "text/html; charset=utf-8",
            None,
            Err(
                "non-compliant scrape target sending unsupported Content-Type \"text/html; charset=utf-8\" and no fallback_scrape_protocol specified for target",
            ),
        );
        check("text/html", om, Ok(OpenMetrics));
        check(
            "garbage",
            None,
            Err(
                "non-compliant scrape target sending unparsable Content-Type \"garbage\" and no fallback_scrape_protocol specified for target",
            ),
        );
        check(
            "text/plain; version",
            Some(ScrapeProtocol::PrometheusText1_0_0),
            Ok(Text),
        );
        check("text/plain;", None, Ok(Text));
    }
}
