//! The HTTP side: the landing page at `/`, the telemetry path with content
//! negotiation (text 0.0.4 unless the client asks for OpenMetrics) and
//! gzip, and node_exporter's in-flight request limit.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use beacon_exposition::encode::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, encode};
use tokio::sync::Semaphore;

use crate::scrape::{Registry, Selection};

/// What the handlers share.
pub struct AppState {
    pub registry: Registry,
    pub telemetry_path: String,
    /// `None` when `--web.max-requests` is 0 (no limit).
    pub in_flight: Option<Semaphore>,
    pub max_requests: usize,
}

/// The router for `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let path = state.telemetry_path.clone();
    let mut r = Router::new().route(&path, axum::routing::get(metrics));
    if path != "/" {
        r = r.route("/", axum::routing::get(landing));
    }
    r.with_state(state)
}

async fn landing(State(state): State<Arc<AppState>>) -> Html<String> {
    let p = html_escape(&state.telemetry_path);
    Html(format!(
        "<html>\n<head><title>Node Exporter</title></head>\n<body>\n<h1>Node Exporter</h1>\n\
         <p>Beacon's node_exporter-compatible host metrics, version {}.</p>\n\
         <ul><li><a href=\"{p}\">Metrics</a></li></ul>\n</body>\n</html>\n",
        crate::selfmetrics::VERSION
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn metrics(State(state): State<Arc<AppState>>, uri: Uri, headers: HeaderMap) -> Response {
    let _permit = match &state.in_flight {
        Some(sem) => match sem.try_acquire() {
            Ok(p) => Some(p),
            Err(_) => {
                let msg = format!(
                    "Limit of concurrent requests reached ({}), try again later.\n",
                    state.max_requests
                );
                return (StatusCode::SERVICE_UNAVAILABLE, msg).into_response();
            }
        },
        None => None,
    };
    let sel = selection(uri.query().unwrap_or(""));
    let unknown: Vec<&String> = sel
        .include
        .iter()
        .filter(|n| !state.registry.names().contains(&n.as_str()))
        .collect();
    if !unknown.is_empty() {
        let msg = format!(
            "Couldn't create filtered metrics handler: missing collector: {}\n",
            unknown[0]
        );
        return (StatusCode::BAD_REQUEST, msg).into_response();
    }
    let fams = state.registry.gather(&sel).await;
    let accept = header_str(&headers, header::ACCEPT);
    let (fmt, ctype) = if accept.contains("application/openmetrics-text") {
        (Format::OpenMetrics, OPENMETRICS_CONTENT_TYPE)
    } else {
        (Format::Text004, TEXT_CONTENT_TYPE)
    };
    let body = encode(fmt, &fams);
    let mut resp = Response::builder().header(header::CONTENT_TYPE, ctype);
    let body = if accepts_gzip(header_str(&headers, header::ACCEPT_ENCODING)) {
        resp = resp.header(header::CONTENT_ENCODING, "gzip");
        gzip(body.as_bytes())
    } else {
        body.into_bytes()
    };
    resp.body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// True when `gzip` is among the encodings and not refused with `q=0`.
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let refused = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                == Some(0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

pub use crate::gzip::gzip;

/// `collect[]=a&collect[]=b&exclude[]=c` from a query string.
pub fn selection(query: &str) -> Selection {
    let mut sel = Selection::default();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        match k.as_str() {
            "collect[]" => sel.include.push(v),
            "exclude[]" => sel.exclude.push(v),
            _ => {}
        }
    }
    sel
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        for (h, want) in [
            ("gzip", true),
            ("deflate, gzip;q=0.5", true),
            ("gzip;q=0", false),
            ("br", false),
            ("", false),
            ("*", true),
        ] {
            assert_eq!(accepts_gzip(h), want, "{h:?}");
        }
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read;
        for input in [&b""[..], b"node_load1 0.5\n", &[b'x'; 200_000][..]] {
            for _ in 0..2 {
                let mut back = Vec::new();
                flate2::read::GzDecoder::new(&gzip(input)[..])
                    .read_to_end(&mut back)
                    .expect("valid gzip");
                assert_eq!(back, input);
            }
        }
    }

    #[test]
    fn query_selection() {
        let s = selection("collect%5B%5D=cpu&collect[]=meminfo&exclude[]=time&x=1&%zz");
        assert_eq!(s.include, ["cpu", "meminfo"]);
        assert_eq!(s.exclude, ["time"]);
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
