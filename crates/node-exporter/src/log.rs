//! The exporter's log output: a small `tracing` subscriber that writes one
//! line per event to stderr in node_exporter's go-kit shapes, logfmt
//! (`ts=… caller=… level=info msg="…" key=value`) or JSON.
//!
//! The exporter only logs flat events (no spans), so this replaces
//! `tracing-subscriber` and its formatting machinery, which cost more
//! resident code than everything the exporter logs is worth.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// How log lines are written (`--log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Logfmt,
    Json,
}

/// Writes events at `max` and above to stderr.
pub struct Logger {
    max: Level,
    format: Format,
}

impl Logger {
    /// A logger for `--log.level` (`debug`, `info`, `warn`, `error`) and
    /// `--log.format`.
    pub fn new(max: Level, format: Format) -> Logger {
        Logger { max, format }
    }

    /// Installs this logger for the whole process; a second call is a
    /// no-op (the first logger stays).
    pub fn install(self) {
        // Only fails when a subscriber is already set, which keeps logging
        // working just the same.
        let _ = tracing::subscriber::set_global_default(self);
    }

    /// The line (without newline) for an event at `level` from
    /// `file:line` at `unix_ms`, with `fields` in order (`message` first
    /// becomes `msg`).
    pub fn line(
        &self,
        unix_ms: i64,
        level: &Level,
        caller: &str,
        fields: &[(&str, String)],
    ) -> String {
        let ts = rfc3339_millis(unix_ms);
        let lvl = level.as_str().to_ascii_lowercase();
        let mut pairs: Vec<(&str, &str)> = vec![("ts", &ts), ("caller", caller), ("level", &lvl)];
        for (k, v) in fields {
            let k = if *k == "message" { "msg" } else { k };
            pairs.push((k, v));
        }
        let mut out = String::new();
        match self.format {
            Format::Logfmt => {
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let _ = write!(out, "{k}=");
                    logfmt_value(&mut out, v);
                }
            }
            Format::Json => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(&mut out, k);
                    out.push(':');
                    json_string(&mut out, v);
                }
                out.push('}');
            }
        }
        out
    }
}

/// Collects an event's fields as text, in the order they were given.
#[derive(Default)]
struct Fields(Vec<(&'static str, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name(), format!("{value:?}")));
    }
}

impl Subscriber for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // tracing orders levels by verbosity: ERROR < WARN < … < TRACE.
        *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::from_level(self.max))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans carry no output here; every span shares one id.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        // Messages first, as go-kit callers write them.
        fields.0.sort_by_key(|(k, _)| *k != "message");
        let file = meta.file().unwrap_or("?");
        let file = file.rsplit('/').next().unwrap_or(file);
        let caller = format!("{file}:{}", meta.line().unwrap_or(0));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let fields: Vec<(&str, String)> = fields.0;
        let mut line = self.line(now_ms, meta.level(), &caller, &fields);
        line.push('\n');
        // A failed write to stderr has nowhere else to be reported.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// A logfmt value: bare when it is a plain token, else quoted with Go's
/// escapes for quote, backslash and control characters.
fn logfmt_value(out: &mut String, v: &str) {
    let bare = !v.is_empty()
        && v.chars()
            .all(|c| c > ' ' && c != '"' && c != '=' && c != '\\' && c != '\u{7f}');
    if bare {
        out.push_str(v);
    } else {
        quoted(out, v);
    }
}

fn json_string(out: &mut String, v: &str) {
    quoted(out, v);
}

/// `"v"` with `\"`, `\\`, `\n`, `\t`, `\r` and `\u00XX` escapes: valid in
/// both logfmt and JSON.
fn quoted(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `2006-01-02T15:04:05.000Z` for milliseconds since the Unix epoch (UTC).
pub fn rfc3339_millis(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01,
/// computed over 400-year eras (146,097 days each).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468; // days from 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153; // month counted from March
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(format: Format, fields: &[(&str, &str)], expected: &str) {
        let fields: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let l = Logger::new(Level::INFO, format);
        assert_eq!(
            l.line(1_700_000_000_123, &Level::WARN, "main.rs:7", &fields),
            expected
        );
    }

    #[test]
    fn logfmt_lines() {
        check(
            Format::Logfmt,
            &[("message", "enabled collector"), ("collector", "cpu")],
            "ts=2023-11-14T22:13:20.123Z caller=main.rs:7 level=warn msg=\"enabled collector\" collector=cpu",
        );
        check(
            Format::Logfmt,
            &[("message", ""), ("err", "a=b \"c\"\n")],
            "ts=2023-11-14T22:13:20.123Z caller=main.rs:7 level=warn msg=\"\" err=\"a=b \\\"c\\\"\\n\"",
        );
    }

    #[test]
    fn json_lines() {
        check(
            Format::Json,
            &[("message", "x\u{1}"), ("address", "127.0.0.1:9100")],
            "{\"ts\":\"2023-11-14T22:13:20.123Z\",\"caller\":\"main.rs:7\",\"level\":\"warn\",\"msg\":\"x\\u0001\",\"address\":\"127.0.0.1:9100\"}",
        );
    }

    #[test]
    fn timestamps() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (4_102_444_799_999, "2099-12-31T23:59:59.999Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(rfc3339_millis(ms), want);
        }
    }
}
