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
mod printer;
mod value;

pub use ast::Expr;
pub use engine::{CancelToken, Engine, EngineOptions};
pub use error::{Error, ParseError, Result};
pub use parser::{MAX_PARSE_DEPTH, parse};
pub use printer::{format_float, quote};
pub use value::{QueryResult, RangeSeries, Value, VectorSample};

/// Parses a query and prints it in canonical form.
pub fn format_query(input: &str) -> Result<String, ParseError> {
    Ok(parse(input)?.to_string())
}
