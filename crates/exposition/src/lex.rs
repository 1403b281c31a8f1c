//! Byte-level scanning shared by the text 0.0.4 and OpenMetrics parsers:
//! names, quoted strings, label sets, numbers and line splitting.
//!
//! Everything here works on one line at a time (the parsers split lines
//! with `memchr` first), borrows from the input, and reports failures as a
//! byte offset plus a message; the parsers turn that into `line:col`.

use std::borrow::Cow;

use crate::error::Error;
use crate::{LABELS_PER_SERIES_MAX, LINE_BYTES_MAX};

/// A scanning failure: where (byte offset in the input) and what.
#[derive(Debug)]
pub(crate) enum LexError {
    At(usize, Cow<'static, str>),
    TooManyLabels(usize),
}

pub(crate) type Lex<T> = Result<T, LexError>;

pub(crate) fn fail<T>(at: usize, msg: impl Into<Cow<'static, str>>) -> Lex<T> {
    Err(LexError::At(at, msg.into()))
}

const M_FIRST: u8 = 1;
const M_REST: u8 = 2;
const L_FIRST: u8 = 4;
const L_REST: u8 = 8;

/// Character classes for legacy names, one table lookup per byte.
static CLASS: [u8; 256] = build_class();

const fn build_class() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut v = 0;
        if c.is_ascii_alphabetic() || c == b'_' {
            v |= M_FIRST | M_REST | L_FIRST | L_REST;
        }
        if c.is_ascii_digit() {
            v |= M_REST | L_REST;
        }
        if c == b':' {
            v |= M_FIRST | M_REST;
        }
        t[i] = v;
        i += 1;
    }
    t
}

fn scan_class(b: &[u8], pos: usize, first: u8, rest: u8) -> usize {
    match b.get(pos) {
        Some(&c) if CLASS[c as usize] & first != 0 => {}
        _ => return pos,
    }
    let mut i = pos + 1;
    while i < b.len() && CLASS[b[i] as usize] & rest != 0 {
        i += 1;
    }
    i
}

/// End of a legacy metric name `[a-zA-Z_:][a-zA-Z0-9_:]*` starting at
/// `pos`; `pos` itself when there is none.
#[inline]
pub(crate) fn scan_metric_name(b: &[u8], pos: usize) -> usize {
    scan_class(b, pos, M_FIRST, M_REST)
}

/// End of a legacy label name `[a-zA-Z_][a-zA-Z0-9_]*` starting at `pos`.
#[inline]
pub(crate) fn scan_label_name(b: &[u8], pos: usize) -> usize {
    scan_class(b, pos, L_FIRST, L_REST)
}

/// True for bytes allowed in an OpenMetrics unit (`[a-zA-Z0-9_:]`).
pub(crate) fn is_unit_byte(c: u8) -> bool {
    CLASS[c as usize] & M_REST != 0
}

/// Skips spaces and tabs.
#[inline]
pub(crate) fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && (b[pos] == b' ' || b[pos] == b'\t') {
        pos += 1;
    }
    pos
}

/// Scans a double-quoted string whose opening quote is at `pos`. Returns
/// the raw text between the quotes (escapes not yet resolved) and the
/// offset just past the closing quote.
pub(crate) fn scan_quoted(s: &str, pos: usize) -> Lex<(&str, usize)> {
    scan_quoted_flag(s, pos).map(|(raw, end, _)| (raw, end))
}

/// Like [`scan_quoted`], and also says whether a backslash was seen.
#[inline]
pub(crate) fn scan_quoted_flag(s: &str, pos: usize) -> Lex<(&str, usize, bool)> {
    let b = s.as_bytes();
    if b.get(pos) != Some(&b'"') {
        return fail(pos, "expected '\"'");
    }
    let mut i = pos + 1;
    let mut escaped = false;
    // Most values are short: a plain loop beats setting up a SIMD search.
    let short_end = b.len().min(i + 24);
    while i < short_end {
        match b[i] {
            b'"' => return Ok((&s[pos + 1..i], i + 1, escaped)),
            b'\\' => break,
            _ => i += 1,
        }
    }
    loop {
        let Some(k) = b.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) else {
            return fail(pos, "unterminated quoted string");
        };
        let j = i + k;
        if b[j] == b'"' {
            return Ok((&s[pos + 1..j], j + 1, escaped));
        }
        // A backslash escapes whatever byte follows, even a quote.
        escaped = true;
        if j + 1 >= b.len() {
            return fail(pos, "unterminated quoted string");
        }
        i = j + 2;
    }
}

/// Resolves `\\`, `\n` and (when `quote`) `\"`. Other escapes are kept
/// as written, which is what Prometheus does.
pub(crate) fn unescape(raw: &str, quote: bool) -> Cow<'_, str> {
    if memchr::memchr(b'\\', raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// What `scan_series` found: the end of the series text and its name.
pub(crate) struct Series<'a> {
    pub end: usize,
    pub name: Cow<'a, str>,
    /// Offsets of the label block `{...}`, braces included, when present.
    pub block: Option<(usize, usize)>,
}

/// Scans `name{labels}` (either part may be absent, but a name is
/// required, possibly quoted inside the braces) starting at `pos`.
/// `om` selects OpenMetrics strictness: no whitespace inside the braces
/// and no trailing comma. Label names go to `names` for the duplicate check.
pub(crate) fn scan_series<'a>(
    s: &'a str,
    pos: usize,
    om: bool,
    names: &mut Vec<Cow<'a, str>>,
) -> Lex<Series<'a>> {
    let b = s.as_bytes();
    let name_end = scan_metric_name(b, pos);
    let mut name = (name_end > pos).then(|| Cow::Borrowed(&s[pos..name_end]));
    let mut i = if om { name_end } else { skip_ws(b, name_end) };
    let mut block = None;
    names.clear();
    if b.get(i) == Some(&b'{') {
        let (end, quoted) = scan_label_block(s, i, om, name.is_none(), names)?;
        block = Some((i, end));
        if quoted.is_some() {
            name = quoted;
        }
        i = end;
    } else {
        i = name_end;
    }
    let Some(name) = name else {
        return fail(pos, "expected a metric name");
    };
    check_duplicates(names, pos)?;
    Ok(Series {
        end: i,
        name,
        block,
    })
}

/// Scans `{...}` at `start`; returns the offset after `}` and the quoted
/// metric name, if the set opened with one.
fn scan_label_block<'a>(
    s: &'a str,
    start: usize,
    om: bool,
    name_allowed: bool,
    names: &mut Vec<Cow<'a, str>>,
) -> Lex<(usize, Option<Cow<'a, str>>)> {
    let b = s.as_bytes();
    let ws = |i: usize| if om { i } else { skip_ws(b, i) };
    let mut i = start + 1;
    let mut metric = None;
    let mut first = true;
    loop {
        i = ws(i);
        match b.get(i) {
            None => return fail(start, "unterminated label set"),
            Some(b'}') if first || !om => return Ok((i + 1, metric)),
            Some(b'}') => return fail(i, "trailing comma in label set"),
            _ => {}
        }
        let item = i;
        let (label, quoted) = if b[i] == b'"' {
            let (raw, end) = scan_quoted(s, i)?;
            i = end;
            (unescape(raw, true), true)
        } else {
            let end = scan_label_name(b, i);
            if end == i {
                return fail(i, "expected a label name");
            }
            let n = Cow::Borrowed(&s[i..end]);
            i = end;
            (n, false)
        };
        i = ws(i);
        if b.get(i) == Some(&b'=') {
            i = ws(i + 1);
            if b.get(i) != Some(&b'"') {
                return fail(i, "expected a quoted label value");
            }
            let (_, end, _) = scan_quoted_flag(s, i)?;
            i = end;
            if names.len() >= LABELS_PER_SERIES_MAX {
                return Err(LexError::TooManyLabels(item));
            }
            if label.is_empty() {
                return fail(item, "empty label name");
            }
            names.push(label);
        } else if quoted && first && name_allowed {
            if label.is_empty() {
                return fail(item, "empty metric name");
            }
            metric = Some(label);
        } else if quoted {
            return fail(item, "a quoted metric name must come first and only once");
        } else {
            return fail(i, "expected '=' after the label name");
        }
        first = false;
        i = ws(i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok((i + 1, metric)),
            None => return fail(start, "unterminated label set"),
            _ => return fail(i, "expected ',' or '}' in label set"),
        }
    }
}

/// Scans a label block that may not carry a metric name (exemplars);
/// returns the offset after `}`.
pub(crate) fn scan_labels<'a>(
    s: &'a str,
    open: usize,
    om: bool,
    names: &mut Vec<Cow<'a, str>>,
) -> Lex<usize> {
    names.clear();
    let (end, _) = scan_label_block(s, open, om, false, names)?;
    check_duplicates(names, open)?;
    Ok(end)
}

/// Rejects a repeated label name and an explicit `__name__` label.
fn check_duplicates(names: &mut [Cow<'_, str>], at: usize) -> Lex<()> {
    if names
        .iter()
        .any(|n| n.starts_with("__") && n == beacon_model::METRIC_NAME)
    {
        return fail(at, "label __name__ repeats the metric name");
    }
    // Exporters almost always write labels sorted, so one pass usually
    // settles it; otherwise sort the (reused) name buffer.
    if names.windows(2).all(|w| str_less(&w[0], &w[1])) {
        return Ok(());
    }
    names.sort_unstable();
    match names.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => fail(at, format!("duplicate label name {:?}", w[0])),
        None => Ok(()),
    }
}

/// `a < b`, deciding on the first byte when it differs: label names
/// mostly do, and this skips a `memcmp` call per pair.
#[inline]
pub(crate) fn str_less(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a decimal real number, `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`.
/// Small mantissas with small exponents are converted exactly without
/// going through the general algorithm (Clinger's fast path); the rest
/// goes to the standard library, which rounds correctly.
pub(crate) fn parse_real(b: &[u8]) -> Option<f64> {
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let mut mant: u64 = 0;
    let mut exp10: i64 = 0;
    let mut digits = 0;
    let mut exact = true;
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        if mant < 100_000_000_000_000_000 {
            mant = mant * 10 + u64::from(c - b'0');
        } else {
            exact = false;
        }
        digits += 1;
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if mant < 100_000_000_000_000_000 {
                mant = mant * 10 + u64::from(c - b'0');
                exp10 -= 1;
            } else {
                exact = false;
            }
            digits += 1;
            i += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + i64::from(c - b'0')).min(1_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        exp10 += if eneg { -e } else { e };
    }
    if i != b.len() {
        return None;
    }
    if exact && mant <= (1 << 53) && (-22..=22).contains(&exp10) {
        let m = mant as f64;
        let v = if exp10 >= 0 {
            m * POW10[exp10 as usize]
        } else {
            m / POW10[(-exp10) as usize]
        };
        return Some(if neg { -v } else { v });
    }
    // Like Go's ParseFloat, a number too large for f64 is an error, not Inf.
    let v: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Parses a sample value: a real number, `[+-]?(inf|infinity)` or `nan`
/// (case-insensitive), as both Prometheus formats allow.
#[inline]
pub(crate) fn parse_value(b: &[u8]) -> Option<f64> {
    if let Some(v) = parse_real(b) {
        return Some(v);
    }
    let (neg, rest) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    b.eq_ignore_ascii_case(b"nan").then_some(f64::NAN)
}

/// Parses a text 0.0.4 timestamp: a decimal integer of milliseconds.
pub(crate) fn parse_int(b: &[u8]) -> Option<i64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = i64::from(c - b'0');
        v = v.checked_mul(10)?.checked_add(if neg { -d } else { d })?;
    }
    Some(v)
}

/// Splits the input into lines with a bounded search, so a huge line is
/// rejected after reading at most [`LINE_BYTES_MAX`] bytes of it.
#[derive(Debug, Clone)]
pub(crate) struct LineReader<'a> {
    pub input: &'a str,
    pub pos: usize,
    pub line_no: u32,
}

/// One line: where it starts and its text without the newline.
pub(crate) struct Line<'a> {
    pub start: usize,
    pub text: &'a str,
}

impl<'a> LineReader<'a> {
    pub fn new(input: &'a str) -> LineReader<'a> {
        LineReader {
            input,
            pos: 0,
            line_no: 0,
        }
    }

    pub fn next_line(&mut self) -> Option<Result<Line<'a>, Error>> {
        let b = self.input.as_bytes();
        if self.pos >= b.len() {
            return None;
        }
        self.line_no = self.line_no.saturating_add(1);
        let start = self.pos;
        let window_end = b.len().min(start.saturating_add(LINE_BYTES_MAX + 1));
        let (end, newline) = match memchr::memchr(b'\n', &b[start..window_end]) {
            Some(k) => (start + k, true),
            None if window_end == b.len() => (b.len(), false),
            None => {
                self.pos = b.len();
                return Some(Err(Error::LineTooLong {
                    line: self.line_no,
                    limit: LINE_BYTES_MAX,
                }));
            }
        };
        if end - start > LINE_BYTES_MAX {
            self.pos = b.len();
            return Some(Err(Error::LineTooLong {
                line: self.line_no,
                limit: LINE_BYTES_MAX,
            }));
        }
        self.pos = end + usize::from(newline);
        Some(Ok(Line {
            start,
            text: &self.input[start..end],
        }))
    }

    /// Turns a scanning failure at byte `at` of the current line (counted
    /// from the line's start) into an error with line and column.
    pub fn error(&self, line_start: usize, e: LexError) -> Error {
        match e {
            LexError::At(at, msg) => Error::Syntax {
                line: self.line_no,
                col: self.col(line_start, at),
                msg: msg.into_owned(),
            },
            LexError::TooManyLabels(at) => Error::TooManyLabels {
                line: self.line_no,
                col: self.col(line_start, at),
                limit: LABELS_PER_SERIES_MAX,
            },
        }
    }

    /// A semantic error about the current line, pointing at its start.
    pub fn line_error(&self, msg: impl Into<String>) -> Error {
        Error::Syntax {
            line: self.line_no,
            col: 1,
            msg: msg.into(),
        }
    }

    fn col(&self, line_start: usize, at: usize) -> u32 {
        let n = self
            .input
            .get(line_start..line_start.saturating_add(at))
            .map_or(at, |s| s.chars().count());
        u32::try_from(n + 1).unwrap_or(u32::MAX)
    }
}

/// Validates UTF-8 up front so every later slice can be a `&str`; a
/// failure names the line and column of the first bad byte.
pub(crate) fn check_utf8(input: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(input).map_err(|e| {
        let ok = &input[..e.valid_up_to()];
        let line_start = memchr::memrchr(b'\n', ok).map_or(0, |p| p + 1);
        let line = memchr::memchr_iter(b'\n', ok).count() + 1;
        // The prefix is valid UTF-8 by construction.
        let col = std::str::from_utf8(&ok[line_start..]).map_or(0, |s| s.chars().count()) + 1;
        Error::InvalidUtf8 {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            col: u32::try_from(col).unwrap_or(u32::MAX),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1", Some(1.0)),
            ("-1.5", Some(-1.5)),
            ("1e3", Some(1000.0)),
            ("1.5E-3", Some(0.0015)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("0000001.2e-1", Some(0.12)),
            ("12345678901234567890.5", Some(12345678901234567890.5)),
            ("0.1", Some(0.1)),
            ("8.253366272e+09", Some(8.253366272e9)),
            ("1_2", None),
            ("0x1p-3", None),
            ("1e", None),
            ("", None),
            ("-", None),
            (".", None),
            ("1.1.1", None),
            ("1e400", None),
            ("+Inf", Some(f64::INFINITY)),
            ("-infinity", Some(f64::NEG_INFINITY)),
        ];
        for (s, want) in cases {
            assert_eq!(parse_value(s.as_bytes()), *want, "{s}");
        }
        assert!(parse_value(b"NaN").unwrap().is_nan());
        assert!(parse_value(b"nan").unwrap().is_nan());
        assert_eq!(parse_value(b"+nan"), None);
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"99999999999999999999"), None);
        assert_eq!(parse_int(b"1.5"), None);
    }
}
