//! PromQL: lexer, parser, printer and evaluation engine.
//!
//! ```
//! let e = beacon_promql::parse("sum by (job) (rate(http_requests_total[5m]))").unwrap();
//! assert_eq!(e.to_string(), "sum by (job) (rate(http_requests_total[5m]))");
//! ```

pub mod ast;
mod engine;
mod error;
mod eval;
pub mod functions;
#[doc(hidden)]
pub mod fuzzing;
mod lexer;
mod parser;
mod pretty;
mod printer;
mod value;

pub use ast::Expr;
pub use engine::{CancelToken, Engine, EngineOptions};
pub use error::{Error, ParseError, Result};
pub use parser::{MAX_PARSE_DEPTH, parse};
pub use printer::{format_float, quote};
pub use value::{QueryResult, RangeSeries, Value, VectorSample};

pub use pretty::{MAX_LINE, pretty};

/// Parses a query and prints it in Prometheus's canonical layout: one line
/// when it fits in [`MAX_LINE`] characters, indented lines otherwise.
pub fn format_query(input: &str) -> Result<String, ParseError> {
    Ok(pretty(&parse(input)?))
}
