//! Series and label lookups: `series`, `labels`, `label/<name>/values`,
//! and `/federate`, all answered straight from the storage's queriers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use beacon_exposition::encode::{Format, TEXT_CONTENT_TYPE, encode};
use beacon_exposition::family::{Metric, MetricFamily, MetricValue};
use beacon_model::{Labels, Matcher, MetricType, is_stale_nan};
use beacon_storage::{LabelHints, ValueType};

use crate::error::{ApiError, ErrorType};
use crate::json::{self, Success};
use crate::params::{MAX_TIME_MS, MIN_TIME_MS, Params, parse_limit, time_param};
use crate::router::Api;
use crate::selector::parse_selector;

/// The warning Prometheus 3 adds when `limit` cut a result short.
pub const TRUNCATED_WARNING: &str = "results truncated due to limit";

/// The lookback `/federate` uses to find each series' latest sample.
pub const FEDERATE_LOOKBACK_MS: i64 = 5 * 60 * 1000;

/// Parses every `match[]` value.
pub fn matcher_sets(values: &[&str]) -> Result<Vec<Vec<Matcher>>, ApiError> {
    values
        .iter()
        .map(|v| parse_selector(v).map_err(ApiError::bad_data))
        .collect()
}

fn storage_error(e: beacon_storage::Error) -> ApiError {
    ApiError::new(ErrorType::Execution, e.to_string())
}

struct Bounds {
    start: i64,
    end: i64,
    limit: usize,
}

fn bounds(p: &Params) -> Result<Bounds, ApiError> {
    let limit = parse_limit(p.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))?;
    let start = time_param(p, "start", MIN_TIME_MS)?;
    let end = time_param(p, "end", MAX_TIME_MS)?;
    Ok(Bounds { start, end, limit })
}

/// Cuts `items` to `limit` (0: no limit), adding the warning when it did.
fn truncate<T>(items: &mut Vec<T>, limit: usize, warnings: &mut Vec<String>) {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        warnings.push(TRUNCATED_WARNING.to_owned());
    }
}

/// `GET|POST /api/v1/series`
pub async fn series(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let values = p.all("match[]");
    if values.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let b = bounds(&p)?;
    let sets = matcher_sets(&values)?;
    let q = api.storage.querier(b.start, b.end).map_err(storage_error)?;
    let mut all: BTreeSet<Labels> = BTreeSet::new();
    for set in &sets {
        for s in q.select(set).map_err(storage_error)? {
            all.insert(s.labels);
        }
    }
    let mut list: Vec<Labels> = all.into_iter().collect();
    let mut warnings = Vec::new();
    truncate(&mut list, b.limit, &mut warnings);
    let mut data = String::from("[");
    for (i, l) in list.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::write_labels(&mut data, l);
    }
    data.push(']');
    Ok(Success {
        data,
        warnings,
        infos: Vec::new(),
    })
}

fn string_list(mut items: Vec<String>, limit: usize) -> Success {
    let mut warnings = Vec::new();
    truncate(&mut items, limit, &mut warnings);
    let mut data = String::from("[");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::write_str(&mut data, v);
    }
    data.push(']');
    Success {
        data,
        warnings,
        infos: Vec::new(),
    }
}

/// `GET|POST /api/v1/labels`
pub async fn labels(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let b = bounds(&p)?;
    let sets = matcher_sets(&p.all("match[]"))?;
    let q = api.storage.querier(b.start, b.end).map_err(storage_error)?;
    let hints = LabelHints::default();
    let mut names: BTreeSet<String> = BTreeSet::new();
    if sets.is_empty() {
        names.extend(q.label_names(&[], &hints).map_err(storage_error)?);
    }
    for set in &sets {
        names.extend(q.label_names(set, &hints).map_err(storage_error)?);
    }
    Ok(string_list(names.into_iter().collect(), b.limit))
}

/// `GET /api/v1/label/<name>/values`
pub async fn label_values(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    p: Params,
) -> Result<Success, ApiError> {
    let name = unescape_name(&name);
    if !beacon_model::is_valid_utf8_name(&name) {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let b = bounds(&p)?;
    let sets = matcher_sets(&p.all("match[]"))?;
    let q = api.storage.querier(b.start, b.end).map_err(storage_error)?;
    let hints = LabelHints::default();
    let mut vals: BTreeSet<String> = BTreeSet::new();
    if sets.is_empty() {
        vals.extend(q.label_values(&name, &[], &hints).map_err(storage_error)?);
    }
    for set in &sets {
        vals.extend(q.label_values(&name, set, &hints).map_err(storage_error)?);
    }
    Ok(string_list(vals.into_iter().collect(), b.limit))
}

/// Undoes Prometheus 3's `U__` escaping of label names in URL paths:
/// `_` stays `_` when doubled, `_XX_` is code point XX (hex).
fn unescape_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_owned();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let hex: String = chars.by_ref().take_while(|&c| c != '_').collect();
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(ch) => out.push(ch),
            None => return name.to_owned(),
        }
    }
    out
}

/// `GET /federate`: the latest sample of every matching series, in the
/// text format with timestamps, external labels added.
pub async fn federate(State(api): State<Arc<Api>>, p: Params) -> Response {
    match federate_text(&api, &p) {
        Ok(body) => {
            let mut resp = body.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(TEXT_CONTENT_TYPE),
            );
            resp
        }
        Err(e) => (e.kind.status(), e.msg).into_response(),
    }
}

fn federate_text(api: &Api, p: &Params) -> Result<String, ApiError> {
    let sets = matcher_sets(&p.all("match[]"))?;
    let now = (api.now_ms)();
    let q = api
        .storage
        .querier(now - FEDERATE_LOOKBACK_MS, now)
        .map_err(storage_error)?;
    let external = api.backend.external_labels();
    let mut latest: BTreeMap<Labels, (i64, f64)> = BTreeMap::new();
    for set in &sets {
        for mut s in q.select(set).map_err(storage_error)? {
            let mut last = None;
            loop {
                match s.samples.next() {
                    ValueType::None => break,
                    ValueType::Float => last = Some(s.samples.at()),
                    _ => {}
                }
            }
            if let Some((t, v)) = last.filter(|(_, v)| !is_stale_nan(*v)) {
                latest.insert(s.labels, (t, v));
            }
        }
    }
    let mut families: BTreeMap<String, MetricFamily> = BTreeMap::new();
    for (labels, (t, v)) in latest {
        let name = labels.metric_name().unwrap_or_default().to_owned();
        let mut b = labels.builder();
        b.del(beacon_model::METRIC_NAME);
        for l in external.iter() {
            if b.get(l.name).is_none() {
                b.set(l.name, l.value);
            }
        }
        let fam = families
            .entry(name.clone())
            .or_insert_with(|| MetricFamily::new(name, "", MetricType::Unknown));
        fam.metrics.push(Metric {
            labels: b.build(),
            value: MetricValue::Unknown(v),
            timestamp_ms: Some(t),
        });
    }
    let fams: Vec<MetricFamily> = families.into_values().collect();
    Ok(encode(Format::Text004, &fams))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_names() {
        assert_eq!(unescape_name("job"), "job");
        assert_eq!(unescape_name("U__my_2e_label"), "my.label");
        assert_eq!(unescape_name("U__a__b"), "a_b");
    }
}
