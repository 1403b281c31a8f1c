//! The router: every Prometheus path under the route prefix, with the
//! middleware Prometheus applies (request metrics, CORS on the API, the
//! readiness gate, gzip, body limits) and the lifecycle endpoints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use beacon_exposition::encode::{Format, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, encode};
use beacon_storage::{Appendable, ExemplarQueryable, Queryable};
use tokio::sync::Semaphore;
use tower_http::compression::CompressionLayer;

use crate::backend::Backend;
use crate::engine::QueryEngine;
use crate::error::{ApiError, Error, ErrorType, Result};
use crate::metrics::WebMetrics;
use crate::params::FORM_BODY_BYTES_MAX;
use crate::{meta, query, status};

/// Options that shape the router.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// Path prefix for every route, `/` for none (from `--web.route-prefix`
    /// or the path of `--web.external-url`).
    pub route_prefix: String,
    pub enable_admin: bool,
    pub enable_lifecycle: bool,
    pub enable_remote_write_receiver: bool,
    /// `--web.cors.origin`, already anchored.
    pub cors_origin: regex::Regex,
    /// `--query.timeout`.
    pub query_timeout: Duration,
    /// `--query.max-concurrency`.
    pub max_concurrency: usize,
}

impl WebOptions {
    /// Defaults as Prometheus's flags have them.
    pub fn new() -> WebOptions {
        WebOptions {
            route_prefix: "/".to_owned(),
            enable_admin: false,
            enable_lifecycle: false,
            enable_remote_write_receiver: false,
            cors_origin: cors_regex(".*")
                .unwrap_or_else(|_| regex::Regex::new("^$").expect("literal regex")),
            query_timeout: Duration::from_secs(120),
            max_concurrency: 20,
        }
    }
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions::new()
    }
}

/// Compiles `--web.cors.origin` fully anchored, as Prometheus does.
pub fn cors_regex(pattern: &str) -> Result<regex::Regex> {
    beacon_model::regex::compile_anchored(pattern).map_err(|e| Error::CorsOrigin {
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })
}

/// The route prefix Prometheus derives: `--web.route-prefix` when given,
/// else the path of `--web.external-url`; always starting with `/` and
/// without a trailing one (except for the root).
pub fn route_prefix(flag: Option<&str>, external_url: Option<&str>) -> Result<String> {
    let raw = match flag {
        Some(p) => p.to_owned(),
        None => external_url
            .and_then(|u| u.split_once("://").map(|(_, rest)| rest))
            .and_then(|rest| rest.find('/').map(|i| rest[i..].to_owned()))
            .unwrap_or_default(),
    };
    let trimmed = raw.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok("/".to_owned());
    }
    if !trimmed.starts_with('/') {
        return Err(Error::RoutePrefix(raw));
    }
    Ok(trimmed.to_owned())
}

/// Everything the handlers share.
pub struct Api {
    pub storage: Arc<dyn Queryable>,
    /// Exemplar storage for `/api/v1/query_exemplars`; without it the
    /// endpoint answers an empty list, as Prometheus does with exemplar
    /// storage off.
    pub exemplars: Option<Arc<dyn ExemplarQueryable>>,
    /// Where `/api/v1/write` appends: set once the database is open and
    /// taken away before it closes (the endpoint answers 503 meanwhile).
    appendable: RwLock<Option<Arc<dyn Appendable>>>,
    /// The remote-write receiver behind `/api/v1/write`.
    pub remote: Arc<beacon_remote::Receiver>,
    pub engine: Arc<dyn QueryEngine>,
    pub backend: Arc<dyn Backend>,
    pub opts: WebOptions,
    /// False until WAL replay is done; `/-/ready` and the API answer 503
    /// until then.
    pub ready: Arc<AtomicBool>,
    pub metrics: Arc<WebMetrics>,
    pub(crate) query_slots: Semaphore,
    /// The clock, injectable for tests: milliseconds since the epoch.
    pub now_ms: fn() -> i64,
}

impl Api {
    pub fn new(
        storage: Arc<dyn Queryable>,
        engine: Arc<dyn QueryEngine>,
        backend: Arc<dyn Backend>,
        opts: WebOptions,
        ready: Arc<AtomicBool>,
    ) -> Api {
        let metrics = Arc::new(WebMetrics::default());
        let slots = opts.max_concurrency.max(1);
        metrics.queries_max.store(slots as u64, Ordering::Relaxed);
        Api {
            storage,
            exemplars: None,
            appendable: RwLock::new(None),
            remote: Arc::new(beacon_remote::Receiver::new()),
            engine,
            backend,
            opts,
            ready,
            metrics,
            query_slots: Semaphore::new(slots),
            now_ms,
        }
    }
}

impl Api {
    /// Gives `/api/v1/write` its storage, or takes it away (`None`).
    pub fn set_appendable(&self, a: Option<Arc<dyn Appendable>>) {
        if let Ok(mut g) = self.appendable.write() {
            *g = a;
        }
    }
}

/// The wall clock in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    beacon_model::Timestamp::now().ms()
}

fn api_routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/query", get(query::instant).post(query::instant))
        .route("/query_range", get(query::range).post(query::range))
        .route(
            "/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/parse_query",
            get(query::parse_query).post(query::parse_query),
        )
        .route(
            "/query_exemplars",
            get(query::exemplars).post(query::exemplars),
        )
        .route("/series", get(meta::series).post(meta::series))
        .route("/labels", get(meta::labels).post(meta::labels))
        .route("/label/{name}/values", get(meta::label_values))
        .route("/targets", get(status::targets))
        .route("/targets/metadata", get(status::targets_metadata))
        .route("/metadata", get(status::metadata))
        .route("/scrape_pools", get(status::scrape_pools))
        .route("/alertmanagers", get(status::alertmanagers))
        .route("/rules", get(status::rules))
        .route("/alerts", get(status::alerts))
        .route("/status/config", get(status::config))
        .route("/status/flags", get(status::flags))
        .route("/status/runtimeinfo", get(status::runtime_info))
        .route("/status/buildinfo", get(status::build_info))
        .route("/status/tsdb", get(status::tsdb))
        .route("/status/walreplay", get(status::wal_replay))
        .route(
            "/admin/tsdb/delete_series",
            post(status::delete_series).put(status::delete_series),
        )
        .route(
            "/admin/tsdb/clean_tombstones",
            post(status::clean_tombstones).put(status::clean_tombstones),
        )
        .route(
            "/admin/tsdb/snapshot",
            post(status::snapshot).put(status::snapshot),
        )
        .route(
            "/write",
            post(remote_write).layer(DefaultBodyLimit::max(beacon_remote::BODY_BYTES_MAX)),
        )
        .fallback(api_not_found)
}

/// Builds the whole router for `api`.
pub fn router(api: Arc<Api>) -> Router {
    let gated = Router::new()
        .nest("/api/v1", api_routes())
        .route("/federate", get(meta::federate))
        .layer(middleware::from_fn_with_state(Arc::clone(&api), cors))
        .layer(middleware::from_fn_with_state(Arc::clone(&api), ready_gate));
    let inner = Router::new()
        .merge(gated)
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/ready", get(ready).head(ready))
        .route("/-/reload", post(reload).put(reload).get(lifecycle_get))
        .route("/-/quit", post(quit).put(quit).get(lifecycle_get))
        .layer(middleware::from_fn_with_state(Arc::clone(&api), instrument))
        .layer(DefaultBodyLimit::max(FORM_BODY_BYTES_MAX))
        .layer(CompressionLayer::new())
        .with_state(Arc::clone(&api));
    match api.opts.route_prefix.as_str() {
        "/" | "" => inner,
        prefix => Router::new().nest(prefix, inner),
    }
}

async fn api_not_found() -> ApiError {
    ApiError::new(ErrorType::NotFound, "not found")
}

/// `POST /api/v1/write`: Prometheus remote write 1.0 and 2.0, when
/// `--web.enable-remote-write-receiver` is given.
async fn remote_write(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !api.opts.enable_remote_write_receiver {
        return (
            StatusCode::NOT_FOUND,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver\n",
        )
            .into_response();
    }
    let db = api.appendable.read().ok().and_then(|g| g.clone());
    let Some(db) = db else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage is not ready yet\n",
        )
            .into_response();
    };
    let get = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (ct, ce) = (get(header::CONTENT_TYPE), get(header::CONTENT_ENCODING));
    let rx = Arc::clone(&api.remote);
    // Decoding and the commit (a WAL write) block: off the async threads.
    let out = tokio::task::spawn_blocking(move || {
        rx.handle_write(ct.as_deref(), ce.as_deref(), &body, &*db)
    })
    .await;
    let Ok(out) = out else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let status = StatusCode::from_u16(out.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = if out.body.is_empty() {
        status.into_response()
    } else {
        (status, out.body).into_response()
    };
    for (name, value) in out.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

async fn instrument(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |m| m.as_str().to_owned());
    let started = Instant::now();
    let resp = next.run(req).await;
    api.metrics.observe_request(
        &handler,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

async fn ready_gate(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    if !api.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    next.run(req).await
}

/// Prometheus's CORS handling on API routes: headers only when the
/// request has an `Origin`; `*` when the pattern is the default `.*`.
async fn cors(State(api): State<Arc<Api>>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_options = req.method() == Method::OPTIONS;
    let mut resp = if is_options {
        StatusCode::OK.into_response()
    } else {
        next.run(req).await
    };
    if let Some(origin) = origin {
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Accept, Authorization, Content-Type, Origin"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Date"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        let allow = if api.opts.cors_origin.as_str() == "^(?s:.*)$" {
            Some(HeaderValue::from_static("*"))
        } else if api.opts.cors_origin.is_match(&origin) {
            HeaderValue::from_str(&origin).ok()
        } else {
            None
        };
        if let Some(v) = allow {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
    }
    resp
}

async fn metrics(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let om = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let mut fams = Vec::new();
    api.metrics.collect(&mut fams);
    api.backend.collect_metrics(&mut fams);
    api.remote.collect(&mut fams);
    fams.sort_by(|a, b| a.name.cmp(&b.name));
    let (fmt, ct) = if om {
        (Format::OpenMetrics, OPENMETRICS_CONTENT_TYPE)
    } else {
        (Format::Text004, TEXT_CONTENT_TYPE)
    };
    let mut resp = encode(fmt, &fams).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    resp
}

async fn healthy() -> &'static str {
    "Prometheus Server is Healthy.\n"
}

async fn ready(State(api): State<Arc<Api>>) -> Response {
    if api.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "Prometheus Server is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response()
    }
}

fn lifecycle_disabled() -> Response {
    (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.").into_response()
}

async fn lifecycle_get() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "Only POST or PUT requests allowed",
    )
        .into_response()
}

async fn reload(State(api): State<Arc<Api>>) -> Response {
    if !api.opts.enable_lifecycle {
        return lifecycle_disabled();
    }
    let backend = Arc::clone(&api.backend);
    match tokio::task::spawn_blocking(move || backend.reload()).await {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn quit(State(api): State<Arc<Api>>) -> Response {
    if !api.opts.enable_lifecycle {
        return lifecycle_disabled();
    }
    api.backend.quit();
    (StatusCode::OK, "Requesting termination... Goodbye!").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_prefixes() {
        assert_eq!(route_prefix(None, None).unwrap(), "/");
        assert_eq!(
            route_prefix(None, Some("http://host/prometheus/")).unwrap(),
            "/prometheus"
        );
        assert_eq!(
            route_prefix(Some("/custom"), Some("http://host/prometheus/")).unwrap(),
            "/custom"
        );
        assert_eq!(route_prefix(None, Some("http://host:9090")).unwrap(), "/");
        assert!(route_prefix(Some("nope"), None).is_err());
    }
}
