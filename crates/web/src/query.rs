//! The query endpoints: `query`, `query_range`, `format_query`,
//! `parse_query` and `query_exemplars`, with Prometheus's parameter checks
//! and result encoding.

use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;

use crate::engine::{QueryOptions, QueryOutput, QueryStats, QueryValue, Range};
use crate::error::{ApiError, ErrorType};
use crate::json::{self, Success};
use crate::params::{Params, parse_duration, parse_time, time_param};
use crate::router::Api;

/// Prometheus refuses range queries that would return more points than
/// this per series.
pub const POINTS_PER_SERIES_MAX: i64 = 11_000;

fn query_options(api: &Api, p: &Params) -> Result<QueryOptions, ApiError> {
    let mut timeout = api.opts.query_timeout;
    if let Some(to) = p.opt("timeout").filter(|s| !s.is_empty()) {
        let ms = parse_duration(to).map_err(|e| ApiError::invalid_param("timeout", e))?;
        timeout = timeout.min(Duration::from_millis(ms.max(0) as u64));
    }
    let lookback_delta_ms = match p.opt("lookback_delta").filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_duration(s).map_err(|e| {
            ApiError::new(
                ErrorType::BadData,
                format!("error parsing lookback delta duration: {e}"),
            )
        })?),
        None => None,
    };
    Ok(QueryOptions {
        timeout,
        lookback_delta_ms,
    })
}

/// `GET|POST /api/v1/query`
pub async fn instant(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let t = time_param(&p, "time", (api.now_ms)())?;
    let opts = query_options(&api, &p)?;
    let query = p.get("query").to_owned();
    let stats = p.get("stats").to_owned();
    let out = run(&api, opts, move |api| {
        api.engine.instant_query(&*api.storage, &query, t, &opts)
    })
    .await?;
    Ok(render(out, &stats))
}

/// Checks `query_range`'s bounds the way Prometheus does, in its order.
pub fn range_params(p: &Params) -> Result<Range, ApiError> {
    let start = parse_time(p.get("start")).map_err(|e| ApiError::invalid_param("start", e))?;
    let end = parse_time(p.get("end")).map_err(|e| ApiError::invalid_param("end", e))?;
    if end < start {
        return Err(ApiError::invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step = parse_duration(p.get("step")).map_err(|e| ApiError::invalid_param("step", e))?;
    if step <= 0 {
        return Err(ApiError::invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (i128::from(end) - i128::from(start)) / i128::from(step) > i128::from(POINTS_PER_SERIES_MAX)
    {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    Ok(Range {
        start_ms: start,
        end_ms: end,
        step_ms: step,
    })
}

/// `GET|POST /api/v1/query_range`
pub async fn range(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let r = range_params(&p)?;
    let opts = query_options(&api, &p)?;
    let query = p.get("query").to_owned();
    let stats = p.get("stats").to_owned();
    let out = run(&api, opts, move |api| {
        api.engine.range_query(&*api.storage, &query, r, &opts)
    })
    .await?;
    Ok(render(out, &stats))
}

/// Runs a query off the async threads, within the concurrency limit and
/// the timeout, and records its phases.
async fn run(
    api: &Arc<Api>,
    opts: QueryOptions,
    f: impl FnOnce(&Api) -> Result<QueryOutput, ApiError> + Send + 'static,
) -> Result<QueryOutput, ApiError> {
    let queued = Instant::now();
    api.metrics.query_started();
    let _done = scopeguard(api);
    let permit = tokio::time::timeout(opts.timeout, api.query_slots.acquire())
        .await
        .map_err(|_| ApiError::new(ErrorType::Timeout, "query timed out in query queue"))?
        .map_err(|_| ApiError::new(ErrorType::Unavailable, "query engine is shutting down"))?;
    api.metrics
        .observe_query("queue_time", queued.elapsed().as_secs_f64());
    let started = Instant::now();
    let api2 = Arc::clone(api);
    let task = tokio::task::spawn_blocking(move || f(&api2));
    let res = tokio::time::timeout(opts.timeout, task).await;
    drop(permit);
    let out = match res {
        Err(_) => {
            return Err(ApiError::new(
                ErrorType::Timeout,
                "query timed out in expression evaluation",
            ));
        }
        Ok(Err(join)) => return Err(ApiError::new(ErrorType::Internal, join.to_string())),
        Ok(Ok(r)) => r?,
    };
    let inner = if out.stats.inner_eval_s > 0.0 {
        out.stats.inner_eval_s
    } else {
        started.elapsed().as_secs_f64()
    };
    api.metrics.observe_query("inner_eval", inner);
    api.metrics
        .observe_query("prepare_time", out.stats.query_preparation_s);
    api.metrics
        .observe_query("result_sort", out.stats.result_sort_s);
    Ok(out)
}

struct QueryGuard(Arc<Api>);

impl Drop for QueryGuard {
    fn drop(&mut self) {
        self.0.metrics.query_finished();
    }
}

fn scopeguard(api: &Arc<Api>) -> QueryGuard {
    QueryGuard(Arc::clone(api))
}

/// Encodes a query's output as the `data` of the response.
pub fn render(out: QueryOutput, stats: &str) -> Success {
    let mut s = String::with_capacity(256);
    s.push_str("{\"resultType\":");
    json::write_str(&mut s, out.value.type_name());
    s.push_str(",\"result\":");
    write_value(&mut s, &out.value);
    if !stats.is_empty() {
        s.push_str(",\"stats\":");
        write_stats(&mut s, &out.stats, stats == "all");
    }
    s.push('}');
    Success {
        data: s,
        warnings: out.warnings,
        infos: out.infos,
    }
}

/// Writes a PromQL value in the API's JSON shape.
pub fn write_value(s: &mut String, v: &QueryValue) {
    match v {
        QueryValue::Scalar { t, v } => json::write_point(s, *t, *v),
        QueryValue::String { t, v } => {
            s.push('[');
            json::write_ts(s, *t);
            s.push(',');
            json::write_str(s, v);
            s.push(']');
        }
        QueryValue::Vector(samples) => {
            s.push('[');
            for (i, x) in samples.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str("{\"metric\":");
                json::write_labels(s, &x.labels);
                match &x.h {
                    Some(h) => {
                        s.push_str(",\"histogram\":");
                        json::write_hpoint(s, x.t, h);
                    }
                    None => {
                        s.push_str(",\"value\":");
                        json::write_point(s, x.t, x.f);
                    }
                }
                s.push('}');
            }
            s.push(']');
        }
        QueryValue::Matrix(series) => {
            s.push('[');
            for (i, x) in series.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str("{\"metric\":");
                json::write_labels(s, &x.labels);
                if !x.floats.is_empty() {
                    s.push_str(",\"values\":[");
                    for (j, (t, v)) in x.floats.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        json::write_point(s, *t, *v);
                    }
                    s.push(']');
                }
                if !x.histograms.is_empty() {
                    s.push_str(",\"histograms\":[");
                    for (j, (t, h)) in x.histograms.iter().enumerate() {
                        if j > 0 {
                            s.push(',');
                        }
                        json::write_hpoint(s, *t, h);
                    }
                    s.push(']');
                }
                s.push('}');
            }
            s.push(']');
        }
    }
}

fn write_stats(s: &mut String, st: &QueryStats, all: bool) {
    let num = |v: f64| serde_json::Number::from_f64(v).map_or("0".to_owned(), |n| n.to_string());
    let eval_total = st.inner_eval_s + st.result_sort_s + st.query_preparation_s;
    let _ = write!(
        s,
        "{{\"timings\":{{\"evalTotalTime\":{},\"resultSortTime\":{},\"queryPreparationTime\":{},\"innerEvalTime\":{},\"execQueueTime\":{},\"execTotalTime\":{}}},\"samples\":{{",
        num(eval_total),
        num(st.result_sort_s),
        num(st.query_preparation_s),
        num(st.inner_eval_s),
        num(st.exec_queue_s),
        num(st.exec_total_s),
    );
    if all {
        s.push_str("\"totalQueryableSamplesPerStep\":[");
        for (i, (t, n)) in st.samples_per_step.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push('[');
            json::write_ts(s, *t);
            let _ = write!(s, ",{n}]");
        }
        s.push_str("],");
    }
    let _ = write!(
        s,
        "\"totalQueryableSamples\":{},\"peakSamples\":{}}}}}",
        st.total_queryable_samples, st.peak_samples
    );
}

/// `GET|POST /api/v1/format_query`
pub async fn format_query(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let s = api.engine.format_query(p.get("query"))?;
    let mut data = String::new();
    json::write_str(&mut data, &s);
    Ok(Success::raw(data))
}

/// `GET|POST /api/v1/parse_query`
pub async fn parse_query(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let v = api.engine.parse_query(p.get("query"))?;
    Ok(Success::value(&v))
}

/// `GET|POST /api/v1/query_exemplars`: the exemplars of every series a
/// selector of `query` matches, in `[start, end]`.
pub async fn exemplars(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let start = time_param(&p, "start", crate::params::MIN_TIME_MS)?;
    let end = time_param(&p, "end", crate::params::MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::invalid_param(
            "end",
            "end timestamp must not be before start timestamp",
        ));
    }
    let sets = api.engine.selectors(p.get("query"))?;
    let Some(store) = api.exemplars.clone() else {
        return Ok(Success::raw("[]".to_owned()));
    };
    let found = tokio::task::spawn_blocking(move || store.select_exemplars(start, end, &sets))
        .await
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?
        .map_err(|e| ApiError::new(ErrorType::Execution, e.to_string()))?;
    let mut out = String::from("[");
    for (i, s) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        json::write_labels(&mut out, &s.labels);
        out.push_str(",\"exemplars\":[");
        for (j, e) in s.exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            json::write_labels(&mut out, &e.labels);
            out.push_str(",\"value\":");
            json::write_float(&mut out, e.value);
            out.push_str(",\"timestamp\":");
            json::write_ts(&mut out, e.t.unwrap_or_default());
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    Ok(Success::raw(out))
}
