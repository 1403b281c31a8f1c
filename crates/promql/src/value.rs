//! Query results: scalars, strings, instant vectors and range matrices.

use beacon_model::{FloatHistogram, Labels};

/// One series' value at one time in an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub t: i64,
    /// The float value (0 when `h` is set).
    pub f: f64,
    /// The histogram value, for native histogram samples.
    pub h: Option<Box<FloatHistogram>>,
}

/// One series of a range result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeSeries {
    pub labels: Labels,
    pub floats: Vec<(i64, f64)>,
    pub histograms: Vec<(i64, FloatHistogram)>,
}

/// The value of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, v: String },
    Vector(Vec<VectorSample>),
    Matrix(Vec<RangeSeries>),
}

/// A query's value plus the annotations raised while computing it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    /// Texts such as `PromQL warning: ... (1:6)`.
    pub warnings: Vec<String>,
    /// Texts such as `PromQL info: ... (1:6)`.
    pub infos: Vec<String>,
}
