//! `check_metrics`: the checks of `promtool check metrics`, over a text
//! 0.0.4 body: parse errors, missing HELP, counter and `_total` naming,
//! non-base units, reserved histogram/summary suffixes and labels, type
//! names and abbreviated units in metric names, colons and camelCase.

use std::fmt;

use beacon_model::MetricType;

use crate::families::parse_to_families;
use crate::family::{MetricFamily, MetricValue};
use crate::parser::ParseFormat;

/// One finding: the family it is about (empty for a parse error) and what.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LintProblem {
    pub metric: String,
    pub text: String,
}

impl fmt::Display for LintProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.metric.is_empty() {
            f.write_str(&self.text)
        } else {
            write!(f, "{}: {}", self.metric, self.text)
        }
    }
}

/// Non-base units and the base unit to use instead.
const NON_BASE_UNITS: &[(&str, &str)] = &[
    ("milliseconds", "seconds"),
    ("microseconds", "seconds"),
    ("nanoseconds", "seconds"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kilobytes", "bytes"),
    ("megabytes", "bytes"),
    ("gigabytes", "bytes"),
    ("terabytes", "bytes"),
    ("petabytes", "bytes"),
    ("kibibytes", "bytes"),
    ("mebibytes", "bytes"),
    ("gibibytes", "bytes"),
    ("bits", "bytes"),
    ("kilometers", "meters"),
    ("millimeters", "meters"),
    ("centimeters", "meters"),
    ("grams", "kilograms"),
    ("milligrams", "kilograms"),
    ("fahrenheit", "celsius"),
    ("percent", "ratio"),
];

/// Abbreviations that should be spelled out.
const ABBREVIATED_UNITS: &[&str] = &[
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];

/// Lints a text 0.0.4 exposition; problems come sorted.
pub fn check_metrics(input: &[u8]) -> Vec<LintProblem> {
    let families = match parse_to_families(ParseFormat::Text, input) {
        Ok(f) => f,
        Err(e) => {
            return vec![LintProblem {
                metric: String::new(),
                text: format!("error while linting: {e}"),
            }];
        }
    };
    let mut out = Vec::new();
    for f in &families {
        lint_family(f, &mut |text: String| {
            out.push(LintProblem {
                metric: f.name.clone(),
                text,
            })
        });
    }
    out.sort();
    out.dedup();
    out
}

fn lint_family(f: &MetricFamily, report: &mut dyn FnMut(String)) {
    let name = f.name.as_str();
    let t = f.metric_type;
    if f.help.is_empty() {
        report("no help text".into());
    }
    if t == MetricType::Counter && !name.ends_with("_total") {
        report("counter metrics should have \"_total\" suffix".into());
    }
    if t != MetricType::Counter && name.ends_with("_total") {
        report("non-counter metrics should not have \"_total\" suffix".into());
    }
    let tokens: Vec<&str> = name.split('_').collect();
    for (unit, base) in NON_BASE_UNITS {
        if tokens.contains(unit) {
            report(format!("use base unit \"{base}\" instead of \"{unit}\""));
        }
    }
    for abbr in ABBREVIATED_UNITS {
        if tokens.contains(abbr) {
            report("metric names should not contain abbreviated units".into());
        }
    }
    if t != MetricType::Histogram && name.ends_with("_bucket") {
        report("non-histogram metrics should not have \"_bucket\" suffix".into());
    }
    if !matches!(t, MetricType::Histogram | MetricType::Summary)
        && (name.ends_with("_count") || name.ends_with("_sum"))
    {
        let sfx = if name.ends_with("_count") {
            "_count"
        } else {
            "_sum"
        };
        report(format!(
            "non-histogram and non-summary metrics should not have \"{sfx}\" suffix"
        ));
    }
    for typ in ["counter", "gauge", "histogram", "summary", "untyped"] {
        if tokens.contains(&typ) {
            report(format!("metric name should not include type '{typ}'"));
        }
    }
    if name.contains(':') {
        report("metric names should not contain ':'".into());
    }
    if is_camel_case(name) {
        report("metric names should be written in 'snake_case' not 'camelCase'".into());
    }
    lint_labels(f, report);
}

fn lint_labels(f: &MetricFamily, report: &mut dyn FnMut(String)) {
    let t = f.metric_type;
    for m in &f.metrics {
        for l in m.labels.iter() {
            if is_camel_case(l.name) {
                report("label names should be written in 'snake_case' not 'camelCase'".into());
            }
            if l.name == "le" && t != MetricType::Histogram {
                report("non-histogram metrics should not have \"le\" label".into());
            }
            if l.name == "quantile" && t != MetricType::Summary {
                report("non-summary metrics should not have \"quantile\" label".into());
            }
        }
        if let MetricValue::Histogram { buckets, .. } = &m.value
            && t == MetricType::Histogram
            && buckets
                .windows(2)
                .any(|w| w[0].upper_bound >= w[1].upper_bound)
        {
            report("histogram buckets are not sorted by \"le\"".into());
        }
    }
}

/// A lower-case letter directly followed by an upper-case one.
fn is_camel_case(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[&str]) {
        let got: Vec<String> = check_metrics(input.as_bytes())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, expected, "input:\n{input}");
    }

    #[test]
    fn lints() {
        check(
            "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total 1\n",
            &[],
        );
        check(
            "# TYPE requests counter\nrequests 1\n",
            &[
                "requests: counter metrics should have \"_total\" suffix",
                "requests: no help text",
            ],
        );
        check(
            "# HELP latency_milliseconds L.\n# TYPE latency_milliseconds gauge\nlatency_milliseconds 1\n",
            &["latency_milliseconds: use base unit \"seconds\" instead of \"milliseconds\""],
        );
        check(
            "# HELP up_total U.\n# TYPE up_total gauge\nup_total 1\n",
            &["up_total: non-counter metrics should not have \"_total\" suffix"],
        );
        check(
            "# HELP x_count X.\n# TYPE x_count gauge\nx_count{le=\"1\"} 1\n",
            &[
                "x_count: non-histogram and non-summary metrics should not have \"_count\" suffix",
                "x_count: non-histogram metrics should not have \"le\" label",
            ],
        );
        check(
            "# HELP fooBar_ms F.\n# TYPE fooBar_ms gauge\nfooBar_ms{someLabel=\"a\"} 1\n",
            &[
                "fooBar_ms: label names should be written in 'snake_case' not 'camelCase'",
                "fooBar_ms: metric names should be written in 'snake_case' not 'camelCase'",
                "fooBar_ms: metric names should not contain abbreviated units",
            ],
        );
        check(
            "a{ 1\n",
            &["error while linting: 1:4: expected a label name"],
        );
    }
}
