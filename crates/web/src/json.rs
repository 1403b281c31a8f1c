//! JSON output written the way Prometheus's Go code writes it, so answers
//! compare byte for byte: sample values as strings in Go's
//! `strconv.FormatFloat(v, 'f', -1, 64)` form (`NaN`, `+Inf`, `-Inf`),
//! timestamps as seconds with up to three decimals, and strings escaped
//! like Go's `encoding/json` (which also escapes `<`, `>` and `&`).

use std::fmt::Write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use beacon_model::{FloatHistogram, Labels, histogram::bucket_upper_bound};

use crate::error::ApiError;

/// Appends `s` as a JSON string literal with Go's escaping.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub use beacon_model::format_float;

/// Appends a sample value: a quoted `format_float`.
pub fn write_float(out: &mut String, v: f64) {
    out.push('"');
    out.push_str(&format_float(v));
    out.push('"');
}

/// Appends a millisecond timestamp as seconds the way Prometheus does:
/// integer part, then `.` and three fraction digits unless they are zero.
pub fn write_ts(out: &mut String, t_ms: i64) {
    let mut t = i128::from(t_ms);
    if t < 0 {
        out.push('-');
        t = -t;
    }
    let _ = write!(out, "{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Appends a label set as a JSON object in label order.
pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, l.name);
        out.push(':');
        write_str(out, l.value);
    }
    out.push('}');
}

/// Appends `[t, "v"]`.
pub fn write_point(out: &mut String, t_ms: i64, v: f64) {
    out.push('[');
    write_ts(out, t_ms);
    out.push(',');
    write_float(out, v);
    out.push(']');
}

/// Appends `[t, {histogram}]`.
pub fn write_hpoint(out: &mut String, t_ms: i64, h: &FloatHistogram) {
    out.push('[');
    write_ts(out, t_ms);
    out.push(',');
    write_histogram(out, h);
    out.push(']');
}

/// Appends a native histogram as Prometheus renders it: count, sum and the
/// non-empty buckets as `[boundaries, lower, upper, count]`, where
/// boundaries is 0 (left-open), 1 (right-open), 2 (open) or 3 (closed).
pub fn write_histogram(out: &mut String, h: &FloatHistogram) {
    out.push_str("{\"count\":");
    write_float(out, h.count);
    out.push_str(",\"sum\":");
    write_float(out, h.sum);
    let buckets = histogram_buckets(h);
    if !buckets.is_empty() {
        out.push_str(",\"buckets\":[");
        for (i, b) in buckets.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "[{},", b.0);
            write_float(out, b.1);
            out.push(',');
            write_float(out, b.2);
            out.push(',');
            write_float(out, b.3);
            out.push(']');
        }
        out.push(']');
    }
    out.push('}');
}

/// (boundaries, lower, upper, count) of every non-empty bucket, from the
/// most negative to the most positive.
fn histogram_buckets(h: &FloatHistogram) -> Vec<(u8, f64, f64, f64)> {
    let upper = |i: i32| bucket_upper_bound(h.schema, &h.custom_values, i);
    let custom = h.uses_custom_buckets();
    let mut out = Vec::new();
    let mut neg = Vec::new();
    for_each_bucket(&h.negative_spans, &h.negative_buckets, |idx, c| {
        neg.push((1, -upper(idx), -upper(idx - 1), c));
    });
    out.extend(neg.into_iter().rev());
    if h.zero_count != 0.0 {
        out.push((3, -h.zero_threshold, h.zero_threshold, h.zero_count));
    }
    for_each_bucket(&h.positive_spans, &h.positive_buckets, |idx, c| {
        let lower = if custom && idx == 0 {
            f64::NEG_INFINITY
        } else {
            upper(idx - 1)
        };
        out.push((0, lower, upper(idx), c));
    });
    out
}

fn for_each_bucket(spans: &[beacon_model::Span], counts: &[f64], mut f: impl FnMut(i32, f64)) {
    let mut idx = 0i32;
    let mut pos = 0usize;
    for s in spans {
        idx = idx.saturating_add(s.offset);
        for _ in 0..s.length {
            if let Some(&c) = counts.get(pos)
                && c != 0.0
            {
                f(idx, c);
            }
            pos += 1;
            idx = idx.saturating_add(1);
        }
    }
}

/// Appends any `serde_json::Value` with Go's string escaping.
pub fn write_value(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, x);
            }
            out.push('}');
        }
    }
}

/// The data of a successful call, already written as JSON.
#[derive(Debug, Clone, Default)]
pub struct Success {
    pub data: String,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Success {
    /// Wraps pre-written JSON data.
    pub fn raw(data: String) -> Success {
        Success {
            data,
            ..Success::default()
        }
    }

    /// Wraps a `serde_json::Value`.
    pub fn value(v: &serde_json::Value) -> Success {
        let mut data = String::new();
        write_value(&mut data, v);
        Success::raw(data)
    }
}

fn write_strings_field(out: &mut String, name: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(out, ",\"{name}\":[");
    for (i, w) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, w);
    }
    out.push(']');
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl IntoResponse for Success {
    fn into_response(self) -> Response {
        let mut out = String::with_capacity(self.data.len() + 64);
        out.push_str("{\"status\":\"success\",\"data\":");
        out.push_str(&self.data);
        write_strings_field(&mut out, "warnings", &self.warnings);
        write_strings_field(&mut out, "infos", &self.infos);
        out.push('}');
        json_response(StatusCode::OK, out)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut out = String::from("{\"status\":\"error\",\"errorType\":");
        write_str(&mut out, self.kind.as_str());
        out.push_str(",\"error\":");
        write_str(&mut out, &self.msg);
        out.push('}');
        json_response(self.kind.status(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_float(v: f64, want: &str) {
        assert_eq!(format_float(v), want, "{v:?}");
    }

    #[test]
    fn floats_like_go_format_f() {
        check_float(1.0, "1");
        check_float(0.1, "0.1");
        check_float(-2.5, "-2.5");
        check_float(1e21, "1000000000000000000000");
        check_float(1e-7, "0.0000001");
        check_float(f64::NAN, "NaN");
        check_float(f64::INFINITY, "+Inf");
        check_float(f64::NEG_INFINITY, "-Inf");
        check_float(123456789.125, "123456789.125");
    }

    fn check_ts(t: i64, want: &str) {
        let mut s = String::new();
        write_ts(&mut s, t);
        assert_eq!(s, want, "{t}");
    }

    #[test]
    fn timestamps_like_marshal_timestamp() {
        check_ts(1_435_781_451_781, "1435781451.781");
        check_ts(1000, "1");
        check_ts(1500, "1.500");
        check_ts(1005, "1.005");
        check_ts(-1500, "-1.500");
        check_ts(0, "0");
    }

    #[test]
    fn strings_escape_like_go() {
        let mut s = String::new();
        write_str(&mut s, "a<b>&\"\\\n\u{1}é");
        assert_eq!(s, r#""a\u003cb\u003e\u0026\"\\\n\u0001é""#);
    }

    #[test]
    fn histogram_buckets_render() {
        let h = FloatHistogram {
            schema: 0,
            count: 3.0,
            sum: 5.0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![beacon_model::Span {
                offset: 1,
                length: 2,
            }],
            positive_buckets: vec![1.0, 1.0],
            ..FloatHistogram::default()
        };
        let mut s = String::new();
        write_histogram(&mut s, &h);
        assert_eq!(
            s,
            r#"{"count":"3","sum":"5","buckets":[[3,"-0.001","0.001","1"],[0,"1","2","1"],[0,"2","4","1"]]}"#
        );
    }
}
