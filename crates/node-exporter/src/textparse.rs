//! A parser for the Prometheus text format 0.0.4 as the textfile collector
//! needs it: whole files into [`MetricFamily`] values, histograms and
//! summaries grouped from their `_bucket`, `_sum` and `_count` samples.
//!
//! Errors carry the 1-based line; the parser never panics on any input.

use std::collections::{BTreeMap, HashMap};

use beacon_exposition::family::{Bucket, Metric, MetricFamily, MetricValue, Quantile};
use beacon_model::{Labels, MetricType};

/// Samples one file may hold before it is rejected as runaway output.
pub const SAMPLES_MAX: usize = 1_000_000;

/// A parse failure at `line` (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

type PResult<T> = std::result::Result<T, ParseError>;

/// One sample line: name, label pairs in file order, value.
type SampleLine = (String, Vec<(String, String)>, f64);

/// Per-label-set parts of a histogram or summary.
#[derive(Default)]
struct Partial {
    buckets: Vec<Bucket>,
    quantiles: Vec<Quantile>,
    sum: f64,
    count: f64,
}

struct Builder {
    name: String,
    help: Option<String>,
    typ: Option<MetricType>,
    simple: Vec<Metric>,
    grouped: BTreeMap<Labels, Partial>,
    has_samples: bool,
}

/// Parses `text`; families keep file order, families without `# HELP` get
/// `None` as help so the caller can supply node_exporter's default.
pub fn parse(text: &str) -> PResult<Vec<(MetricFamily, bool)>> {
    let mut builders: Vec<Builder> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut samples = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let err = |msg: String| ParseError { line: line_no, msg };
        let line = raw.trim_start_matches([' ', '\t']);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            meta_line(comment, &mut builders, &mut index).map_err(err)?;
            continue;
        }
        samples += 1;
        if samples > SAMPLES_MAX {
            return Err(err(format!("more than {SAMPLES_MAX} samples")));
        }
        let (name, labels, value) = sample_line(line).map_err(err)?;
        add_sample(&mut builders, &mut index, &name, labels, value).map_err(err)?;
    }
    builders.into_iter().map(finish).collect()
}

fn builder_for<'a>(
    builders: &'a mut Vec<Builder>,
    index: &mut HashMap<String, usize>,
    name: &str,
) -> &'a mut Builder {
    let i = *index.entry(name.to_string()).or_insert_with(|| {
        builders.push(Builder {
            name: name.to_string(),
            help: None,
            typ: None,
            simple: Vec::new(),
            grouped: BTreeMap::new(),
            has_samples: false,
        });
        builders.len() - 1
    });
    &mut builders[i]
}

fn meta_line(
    comment: &str,
    builders: &mut Vec<Builder>,
    index: &mut HashMap<String, usize>,
) -> std::result::Result<(), String> {
    let rest = comment.trim_start();
    let (kw, rest) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    if kw != "HELP" && kw != "TYPE" {
        return Ok(()); // a plain comment
    }
    let rest = rest.trim_start();
    let (name, arg) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
    if !beacon_model::is_valid_legacy_metric_name(name) {
        return Err(format!("invalid metric name {name:?} in {kw} line"));
    }
    let b = builder_for(builders, index, name);
    if kw == "HELP" {
        if b.help.is_some() {
            return Err(format!("second HELP line for {name}"));
        }
        b.help = Some(unescape_help(arg));
        return Ok(());
    }
    if b.typ.is_some() {
        return Err(format!("second TYPE line for {name}"));
    }
    if b.has_samples {
        return Err(format!("TYPE line for {name} after its samples"));
    }
    b.typ = Some(match arg.trim() {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Unknown,
        other => return Err(format!("unknown metric type {other:?}")),
    });
    Ok(())
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `name{labels} value [timestamp]` into its parts; timestamps are refused
/// because node_exporter refuses them in text files.
fn sample_line(line: &str) -> std::result::Result<SampleLine, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if !beacon_model::is_valid_legacy_metric_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("no value for {name}"))?;
    let value =
        parse_value(value).ok_or_else(|| format!("expected float as value, got {value:?}"))?;
    if fields.next().is_some() {
        return Err(format!(
            "sample of {name} carries a timestamp or trailing text"
        ));
    }
    Ok((name.to_string(), labels, value))
}

/// Parses `a="x",b="y"}` and returns what follows the closing brace.
fn parse_labels<'a>(
    mut s: &'a str,
    out: &mut Vec<(String, String)>,
) -> std::result::Result<&'a str, String> {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok(rest);
        }
        let eq = s.find('=').ok_or("label without '='")?;
        let lname = s[..eq].trim();
        if !beacon_model::is_valid_legacy_label_name(lname) {
            return Err(format!("invalid label name {lname:?}"));
        }
        let after = s[eq + 1..].trim_start();
        let body = after.strip_prefix('"').ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => return Err("invalid escape in label value".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        if out.iter().any(|(n, _)| n == lname) {
            return Err(format!("duplicate label {lname:?}"));
        }
        out.push((lname.to_string(), value));
        s = body[end + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("expected ',' or '}' after label value".into());
        }
    }
}

/// Go's `ParseFloat` spellings of special values plus ordinary numbers.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ if s
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

fn add_sample(
    builders: &mut Vec<Builder>,
    index: &mut HashMap<String, usize>,
    name: &str,
    labels: Vec<(String, String)>,
    value: f64,
) -> std::result::Result<(), String> {
    // A `_bucket`, `_sum` or `_count` sample belongs to the histogram or
    // summary declared under the base name, if there is one.
    for suffix in ["_bucket", "_sum", "_count", ""] {
        let Some(base) = name.strip_suffix(suffix) else {
            continue;
        };
        let Some(&i) = index.get(base) else { continue };
        let typ = builders[i].typ;
        let grouped = matches!(typ, Some(MetricType::Histogram | MetricType::Summary));
        if !grouped || (suffix == "_bucket" && typ != Some(MetricType::Histogram)) {
            continue;
        }
        let b = &mut builders[i];
        b.has_samples = true;
        return add_grouped(b, suffix, labels, value);
    }
    let b = builder_for(builders, index, name);
    b.has_samples = true;
    let pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let typ = b.typ.unwrap_or(MetricType::Unknown);
    let value = match typ {
        MetricType::Counter => MetricValue::Counter {
            value,
            created_s: None,
            exemplar: None,
        },
        MetricType::Gauge => MetricValue::Gauge(value),
        _ => MetricValue::Unknown(value),
    };
    b.simple.push(Metric {
        labels: crate::metric_set::labels(&pairs),
        value,
        timestamp_ms: None,
    });
    Ok(())
}

fn add_grouped(
    b: &mut Builder,
    suffix: &str,
    mut labels: Vec<(String, String)>,
    value: f64,
) -> std::result::Result<(), String> {
    let special = if b.typ == Some(MetricType::Histogram) {
        "le"
    } else {
        "quantile"
    };
    let mut bound = None;
    if suffix == "_bucket" || suffix.is_empty() {
        let pos = labels
            .iter()
            .position(|(n, _)| n == special)
            .ok_or_else(|| format!("sample of {} lacks the {special:?} label", b.name))?;
        let (_, v) = labels.remove(pos);
        bound = Some(parse_value(&v).ok_or_else(|| format!("invalid {special} value {v:?}"))?);
    }
    let pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let p = b
        .grouped
        .entry(crate::metric_set::labels(&pairs))
        .or_default();
    match (suffix, bound) {
        ("_sum", _) => p.sum = value,
        ("_count", _) => p.count = value,
        ("_bucket", Some(le)) => p.buckets.push(Bucket {
            upper_bound: le,
            cumulative_count: value,
            exemplar: None,
        }),
        (_, Some(q)) => p.quantiles.push(Quantile { quantile: q, value }),
        _ => return Err(format!("unexpected sample for {}", b.name)),
    }
    Ok(())
}

/// Turns a builder into a family; the flag says whether it had a HELP line.
fn finish(b: Builder) -> PResult<(MetricFamily, bool)> {
    let typ = b.typ.unwrap_or(MetricType::Unknown);
    let has_help = b.help.is_some();
    let mut fam = MetricFamily::new(b.name, b.help.unwrap_or_default(), typ);
    fam.metrics = b.simple;
    for (labels, p) in b.grouped {
        let value = if typ == MetricType::Histogram {
            MetricValue::Histogram {
                count: p.count,
                sum: p.sum,
                buckets: p.buckets,
                created_s: None,
                native: None,
            }
        } else {
            MetricValue::Summary {
                count: p.count,
                sum: p.sum,
                quantiles: p.quantiles,
                created_s: None,
            }
        };
        fam.metrics.push(Metric {
            labels,
            value,
            timestamp_ms: None,
        });
    }
    Ok((fam, has_help))
}

#[cfg(test)]
mod tests {
    use super::*;
    use beacon_exposition::encode::{Format, encode};

    /// Parses `input` and checks the re-encoded text (or the error).
    fn check(input: &str, expected: &str) {
        let got = match parse(input) {
            Ok(fams) => {
                let fams: Vec<MetricFamily> = fams.into_iter().map(|(f, _)| f).collect();
                encode(Format::Text004, &fams)
            }
            Err(e) => format!("error at line {}: {}\n", e.line, e.msg),
        };
        assert_eq!(got, expected, "input:\n{input}");
    }

    #[test]
    fn parses_simple_and_grouped_families() {
        check(
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\nb 2\n",
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n# TYPE b untyped\nb 2\n",
        );
        check(
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
        );
        check(
            "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n",
            "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n",
        );
        check(
            "x{a=\"q\\\"\\n\"} -Inf\n",
            "# TYPE x untyped\nx{a=\"q\\\"\\n\"} -Inf\n",
        );
    }

    #[test]
    fn reports_errors_with_lines() {
        check(
            "this is { not valid\n",
            "error at line 1: expected float as value, got \"is\"\n",
        );
        check(
            "ok 1\nx 1 123\n",
            "error at line 2: sample of x carries a timestamp or trailing text\n",
        );
        check(
            "x{a=\"1\" 2\n",
            "error at line 1: expected ',' or '}' after label value\n",
        );
        check(
            "x{a=\"1} 2\n",
            "error at line 1: unterminated label value\n",
        );
        check(
            "x 1\n# TYPE x gauge\n",
            "error at line 2: TYPE line for x after its samples\n",
        );
        check(
            "# TYPE x bogus\n",
            "error at line 1: unknown metric type \"bogus\"\n",
        );
        check("x{le=1} 2\n", "error at line 1: label value not quoted\n");
    }

    #[test]
    fn never_panics_on_prefixes() {
        let text = "# HELP h H\\n.\n# TYPE h histogram\nh_bucket{le=\"1\",a=\"é\"} 1\nh_sum 3\n";
        for end in 0..=text.len() {
            if text.is_char_boundary(end) {
                let _ = parse(&text[..end]);
            }
        }
    }
}
