//! One parser type for all three formats, chosen at run time (a scraper
//! picks it from the response's `Content-Type`, see [`crate::negotiate`]).

use crate::entry::Entry;
use crate::error::Result;
use crate::openmetrics::{OpenMetricsMode, OpenMetricsParser};
use crate::protobuf::ProtobufParser;
use crate::text::TextParser;

/// Which wire format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParseFormat {
    /// Prometheus text 0.0.4 (also what text 1.0.0 bodies parse as).
    Text,
    /// OpenMetrics 1.0 text, lenient (the scrape path).
    OpenMetrics,
    /// OpenMetrics 1.0 text, enforcing the whole specification.
    OpenMetricsStrict,
    /// Delimited `io.prometheus.client.MetricFamily` messages.
    Protobuf,
}

/// A pull parser over any of the formats; iterate it for [`Entry`] values.
#[derive(Debug)]
pub enum Parser<'a> {
    Text(TextParser<'a>),
    OpenMetrics(OpenMetricsParser<'a>),
    Protobuf(ProtobufParser<'a>),
}

impl<'a> Parser<'a> {
    /// A parser for `input` in `format`.
    pub fn new(format: ParseFormat, input: &'a [u8]) -> Parser<'a> {
        match format {
            ParseFormat::Text => Parser::Text(TextParser::new(input)),
            ParseFormat::OpenMetrics => {
                Parser::OpenMetrics(OpenMetricsParser::new(input, OpenMetricsMode::Lenient))
            }
            ParseFormat::OpenMetricsStrict => {
                Parser::OpenMetrics(OpenMetricsParser::new(input, OpenMetricsMode::Strict))
            }
            ParseFormat::Protobuf => Parser::Protobuf(ProtobufParser::new(input)),
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Parser::Text(p) => p.next(),
            Parser::OpenMetrics(p) => p.next(),
            Parser::Protobuf(p) => p.next(),
        }
    }
}
