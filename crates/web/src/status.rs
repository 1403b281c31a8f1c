//! Status, target, metadata, rules and admin endpoints. Their data comes
//! from the [`Backend`](crate::backend::Backend); the shapes are
//! Prometheus's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use beacon_model::{Labels, MatchType, Matcher};
use serde_json::{Value, json};

use crate::backend::RulesQuery;
use crate::error::{ApiError, ErrorType};
use crate::json::Success;
use crate::meta::matcher_sets;
use crate::params::{MAX_TIME_MS, MIN_TIME_MS, Params, parse_limit, time_param};
use crate::router::Api;

/// How many entries each `/api/v1/status/tsdb` list shows by default.
pub const TSDB_STATS_LIMIT_DEFAULT: usize = 10;

fn labels_json(l: &Labels) -> Value {
    Value::Object(
        l.iter()
            .map(|x| (x.name.to_owned(), Value::String(x.value.to_owned())))
            .collect(),
    )
}

fn rfc3339_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| String::new(), |t| t.to_string())
}

/// `GET /api/v1/targets?state=&scrapePool=`
pub async fn targets(State(api): State<Arc<Api>>, p: Params) -> Success {
    let state = p.get("state").to_ascii_lowercase();
    let pool = p.get("scrapePool");
    let want_active = matches!(state.as_str(), "" | "any" | "active");
    let want_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let in_pool = |p2: &str| pool.is_empty() || p2 == pool;
    let active: Vec<Value> = if want_active {
        api.backend
            .active_targets()
            .into_iter()
            .filter(|t| in_pool(&t.scrape_pool))
            .map(|t| {
                json!({
                    "discoveredLabels": labels_json(&t.discovered_labels),
                    "labels": labels_json(&t.labels),
                    "scrapePool": t.scrape_pool,
                    "scrapeUrl": t.scrape_url,
                    "globalUrl": t.global_url,
                    "lastError": t.last_error,
                    "lastScrape": t.last_scrape_ms.map_or_else(|| "0001-01-01T00:00:00Z".to_owned(), rfc3339_ms),
                    "lastScrapeDuration": t.last_scrape_duration_s,
                    "health": t.health,
                    "scrapeInterval": t.scrape_interval,
                    "scrapeTimeout": t.scrape_timeout,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut dropped = Vec::new();
    for t in api.backend.dropped_targets() {
        *counts.entry(t.scrape_pool.clone()).or_default() += 1;
        if want_dropped && in_pool(&t.scrape_pool) {
            dropped.push(json!({
                "discoveredLabels": labels_json(&t.discovered_labels),
                "scrapePool": t.scrape_pool,
            }));
        }
    }
    Success::value(&json!({
        "activeTargets": active,
        "droppedTargets": dropped,
        "droppedTargetCounts": counts,
    }))
}

/// `GET /api/v1/targets/metadata?match_target=&metric=&limit=`
pub async fn targets_metadata(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let limit: i64 = match p.get("limit") {
        "" => -1,
        s => s
            .parse()
            .map_err(|_| ApiError::bad_data("limit must be a number"))?,
    };
    let matchers = match p.get("match_target") {
        "" => Vec::new(),
        s => crate::selector::parse_selector(s).map_err(ApiError::bad_data)?,
    };
    let metric = p.get("metric");
    let mut out = Vec::new();
    for m in api.backend.target_metadata() {
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        if !matchers.iter().all(|x| x.matches_labels(&m.target)) {
            continue;
        }
        if !metric.is_empty() && m.metric != metric {
            continue;
        }
        let mut o = json!({
            "target": labels_json(&m.target),
            "type": m.metadata.metric_type.as_str(),
            "help": m.metadata.help,
            "unit": m.metadata.unit,
        });
        if metric.is_empty() {
            o["metric"] = Value::String(m.metric);
        }
        out.push(o);
    }
    Ok(Success::value(&Value::Array(out)))
}

/// `GET /api/v1/metadata?metric=&limit=&limit_per_metric=`
pub async fn metadata(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let parse = |name: &str| -> Result<i64, ApiError> {
        match p.get(name) {
            "" => Ok(-1),
            s => s
                .parse()
                .map_err(|_| ApiError::bad_data(format!("{name} must be a number"))),
        }
    };
    let limit = parse("limit")?;
    let per_metric = parse("limit_per_metric")?;
    let metric = p.get("metric");
    let mut by_metric: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in api.backend.target_metadata() {
        if !metric.is_empty() && m.metric != metric {
            continue;
        }
        let v = json!({
            "type": m.metadata.metric_type.as_str(),
            "help": m.metadata.help,
            "unit": m.metadata.unit,
        });
        let list = by_metric.entry(m.metric).or_default();
        if !list.contains(&v) && (per_metric < 0 || (list.len() as i64) < per_metric) {
            list.push(v);
        }
    }
    let mut out = serde_json::Map::new();
    for (k, v) in by_metric {
        if limit >= 0 && out.len() as i64 >= limit {
            break;
        }
        out.insert(k, Value::Array(v));
    }
    Ok(Success::value(&Value::Object(out)))
}

/// `GET /api/v1/scrape_pools`
pub async fn scrape_pools(State(api): State<Arc<Api>>) -> Success {
    Success::value(&json!({ "scrapePools": api.backend.scrape_pools() }))
}

/// `GET /api/v1/alertmanagers`
pub async fn alertmanagers(State(api): State<Arc<Api>>) -> Success {
    let (active, dropped) = api.backend.alertmanagers();
    let urls =
        |v: Vec<String>| -> Vec<Value> { v.into_iter().map(|u| json!({ "url": u })).collect() };
    Success::value(&json!({
        "activeAlertmanagers": urls(active),
        "droppedAlertmanagers": urls(dropped),
    }))
}

/// `GET /api/v1/rules` with Prometheus's filters.
pub async fn rules(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let alerting_only = match p.get("type") {
        "" => None,
        "alert" => Some(true),
        "record" => Some(false),
        t => return Err(ApiError::bad_data(format!("unsupported type {t:?}"))),
    };
    let exclude_alerts = match p.get("exclude_alerts") {
        "" | "false" => false,
        "true" => true,
        v => {
            return Err(ApiError::bad_data(format!(
                "parsing exclude_alerts: invalid boolean {v:?}"
            )));
        }
    };
    let owned = |name: &str| p.all(name).into_iter().map(str::to_owned).collect();
    let query = RulesQuery {
        alerting_only,
        rule_names: owned("rule_name[]"),
        rule_groups: owned("rule_group[]"),
        files: owned("file[]"),
        exclude_alerts,
        matchers: matcher_sets(&p.all("match[]"))?,
    };
    Ok(Success::value(&api.backend.rules(&query)))
}

/// `GET /api/v1/alerts`
pub async fn alerts(State(api): State<Arc<Api>>) -> Success {
    Success::value(&api.backend.alerts())
}

/// `GET /api/v1/status/config`
pub async fn config(State(api): State<Arc<Api>>) -> Success {
    Success::value(&json!({ "yaml": api.backend.config_yaml() }))
}

/// `GET /api/v1/status/flags`
pub async fn flags(State(api): State<Arc<Api>>) -> Success {
    let m: serde_json::Map<String, Value> = api
        .backend
        .flags()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Success::value(&Value::Object(m))
}

/// `GET /api/v1/status/runtimeinfo`
pub async fn runtime_info(State(api): State<Arc<Api>>) -> Success {
    Success::value(&api.backend.runtime_info())
}

/// `GET /api/v1/status/buildinfo`
pub async fn build_info(State(api): State<Arc<Api>>) -> Success {
    let b = api.backend.build_info();
    Success::value(&json!({
        "version": b.version,
        "revision": b.revision,
        "branch": b.branch,
        "buildUser": b.build_user,
        "buildDate": b.build_date,
        "goVersion": b.go_version,
    }))
}

/// `GET /api/v1/status/walreplay`
pub async fn wal_replay(State(api): State<Arc<Api>>) -> Success {
    let w = api.backend.wal_replay();
    Success::value(&json!({ "min": w.min, "max": w.max, "current": w.current }))
}

/// `GET /api/v1/status/tsdb?limit=`: head figures and the top series and
/// label cardinalities.
pub async fn tsdb(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    let limit =
        match parse_limit(p.get("limit")).map_err(|e| ApiError::invalid_param("limit", e))? {
            0 => TSDB_STATS_LIMIT_DEFAULT,
            n => n,
        };
    let head = api.backend.head_stats();
    let (mint, maxt) = head.map_or((MIN_TIME_MS, MAX_TIME_MS), |h| {
        (h.min_time_ms, h.max_time_ms)
    });
    let q = api
        .storage
        .querier(mint.min(maxt), maxt.max(mint))
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?;
    let all = Matcher::new(MatchType::Regex, beacon_model::METRIC_NAME, ".+")
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?;
    let series = q
        .select(&[all])
        .map_err(|e| ApiError::new(ErrorType::Internal, e.to_string()))?;
    let mut by_name: HashMap<String, u64> = HashMap::new();
    let mut by_pair: HashMap<String, u64> = HashMap::new();
    let mut values: HashMap<String, HashMap<String, ()>> = HashMap::new();
    for s in &series {
        for l in s.labels.iter() {
            *by_pair
                .entry(format!("{}={}", l.name, l.value))
                .or_default() += 1;
            values
                .entry(l.name.to_owned())
                .or_default()
                .insert(l.value.to_owned(), ());
        }
        if let Some(n) = s.labels.metric_name() {
            *by_name.entry(n.to_owned()).or_default() += 1;
        }
    }
    let value_counts: HashMap<String, u64> = values
        .iter()
        .map(|(k, v)| (k.clone(), v.len() as u64))
        .collect();
    let memory: HashMap<String, u64> = values
        .iter()
        .map(|(k, v)| (k.clone(), v.keys().map(|x| x.len() as u64).sum()))
        .collect();
    let mut h = head.unwrap_or(crate::backend::HeadStats {
        num_series: series.len() as u64,
        num_label_pairs: by_pair.len() as u64,
        chunk_count: 0,
        min_time_ms: i64::MAX,
        max_time_ms: i64::MIN,
    });
    if h.num_label_pairs == 0 {
        // A backend without its own figure: the pairs counted above.
        h.num_label_pairs = by_pair.len() as u64;
    }
    Ok(Success::value(&json!({
        "headStats": {
            "numSeries": h.num_series,
            "numLabelPairs": h.num_label_pairs,
            "chunkCount": h.chunk_count,
            "minTime": h.min_time_ms,
            "maxTime": h.max_time_ms,
        },
        "seriesCountByMetricName": top(by_name, limit),
        "labelValueCountByLabelName": top(value_counts, limit),
        "memoryInBytesByLabelName": top(memory, limit),
        "seriesCountByLabelValuePair": top(by_pair, limit),
    })))
}

/// The `limit` largest entries, largest first, ties by name.
fn top(m: HashMap<String, u64>, limit: usize) -> Value {
    let mut v: Vec<(String, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    Value::Array(
        v.into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect(),
    )
}

fn admin_disabled() -> ApiError {
    ApiError::new(ErrorType::Unavailable, "admin APIs disabled")
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series`
pub async fn delete_series(State(api): State<Arc<Api>>, p: Params) -> Result<Response, ApiError> {
    if !api.opts.enable_admin {
        return Err(admin_disabled());
    }
    let values = p.all("match[]");
    if values.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let start = time_param(&p, "start", MIN_TIME_MS)?;
    let end = time_param(&p, "end", MAX_TIME_MS)?;
    let sets = matcher_sets(&values)?;
    api.backend
        .delete_series(&sets, start, end)
        .map_err(|e| ApiError::new(ErrorType::Internal, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`
pub async fn clean_tombstones(State(api): State<Arc<Api>>) -> Result<Response, ApiError> {
    if !api.opts.enable_admin {
        return Err(admin_disabled());
    }
    api.backend
        .clean_tombstones()
        .map_err(|e| ApiError::new(ErrorType::Internal, e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|PUT /api/v1/admin/tsdb/snapshot?skip_head=`
pub async fn snapshot(State(api): State<Arc<Api>>, p: Params) -> Result<Success, ApiError> {
    if !api.opts.enable_admin {
        return Err(admin_disabled());
    }
    let skip_head = match p.get("skip_head") {
        "" => false,
        s => s.parse::<bool>().map_err(|_| {
            ApiError::bad_data(format!("unable to parse boolean 'skip_head' argument: strconv.ParseBool: parsing {s:?}: invalid syntax"))
        })?,
    };
    let name = api
        .backend
        .snapshot(skip_head)
        .map_err(|e| ApiError::new(ErrorType::Internal, format!("create snapshot: {e}")))?;
    Ok(Success::value(&json!({ "name": name })))
}
