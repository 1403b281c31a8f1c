//! [`QueryEngine`] over Beacon's PromQL engine: converts results and maps
//! errors to the API's error types the way Prometheus does.

use beacon_promql::ast::{AtModifier, DurationExpr, Expr, VectorSelector};
use beacon_promql::{Engine, EngineOptions, Error as PromqlError, Value};
use beacon_storage::Queryable;
use serde_json::{Value as Json, json};

use crate::engine::{
    QueryEngine, QueryOptions, QueryOutput, QueryStats, QueryValue, Range, RangeSeries,
    VectorSample, execution_error, parse_error,
};
use crate::error::{ApiError, ErrorType};

/// The API's engine: Beacon's PromQL engine with the server's options.
#[derive(Debug, Clone)]
pub struct PromqlEngine {
    opts: EngineOptions,
}

impl PromqlEngine {
    pub fn new(opts: EngineOptions) -> PromqlEngine {
        PromqlEngine { opts }
    }

    /// The engine for one request: its timeout and lookback override the
    /// server's.
    fn engine_for(&self, o: &QueryOptions) -> Engine {
        let mut opts = self.opts.clone();
        opts.timeout = opts.timeout.min(o.timeout);
        if let Some(lb) = o.lookback_delta_ms.filter(|&ms| ms > 0) {
            opts.lookback_delta_ms = lb;
        }
        Engine::new(opts)
    }
}

fn map_error(e: PromqlError) -> ApiError {
    match e {
        PromqlError::Parse(p) => parse_error(p),
        PromqlError::Timeout => ApiError::new(ErrorType::Timeout, e.to_string()),
        PromqlError::Canceled => ApiError::new(ErrorType::Canceled, e.to_string()),
        PromqlError::Storage(_) => ApiError::new(ErrorType::Internal, e.to_string()),
        other => execution_error(other),
    }
}

fn convert(r: beacon_promql::QueryResult) -> QueryOutput {
    let value = match r.value {
        Value::Scalar { t, v } => QueryValue::Scalar { t, v },
        Value::String { t, v } => QueryValue::String { t, v },
        Value::Vector(v) => QueryValue::Vector(
            v.into_iter()
                .map(|s| VectorSample {
                    labels: s.labels,
                    t: s.t,
                    f: s.f,
                    h: s.h.map(|h| *h),
                })
                .collect(),
        ),
        Value::Matrix(m) => QueryValue::Matrix(
            m.into_iter()
                .map(|s| RangeSeries {
                    labels: s.labels,
                    floats: s.floats,
                    histograms: s.histograms,
                })
                .collect(),
        ),
    };
    QueryOutput {
        value,
        warnings: r.warnings,
        infos: r.infos,
        stats: QueryStats::default(),
    }
}

impl QueryEngine for PromqlEngine {
    fn instant_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        t_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryOutput, ApiError> {
        let started = std::time::Instant::now();
        let mut out = self
            .engine_for(opts)
            .instant_query(storage, query, t_ms)
            .map(convert)
            .map_err(map_error)?;
        out.stats.inner_eval_s = started.elapsed().as_secs_f64();
        out.stats.exec_total_s = out.stats.inner_eval_s;
        Ok(out)
    }

    fn range_query(
        &self,
        storage: &dyn Queryable,
        query: &str,
        r: Range,
        opts: &QueryOptions,
    ) -> Result<QueryOutput, ApiError> {
        let started = std::time::Instant::now();
        let mut out = self
            .engine_for(opts)
            .range_query(storage, query, r.start_ms, r.end_ms, r.step_ms)
            .map(convert)
            .map_err(map_error)?;
        out.stats.inner_eval_s = started.elapsed().as_secs_f64();
        out.stats.exec_total_s = out.stats.inner_eval_s;
        Ok(out)
    }

    fn format_query(&self, query: &str) -> Result<String, ApiError> {
        beacon_promql::format_query(query).map_err(parse_error)
    }

    fn parse_query(&self, query: &str) -> Result<Json, ApiError> {
        let e = beacon_promql::parse(query).map_err(parse_error)?;
        Ok(ast_json(&e))
    }

    fn selectors(&self, query: &str) -> Result<Vec<Vec<beacon_model::Matcher>>, ApiError> {
        Ok(beacon_promql::parse(query)
            .map_err(parse_error)?
            .selectors())
    }
}

fn dur_ms(d: Option<&DurationExpr>) -> i64 {
    d.map_or(0, |d| d.eval_ms(0, 0))
}

fn at_json(at: Option<AtModifier>) -> (Json, Json) {
    match at {
        None => (Json::Null, Json::Null),
        Some(AtModifier::Time(ms)) => (json!(ms), Json::Null),
        Some(AtModifier::Start) => (Json::Null, json!("start")),
        Some(AtModifier::End) => (Json::Null, json!("end")),
    }
}

fn selector_json(vs: &VectorSelector) -> Json {
    let matchers: Vec<Json> = vs
        .matchers
        .iter()
        .map(|m| json!({"type": m.kind.as_str(), "name": m.name, "value": m.value}))
        .collect();
    let (ts, start_or_end) = at_json(vs.at);
    json!({
        "type": "vectorSelector",
        "name": vs.name.clone().unwrap_or_default(),
        "matchers": matchers,
        "offset": dur_ms(vs.offset.as_ref()),
        "timestamp": ts,
        "startOrEnd": start_or_end,
    })
}

/// The syntax tree in the shape of Prometheus 3's `parse_query`.
fn ast_json(e: &Expr) -> Json {
    match e {
        Expr::Number { val, .. } => {
            json!({"type": "numberLiteral", "val": crate::json::format_float(*val)})
        }
        Expr::String { val, .. } => json!({"type": "stringLiteral", "val": val}),
        Expr::Vector(vs) => selector_json(vs),
        Expr::Matrix(m) => {
            let mut j = selector_json(&m.vs);
            j["type"] = json!("matrixSelector");
            j["range"] = json!(m.range.eval_ms(0, 0));
            j
        }
        Expr::Subquery(s) => {
            let (ts, start_or_end) = at_json(s.at);
            json!({
                "type": "subquery",
                "expr": ast_json(&s.expr),
                "range": s.range.eval_ms(0, 0),
                "offset": dur_ms(s.offset.as_ref()),
                "step": dur_ms(s.step.as_ref()),
                "timestamp": ts,
                "startOrEnd": start_or_end,
            })
        }
        Expr::Paren { expr, .. } => json!({"type": "parenExpr", "expr": ast_json(expr)}),
        Expr::Unary { neg, expr, .. } => {
            json!({"type": "unaryExpr", "op": if *neg { "-" } else { "+" }, "expr": ast_json(expr)})
        }
        Expr::Binary(b) => {
            let m = &b.matching;
            let card = match m.card {
                beacon_promql::ast::Cardinality::OneToOne => "one-to-one",
                beacon_promql::ast::Cardinality::ManyToOne => "many-to-one",
                beacon_promql::ast::Cardinality::OneToMany => "one-to-many",
                beacon_promql::ast::Cardinality::ManyToMany => "many-to-many",
            };
            json!({
                "type": "binaryExpr",
                "op": b.op.as_str(),
                "lhs": ast_json(&b.lhs),
                "rhs": ast_json(&b.rhs),
                "matching": {"card": card, "labels": m.labels, "on": m.on, "include": m.include},
                "bool": b.return_bool,
            })
        }
        Expr::Call(c) => json!({
            "type": "call",
            "func": {"name": c.func.name},
            "args": c.args.iter().map(ast_json).collect::<Vec<_>>(),
        }),
        Expr::Aggregate(a) => json!({
            "type": "aggregation",
            "op": a.op.as_str(),
            "expr": ast_json(&a.expr),
            "param": a.param.as_ref().map_or(Json::Null, ast_json),
            "grouping": a.grouping,
            "without": a.without,
        }),
    }
}
