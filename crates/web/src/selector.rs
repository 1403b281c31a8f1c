//! Series selectors for `match[]` parameters: `name{label op "value", ...}`.
//!
//! Prometheus parses these with its PromQL parser and accepts only a plain
//! vector selector; so do we, through `beacon_promql::parse`, so the
//! syntax, escapes and error texts (`1:4: parse error: ...`) are PromQL's.

use beacon_model::Matcher;
use beacon_promql::Expr;

/// Longest selector accepted, so a request cannot make us allocate
/// without bound while parsing.
pub const SELECTOR_BYTES_MAX: usize = 64 << 10;

/// Parses one series selector into its matchers.
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, String> {
    if input.len() > SELECTOR_BYTES_MAX {
        return Err(format!(
            "selector is {} bytes long, more than the limit of {SELECTOR_BYTES_MAX}",
            input.len()
        ));
    }
    match beacon_promql::parse(input).map_err(|e| e.to_string())? {
        Expr::Vector(v) if v.offset.is_none() && v.at.is_none() && !v.smoothed && !v.anchored => {
            Ok(v.matchers)
        }
        _ => Err(format!(
            "1:1: parse error: unexpected input: {input:?} is not a series selector"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, want: Result<&str, &str>) {
        let got = parse_selector(input).map(|ms| {
            ms.iter()
                .map(|m| format!("{}{}{:?}", m.name, m.kind.as_str(), m.value))
                .collect::<Vec<_>>()
                .join(",")
        });
        match want {
            Ok(w) => assert_eq!(got.as_deref(), Ok(w), "{input}"),
            Err(w) => {
                let e = got.expect_err(input);
                assert!(e.contains(w), "{input}: {e}");
            }
        }
    }

    #[test]
    fn selectors() {
        check("up", Ok(r#"__name__="up""#));
        check(
            r#"up{job="a",i!~'b.*'}"#,
            Ok(r#"__name__="up",job="a",i!~"b.*""#),
        );
        check(r#"{job=~".+",}"#, Ok(r#"job=~".+""#));
        check(
            r#"{"my.metric", a="\x41\n"}"#,
            Ok(r#"__name__="my.metric",a="A\n""#),
        );
        check("{a=`x\\y`}", Ok(r#"a="x\\y""#));
        check(r#"{job=""}"#, Err("at least one non-empty matcher"));
        check("up{", Err("1:4: parse error: unexpected end of input"));
        check(r#"{a="b"#, Err("unterminated quoted string"));
        check("", Err("unexpected end of input"));
        check("up +", Err("parse error"));
        check("rate(up[5m])", Err("not a series selector"));
        check("up offset 5m", Err("not a series selector"));
        check(r#"{a=~"("}"#, Err("parse error"));
        check(r#"{a="\q"}"#, Err("parse error"));
    }
}
