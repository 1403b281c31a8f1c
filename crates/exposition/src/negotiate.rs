//! Content negotiation, both ends.
//!
//! A scraper sends an `Accept` header built from its configured scrape
//! protocols ([`accept_header`]) and picks the parser from the response's
//! `Content-Type` ([`format_for_content_type`]), falling back to text
//! 0.0.4 when the type is missing or unknown, as Prometheus 2 does. An
//! exporter picks what to write from a request's `Accept`
//! ([`encode_format_for_accept`]).

use crate::encode::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE};
use crate::parser::ParseFormat;

/// The scrape protocols of Prometheus's `scrape_protocols` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    PrometheusProto,
    OpenMetricsText1_0_0,
    OpenMetricsText0_0_1,
    PrometheusText1_0_0,
    PrometheusText0_0_4,
}

/// Prometheus's default order when native histograms are off.
pub const DEFAULT_SCRAPE_PROTOCOLS: [ScrapeProtocol; 4] = [
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

/// Prometheus's default order when native histograms are on.
pub const DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS: [ScrapeProtocol; 5] = [
    ScrapeProtocol::PrometheusProto,
    ScrapeProtocol::OpenMetricsText1_0_0,
    ScrapeProtocol::OpenMetricsText0_0_1,
    ScrapeProtocol::PrometheusText1_0_0,
    ScrapeProtocol::PrometheusText0_0_4,
];

impl ScrapeProtocol {
    /// The name used in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
        }
    }

    /// Parses a configuration name.
    pub fn parse(s: &str) -> Option<ScrapeProtocol> {
        [
            ScrapeProtocol::PrometheusProto,
            ScrapeProtocol::OpenMetricsText1_0_0,
            ScrapeProtocol::OpenMetricsText0_0_1,
            ScrapeProtocol::PrometheusText1_0_0,
            ScrapeProtocol::PrometheusText0_0_4,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }

    /// The media type this protocol asks for.
    pub fn media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
        }
    }

    /// Only the newer text versions carry the `escaping` parameter.
    fn takes_escaping(self) -> bool {
        matches!(
            self,
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0
        )
    }
}

/// The `Accept` header a scraper sends for `protocols`, most preferred
/// first: descending q-values from `0.(n+1)` and a final `*/*`, the way
/// Prometheus builds it. `escaping` (e.g. `allow-utf-8`, `underscores`)
/// is added to the protocols that understand it.
pub fn accept_header(protocols: &[ScrapeProtocol], escaping: Option<&str>) -> String {
    // Prometheus counts weights from the number of known protocols + 1.
    let mut weight = 6usize;
    let mut out = String::new();
    for p in protocols {
        out.push_str(p.media_type());
        if let (true, Some(e)) = (p.takes_escaping(), escaping) {
            out.push_str(";escaping=");
            out.push_str(e);
        }
        out.push_str(&q_value(weight));
        out.push(',');
        weight = weight.saturating_sub(1);
    }
    out.push_str("*/*");
    out.push_str(&q_value(weight));
    out
}

fn q_value(weight: usize) -> String {
    format!(";q=0.{weight}")
}

/// A media type split into its lower-cased type and parameters.
struct MediaType<'a> {
    essence: String,
    params: Vec<(String, &'a str)>,
}

fn parse_media_type(s: &str) -> MediaType<'_> {
    let mut parts = s.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().trim_matches('"')))
        })
        .collect();
    MediaType { essence, params }
}

impl MediaType<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|p| p.0 == key).map(|p| p.1)
    }
}

/// The parser for a response's `Content-Type`. Returns the format and
/// whether it was recognised; an absent or unknown type gives text 0.0.4.
pub fn format_for_content_type(content_type: Option<&str>) -> (ParseFormat, bool) {
    let Some(ct) = content_type.filter(|c| !c.trim().is_empty()) else {
        return (ParseFormat::Text, false);
    };
    let mt = parse_media_type(ct);
    match mt.essence.as_str() {
        "application/openmetrics-text" => (ParseFormat::OpenMetrics, true),
        "application/vnd.google.protobuf" => match mt.param("proto") {
            None | Some("io.prometheus.client.MetricFamily") => (ParseFormat::Protobuf, true),
            Some(_) => (ParseFormat::Text, false),
        },
        "text/plain" => (ParseFormat::Text, true),
        _ => (ParseFormat::Text, false),
    }
}

/// What an exporter should write for a request's `Accept` header, and the
/// `Content-Type` to send: OpenMetrics when the client prefers it (by
/// q-value, ties going to the earlier entry), text 0.0.4 otherwise.
pub fn encode_format_for_accept(accept: Option<&str>) -> (Format, &'static str) {
    let text = (Format::Text004, TEXT_CONTENT_TYPE);
    let Some(accept) = accept else {
        return text;
    };
    let mut best: Option<(f64, (Format, &'static str))> = None;
    for clause in accept.split(',') {
        let mt = parse_media_type(clause);
        let q = mt
            .param("q")
            .and_then(|q| q.parse::<f64>().ok())
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let choice = match mt.essence.as_str() {
            "application/openmetrics-text" => match mt.param("version") {
                None | Some("1.0.0" | "0.0.1") => (Format::OpenMetrics, OPENMETRICS_CONTENT_TYPE),
                Some(_) => continue,
            },
            "text/plain" | "*/*" | "text/*" => text,
            _ => continue,
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, choice));
        }
    }
    best.map_or(text, |b| b.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_like_prometheus() {
        assert_eq!(
            accept_header(&DEFAULT_SCRAPE_PROTOCOLS, Some("allow-utf-8")),
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        );
        let proto = accept_header(&DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS, None);
        assert!(proto.starts_with("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,"));
        assert!(proto.ends_with("*/*;q=0.1"));
        assert_eq!(
            ScrapeProtocol::parse("OpenMetricsText1.0.0"),
            Some(ScrapeProtocol::OpenMetricsText1_0_0)
        );
        assert_eq!(ScrapeProtocol::parse("nope"), None);
    }

    #[test]
    fn content_type_picks_parser() {
        let cases = [
            (
                Some("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                (ParseFormat::OpenMetrics, true),
            ),
            (Some("text/plain; version=0.0.4"), (ParseFormat::Text, true)),
            (
                Some(crate::protobuf::PROTOBUF_CONTENT_TYPE),
                (ParseFormat::Protobuf, true),
            ),
            (
                Some("Application/Vnd.Google.Protobuf; proto=other.Thing"),
                (ParseFormat::Text, false),
            ),
            (Some("application/json"), (ParseFormat::Text, false)),
            (Some(""), (ParseFormat::Text, false)),
            (None, (ParseFormat::Text, false)),
        ];
        for (ct, want) in cases {
            assert_eq!(format_for_content_type(ct), want, "{ct:?}");
        }
    }

    #[test]
    fn exporter_side() {
        let om = "application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(encode_format_for_accept(Some(om)).0, Format::OpenMetrics);
        assert_eq!(
            encode_format_for_accept(Some("text/plain")).0,
            Format::Text004
        );
        assert_eq!(encode_format_for_accept(None).1, TEXT_CONTENT_TYPE);
        let pref_text = "application/openmetrics-text;q=0.1,text/plain;q=0.9";
        assert_eq!(encode_format_for_accept(Some(pref_text)).0, Format::Text004);
    }
}
