//! The series notation of test scripts: `metric{label="v"} <items…>` lines
//! in `load` blocks and eval bodies, the value items (`1`, `0+10x3`,
//! `-2-0.5x2`, `_`, `_x2`, `stale`, `{{…}}`, `{{A}}+{{B}}xK`), native
//! histogram literals and the `@st` start-timestamp lines.
//!
//! It is a small grammar, parsed by hand so that every error carries the
//! column it happened at. Two details follow upstream's series lexer
//! rather than PromQL number syntax: a bare `0x5` is "0 repeated", not hex
//! (hex is refused in series descriptions because it would be ambiguous),
//! and `A+BxK` builds its values by repeated addition so that inputs are
//! bit-identical to upstream's.

use beacon_model::{
    CounterResetHint, FloatHistogram, Labels, Span, histogram::CUSTOM_BUCKETS_SCHEMA,
    parse_duration_ms, stale_nan,
};

use crate::histogram::combine;

/// The most step slots one line may expand to; far beyond any real script,
/// low enough that a typo such as `1x99999999999` cannot exhaust memory.
pub const SLOTS_PER_LINE_MAX: u64 = 1_000_000;

/// One step slot of a series.
#[derive(Debug, Clone)]
pub enum Slot {
    /// No sample at this step (`_`).
    Empty,
    /// A float sample; the staleness marker is a float too.
    Float(f64),
    /// A native histogram sample.
    Histogram(Box<HistogramValue>),
}

/// A histogram literal's value, remembering whether it spelled out its
/// counter-reset hint (results compare the hint only then).
#[derive(Debug, Clone)]
pub struct HistogramValue {
    pub h: FloatHistogram,
    pub hint_set: bool,
}

/// A parsed series line.
#[derive(Debug, Clone)]
pub struct SeriesLine {
    pub labels: Labels,
    pub slots: Vec<Slot>,
}

/// A syntax error inside one line, at a 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub col: usize,
    pub msg: String,
}

fn err<T>(col: usize, msg: impl Into<String>) -> Result<T, LineError> {
    Err(LineError {
        col: col + 1,
        msg: msg.into(),
    })
}

/// A cursor over one line. Positions are byte offsets; errors convert them
/// to 1-based columns.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            let ok = b.is_ascii_alphabetic()
                || b == b'_'
                || b == b':'
                || (self.pos > start && b.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    /// A Go-style quoted string: `"…"` or `'…'` with escapes, or a raw
    /// backtick string.
    fn quoted(&mut self) -> Result<String, LineError> {
        let start = self.pos;
        let Some(q) = self.peek().filter(|b| matches!(b, b'"' | b'\'' | b'`')) else {
            return err(start, "expected a quoted string");
        };
        self.pos += 1;
        let body_start = self.pos;
        loop {
            match self.peek() {
                None => return err(start, "unterminated string"),
                Some(b'\\') if q != b'`' => self.pos += 2,
                Some(b) if b == q => break,
                Some(_) => self.pos += 1,
            }
        }
        let body = self.s.get(body_start..self.pos).unwrap_or("");
        self.pos += 1;
        if q == b'`' {
            return Ok(body.to_owned());
        }
        unescape(body).map_err(|msg| LineError {
            col: start + 1,
            msg,
        })
    }
}

/// Resolves Go string escapes (`\n`, `\"`, `\xNN`, `\uNNNN`, octal, …).
pub fn unescape(body: &str) -> Result<String, String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or("string ends inside an escape")?;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '"' | '\'' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (digits, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return Err(format!("unknown escape sequence \\{e}")),
        };
        let mut code = String::new();
        if radix == 8 {
            code.push(e);
        }
        for _ in 0..digits {
            code.push(chars.next().ok_or("string ends inside an escape")?);
        }
        let n = u32::from_str_radix(&code, radix).map_err(|_| format!("bad escape \\{e}{code}"))?;
        out.push(
            char::from_u32(n).ok_or_else(|| format!("escape \\{e}{code} is not a character"))?,
        );
    }
    Ok(out)
}

/// Parses the metric at the start of `line`: `name`, `name{l="v",…}`,
/// `{__name__="name",…}` or `{"utf8.name", "l"="v"}`. Returns the labels
/// and the byte offset just after the metric.
pub fn parse_metric(line: &str) -> Result<(Labels, usize), LineError> {
    let mut c = Cursor { s: line, pos: 0 };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(name) = c.ident() {
        pairs.push(("__name__".into(), name.into()));
    }
    if c.eat(b'{') {
        parse_label_list(&mut c, &mut pairs)?;
    } else if pairs.is_empty() {
        return err(0, "expected a metric name or '{'");
    }
    let mut seen: Vec<&str> = Vec::new();
    for (n, _) in &pairs {
        if seen.contains(&n.as_str()) {
            return err(0, format!("label {n:?} appears twice"));
        }
        seen.push(n);
    }
    Ok((Labels::from_pairs(pairs), c.pos))
}

fn parse_label_list(
    c: &mut Cursor<'_>,
    pairs: &mut Vec<(String, String)>,
) -> Result<(), LineError> {
    loop {
        c.skip_ws();
        if c.eat(b'}') {
            return Ok(());
        }
        let at = c.pos;
        let name = match c.peek() {
            Some(b'"' | b'\'' | b'`') => c.quoted()?,
            _ => match c.ident() {
                Some(n) => n.to_owned(),
                None => return err(at, "expected a label name or '}'"),
            },
        };
        c.skip_ws();
        if c.eat(b'=') {
            if c.peek() == Some(b'~') || c.peek() == Some(b'=') {
                return err(c.pos, "only '=' may be used in a series description");
            }
            c.skip_ws();
            let value = c.quoted()?;
            pairs.push((name, value));
        } else if matches!(c.s.as_bytes()[at], b'"' | b'\'' | b'`') {
            // A lone quoted string is the metric name.
            if pairs.iter().any(|(n, _)| n == "__name__") {
                return err(at, "metric name given twice");
            }
            pairs.push(("__name__".into(), name));
        } else {
            return err(c.pos, format!("expected '=' after label name {name:?}"));
        }
        c.skip_ws();
        if c.eat(b',') {
            continue;
        }
        if c.eat(b'}') {
            return Ok(());
        }
        return err(c.pos, "expected ',' or '}' in label list");
    }
}

/// Parses a whole series line: a metric followed by value items.
pub fn parse_series_line(line: &str) -> Result<SeriesLine, LineError> {
    let (labels, end) = parse_metric(line)?;
    let rest = &line[end..];
    if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return err(end, "expected whitespace after the metric");
    }
    let slots = parse_items(line, end)?;
    Ok(SeriesLine { labels, slots })
}

/// Splits `line[from..]` into whitespace-separated items; a histogram
/// literal's inner spaces do not split.
fn split_items(line: &str, from: usize) -> Result<Vec<(usize, &str)>, LineError> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = from;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            if b[i..].starts_with(b"{{") {
                match line[i..].find("}}") {
                    Some(close) => i += close + 2,
                    None => return err(i, "histogram literal is not closed with '}}'"),
                }
            } else {
                i += 1;
            }
        }
        out.push((start, &line[start..i]));
    }
    Ok(out)
}

fn parse_items(line: &str, from: usize) -> Result<Vec<Slot>, LineError> {
    let mut slots = Vec::new();
    for (at, item) in split_items(line, from)? {
        parse_item(item, at, &mut slots)?;
        if slots.len() as u64 > SLOTS_PER_LINE_MAX {
            return err(
                at,
                format!("series expands to more than {SLOTS_PER_LINE_MAX} values"),
            );
        }
    }
    Ok(slots)
}

/// Parses the repeat count after `x`.
fn parse_times(s: &str, at: usize) -> Result<u64, LineError> {
    let Some(n) = s.strip_prefix('x') else {
        return err(at, format!("expected 'x<count>', found {s:?}"));
    };
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return err(at, format!("bad repeat count {n:?}"));
    }
    match n.parse::<u64>() {
        Ok(k) if k < SLOTS_PER_LINE_MAX => Ok(k),
        _ => err(
            at,
            format!("repeat count {n} is larger than {SLOTS_PER_LINE_MAX}"),
        ),
    }
}

fn parse_item(item: &str, at: usize, out: &mut Vec<Slot>) -> Result<(), LineError> {
    if let Some(rest) = item.strip_prefix('_') {
        let n = if rest.is_empty() {
            1
        } else {
            parse_times(rest, at + 1)?
        };
        out.extend((0..n).map(|_| Slot::Empty));
        return Ok(());
    }
    if item.starts_with("{{") {
        return parse_histogram_item(item, at, out);
    }
    if item == "stale" {
        out.push(Slot::Float(stale_nan()));
        return Ok(());
    }
    let Some((a, used)) = scan_number(item) else {
        return err(at, format!("invalid value {item:?}"));
    };
    let rest = &item[used..];
    if rest.is_empty() {
        out.push(Slot::Float(a));
        return Ok(());
    }
    if rest.starts_with('x') {
        let k = parse_times(rest, at + used)?;
        out.extend((0..=k).map(|_| Slot::Float(a)));
        return Ok(());
    }
    if !rest.starts_with(['+', '-']) {
        return err(at + used, format!("unexpected {rest:?} after a value"));
    }
    let Some((b, used_b)) = scan_number(rest) else {
        return err(at + used, format!("invalid increment in {item:?}"));
    };
    let k = parse_times(&rest[used_b..], at + used + used_b)?;
    // Repeated addition, exactly as upstream expands it.
    let mut v = a;
    for _ in 0..=k {
        out.push(Slot::Float(v));
        v += b;
    }
    Ok(())
}

/// Scans a signed float at the start of `s`: digits with an optional
/// fraction and exponent, or `Inf`/`NaN` in any case. Returns the value and
/// the bytes used. `x` never belongs to a number here (no hex).
pub fn scan_number(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let word = s.get(i..i + 3).map(str::to_ascii_lowercase);
    if matches!(word.as_deref(), Some("inf" | "nan")) {
        let next = b.get(i + 3);
        if next.is_none_or(|c| !c.is_ascii_alphanumeric() || *c == b'x') {
            let v = if word.as_deref() == Some("nan") {
                f64::NAN
            } else if b[0] == b'-' {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
            return Some((v, i + 3));
        }
        return None;
    }
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if i == digits_start || &s[digits_start..i] == "." {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            i = j;
        }
    }
    s[..i].parse::<f64>().ok().map(|v| (v, i))
}

/// Parses a whole token as a float (histogram fields, list entries).
fn number_token(tok: &str, at: usize) -> Result<f64, LineError> {
    match scan_number(tok) {
        Some((v, n)) if n == tok.len() => Ok(v),
        _ => err(at, format!("invalid number {tok:?}")),
    }
}

fn int_token(tok: &str, at: usize) -> Result<i32, LineError> {
    tok.parse::<i32>()
        .or_else(|_| err(at, format!("invalid integer {tok:?}")))
}

fn parse_histogram_item(item: &str, at: usize, out: &mut Vec<Slot>) -> Result<(), LineError> {
    let Some(close) = item.find("}}") else {
        return err(at, "histogram literal is not closed with '}}'");
    };
    let base = parse_histogram_literal(&item[2..close], at + 2)?;
    let rest = &item[close + 2..];
    if rest.is_empty() {
        out.push(Slot::Histogram(Box::new(base)));
        return Ok(());
    }
    let rest_at = at + close + 2;
    if rest.starts_with('x') {
        let k = parse_times(rest, rest_at)?;
        out.extend((0..=k).map(|_| Slot::Histogram(Box::new(base.clone()))));
        return Ok(());
    }
    let sign = match rest.as_bytes()[0] {
        b'+' => 1.0,
        b'-' => -1.0,
        _ => return err(rest_at, format!("unexpected {rest:?} after a histogram")),
    };
    let inc_str = &rest[1..];
    let Some(inc_close) = inc_str.strip_prefix("{{").and_then(|s| s.find("}}")) else {
        return err(
            rest_at + 1,
            "expected a histogram literal after the operator",
        );
    };
    let inc = parse_histogram_literal(&inc_str[2..inc_close + 2], rest_at + 3)?;
    let k = parse_times(&inc_str[inc_close + 4..], rest_at + inc_close + 5)?;
    let mut cur = base;
    for i in 0..=k {
        out.push(Slot::Histogram(Box::new(cur.clone())));
        if i == k {
            break;
        }
        if cur.h.schema > inc.h.schema {
            return err(
                at,
                format!(
                    "cannot step a schema {} histogram by a schema {} one (the increment's schema must not be lower)",
                    cur.h.schema, inc.h.schema
                ),
            );
        }
        let next = combine(&cur.h, &inc.h, sign).map_err(|m| LineError {
            col: at + 1,
            msg: m,
        })?;
        cur = HistogramValue {
            h: next,
            hint_set: cur.hint_set,
        };
    }
    Ok(())
}

/// The fields a literal may set, each at most once.
const HISTOGRAM_KEYS: [&str; 11] = [
    "schema",
    "sum",
    "count",
    "z_bucket",
    "z_bucket_w",
    "buckets",
    "offset",
    "n_buckets",
    "n_offset",
    "custom_values",
    "counter_reset_hint",
];

/// Splits the inside of `{{…}}` into `(key, value, offset)` triples; list
/// values keep their brackets.
fn histogram_fields(body: &str, at: usize) -> Result<Vec<(&str, &str, usize)>, LineError> {
    let b = body.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        while b.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(fields);
        }
        let Some(colon) = body[i..].find(':') else {
            return err(
                at + i,
                format!("expected 'key:value', found {:?}", &body[i..]),
            );
        };
        let key = &body[i..i + colon];
        let vstart = i + colon + 1;
        let vend = if b.get(vstart) == Some(&b'[') {
            match body[vstart..].find(']') {
                Some(e) => vstart + e + 1,
                None => return err(at + vstart, "list is not closed with ']'"),
            }
        } else {
            let len = body[vstart..]
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(body.len() - vstart);
            vstart + len
        };
        fields.push((key, &body[vstart..vend], at + i));
        i = vend;
    }
}

fn float_list(v: &str, at: usize) -> Result<Vec<f64>, LineError> {
    let Some(inner) = v.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return err(at, format!("expected a list '[…]', found {v:?}"));
    };
    inner
        .split_ascii_whitespace()
        .map(|t| number_token(t, at))
        .collect()
}

fn hint_value(v: &str, at: usize) -> Result<CounterResetHint, LineError> {
    Ok(match v {
        "unknown" => CounterResetHint::Unknown,
        "reset" => CounterResetHint::CounterReset,
        "not_reset" => CounterResetHint::NotCounterReset,
        "gauge" => CounterResetHint::Gauge,
        _ => return err(at, format!("unknown counter_reset_hint {v:?}")),
    })
}

fn one_span(offset: i32, n: usize) -> Vec<Span> {
    if n == 0 {
        return Vec::new();
    }
    vec![Span {
        offset,
        length: n as u32,
    }]
}

/// Parses the inside of a `{{…}}` literal; `at` is its byte offset.
pub fn parse_histogram_literal(body: &str, at: usize) -> Result<HistogramValue, LineError> {
    let mut h = FloatHistogram::default();
    let (mut offset, mut n_offset) = (0, 0);
    let mut hint_set = false;
    let mut seen: Vec<&str> = Vec::new();
    for (key, value, kat) in histogram_fields(body, at)? {
        if !HISTOGRAM_KEYS.contains(&key) {
            return err(kat, format!("unknown histogram field {key:?}"));
        }
        if seen.contains(&key) {
            return err(kat, format!("histogram field {key:?} given twice"));
        }
        seen.push(key);
        let vat = kat + key.len() + 1;
        match key {
            "schema" => h.schema = int_token(value, vat)?,
            "sum" => h.sum = number_token(value, vat)?,
            "count" => h.count = number_token(value, vat)?,
            "z_bucket" => h.zero_count = number_token(value, vat)?,
            "z_bucket_w" => h.zero_threshold = number_token(value, vat)?,
            "buckets" => h.positive_buckets = float_list(value, vat)?,
            "n_buckets" => h.negative_buckets = float_list(value, vat)?,
            "offset" => offset = int_token(value, vat)?,
            "n_offset" => n_offset = int_token(value, vat)?,
            "custom_values" => h.custom_values = float_list(value, vat)?,
            _ => {
                h.counter_reset_hint = hint_value(value, vat)?;
                hint_set = true;
            }
        }
    }
    h.positive_spans = one_span(offset, h.positive_buckets.len());
    h.negative_spans = one_span(n_offset, h.negative_buckets.len());
    if h.schema == CUSTOM_BUCKETS_SCHEMA && !h.negative_buckets.is_empty() {
        return err(at, "custom-bucket histograms have no negative buckets");
    }
    Ok(HistogramValue { h, hint_set })
}

/// Is this a start-timestamp line (`metric@st <items>`)?
pub fn is_st_line(line: &str) -> bool {
    line.split_ascii_whitespace()
        .next()
        .is_some_and(|w| w.ends_with("@st"))
}

/// A parsed `@st` line: whose samples it covers (empty labels for a
/// standalone default line) and each slot's start-time offset in ms.
#[derive(Debug, Clone)]
pub struct StartTimes {
    pub labels: Labels,
    pub offsets: Vec<Option<i64>>,
}

/// Parses `metric@st <items>` (or `@st <items>`).
pub fn parse_st_line(line: &str) -> Result<StartTimes, LineError> {
    let split = line
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(line.len());
    let Some(metric) = line[..split].strip_suffix("@st") else {
        return err(0, "expected 'metric@st'");
    };
    let labels = if metric.is_empty() {
        Labels::empty()
    } else {
        let (labels, end) = parse_metric(metric)?;
        if end != metric.len() {
            return err(end, "unexpected text before '@st'");
        }
        labels
    };
    let mut offsets = Vec::new();
    for (at, item) in split_items(line, split)? {
        st_item(item, at, &mut offsets)?;
        if offsets.len() as u64 > SLOTS_PER_LINE_MAX {
            return err(at, "too many start-time values");
        }
    }
    Ok(StartTimes { labels, offsets })
}

/// Scans a signed duration at the start of `s` (the unit letters stop at
/// `x`, which starts a repeat count).
fn scan_signed_duration(s: &str, at: usize) -> Result<(i64, usize), LineError> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let start = i;
    while b
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() && *c != b'x')
    {
        i += 1;
    }
    let ms = parse_duration_ms(&s[start..i])
        .or_else(|_| err(at, format!("invalid duration {:?}", &s[start..i])))?;
    Ok((if b.first() == Some(&b'-') { -ms } else { ms }, i))
}

fn st_item(item: &str, at: usize, out: &mut Vec<Option<i64>>) -> Result<(), LineError> {
    if let Some(rest) = item.strip_prefix('_') {
        let n = if rest.is_empty() {
            1
        } else {
            parse_times(rest, at + 1)?
        };
        out.extend((0..n).map(|_| None));
        return Ok(());
    }
    let (base, used) = scan_signed_duration(item, at)?;
    let rest = &item[used..];
    if rest.is_empty() {
        out.push(Some(base));
        return Ok(());
    }
    if rest.starts_with('x') {
        let k = parse_times(rest, at + used)?;
        out.extend((0..=k).map(|_| Some(base)));
        return Ok(());
    }
    if !rest.starts_with(['+', '-']) {
        return err(at + used, format!("unexpected {rest:?} after a duration"));
    }
    let (delta, used_d) = scan_signed_duration(rest, at + used)?;
    let k = parse_times(&rest[used_d..], at + used + used_d)?;
    let mut v = base;
    for _ in 0..=k {
        out.push(Some(v));
        v = v.saturating_add(delta);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::format_slots;

    /// Parses a series line and renders it back as `labels items`, or as
    /// `error COL: msg`.
    fn check(input: &str, expected: &str) {
        let got = match parse_series_line(input) {
            Ok(s) => format!("{} {}", s.labels, format_slots(&s.slots)),
            Err(e) => format!("error {}: {}", e.col, e.msg),
        };
        assert_eq!(got, expected, "input: {input}");
    }

    #[test]
    fn float_items_expand() {
        check("foo 0+10x3", "foo 0 10 20 30");
        check("foo 1 _x2 3", "foo 1 _ _ 3");
        check("foo 1 _ stale 2x2", "foo 1 _ stale 2 2 2");
        check("foo -2-0.5x2", "foo -2 -2.5 -3");
        check("foo 5-1x0", "foo 5");
        check("foo 1e3 -1.5e-1 +4 .5", "foo 1000 -0.15 4 0.5");
        check("foo Inf -Inf +inf NaN nan", "foo +Inf -Inf +Inf NaN NaN");
        check("foo Infx1 NaNx1", "foo +Inf +Inf NaN NaN");
        check("foo", "foo ");
    }

    #[test]
    fn hex_is_not_a_number_in_series() {
        // `0x3` is "0, repeated": upstream's series lexer refuses hex.
        check("foo 0x3", "foo 0 0 0 0");
        check("foo 52+0x2", "foo 52 52 52");
        check("foo 0x1f", r#"error 6: bad repeat count "1f""#);
    }

    #[test]
    fn repeated_addition_is_bit_exact() {
        let s = parse_series_line("foo 0+0.1x3").unwrap();
        let mut v = 0.0_f64;
        for slot in &s.slots {
            let Slot::Float(f) = slot else {
                panic!("float expected")
            };
            assert_eq!(f.to_bits(), v.to_bits());
            v += 0.1;
        }
        // 0.1 added three times is not 0.3.
        assert_eq!(format_slots(&s.slots), "0 0.1 0.2 0.30000000000000004");
    }

    #[test]
    fn metric_notations() {
        check(r#"foo{a="b", c='d'} 1"#, r#"foo{a="b", c="d"} 1"#);
        check(r#"{__name__="foo",a="b",} 1"#, r#"foo{a="b"} 1"#);
        check(
            r#"{"my.metric", "my.label"="v"} 1"#,
            r#"{"my.metric", "my.label"="v"} 1"#,
        );
        check("{} 1", "{} 1");
        check(r#"foo{a="x\ny\u00e9"} 1"#, "foo{a=\"x\\ny\u{e9}\"} 1");
        check(r#"foo{a=`raw\n`} 1"#, r#"foo{a="raw\\n"} 1"#);
        check(
            r#"foo{a="b" 1"#,
            "error 11: expected ',' or '}' in label list",
        );
        check(
            r#"foo{a=~"b"} 1"#,
            "error 7: only '=' may be used in a series description",
        );
        check(r#"foo{a="b} 1"#, "error 7: unterminated string");
        check("1 2", "error 1: expected a metric name or '{'");
        check(
            r#"foo{a="1",a="2"} 1"#,
            r#"error 1: label "a" appears twice"#,
        );
        check("foo 1 bar", r#"error 7: invalid value "bar""#);
        check("foo 1+x2", r#"error 6: invalid increment in "1+x2""#);
        check("foo 1x", r#"error 6: bad repeat count """#);
        check(
            "foo 1x99999999",
            "error 6: repeat count 99999999 is larger than 1000000",
        );
        check(r#"foo{a="\q"} 1"#, r"error 7: unknown escape sequence \q");
    }

    #[test]
    fn histogram_literals() {
        check("h {{}}", "h {{count:0 sum:0}}");
        check(
            "h {{schema:1 sum:-3.5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 0 2] offset:-2 n_buckets:[1] n_offset:3 counter_reset_hint:gauge}}",
            "h {{schema:1 count:4 sum:-3.5 z_bucket:1 z_bucket_w:0.001 offset:-2 buckets:[1 0 2] n_offset:3 n_buckets:[1] counter_reset_hint:gauge}}",
        );
        check(
            "h {{schema:-53 sum:1 count:1 custom_values:[5 10] buckets:[1]}}x1",
            "h {{schema:-53 count:1 sum:1 custom_values:[5 10] buckets:[1]}} {{schema:-53 count:1 sum:1 custom_values:[5 10] buckets:[1]}}",
        );
        check(
            "h {{sum:2 count:2}}+{{sum:3 count:3}}x2",
            "h {{count:2 sum:2}} {{count:5 sum:5}} {{count:8 sum:8}}",
        );
        check(
            "h {{schema:0 sum:5 count:4 buckets:[1 2 1]}}-{{sum:1 count:1 buckets:[1]}}x1",
            "h {{count:4 sum:5 buckets:[1 2 1]}} {{count:3 sum:4 offset:1 buckets:[2 1]}}",
        );
        check(
            "h {{schema:-1 sum:4 count:1 buckets:[1] offset:1}}+{{schema:0 sum:4 count:4 buckets:[2 2] offset:1}}x1",
            "h {{schema:-1 count:1 sum:4 offset:1 buckets:[1]}} {{schema:-1 count:5 sum:8 offset:1 buckets:[5]}}",
        );
        check(
            "h 1 {{count:Inf sum:NaN}} _",
            "h 1 {{count:+Inf sum:NaN}} _",
        );
        check(
            "h {{schema:1 sum:1}}+{{schema:0 sum:1}}x1",
            "error 3: cannot step a schema 1 histogram by a schema 0 one (the increment's schema must not be lower)",
        );
        check(
            "h {{sum:1 sum:2}}",
            r#"error 11: histogram field "sum" given twice"#,
        );
        check(
            "h {{bogus:1}}",
            r#"error 5: unknown histogram field "bogus""#,
        );
        check(
            "h {{buckets:[1 2}}",
            "error 13: list is not closed with ']'",
        );
        check("h {{count:x}}", r#"error 11: invalid number "x""#);
        check(
            "h {{counter_reset_hint:maybe}}",
            r#"error 24: unknown counter_reset_hint "maybe""#,
        );
        check(
            "h {{count:1",
            "error 3: histogram literal is not closed with '}}'",
        );
        check(
            "h {{count:1}}*{{count:1}}x1",
            r#"error 14: unexpected "*{{count:1}}x1" after a histogram"#,
        );
    }

    #[test]
    fn hint_is_remembered_only_when_spelled() {
        let s = parse_series_line("h {{count:1}} {{count:1 counter_reset_hint:unknown}}").unwrap();
        let hints: Vec<bool> = s
            .slots
            .iter()
            .map(|s| matches!(s, Slot::Histogram(h) if h.hint_set))
            .collect();
        assert_eq!(hints, vec![false, true]);
    }

    #[test]
    fn start_time_lines() {
        let check_st = |input: &str, expected: &str| {
            let got = match parse_st_line(input) {
                Ok(st) => format!("{} {:?}", st.labels, st.offsets),
                Err(e) => format!("error {}: {}", e.col, e.msg),
            };
            assert_eq!(got, expected, "input: {input}");
        };
        assert!(is_st_line(r#"foo{a="b"}@st -30s"#));
        assert!(!is_st_line("foo 1 2"));
        check_st("foo@st _ -30s 1m", "foo [None, Some(-30000), Some(60000)]");
        check_st("foo@st 0x2 _x1", "foo [Some(0), Some(0), Some(0), None]");
        check_st(
            "foo@st -1m+30sx2",
            "foo [Some(-60000), Some(-30000), Some(0)]",
        );
        check_st("foo@st -59999ms-1msx1", "foo [Some(-59999), Some(-60000)]");
        check_st("@st 10s", "{} [Some(10000)]");
        check_st("foo@st 1q", r#"error 8: invalid duration "1q""#);
    }
}
