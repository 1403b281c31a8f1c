//! What the API needs from a query engine, as a trait so handlers can be
//! tested on their own and the engine can evolve behind an adapter.
//!
//! Results use the PromQL value kinds; errors carry the API error type
//! Prometheus maps them to (parse errors are `bad_data`, evaluation errors
//! `execution`, deadlines `timeout`, storage failures `internal`).

use std::time::Duration;

use beacon_model::{FloatHistogram, Labels};
use beacon_storage::Queryable;

use crate::error::{ApiError, ErrorType};

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub t: i64,
    pub f: f64,
    /// Set for histogram samples (then `f` is unused).
    pub h: Option<FloatHistogram>,
}

/// One series of a range vector.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeSeries {
    pub labels: Labels,
    pub floats: Vec<(i64, f64)>,
    pub histograms: Vec<(i64, FloatHistogram)>,
}

/// A query's value.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    Scalar { t: i64, v: f64 },
    String { t: i64, v: String },
    Vector(Vec<VectorSample>),
    Matrix(Vec<RangeSeries>),
}

impl QueryValue {
    /// The `resultType` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }
}

/// Timings and counts of one query (`stats=all`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryStats {
    pub exec_total_s: f64,
    pub exec_queue_s: f64,
    pub inner_eval_s: f64,
    pub result_sort_s: f64,
    pub query_preparation_s: f64,
    pub total_queryable_samples: u64,
    pub peak_samples: u64,
    /// Per-step sample counts of a range query (only with `stats=all`).
    pub samples_per_step: Vec<(i64, u64)>,
}

/// A successful evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub value: QueryValue,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    pub stats: QueryStats,
}

/// Per-query options from the request.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// The request's `lookback_delta`, overriding the engine default.
    pub lookback_delta_ms: Option<i64>,
}

/// A range query's bounds, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// A PromQL engine as the API drives it. Calls are blocking; the API runs
/// them off the async threads.
pub trait QueryEngine: Send + Sync {
    /// Evaluates `query` at `t_ms`.
    fn instant_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        t_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryOutput, ApiError>;

    /// Evaluates `query` at every step of `range`.
    fn range_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        range: Range,
        opts: &QueryOptions,
    ) -> Result<QueryOutput, ApiError>;

    /// Pretty-prints `query` (`/api/v1/format_query`).
    fn format_query(&self, query: &str) -> Result<String, ApiError>;

    /// The syntax tree of `query` as JSON (`/api/v1/parse_query`).
    fn parse_query(&self, query: &str) -> Result<serde_json::Value, ApiError>;

    /// The matcher sets of every selector in `query`
    /// (`/api/v1/query_exemplars` reads exemplars of those series).
    fn selectors(&self, query: &str) -> Result<Vec<Vec<beacon_model::Matcher>>, ApiError>;
}

/// The error for a query that was rejected while parsing, as Prometheus
/// words it.
pub fn parse_error(err: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_param("query", err)
}

/// The error for a query whose evaluation failed.
pub fn execution_error(err: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorType::Execution, err.to_string())
}
