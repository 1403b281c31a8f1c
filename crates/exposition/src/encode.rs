//! Encoders: Prometheus text 0.0.4 and OpenMetrics 1.0.
//!
//! Numbers are written as Go's `strconv.FormatFloat(v, 'g', -1, 64)` does,
//! since that is what node_exporter and every Go client emit and what
//! tests compare against: shortest round-trip digits, exponent form when
//! the decimal exponent is below -4 or at least 6 (so `8.253366272e+09`), `+Inf`, `-Inf`, `NaN`.

use std::fmt::Write;

use beacon_model::{Exemplar, Labels, MetricType};

use crate::family::{Metric, MetricFamily, MetricValue};

/// Content type of the text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Appends `v` formatted as Go's `%g` with shortest precision.
pub fn write_go_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
    } else {
        // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde-x".
        let e = format!("{v:e}");
        let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if !(-4..6).contains(&exp) {
            let _ = write!(
                out,
                "{mant}e{}{:02}",
                if exp < 0 { '-' } else { '+' },
                exp.abs()
            );
        } else {
            let _ = write!(out, "{v}");
        }
    }
}

/// `write_go_float` into a new string.
pub fn format_go_float(v: f64) -> String {
    let mut s = String::new();
    write_go_float(&mut s, v);
    s
}

/// `v` as OpenMetrics writes it: like Go's `%g`, but integral values get
/// a `.0` (`1.0`), as Prometheus formats `le` and `quantile` labels.
pub fn openmetrics_float(v: f64) -> String {
    let mut s = String::new();
    write_openmetrics_float(&mut s, v);
    s
}

fn write_openmetrics_float(out: &mut String, v: f64) {
    let start = out.len();
    write_go_float(out, v);
    if v.is_finite() && !out[start..].contains(['e', '.']) {
        out.push_str(".0");
    }
}

fn write_escaped(out: &mut String, s: &str, quote: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Which text dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text004,
    OpenMetrics,
}

fn write_name_and_labels(
    out: &mut String,
    name: &str,
    labels: &Labels,
    extra: Option<(&str, &str)>,
) {
    // An empty name (exemplar labels) writes no name at all.
    let legacy = name.is_empty() || beacon_model::is_valid_legacy_metric_name(name);
    if legacy {
        out.push_str(name);
    }
    let mut first = true;
    let mut open = |out: &mut String| {
        out.push(if first { '{' } else { ',' });
        first = false;
    };
    if !legacy {
        open(out);
        out.push('"');
        write_escaped(out, name, true);
        out.push('"');
    }
    let mut extra = extra;
    for l in labels
        .iter()
        .filter(|l| l.name != beacon_model::METRIC_NAME)
    {
        // The `le`/`quantile` label goes in name order with the others.
        if let Some((n, v)) = extra.filter(|(n, _)| *n < l.name) {
            open(out);
            let _ = write!(out, "{n}=\"{v}\"");
            extra = None;
        }
        open(out);
        if beacon_model::is_valid_legacy_label_name(l.name) {
            out.push_str(l.name);
        } else {
            out.push('"');
            write_escaped(out, l.name, true);
            out.push('"');
        }
        out.push_str("=\"");
        write_escaped(out, l.value, true);
        out.push('"');
    }
    if let Some((n, v)) = extra {
        open(out);
        let _ = write!(out, "{n}=\"{v}\"");
    }
    if !first {
        out.push('}');
    }
}

// Every caller varies a different subset of these; a struct would only
// move the same list into each call site.
#[allow(clippy::too_many_arguments)]
fn write_sample(
    out: &mut String,
    fmt: Format,
    name: &str,
    suffix: &str,
    m: &Metric,
    extra: Option<(&str, &str)>,
    v: f64,
    exemplar: Option<&Exemplar>,
) {
    let full;
    let n = if suffix.is_empty() {
        name
    } else {
        full = format!("{name}{suffix}");
        &full
    };
    write_name_and_labels(out, n, &m.labels, extra);
    out.push(' ');
    match fmt {
        Format::Text004 => write_go_float(out, v),
        Format::OpenMetrics => write_openmetrics_float(out, v),
    }
    if let Some(ts) = m.timestamp_ms {
        match fmt {
            Format::Text004 => {
                let _ = write!(out, " {ts}");
            }
            Format::OpenMetrics => write_om_timestamp(out, ts),
        }
    }
    if let (Format::OpenMetrics, Some(e)) = (fmt, exemplar) {
        out.push_str(" # ");
        write_name_and_labels(out, "", &e.labels, None);
        if e.labels.is_empty() {
            out.push_str("{}");
        }
        out.push(' ');
        write_openmetrics_float(out, e.value);
        if let Some(t) = e.t {
            write_om_timestamp(out, t);
        }
    }
    out.push('\n');
}

/// OpenMetrics timestamps are seconds; written in plain decimal notation.
fn write_om_timestamp(out: &mut String, ms: i64) {
    let _ = write!(out, " {}", ms as f64 / 1000.0);
}

fn type_word(fmt: Format, t: MetricType) -> &'static str {
    match (fmt, t) {
        (Format::Text004, MetricType::Unknown) => "untyped",
        (Format::Text004, MetricType::Info | MetricType::StateSet) => "gauge",
        (Format::Text004, MetricType::GaugeHistogram) => "histogram",
        (_, t) => t.as_str(),
    }
}

/// Appends one family in `fmt` to `out`.
pub fn encode_family(out: &mut String, fmt: Format, f: &MetricFamily) {
    // OpenMetrics names counter families without `_total` and info
    // families without `_info`; the samples carry the suffix.
    let base: &str = match (fmt, f.metric_type) {
        (Format::OpenMetrics, MetricType::Counter) => {
            f.name.strip_suffix("_total").unwrap_or(&f.name)
        }
        (Format::OpenMetrics, MetricType::Info) => f.name.strip_suffix("_info").unwrap_or(&f.name),
        _ => &f.name,
    };
    let quoted_meta = |out: &mut String, n: &str| {
        if beacon_model::is_valid_legacy_metric_name(n) {
            out.push_str(n);
        } else {
            out.push('"');
            write_escaped(out, n, true);
            out.push('"');
        }
    };
    if !f.help.is_empty() {
        out.push_str("# HELP ");
        quoted_meta(out, base);
        out.push(' ');
        write_escaped(out, &f.help, fmt == Format::OpenMetrics);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    quoted_meta(out, base);
    out.push(' ');
    out.push_str(type_word(fmt, f.metric_type));
    out.push('\n');
    if fmt == Format::OpenMetrics && !f.unit.is_empty() {
        out.push_str("# UNIT ");
        quoted_meta(out, base);
        out.push(' ');
        out.push_str(&f.unit);
        out.push('\n');
    }
    for m in &f.metrics {
        encode_metric(out, fmt, base, f, m);
    }
}

fn encode_metric(out: &mut String, fmt: Format, base: &str, f: &MetricFamily, m: &Metric) {
    let om = fmt == Format::OpenMetrics;
    let created = |out: &mut String, c: Option<f64>| {
        if let (true, Some(c)) = (om, c) {
            let mm = Metric {
                labels: m.labels.clone(),
                value: MetricValue::Gauge(c),
                timestamp_ms: m.timestamp_ms,
            };
            write_sample(out, fmt, base, "_created", &mm, None, c, None);
        }
    };
    match &m.value {
        MetricValue::Counter {
            value,
            created_s,
            exemplar,
        } => {
            let suffix = if om { "_total" } else { "" };
            write_sample(out, fmt, base, suffix, m, None, *value, exemplar.as_ref());
            created(out, *created_s);
        }
        MetricValue::Gauge(v) | MetricValue::Unknown(v) => {
            write_sample(out, fmt, base, "", m, None, *v, None)
        }
        MetricValue::Info => {
            let suffix = if om { "_info" } else { "" };
            write_sample(out, fmt, base, suffix, m, None, 1.0, None);
        }
        MetricValue::StateSet(states) => {
            for (state, on) in states {
                let labels = {
                    let mut b = m.labels.builder();
                    b.set(base, state);
                    b.build()
                };
                let mm = Metric {
                    labels,
                    value: MetricValue::Gauge(0.0),
                    timestamp_ms: m.timestamp_ms,
                };
                write_sample(
                    out,
                    fmt,
                    base,
                    "",
                    &mm,
                    None,
                    if *on { 1.0 } else { 0.0 },
                    None,
                );
            }
        }
        MetricValue::Summary {
            count,
            sum,
            quantiles,
            created_s,
        } => {
            for q in quantiles {
                let qs = format_go_float(q.quantile);
                write_sample(
                    out,
                    fmt,
                    base,
                    "",
                    m,
                    Some(("quantile", &qs)),
                    q.value,
                    None,
                );
            }
            write_sample(out, fmt, base, "_sum", m, None, *sum, None);
            write_sample(out, fmt, base, "_count", m, None, *count, None);
            created(out, *created_s);
        }
        MetricValue::Histogram {
            count,
            sum,
            buckets,
            created_s,
            ..
        } => {
            let gauge = f.metric_type == MetricType::GaugeHistogram && om;
            for b in buckets {
                let mut le = String::new();
                if om {
                    write_openmetrics_float(&mut le, b.upper_bound);
                } else {
                    write_go_float(&mut le, b.upper_bound);
                }
                write_sample(
                    out,
                    fmt,
                    base,
                    "_bucket",
                    m,
                    Some(("le", &le)),
                    b.cumulative_count,
                    b.exemplar.as_ref(),
                );
            }
            if !buckets.iter().any(|b| b.upper_bound == f64::INFINITY) {
                write_sample(
                    out,
                    fmt,
                    base,
                    "_bucket",
                    m,
                    Some(("le", "+Inf")),
                    *count,
                    None,
                );
            }
            let (s, c) = if gauge {
                ("_gsum", "_gcount")
            } else {
                ("_sum", "_count")
            };
            write_sample(out, fmt, base, s, m, None, *sum, None);
            write_sample(out, fmt, base, c, m, None, *count, None);
            created(out, *created_s);
        }
    }
}

/// Encodes `families` in `fmt`; OpenMetrics output ends with `# EOF`.
pub fn encode(fmt: Format, families: &[MetricFamily]) -> String {
    let mut out = String::with_capacity(families.len() * 256);
    for f in families {
        encode_family(&mut out, fmt, f);
    }
    if fmt == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::{Bucket, Quantile};

    #[test]
    fn go_float_format() {
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (2.5165824e10, "2.5165824e+10"),
            (1e21, "1e+21"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-3.25, "-3.25"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for (v, want) in cases {
            assert_eq!(format_go_float(v), want, "{v}");
        }
    }

    fn fam() -> Vec<MetricFamily> {
        let mut c = MetricFamily::new(
            "http_requests_total",
            "Requests.\nAll of them.",
            MetricType::Counter,
        );
        c.push_value(
            Labels::from_pairs([("code", "200"), ("path", "/a\"b")]),
            1027.0,
        );
        let mut h = MetricFamily::new("latency_seconds", "Latency.", MetricType::Histogram);
        h.metrics.push(Metric {
            labels: Labels::empty(),
            value: MetricValue::Histogram {
                count: 3.0,
                sum: 1.5,
                buckets: vec![
                    Bucket {
                        upper_bound: 0.1,
                        cumulative_count: 1.0,
                        exemplar: None,
                    },
                    Bucket {
                        upper_bound: 1.0,
                        cumulative_count: 2.0,
                        exemplar: None,
                    },
                ],
                created_s: None,
                native: None,
            },
            timestamp_ms: Some(1_700_000_000_000),
        });
        let mut s = MetricFamily::new("rpc", "", MetricType::Summary);
        s.metrics.push(Metric {
            labels: Labels::from_pairs([("z", "1")]),
            value: MetricValue::Summary {
                count: 2.0,
                sum: 4.0,
                quantiles: vec![Quantile {
                    quantile: 0.5,
                    value: 2.0,
                }],
                created_s: None,
            },
            timestamp_ms: None,
        });
        vec![c, h, s]
    }

    #[test]
    fn text_004() {
        let want = r#"# HELP http_requests_total Requests.\nAll of them.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/a\"b"} 1027
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 1 1700000000000
latency_seconds_bucket{le="1"} 2 1700000000000
latency_seconds_bucket{le="+Inf"} 3 1700000000000
latency_seconds_sum 1.5 1700000000000
latency_seconds_count 3 1700000000000
# TYPE rpc summary
rpc{quantile="0.5",z="1"} 2
rpc_sum{z="1"} 4
rpc_count{z="1"} 2
"#;
        assert_eq!(encode(Format::Text004, &fam()), want);
    }

    #[test]
    fn openmetrics() {
        let want = r#"# HELP http_requests Requests.\nAll of them.
# TYPE http_requests counter
http_requests_total{code="200",path="/a\"b"} 1027.0
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 1.0 1700000000
latency_seconds_bucket{le="1.0"} 2.0 1700000000
latency_seconds_bucket{le="+Inf"} 3.0 1700000000
latency_seconds_sum 1.5 1700000000
latency_seconds_count 3.0 1700000000
# TYPE rpc summary
rpc{quantile="0.5",z="1"} 2.0
rpc_sum{z="1"} 4.0
rpc_count{z="1"} 2.0
# EOF
"#;
        assert_eq!(encode(Format::OpenMetrics, &fam()), want);
    }
}
