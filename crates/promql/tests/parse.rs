//! Parser and printer tests: canonical printing of parsed queries, error
//! messages with positions, and the nesting limit.

use beacon_promql::{format_query, parse};

/// Parses `input` and checks its canonical form.
fn check(input: &str, expected: &str) {
    match format_query(input) {
        Ok(out) => assert_eq!(out, expected, "formatting {input:?}"),
        Err(e) => panic!("{input:?} failed to parse: {e}"),
    }
}

/// Checks that `input` fails with exactly `expected`.
fn check_err(input: &str, expected: &str) {
    match parse(input) {
        Ok(e) => panic!("{input:?} parsed as {e}, expected error {expected:?}"),
        Err(e) => assert_eq!(e.to_string(), expected, "error for {input:?}"),
    }
}

#[test]
fn literals() {
    check("1", "1");
    check("0x1F", "31");
    check("1_000", "1000");
    check("1e3", "1000");
    check(".5", "0.5");
    check("-Inf", "-Inf");
    check("nan", "NaN");
    check("5m", "300");
    check(r#""a\"b""#, r#""a\"b""#);
    check("'single'", r#""single""#);
    check("`raw\\n`", r#""raw\\n""#);
    // Byte escapes form UTF-8 when they can; invalid bytes print back as is.
    check(r#""\xc3\xa9""#, "\"\u{e9}\"");
    check(r#""a\xc5z""#, r#""a\xc5z""#);
    check(r#""\101""#, r#""A""#);
}

#[test]
fn selectors() {
    check("up", "up");
    check(
        r#"up{job="a",instance!~"b.*"}"#,
        r#"up{job="a", instance!~"b.*"}"#,
    );
    check(r#"{"my.metric"}"#, r#"{"my.metric"}"#);
    check(r#"{__name__="up"}"#, r#"{__name__="up"}"#);
    check("foo[5m]", "foo[5m]");
    check("foo[5m] offset 1h", "foo[5m] offset 1h");
    check("foo @ 100", "foo @ 100.000");
    check("foo @ start() offset -5m", "foo @ start() offset -5m");
    check("rate(foo[5m:1m])", "rate(foo[5m:1m])");
    check("foo[1h:]", "foo[1h:]");
    check("foo[5m*2]", "foo[5m * 2]");
    check("foo offset (1h+5m)", "foo offset (1h + 5m)");
    check("foo[step()]", "foo[step()]");
    check("foo[1m] anchored", "foo[1m] anchored");
    check("foo smoothed", "foo smoothed");
}

#[test]
fn operators_and_precedence() {
    check("1 + 2 * 3", "1 + 2 * 3");
    check("-2 ^ 2", "-2 ^ 2");
    check("2 ^ 3 ^ 2", "2 ^ 3 ^ 2");
    check("a + on(b) group_left(c) d", "a + on (b) group_left (c) d");
    check("a > bool b", "a > bool b");
    check("a and ignoring(x) b or c", "a and ignoring (x) b or c");
    check("a + fill(0) b", "a + fill (0) b");
    check("h </ 2", "h </ 2");
}

#[test]
fn aggregations_and_calls() {
    check("sum by (job) (rate(x[5m]))", "sum by (job) (rate(x[5m]))");
    check("sum(x) without (a)", "sum without (a) (x)");
    check("topk(5, x)", "topk(5, x)");
    check(r#"count_values("v", x)"#, r#"count_values("v", x)"#);
    check(
        r#"label_replace(x, "a", "$1", "b", "(.*)")"#,
        r#"label_replace(x, "a", "$1", "b", "(.*)")"#,
    );
    check("info(x, {data=~\".*\"})", "info(x, {data=~\".*\"})");
    check(
        "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
        "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
    );
}

#[test]
fn errors_have_positions() {
    check_err(
        "foo{",
        "1:5: parse error: unexpected end of input in label matching, expected label",
    );
    check_err(
        "rate(foo)",
        "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
    );
    check_err(
        "nosuch(1)",
        "1:1: parse error: unknown function with name \"nosuch\"",
    );
    check_err(
        "{}",
        "1:1: parse error: vector selector must contain at least one non-empty matcher",
    );
    check_err(
        "1 > 2",
        "1:1: parse error: comparisons between scalars must use BOOL modifier",
    );
    check_err(
        "1 and 2",
        "1:1: parse error: set operator \"and\" not allowed in binary scalar expression",
    );
    check_err("foo\n  + )", "2:5: parse error: unexpected \")\"");
    check_err(
        "1 offset 5m",
        "1:3: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
    );
    check_err(
        "\"unterminated",
        "1:1: parse error: unterminated quoted string",
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    let err = parse(&deep).unwrap_err();
    assert!(err.msg.contains("nested too deeply"), "{err}");
    let unary = format!("{}1", "-".repeat(100_000));
    assert!(parse(&unary).is_err());
    let ok = format!("{}1{}", "(".repeat(50), ")".repeat(50));
    assert!(parse(&ok).is_ok());
}

#[test]
fn selectors_are_extracted_in_order() {
    let e = parse(r#"sum(rate(a{x="1"}[5m])) / on() b + scalar(c offset 1m)"#).unwrap();
    let sets: Vec<String> = e
        .selectors()
        .iter()
        .map(|s| {
            s.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(
        sets,
        [
            r#"__name__="a",x="1""#,
            r#"__name__="b""#,
            r#"__name__="c""#
        ]
    );
}
