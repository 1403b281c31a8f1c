//! Template functions: Go's built-ins and Prometheus's template functions
//! (`query`, `humanize*`, `reReplaceAll`, ...), with Go's argument rules.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::Value;
use super::exec::Ctx;
use crate::gofmt::{format_g, go_time_string, sprintf};

type R<T> = std::result::Result<T, String>;

const FUNCS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "print",
    "printf",
    "println",
    "urlquery",
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "stripPort",
    "stripDomain",
];

/// Whether `name` is a function templates may call.
pub(super) fn exists(name: &str) -> bool {
    FUNCS.contains(&name)
}

fn want(name: &str, args: &[Value], n: usize) -> R<()> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn string(v: &Value) -> R<String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            other.go_type()
        )),
    }
}

/// Prometheus's `convertToFloat`: numbers, and strings that parse.
fn float(v: &Value) -> R<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Str(s) => parse_go_float(s)
            .ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")),
        other => Err(format!("can't convert {} to float", other.go_type())),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().trim_start_matches('+') {
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    s.parse().ok()
}

fn sample_of(v: &Value) -> R<(&BTreeMap<String, String>, f64)> {
    if let Value::Record(r) = v
        && let [(_, Value::StrMap(labels)), (_, Value::Float(f))] = r.as_slice()
    {
        return Ok((labels, *f));
    }
    Err(format!(
        "wrong type for value; expected *template.sample; got {}",
        v.go_type()
    ))
}

/// Go's `basicKind` comparison: numbers of one kind, strings, bools (eq only).
fn compare(a: &Value, b: &Value) -> R<Option<Ordering>> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.partial_cmp(y)),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y)),
        (Value::Str(x), Value::Str(y)) => Ok(x.partial_cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.partial_cmp(y)),
        (Value::Nil, Value::Nil) => Ok(Some(Ordering::Equal)),
        _ => Err("incompatible types for comparison".into()),
    }
}

fn ordered(name: &str, args: &[Value]) -> R<Value> {
    want(name, args, 2)?;
    if matches!(args[0], Value::Bool(_)) {
        return Err("invalid type for comparison".into());
    }
    let ord = compare(&args[0], &args[1])?;
    let r = match name {
        "lt" => ord == Some(Ordering::Less),
        "le" => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        "gt" => ord == Some(Ordering::Greater),
        _ => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
    };
    Ok(Value::Bool(r))
}

fn eq(args: &[Value]) -> R<bool> {
    if args.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    for b in &args[1..] {
        if compare(&args[0], b)? == Some(Ordering::Equal) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&a.to_string_go());
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's deprecated `strings.Title`: upper-cases letters that start words.
fn title(s: &str) -> String {
    let mut prev_sep = true;
    s.chars()
        .map(|c| {
            let out = if prev_sep {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c
            };
            prev_sep = !(c.is_alphanumeric() || c == '_');
            out
        })
        .collect()
}

fn scaled(mut v: f64, base: f64, prefixes: &[&str], up: bool) -> String {
    let mut prefix = "";
    for p in prefixes {
        if (up && v.abs() < base) || (!up && v.abs() >= 1.0) {
            break;
        }
        prefix = p;
        if up {
            v /= base;
        } else {
            v *= base;
        }
    }
    format!("{}{prefix}", format_g(v, Some(4)))
}

const SMALL: &[&str] = &["m", "u", "n", "p", "f", "a", "z", "y"];

fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g(v, Some(4));
    }
    if v.abs() >= 1.0 {
        return scaled(v, 1000.0, &["k", "M", "G", "T", "P", "E", "Z", "Y"], true);
    }
    scaled(v, 1000.0, SMALL, false)
}

fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return format_g(v, Some(4));
    }
    if v == 0.0 {
        return format!("{}s", format_g(v, Some(4)));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        let a = v.abs();
        // Go's float-to-int64 conversion on amd64 turns anything out of
        // range into the minimum integer; Prometheus prints what follows.
        let secs = if a < 9.223_372_036_854_775e18 {
            a as i64
        } else {
            i64::MIN
        };
        let (d, h, m, s) = (
            secs / 86_400,
            (secs / 3_600) % 24,
            (secs / 60) % 60,
            secs % 60,
        );
        return if d != 0 {
            format!("{sign}{d}d {h}h {m}m {s}s")
        } else if h != 0 {
            format!("{sign}{h}h {m}m {s}s")
        } else if m != 0 {
            format!("{sign}{m}m {s}s")
        } else {
            format!("{sign}{}s", format_g(a, Some(4)))
        };
    }
    format!("{}s", scaled(v, 1000.0, SMALL, false))
}

fn run_query(ctx: &Ctx<'_>, q: &str) -> R<Value> {
    let Some(query) = ctx.query else {
        return Err("query is not available here".into());
    };
    let samples = query(q)?;
    let list = samples
        .into_iter()
        .map(|s| {
            Value::Record(Arc::new(vec![
                ("Labels", Value::StrMap(Arc::new(s.labels))),
                ("Value", Value::Float(s.value)),
            ]))
        })
        .collect();
    Ok(Value::List(Arc::new(list)))
}

fn regex(p: &str) -> R<regex::Regex> {
    regex::Regex::new(p).map_err(|e| format!("regexp: Compile({p:?}): {e}"))
}

fn index(args: &[Value]) -> R<Value> {
    let mut v = args
        .first()
        .cloned()
        .ok_or("wrong number of args for index")?;
    for k in &args[1..] {
        v = match (&v, k) {
            (Value::StrMap(m), Value::Str(k)) => Value::Str(m.get(k).cloned().unwrap_or_default()),
            (Value::Map(m), Value::Str(k)) => m.get(k).cloned().unwrap_or(Value::Nil),
            (Value::List(l), Value::Int(i)) => l
                .get(usize::try_from(*i).map_err(|_| format!("index out of range: {i}"))?)
                .cloned()
                .ok_or_else(|| format!("index out of range: {i}"))?,
            _ => return Err(format!("can't index item of type {}", v.go_type())),
        };
    }
    Ok(v)
}

/// Calls `name`; errors read like Go's `error calling name: ...`.
pub(super) fn call(name: &str, args: Vec<Value>, ctx: &Ctx<'_>) -> R<Value> {
    call_inner(name, &args, ctx).map_err(|e| format!("error calling {name}: {e}"))
}

fn call_inner(name: &str, a: &[Value], ctx: &Ctx<'_>) -> R<Value> {
    Ok(match name {
        "and" => a
            .iter()
            .find(|v| !v.truthy())
            .or(a.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "or" => a
            .iter()
            .find(|v| v.truthy())
            .or(a.last())
            .cloned()
            .unwrap_or(Value::Nil),
        "not" => {
            want(name, a, 1)?;
            Value::Bool(!a[0].truthy())
        }
        "eq" => Value::Bool(eq(a)?),
        "ne" => {
            want(name, a, 2)?;
            Value::Bool(!eq(a)?)
        }
        "lt" | "le" | "gt" | "ge" => ordered(name, a)?,
        "len" => {
            want(name, a, 1)?;
            Value::Int(match &a[0] {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                Value::StrMap(m) => m.len(),
                other => return Err(format!("len of type {}", other.go_type())),
            } as i64)
        }
        "index" => index(a)?,
        "print" => Value::Str(sprint(a)),
        "println" => {
            let parts: Vec<String> = a.iter().map(Value::to_string_go).collect();
            Value::Str(format!("{}\n", parts.join(" ")))
        }
        "printf" => {
            let fmt = a
                .first()
                .map(string)
                .transpose()?
                .ok_or("wrong number of args for printf")?;
            Value::Str(sprintf(&fmt, &a[1..]))
        }
        "urlquery" => Value::Str(query_escape(&sprint(a))),
        _ => return prometheus_func(name, a, ctx),
    })
}

fn prometheus_func(name: &str, a: &[Value], ctx: &Ctx<'_>) -> R<Value> {
    let arity = match name {
        "pathPrefix" | "externalURL" => 0,
        "reReplaceAll" => 3,
        "label" | "match" | "sortByLabel" => 2,
        "args" => a.len(),
        _ => 1,
    };
    want(name, a, arity)?;
    let s = |i: usize| string(&a[i]);
    let f = |i: usize| float(&a[i]);
    Ok(match name {
        "query" => run_query(ctx, &s(0)?)?,
        "first" => match &a[0] {
            Value::List(l) => l
                .first()
                .cloned()
                .ok_or("first() called on vector with no elements")?,
            other => {
                return Err(format!(
                    "wrong type for value; expected template.queryResult; got {}",
                    other.go_type()
                ));
            }
        },
        "label" => Value::Str(sample_of(&a[1])?.0.get(&s(0)?).cloned().unwrap_or_default()),
        "value" => Value::Float(sample_of(&a[0])?.1),
        "strvalue" => Value::Str(
            sample_of(&a[0])?
                .0
                .get("__value__")
                .cloned()
                .unwrap_or_default(),
        ),
        "args" => Value::Map(Arc::new(
            a.iter()
                .enumerate()
                .map(|(i, v)| (format!("arg{i}"), v.clone()))
                .collect(),
        )),
        "reReplaceAll" => Value::Str(
            regex(&s(0)?)?
                .replace_all(&s(2)?, s(1)?.as_str())
                .into_owned(),
        ),
        "match" => Value::Bool(regex(&s(0)?)?.is_match(&s(1)?)),
        "safeHtml" => Value::Str(s(0)?),
        "title" => Value::Str(title(&s(0)?)),
        "toUpper" => Value::Str(s(0)?.to_uppercase()),
        "toLower" => Value::Str(s(0)?.to_lowercase()),
        "graphLink" => Value::Str(format!("/graph?g0.expr={}&g0.tab=0", query_escape(&s(0)?))),
        "tableLink" => Value::Str(format!("/graph?g0.expr={}&g0.tab=1", query_escape(&s(0)?))),
        "sortByLabel" => sort_by_label(&s(0)?, &a[1])?,
        "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage"
        | "humanizeTimestamp" | "toTime" => Value::Str(number_func(name, f(0)?)),
        "pathPrefix" => Value::Str(url_path(ctx.external_url).to_owned()),
        "externalURL" => Value::Str(ctx.external_url.to_owned()),
        "parseDuration" => {
            let d = beacon_model::parse_duration_ms(&s(0)?).map_err(|e| e.to_string())?;
            Value::Float(d as f64 / 1000.0)
        }
        "stripPort" => Value::Str(strip_port(&s(0)?)),
        _ => {
            let host = s(0)?;
            Value::Str(strip_domain(&host))
        }
    })
}

/// The `humanize*` family and `toTime`: a number made readable.
fn number_func(name: &str, v: f64) -> String {
    match name {
        "humanize" => humanize(v),
        "humanize1024" if v.abs() <= 1.0 || !v.is_finite() => format_g(v, Some(4)),
        "humanize1024" => scaled(
            v,
            1024.0,
            &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
            true,
        ),
        "humanizeDuration" => humanize_duration(v),
        "humanizePercentage" => format!("{}%", format_g(v * 100.0, Some(4))),
        _ if v.is_finite() => go_time_string((v * 1e9) as i128),
        _ => format_g(v, Some(4)),
    }
}

fn sort_by_label(label: &str, v: &Value) -> R<Value> {
    let Value::List(l) = v else {
        return Err(format!(
            "wrong type for value; expected template.queryResult; got {}",
            v.go_type()
        ));
    };
    let mut items: Vec<Value> = l.as_ref().clone();
    let key = |x: &Value| {
        sample_of(x)
            .map(|(m, _)| m.get(label).cloned().unwrap_or_default())
            .unwrap_or_default()
    };
    items.sort_by_key(key);
    Ok(Value::List(Arc::new(items)))
}

/// The path of a URL (`http://host:9090/prom` → `/prom`).
fn url_path(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    after_scheme.find('/').map_or("", |i| &after_scheme[i..])
}

fn strip_port(hostport: &str) -> String {
    if let Some(rest) = hostport.strip_prefix('[')
        && let Some(end) = rest.find(']')
    {
        return rest[..end].to_owned();
    }
    match hostport.rsplit_once(':') {
        Some((h, _)) if !h.contains(':') => h.to_owned(),
        _ => hostport.to_owned(),
    }
}

fn strip_domain(hostport: &str) -> String {
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (hostport, None),
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hostport.to_owned();
    }
    let short = host.split('.').next().unwrap_or(host);
    match port {
        Some(p) => format!("{short}:{p}"),
        None => short.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_like_prometheus() {
        for (v, want) in [
            (0.0, "0"),
            (1234567.0, "1.235M"),
            (0.0012, "1.2m"),
            (999.0, "999"),
            (1000.0, "1k"),
            (-12345.0, "-12.35k"),
        ] {
            assert_eq!(humanize(v), want, "{v}");
        }
        for (v, want) in [
            (0.0, "0s"),
            (1.5, "1.5s"),
            (61.0, "1m 1s"),
            (3601.0, "1h 0m 1s"),
            (90061.0, "1d 1h 1m 1s"),
            (0.0012, "1.2ms"),
            (-75.0, "-1m 15s"),
        ] {
            assert_eq!(humanize_duration(v), want, "{v}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(title("hello wORLD-x"), "Hello WORLD-X");
        assert_eq!(strip_port("host:9100"), "host");
        assert_eq!(strip_port("[::1]:9100"), "::1");
        assert_eq!(strip_domain("node1.example.com:9100"), "node1:9100");
        assert_eq!(url_path("http://x:9090/prom"), "/prom");
        assert_eq!(query_escape("a b&c"), "a+b%26c");
    }
}
