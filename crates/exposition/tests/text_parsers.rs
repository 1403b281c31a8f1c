//! Data-driven tests of the text 0.0.4 and OpenMetrics parsers: every
//! case is an input and the entries (or the error) it must produce,
//! rendered one per line by `render`.

use beacon_exposition::encode::format_go_float;
use beacon_exposition::{Entry, ParseFormat, Parser};

/// Renders everything `format` yields for `input`, one entry per line.
fn render(format: ParseFormat, input: &str) -> String {
    let mut out = Vec::new();
    for e in Parser::new(format, input.as_bytes()) {
        out.push(match e {
            Ok(Entry::Help { name, help }) => format!("HELP {name} {help:?}"),
            Ok(Entry::Type { name, metric_type }) => format!("TYPE {name} {metric_type}"),
            Ok(Entry::Unit { name, unit }) => format!("UNIT {name} {unit}"),
            Ok(Entry::Eof) => "EOF".into(),
            Ok(Entry::Histogram(h)) => format!("HISTOGRAM {}", h.series),
            Ok(Entry::Sample(s)) => {
                let mut line = format!("{} {}", s.to_labels(), format_go_float(s.value));
                if let Some(t) = s.timestamp_ms {
                    line.push_str(&format!(" @{t}"));
                }
                if let Some(e) = &s.exemplar {
                    let e = e.to_model();
                    line.push_str(&format!(" # {} {}", e.labels, format_go_float(e.value)));
                    if let Some(t) = e.t {
                        line.push_str(&format!(" @{t}"));
                    }
                }
                line
            }
            Err(e) => format!("ERROR {e}"),
        });
    }
    out.join("\n")
}

fn check(format: ParseFormat, input: &str, expected: &str) {
    let got = render(format, input);
    let want: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got, want.join("\n"), "\ninput:\n{input}");
}

fn text(input: &str, expected: &str) {
    check(ParseFormat::Text, input, expected);
}

fn om(input: &str, expected: &str) {
    check(ParseFormat::OpenMetrics, input, expected);
}

fn om_strict(input: &str, expected: &str) {
    check(ParseFormat::OpenMetricsStrict, input, expected);
}

#[test]
fn text_basics() {
    text(
        "# HELP http_requests_total The total.\\nSecond line \\\\ end\n\
         # TYPE http_requests_total counter\n\
         http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
         \n\
         # a free comment\n\
         metric_without_labels 12.47\n\
         untyped{ a = \"1\" , } 3\n",
        r#"
        HELP http_requests_total "The total.\nSecond line \\ end"
        TYPE http_requests_total counter
        http_requests_total{code="200", method="post"} 1027 @1395066363000
        metric_without_labels 12.47
        untyped{a="1"} 3
        "#,
    );
}

#[test]
fn text_values_and_escapes() {
    text(
        "a NaN\nb +Inf\nc -Inf\nd 1.5e-3 -12\ne{x=\"q\\\"\\n\\\\\\z\"} 1\nf\t2\t3\n",
        r#"
        a NaN
        b +Inf
        c -Inf
        d 0.0015 @-12
        e{x="q\"\n\\\\z"} 1
        f 2 @3
        "#,
    );
}

#[test]
fn text_utf8_names() {
    text(
        "# TYPE \"my.metric\" gauge\n{\"my.metric\",\"label.x\"=\"ü\"} 1\n{\"other\"} 2\n",
        r#"
        TYPE my.metric gauge
        {"my.metric", "label.x"="ü"} 1
        other 2
        "#,
    );
}

#[test]
fn text_errors() {
    let cases = [
        (
            "a{b=\"c\" 1\n",
            "ERROR 1:9: expected ',' or '}' in label set",
        ),
        (
            "ok 1\na{=\"c\"} 1\n",
            "ok 1\nERROR 2:3: expected a label name",
        ),
        ("a 1x\n", "ERROR 1:3: invalid value \"1x\""),
        ("a 1 1.5\n", "ERROR 1:5: invalid timestamp \"1.5\""),
        (
            "a 1 2 3\n",
            "ERROR 1:7: unexpected text after the timestamp",
        ),
        (
            "a\n",
            "ERROR 1:2: expected whitespace and a value after the series",
        ),
        (
            "a{b=\"1\",b=\"2\"} 1\n",
            "ERROR 1:1: duplicate label name \"b\"",
        ),
        ("a{b=\"1} 1\n", "ERROR 1:5: unterminated quoted string"),
        ("# TYPE a foo\n", "ERROR 1:10: unknown metric type \"foo\""),
        ("a 0x1p3\n", "ERROR 1:3: invalid value \"0x1p3\""),
        ("ä{b=\"1\"} 1\n", "ERROR 1:1: expected a metric name"),
        (
            "a{b=\"ä\",c} 1\n",
            "ERROR 1:10: expected '=' after the label name",
        ),
        (
            "{\"a\",\"b\"} 1\n",
            "ERROR 1:6: a quoted metric name must come first and only once",
        ),
    ];
    for (input, want) in cases {
        text(input, want);
    }
    let bad_utf8 = b"a 1\nb{c=\"\xff\"} 1\n";
    let got: Vec<String> = Parser::new(ParseFormat::Text, bad_utf8)
        .map(|e| e.map(|_| String::new()).unwrap_or_else(|e| e.to_string()))
        .collect();
    assert_eq!(got, ["2:6: invalid UTF-8"]);
}

#[test]
fn openmetrics_basics() {
    om(
        "# TYPE a counter\n# HELP a he\\\"lp\n# UNIT a_seconds seconds\n\
         a_total{foo=\"bar # \"} 1 1.5 # {trace_id=\"x\"} 0.5 1.25\n\
         a_created 12\n\
         b{le=\"+Inf\"} NaN 0\n\
         # EOF\n",
        r#"
        TYPE a counter
        HELP a "he\"lp"
        UNIT a_seconds seconds
        a_total{foo="bar # "} 1 @1500 # {trace_id="x"} 0.5 @1250
        a_created 12
        b{le="+Inf"} NaN @0
        EOF
        "#,
    );
    om("a 1\n# EOF", "a 1\nEOF");
}

#[test]
fn openmetrics_syntax_errors() {
    let cases = [
        ("a 1\n", "a 1\nERROR 2:1: missing \"# EOF\" at the end"),
        ("", "ERROR 1:1: missing \"# EOF\" at the end"),
        ("a  1\n# EOF\n", "ERROR 1:3: expected a single space"),
        (
            "a 1 \n# EOF\n",
            "ERROR 1:4: trailing space: expected a timestamp or exemplar",
        ),
        (
            "a{b=\"1\",} 1\n# EOF\n",
            "ERROR 1:9: trailing comma in label set",
        ),
        (
            "a 1\n\n# EOF\n",
            "a 1\nERROR 2:1: blank lines are not allowed",
        ),
        ("# EOF\nx", "ERROR 1:1: text after \"# EOF\""),
        (
            "# random\n# EOF\n",
            "ERROR 1:1: comments other than HELP, TYPE, UNIT and EOF are not allowed",
        ),
        ("a 1 NaN\n# EOF\n", "ERROR 1:5: invalid timestamp \"NaN\""),
        (
            "a 1 # {b=\"c\"}1\n# EOF\n",
            "ERROR 1:14: expected a single space before an exemplar value",
        ),
        (
            "a.b 1\n# EOF\n",
            "ERROR 1:2: expected a single space before a value",
        ),
        (
            "# TYPE a untyped\n# EOF\n",
            "ERROR 1:10: unknown metric type \"untyped\"",
        ),
    ];
    for (input, want) in cases {
        om(input, want);
    }
}

#[test]
fn openmetrics_strict_rules() {
    let cases = [
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            "TYPE a counter\nERROR 2:1: a_total must be a non-negative number, not -1",
        ),
        (
            "# TYPE a gauge\na 1 # {b=\"c\"} 1\n# EOF\n",
            "TYPE a gauge\nERROR 2:1: exemplars are not allowed on a",
        ),
        (
            "a 1\nb 1\na 2\n# EOF\n",
            "a 1\nb 1\nERROR 3:1: metric family a appears again after another family",
        ),
        (
            "# TYPE a histogram\na_bucket{le=\"1\"} 1\n# EOF\n",
            "TYPE a histogram\na_bucket{le=\"1\"} 1\nERROR 3:1: histogram a has no +Inf bucket",
        ),
        (
            "# TYPE a gauge\na 1 2\na 1 1\n# EOF\n",
            "TYPE a gauge\na 1 @2000\nERROR 3:1: timestamp 1 goes backwards from 2",
        ),
        (
            "# TYPE a_s gauge\n# UNIT a_s bytes\n# EOF\n",
            "TYPE a_s gauge\nERROR 2:1: metric name a_s does not end in its unit _bytes",
        ),
    ];
    for (input, want) in cases {
        om_strict(input, want);
    }
    // The lenient parser accepts what only the strict rules forbid.
    om(
        "# TYPE a counter\na_total -1\n# EOF\n",
        "TYPE a counter\na_total -1\nEOF",
    );
}
