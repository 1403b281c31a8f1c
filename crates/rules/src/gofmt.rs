//! Go's `fmt` and `time` formatting, as far as templates and the rules API
//! need it: `%v`/`%g`/`%e`/`%f` of floats (Go picks the exponent form by
//! rules Rust's `Display` does not follow), `printf` verbs with flags, width
//! and precision, and Go's `Time.String()` and RFC 3339 forms.

use crate::template::Value;

/// A float's decimal digits (no trailing zeros) and the decimal point's
/// position: `digits = "125", dp = 1` is 1.25. Zero has no digits.
struct Digits {
    neg: bool,
    digits: Vec<u8>,
    dp: i32,
}

/// Rounds `|v|` to `sig` significant digits (`None`: shortest round-trip).
fn digits(v: f64, sig: Option<usize>) -> Digits {
    let neg = v.is_sign_negative();
    let a = v.abs();
    if a == 0.0 {
        return Digits {
            neg,
            digits: Vec::new(),
            dp: 0,
        };
    }
    let s = match sig {
        None => format!("{a:e}"),
        Some(p) => format!("{:.*e}", p.max(1) - 1, a),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    Digits {
        neg,
        digits,
        dp: exp + 1,
    }
}

fn fmt_e(d: &Digits, prec: usize, upper: bool) -> String {
    let mut out = String::new();
    out.push(d.digits.first().map_or('0', |c| *c as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.digits.get(i).map_or('0', |c| *c as char));
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if d.digits.is_empty() { 0 } else { d.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.unsigned_abs()));
    out
}

fn fmt_f(d: &Digits, prec: usize) -> String {
    let mut out = String::new();
    let digit = |j: i32| -> char {
        if j >= 0 {
            d.digits.get(j as usize).map_or('0', |c| *c as char)
        } else {
            '0'
        }
    };
    if d.dp > 0 {
        for j in 0..d.dp {
            out.push(digit(j));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i32 {
            out.push(digit(d.dp + i));
        }
    }
    out
}

fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        Some("NaN".into())
    } else if v.is_infinite() {
        Some(if v > 0.0 { "+Inf" } else { "-Inf" }.into())
    } else {
        None
    }
}

fn signed(d: &Digits, body: String) -> String {
    if d.neg { format!("-{body}") } else { body }
}

/// Go's `%g` (`prec: None` is `%v`, the shortest form).
pub fn format_g(v: f64, prec: Option<usize>) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let d = digits(v, prec.map(|p| p.max(1)));
    let nd = d.digits.len() as i32;
    let shortest = prec.is_none();
    let mut p = prec.map_or(nd, |p| p.max(1) as i32);
    let mut eprec = p;
    if eprec > nd && nd >= d.dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = d.dp - 1;
    let body = if nd > 0 && (exp < -4 || exp >= eprec) {
        if p > nd {
            p = nd;
        }
        fmt_e(&d, (p - 1).max(0) as usize, false)
    } else {
        if p > d.dp {
            p = nd;
        }
        fmt_f(&d, (p - d.dp).max(0) as usize)
    };
    signed(&d, body)
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest digits, exponent
/// form (`1e+00`, `2.5e-01`), as the alerts API prints values.
pub fn format_e_shortest(v: f64) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let d = digits(v, None);
    let prec = d.digits.len().saturating_sub(1);
    signed(&d, fmt_e(&d, prec, false))
}

/// Go's `%e` with a precision (default 6).
pub fn format_e(v: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let d = digits(v, Some(prec + 1));
    signed(&d, fmt_e(&d, prec, upper))
}

/// Go's `%f` with a precision (default 6).
pub fn format_f(v: f64, prec: usize) -> String {
    if let Some(s) = special(v) {
        return s;
    }
    let s = format!("{:.*}", prec, v.abs());
    if v.is_sign_negative() {
        format!("-{s}")
    } else {
        s
    }
}

/// The widest field and longest precision `printf` honours; Go has no
/// limit, but a template must not be able to allocate gigabytes.
pub const PRINTF_WIDTH_MAX: usize = 1024;

/// One parsed `%` directive.
#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, spec: &Spec, numeric: bool) -> String {
    let Some(w) = spec.width else { return s };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if spec.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, rest) = match s.strip_prefix(['-', '+']) {
            Some(r) => (&s[..1], r),
            None => ("", s.as_str()),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// How Go prints a value whose type does not suit the verb.
fn bad_verb(verb: char, v: &Value) -> String {
    format!("%!{verb}({}={})", v.go_type(), v.to_string_go())
}

fn format_float_verb(verb: char, spec: &Spec, f: f64) -> String {
    let s = match verb {
        'f' | 'F' => format_f(f, spec.prec.unwrap_or(6)),
        'e' | 'E' => format_e(f, spec.prec.unwrap_or(6), verb == 'E'),
        'v' => format_g(f, None),
        _ => format_g(f, spec.prec),
    };
    let s = if spec.plus && !s.starts_with(['-', '+']) && !f.is_nan() {
        format!("+{s}")
    } else if spec.space && !s.starts_with(['-', '+']) {
        format!(" {s}")
    } else {
        s
    };
    pad(s, spec, true)
}

fn format_one(verb: char, spec: &Spec, v: &Value) -> String {
    match (verb, v) {
        ('v' | 'f' | 'F' | 'e' | 'E' | 'g' | 'G', Value::Float(f)) => {
            format_float_verb(verb, spec, *f)
        }
        ('v' | 'd', Value::Int(i)) => {
            let s = match (*i >= 0, spec.plus, spec.space) {
                (true, true, _) => format!("+{i}"),
                (true, false, true) => format!(" {i}"),
                _ => i.to_string(),
            };
            pad(s, spec, true)
        }
        ('x', Value::Int(i)) => pad(format!("{i:x}"), spec, true),
        ('X', Value::Int(i)) => pad(format!("{i:X}"), spec, true),
        ('X', Value::Str(s)) => pad(s.bytes().map(|b| format!("{b:02X}")).collect(), spec, false),
        ('x', Value::Str(s)) => pad(s.bytes().map(|b| format!("{b:02x}")).collect(), spec, false),
        ('q', Value::Str(s)) => pad(format!("{s:?}"), spec, false),
        ('s', Value::Str(s)) => {
            let s = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            };
            pad(s, spec, false)
        }
        ('v' | 't', Value::Bool(b)) => pad(b.to_string(), spec, false),
        (
            'v' | 's',
            Value::Nil | Value::Map(_) | Value::StrMap(_) | Value::List(_) | Value::Record(_),
        ) => pad(v.to_string_go(), spec, false),
        ('v', Value::Str(s)) => pad(s.clone(), spec, false),
        _ => bad_verb(verb, v),
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next_arg = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                let next = n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize);
                n = Some(next.min(PRINTF_WIDTH_MAX));
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.prec = Some(number(&mut chars).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next_arg) {
            Some(v) => out.push_str(&format_one(verb, &spec, v)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next_arg += 1;
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|v| format!("{}={}", v.go_type(), v.to_string_go()))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

/// Go's `Time.String()` in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn go_time_string(unix_nanos: i128) -> String {
    let (date, frac) = utc_parts(unix_nanos, ' ');
    format!("{date}{frac} +0000 UTC")
}

/// RFC 3339 with Go's `RFC3339Nano` trimming, in UTC, as Go's JSON encoder
/// prints a `time.Time`: `2006-01-02T15:04:05.5Z`.
pub fn rfc3339_ms(ms: i64) -> String {
    let (date, frac) = utc_parts(i128::from(ms) * 1_000_000, 'T');
    format!("{date}{frac}Z")
}

/// The date and time to seconds, and the trimmed fraction (`.5` or empty).
fn utc_parts(unix_nanos: i128, sep: char) -> (String, String) {
    let ts = jiff::Timestamp::from_nanosecond(unix_nanos).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let date = format!(
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    let frac = if nanos == 0 {
        String::new()
    } else {
        let s = format!(".{nanos:09}");
        s.trim_end_matches('0').to_owned()
    };
    (date, frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        for (v, p, want) in [
            (1.0, None, "1"),
            (1e6, None, "1e+06"),
            (123456.0, None, "123456"),
            (1234567.0, None, "1.234567e+06"),
            (0.0001, None, "0.0001"),
            (0.00001, None, "1e-05"),
            (0.0, None, "0"),
            (-2.5, None, "-2.5"),
            (1.5, Some(4), "1.5"),
            (100.0, Some(4), "100"),
            (1234567.0, Some(4), "1.235e+06"),
            (0.0, Some(4), "0"),
            (12345.678, Some(4), "1.235e+04"),
            (f64::INFINITY, Some(4), "+Inf"),
            (f64::NAN, None, "NaN"),
        ] {
            assert_eq!(format_g(v, p), want, "{v} {p:?}");
        }
    }

    #[test]
    fn printf_verbs() {
        let f = Value::Float(1.23456);
        assert_eq!(sprintf("%.2f", std::slice::from_ref(&f)), "1.23");
        assert_eq!(sprintf("%f", std::slice::from_ref(&f)), "1.234560");
        assert_eq!(
            sprintf("%v|%s", &[Value::Int(3), Value::Str("x".into())]),
            "3|x"
        );
        assert_eq!(
            sprintf("%d", std::slice::from_ref(&f)),
            "%!d(float64=1.23456)"
        );
        assert_eq!(
            sprintf("%5d|%-3s|", &[Value::Int(42), Value::Str("a".into())]),
            "   42|a  |"
        );
        assert_eq!(sprintf("%d%%", &[Value::Int(5)]), "5%");
        assert_eq!(sprintf("%s", &[]), "%!s(MISSING)");
        assert_eq!(sprintf("%e", &[Value::Float(1234.5)]), "1.234500e+03");
    }

    #[test]
    fn times_like_go() {
        assert_eq!(
            go_time_string(1_700_000_000_000_000_000),
            "2023-11-14 22:13:20 +0000 UTC"
        );
        assert_eq!(rfc3339_ms(1_700_000_000_500), "2023-11-14T22:13:20.5Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_e_shortest(1.0), "1e+00");
        assert_eq!(format_e_shortest(0.25), "2.5e-01");
        assert_eq!(format_e_shortest(-1234.5), "-1.2345e+03");
    }
}
