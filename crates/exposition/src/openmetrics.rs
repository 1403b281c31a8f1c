//! Pull parser for OpenMetrics 1.0 text.
//!
//! The syntax is always checked exactly (single spaces, no blank lines,
//! only `HELP`/`TYPE`/`UNIT`/`EOF` comments, a final `# EOF` and nothing
//! after it, exemplars only in `# {labels} value [timestamp]` form).
//! [`OpenMetricsMode::Strict`] also enforces the rules about meaning that
//! the specification places on a whole exposition (see `om_strict`): it is
//! what the conformance suite judges. [`OpenMetricsMode::Lenient`] skips
//! those, which is what a scraper wants: it is faster and keeps the
//! samples of a target that breaks a rule Prometheus does not check.
//!
//! As an extension from Prometheus 3, UTF-8 names may be quoted.

use std::borrow::Cow;

use beacon_model::MetricType;

use crate::entry::{Entry, ExemplarRef, FloatSample, LabelsRef};
use crate::error::{Error, Result};
use crate::lex::{
    Lex, LexError, LineReader, check_utf8, fail, is_unit_byte, parse_real, parse_value,
    scan_labels, scan_series,
};
use crate::om_strict::{MetaKind, SampleFacts, Validator};
use crate::text::meta_name;

/// How much of the OpenMetrics specification to enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMetricsMode {
    /// Syntax only: the scrape path.
    #[default]
    Lenient,
    /// Syntax and every rule about families, values and labels.
    Strict,
}

/// Parses OpenMetrics 1.0 text; iterate it for [`Entry`] values. The last
/// entry of a valid exposition is [`Entry::Eof`]. After the first error it
/// yields nothing more.
#[derive(Debug)]
pub struct OpenMetricsParser<'a> {
    lines: LineReader<'a>,
    names: Vec<Cow<'a, str>>,
    validator: Option<Box<Validator>>,
    pending: Option<Error>,
    done: bool,
}

/// A parsed sample line with what the strict checks need besides.
struct Parsed<'a> {
    sample: FloatSample<'a>,
    timestamp_s: Option<f64>,
}

impl<'a> OpenMetricsParser<'a> {
    /// A parser over `input` (checked for UTF-8 first).
    pub fn new(input: &'a [u8], mode: OpenMetricsMode) -> OpenMetricsParser<'a> {
        let (text, pending) = match check_utf8(input) {
            Ok(t) => (t, None),
            Err(e) => ("", Some(e)),
        };
        OpenMetricsParser {
            lines: LineReader::new(text),
            names: Vec::new(),
            validator: (mode == OpenMetricsMode::Strict).then(Box::default),
            pending,
            done: false,
        }
    }

    #[inline(always)]
    fn next_entry(&mut self) -> Result<Option<Entry<'a>>> {
        let Some(line) = self.lines.next_line() else {
            return Err(Error::Syntax {
                line: self.lines.line_no.saturating_add(1),
                col: 1,
                msg: "missing \"# EOF\" at the end".into(),
            });
        };
        let line = line?;
        let (start, s) = (line.start, line.text);
        let b = s.as_bytes();
        match b.first() {
            None => Err(self.lines.line_error("blank lines are not allowed")),
            Some(b'#') => {
                let entry = self.comment(s).map_err(|e| self.lines.error(start, e))?;
                if entry == Entry::Eof {
                    if self.lines.pos < self.lines.input.len() {
                        return Err(self.lines.line_error("text after \"# EOF\""));
                    }
                    if let Some(v) = self.validator.as_mut() {
                        v.finish().map_err(|m| self.lines.line_error(m))?;
                    }
                }
                Ok(Some(entry))
            }
            Some(_) => {
                let p = self.sample(s).map_err(|e| self.lines.error(start, e))?;
                if let Some(v) = self.validator.as_mut() {
                    let facts = SampleFacts {
                        sample: &p.sample,
                        timestamp_s: p.timestamp_s,
                    };
                    v.sample(&facts).map_err(|m| self.lines.line_error(m))?;
                }
                Ok(Some(Entry::Sample(p.sample)))
            }
        }
    }

    fn comment(&mut self, s: &'a str) -> Lex<Entry<'a>> {
        let b = s.as_bytes();
        if s == "# EOF" {
            return Ok(Entry::Eof);
        }
        let kind = if b.starts_with(b"# HELP ") {
            MetaKind::Help
        } else if b.starts_with(b"# TYPE ") {
            MetaKind::Type
        } else if b.starts_with(b"# UNIT ") {
            MetaKind::Unit
        } else {
            return fail(
                0,
                "comments other than HELP, TYPE, UNIT and EOF are not allowed",
            );
        };
        let (name, nend) = meta_name(s, 7)?;
        if b.get(nend) != Some(&b' ') {
            return fail(nend, "expected a space after the metric name");
        }
        let rest = &s[nend + 1..];
        let entry = match kind {
            MetaKind::Help => Entry::Help {
                name,
                help: crate::lex::unescape(rest, true),
            },
            MetaKind::Type => {
                let metric_type = match MetricType::parse(rest) {
                    Some(t) if rest != "untyped" => t,
                    _ => return fail(nend + 1, format!("unknown metric type {rest:?}")),
                };
                Entry::Type { name, metric_type }
            }
            MetaKind::Unit => {
                if let Some(k) = rest.bytes().position(|c| !is_unit_byte(c)) {
                    return fail(nend + 1 + k, "invalid character in unit");
                }
                Entry::Unit {
                    name,
                    unit: Cow::Borrowed(rest),
                }
            }
        };
        if let Some(v) = self.validator.as_mut() {
            v.metadata(&entry).map_err(|m| LexError::At(0, m.into()))?;
        }
        Ok(entry)
    }

    #[inline(always)]
    fn sample(&mut self, s: &'a str) -> Lex<Parsed<'a>> {
        let b = s.as_bytes();
        let series = scan_series(s, 0, true, &mut self.names)?;
        let mut i = expect_space(b, series.end, "a value")?;
        let vend = token_end(b, i);
        let Some(value) = parse_value(&b[i..vend]) else {
            return fail(i, format!("invalid value {:?}", &s[i..vend]));
        };
        i = vend;
        let mut timestamp_s = None;
        let mut exemplar = None;
        if i < b.len() {
            i = expect_space(b, i, "a timestamp or exemplar")?;
            if b[i] != b'#' {
                let tend = token_end(b, i);
                timestamp_s = Some(parse_timestamp(s, i, tend)?);
                i = tend;
                if i < b.len() {
                    i = expect_space(b, i, "an exemplar")?;
                }
            }
            if i < b.len() {
                exemplar = Some(Box::new(self.exemplar(s, i)?));
            }
        }
        Ok(Parsed {
            sample: FloatSample {
                series: Cow::Borrowed(&s[..series.end]),
                name: series.name,
                labels: series
                    .block
                    .map_or(LabelsRef::EMPTY, |(a, z)| LabelsRef::Text(&s[a..z])),
                value,
                timestamp_ms: timestamp_s.map(seconds_to_ms),
                exemplar,
                created_ms: None,
                line: self.lines.line_no,
            },
            timestamp_s,
        })
    }

    /// `# {labels} value [timestamp]` starting at the `#`.
    fn exemplar(&mut self, s: &'a str, pos: usize) -> Lex<ExemplarRef<'a>> {
        let b = s.as_bytes();
        if !b[pos..].starts_with(b"# {") {
            return fail(pos, "expected an exemplar \"# {labels} value\"");
        }
        let open = pos + 2;
        // Exemplar labels follow sample label syntax, without a name.
        let close = scan_labels(s, open, true, &mut self.names)?;
        let mut i = expect_space(b, close, "an exemplar value")?;
        let vend = token_end(b, i);
        let Some(value) = parse_value(&b[i..vend]) else {
            return fail(i, format!("invalid exemplar value {:?}", &s[i..vend]));
        };
        i = vend;
        let mut timestamp_ms = None;
        if i < b.len() {
            i = expect_space(b, i, "an exemplar timestamp")?;
            let tend = token_end(b, i);
            timestamp_ms = Some(seconds_to_ms(parse_timestamp(s, i, tend)?));
            if tend < b.len() {
                return fail(tend, "unexpected text after the exemplar");
            }
        }
        if let Some(v) = self.validator.as_ref() {
            v.exemplar_labels(&LabelsRef::Text(&s[open..close]))
                .map_err(|m| LexError::At(open, m.into()))?;
        }
        Ok(ExemplarRef {
            labels: LabelsRef::Text(&s[open..close]),
            value,
            timestamp_ms,
        })
    }
}

fn expect_space(b: &[u8], i: usize, what: &'static str) -> Lex<usize> {
    if b.get(i) != Some(&b' ') {
        return fail(i, format!("expected a single space before {what}"));
    }
    match b.get(i + 1) {
        None => fail(i, format!("trailing space: expected {what}")),
        Some(b' ' | b'\t') => fail(i + 1, "expected a single space"),
        Some(_) => Ok(i + 1),
    }
}

/// End of a space-delimited token. Tokens are short, so a plain loop.
#[inline]
fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b' ' {
        i += 1;
    }
    i
}

/// OpenMetrics timestamps are real numbers of seconds: no NaN or Inf.
fn parse_timestamp(s: &str, start: usize, end: usize) -> Lex<f64> {
    match parse_real(&s.as_bytes()[start..end]) {
        Some(t) if t.is_finite() => Ok(t),
        _ => fail(start, format!("invalid timestamp {:?}", &s[start..end])),
    }
}

/// Seconds to milliseconds, rounded; out-of-range values saturate.
pub(crate) fn seconds_to_ms(s: f64) -> i64 {
    (s * 1000.0).round() as i64
}

impl<'a> Iterator for OpenMetricsParser<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        let r = self.next_entry();
        match r {
            Ok(Some(Entry::Eof)) => {
                self.done = true;
                Some(Ok(Entry::Eof))
            }
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
