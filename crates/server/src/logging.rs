//! Log output in Prometheus's two formats: logfmt (`ts=… level=info
//! msg="…" key=value`) and JSON, at the level `--log.level` selects.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the global subscriber; logs go to stderr.
pub fn init(level: &str, format: &str) {
    let level = match level {
        "debug" => Level::DEBUG,
        "warn" => Level::WARN,
        "error" => Level::ERROR,
        _ => Level::INFO,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.event_format(Logfmt).init();
    }
}

/// The logfmt event formatter.
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let ts = jiff::Timestamp::now()
            .round(jiff::Unit::Millisecond)
            .unwrap_or_else(|_| jiff::Timestamp::now());
        let level = match *meta.level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            _ => "debug",
        };
        write!(w, "ts={ts:.3} caller={} level={level}", meta.target())?;
        let mut v = LogfmtVisitor(String::new());
        event.record(&mut v);
        writeln!(w, "{}", v.0)
    }
}

struct LogfmtVisitor(String);

/// Quotes a logfmt value when it holds spaces, quotes or `=`.
fn push_value(out: &mut String, v: &str) {
    if !v.is_empty() && !v.contains([' ', '"', '=', '\n', '\t']) {
        out.push_str(v);
        return;
    }
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Visit for LogfmtVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(' ');
        self.0.push_str(field.name());
        self.0.push('=');
        push_value(&mut self.0, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_str(field, &value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_quote_when_needed() {
        let check = |v: &str, want: &str| {
            let mut s = String::new();
            push_value(&mut s, v);
            assert_eq!(s, want);
        };
        check("plain", "plain");
        check("two words", "\"two words\"");
        check("a\"b", "\"a\\\"b\"");
        check("", "\"\"");
    }
}
