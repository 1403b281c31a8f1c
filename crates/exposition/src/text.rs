//! Pull parser for the Prometheus text format 0.0.4.
//!
//! Lenient where Prometheus is: blank lines and free comments are skipped,
//! spaces and tabs may separate tokens, a label set may end with a comma,
//! and the last line needs no newline. UTF-8 names may be quoted
//! (`{"my.metric", "a.b"="c"}`) as Prometheus 3 writes them. Values are Go
//! floats without hex or underscores; timestamps are integer milliseconds.

use std::borrow::Cow;

use beacon_model::MetricType;

use crate::entry::{Entry, FloatSample, LabelsRef};
use crate::error::{Error, Result};
use crate::lex::{
    Lex, LineReader, check_utf8, fail, parse_int, parse_value, scan_metric_name, scan_quoted,
    scan_series, skip_ws, unescape,
};

/// Parses text 0.0.4; iterate it for [`Entry`] values. After the first
/// error it yields nothing more.
#[derive(Debug, Clone)]
pub struct TextParser<'a> {
    lines: LineReader<'a>,
    names: Vec<Cow<'a, str>>,
    pending: Option<Error>,
    done: bool,
}

impl<'a> TextParser<'a> {
    /// A parser over `input` (checked for UTF-8 first).
    pub fn new(input: &'a [u8]) -> TextParser<'a> {
        let (text, pending) = match check_utf8(input) {
            Ok(t) => (t, None),
            Err(e) => ("", Some(e)),
        };
        TextParser {
            lines: LineReader::new(text),
            names: Vec::new(),
            pending,
            done: false,
        }
    }

    #[inline(always)]
    fn line(&mut self, start: usize, text: &'a str) -> Result<Option<Entry<'a>>> {
        let b = text.as_bytes();
        let i = skip_ws(b, 0);
        let r = match b.get(i) {
            None => return Ok(None),
            Some(b'#') => comment(text, i + 1),
            Some(_) => self.sample(text, i).map(Some),
        };
        r.map_err(|e| self.lines.error(start, e))
    }

    #[inline(always)]
    fn sample(&mut self, s: &'a str, pos: usize) -> Lex<Entry<'a>> {
        let b = s.as_bytes();
        let series = scan_series(s, pos, false, &mut self.names)?;
        let mut i = series.end;
        let after = skip_ws(b, i);
        if after == i || after == b.len() {
            return fail(after, "expected whitespace and a value after the series");
        }
        i = after;
        let vend = token_end(b, i);
        let Some(value) = parse_value(&b[i..vend]) else {
            return fail(i, format!("invalid value {:?}", &s[i..vend]));
        };
        i = skip_ws(b, vend);
        let mut timestamp_ms = None;
        if i < b.len() {
            let tend = token_end(b, i);
            let Some(t) = parse_int(&b[i..tend]) else {
                return fail(i, format!("invalid timestamp {:?}", &s[i..tend]));
            };
            timestamp_ms = Some(t);
            i = skip_ws(b, tend);
            if i < b.len() {
                return fail(i, "unexpected text after the timestamp");
            }
        }
        Ok(Entry::Sample(FloatSample {
            series: Cow::Borrowed(&s[pos..series.end]),
            name: series.name,
            labels: series
                .block
                .map_or(LabelsRef::EMPTY, |(a, z)| LabelsRef::Text(&s[a..z])),
            value,
            timestamp_ms,
            exemplar: None,
            created_ms: None,
            line: self.lines.line_no,
        }))
    }
}

/// End of a whitespace-delimited token.
fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
        i += 1;
    }
    i
}

/// A comment line from just after `#`: HELP and TYPE are metadata, any
/// other comment is skipped.
fn comment(s: &str, pos: usize) -> Lex<Option<Entry<'_>>> {
    let b = s.as_bytes();
    let i = skip_ws(b, pos);
    let rest = &b[i..];
    let kw = if rest.starts_with(b"HELP") {
        "HELP"
    } else if rest.starts_with(b"TYPE") {
        "TYPE"
    } else {
        return Ok(None);
    };
    let after = i + 4;
    let n0 = skip_ws(b, after);
    if n0 == after && after < b.len() {
        // `# HELPER ...` is an ordinary comment.
        return Ok(None);
    }
    let (name, nend) = meta_name(s, n0)?;
    let text_start = skip_ws(b, nend);
    if nend < b.len() && text_start == nend {
        return fail(nend, "expected whitespace after the metric name");
    }
    if kw == "HELP" {
        return Ok(Some(Entry::Help {
            name,
            help: unescape(&s[text_start..], false),
        }));
    }
    let word_end = crate::text::token_end(b, text_start);
    let word = &s[text_start..word_end];
    let metric_type = match word {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Unknown,
        "" => return fail(text_start, "missing metric type"),
        _ => return fail(text_start, format!("unknown metric type {word:?}")),
    };
    if skip_ws(b, word_end) != b.len() {
        return fail(word_end, "unexpected text after the metric type");
    }
    Ok(Some(Entry::Type { name, metric_type }))
}

/// A metadata name: legacy, or quoted for UTF-8 names.
pub(crate) fn meta_name(s: &str, pos: usize) -> Lex<(Cow<'_, str>, usize)> {
    let b = s.as_bytes();
    if b.get(pos) == Some(&b'"') {
        let (raw, end) = scan_quoted(s, pos)?;
        if raw.is_empty() {
            return fail(pos, "empty metric name");
        }
        return Ok((unescape(raw, true), end));
    }
    let end = scan_metric_name(b, pos);
    if end == pos {
        return fail(pos, "expected a metric name");
    }
    Ok((Cow::Borrowed(&s[pos..end]), end))
}

impl<'a> Iterator for TextParser<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        loop {
            let line = match self.lines.next_line()? {
                Ok(l) => l,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match self.line(line.start, line.text) {
                Ok(Some(e)) => return Some(Ok(e)),
                Ok(None) => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
