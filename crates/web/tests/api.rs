//! The HTTP API over `MemStorage` and the real PromQL engine: every
//! endpoint's JSON shape, parameter errors (400 `bad_data` with the
//! reason), oversized queries (422), gating of admin, lifecycle and
//! readiness, the route prefix, gzip, and the calls Grafana makes.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use beacon_exposition::family::MetricFamily;
use beacon_model::{Exemplar, Labels, Matcher, Metadata, MetricType, SeriesRef};
use beacon_promql::EngineOptions;
use beacon_storage::{Appendable, MemStorage};
use beacon_web::backend::{ActiveTarget, BuildInfo, DroppedTarget, RulesQuery, TargetMetadata};
use beacon_web::promql_engine::PromqlEngine;
use beacon_web::{Api, Backend, WebOptions, router};
use tower::ServiceExt;

/// The server side of the API for these tests: fixed status data, and
/// admin/lifecycle calls recorded so tests can see they happened.
#[derive(Default)]
struct TestBackend {
    quit: AtomicBool,
    reload_fails: bool,
}

impl Backend for TestBackend {
    fn config_yaml(&self) -> String {
        "global:\n  scrape_interval: 15s\n".to_owned()
    }
    fn flags(&self) -> Vec<(String, String)> {
        vec![("query.timeout".into(), "2m".into())]
    }
    fn runtime_info(&self) -> serde_json::Value {
        serde_json::json!({"CWD": "/", "reloadConfigSuccess": true})
    }
    /// Echoes the parsed filters so the tests see what the handler understood.
    fn rules(&self, q: &RulesQuery) -> serde_json::Value {
        serde_json::json!({
            "groups": [],
            "seen": {
                "alerting_only": q.alerting_only,
                "rule_names": q.rule_names,
                "rule_groups": q.rule_groups,
                "files": q.files,
                "exclude_alerts": q.exclude_alerts,
                "matcher_sets": q.matchers.len(),
            }
        })
    }
    fn alerts(&self) -> serde_json::Value {
        serde_json::json!({"alerts": [{"labels": {"alertname": "Down"}, "state": "firing"}]})
    }
    fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        (vec!["http://am:9093/api/v2/alerts".into()], Vec::new())
    }
    fn build_info(&self) -> BuildInfo {
        BuildInfo {
            version: "0.1.0".into(),
            ..BuildInfo::default()
        }
    }
    fn active_targets(&self) -> Vec<ActiveTarget> {
        ["a", "b"]
            .iter()
            .map(|job| ActiveTarget {
                discovered_labels: Labels::from_pairs([("__address__", "h:1")]),
                labels: Labels::from_pairs([("instance", "h:1"), ("job", job)]),
                scrape_pool: (*job).to_owned(),
                scrape_url: "http://h:1/metrics".into(),
                global_url: "http://h:1/metrics".into(),
                last_error: String::new(),
                last_scrape_ms: Some(1_000),
                last_scrape_duration_s: 0.5,
                health: "up".into(),
                scrape_interval: "15s".into(),
                scrape_timeout: "10s".into(),
            })
            .collect()
    }
    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        vec![DroppedTarget {
            discovered_labels: Labels::from_pairs([("__address__", "h:2")]),
            scrape_pool: "a".into(),
        }]
    }
    fn target_metadata(&self) -> Vec<TargetMetadata> {
        vec![TargetMetadata {
            target: Labels::from_pairs([("instance", "h:1"), ("job", "a")]),
            metric: "up".into(),
            metadata: Metadata {
                metric_type: MetricType::Gauge,
                help: "Up.".into(),
                unit: String::new(),
            },
        }]
    }
    fn scrape_pools(&self) -> Vec<String> {
        vec!["a".into(), "b".into()]
    }
    fn reload(&self) -> Result<(), String> {
        if self.reload_fails {
            Err("bad yaml".into())
        } else {
            Ok(())
        }
    }
    fn quit(&self) {
        self.quit.store(true, Ordering::SeqCst);
    }
    fn delete_series(&self, _: &[Vec<Matcher>], _: i64, _: i64) -> Result<(), String> {
        Ok(())
    }
    fn clean_tombstones(&self) -> Result<(), String> {
        Ok(())
    }
    fn snapshot(&self, _: bool) -> Result<String, String> {
        Ok("20260101T000000Z-0123456789abcdef".into())
    }
    fn collect_metrics(&self, out: &mut Vec<MetricFamily>) {
        let mut f = MetricFamily::new("prometheus_build_info", "Build.", MetricType::Gauge);
        f.push_value(Labels::empty(), 1.0);
        out.push(f);
    }
}

/// Series `up{job,instance}` and `http_requests_total{code}` with samples
/// every 15 s from 0 to 300 s.
fn storage() -> Arc<MemStorage> {
    let db = Arc::new(MemStorage::new());
    let mut app = db.appender();
    let series = [
        Labels::from_pairs([("__name__", "up"), ("instance", "h:1"), ("job", "a")]),
        Labels::from_pairs([("__name__", "up"), ("instance", "h:2"), ("job", "b")]),
        Labels::from_pairs([
            ("__name__", "http_requests_total"),
            ("code", "200"),
            ("job", "a"),
        ]),
    ];
    for t in (0..=300_000).step_by(15_000) {
        for (i, l) in series.iter().enumerate() {
            let v = if i == 2 { t as f64 / 1000.0 } else { 1.0 };
            app.append(SeriesRef::NONE, l, t, v).unwrap();
        }
    }
    let trace = Labels::from_pairs([("trace_id", "abc123")]);
    let e = Exemplar {
        labels: trace,
        value: 1.5,
        t: Some(285_500),
    };
    app.append_exemplar(SeriesRef::NONE, &series[2], &e)
        .unwrap();
    app.commit().unwrap();
    drop(app);
    db
}

struct Setup {
    opts: WebOptions,
    engine: EngineOptions,
    ready: bool,
    backend: TestBackend,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            opts: WebOptions::new(),
            engine: EngineOptions::default(),
            ready: true,
            backend: TestBackend::default(),
        }
    }
}

fn app(s: Setup) -> (Router, Arc<TestBackend>) {
    let backend = Arc::new(s.backend);
    let store = storage();
    let mut api = Api::new(
        Arc::clone(&store) as _,
        Arc::new(PromqlEngine::new(s.engine)),
        Arc::clone(&backend) as _,
        s.opts,
        Arc::new(AtomicBool::new(s.ready)),
    );
    api.now_ms = || 300_000;
    api.set_appendable(Some(Arc::clone(&store) as _));
    api.exemplars = Some(store);
    (router(Arc::new(api)), backend)
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn get(app: &Router, uri: &str) -> (StatusCode, String) {
    let (s, _, b) = send(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    (s, b)
}

/// Checks one GET: status and exact body.
async fn check(app: &Router, uri: &str, status: u16, body: &str) {
    let (s, b) = get(app, uri).await;
    assert_eq!((s.as_u16(), b.as_str()), (status, body), "GET {uri}");
}

/// Checks one GET that must fail with `bad_data` (or another type) and a
/// message containing `msg`.
async fn check_err(app: &Router, uri: &str, status: u16, kind: &str, msg: &str) {
    let (s, b) = get(app, uri).await;
    let v: serde_json::Value =
        serde_json::from_str(&b).unwrap_or_else(|e| panic!("{uri}: {e}: {b}"));
    assert_eq!(s.as_u16(), status, "GET {uri}: {b}");
    assert_eq!(v["status"], "error", "{uri}");
    assert_eq!(v["errorType"], kind, "{uri}: {b}");
    let got = v["error"].as_str().unwrap_or_default();
    assert!(got.contains(msg), "GET {uri}: error {got:?} lacks {msg:?}");
}

#[tokio::test]
async fn instant_queries() {
    let (a, _) = app(Setup::default());
    check(
        &a,
        "/api/v1/query?query=up&time=300",
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"h:1","job":"a"},"value":[300,"1"]},{"metric":{"__name__":"up","instance":"h:2","job":"b"},"value":[300,"1"]}]}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/query?query=1.5&time=10.5",
        200,
        r#"{"status":"success","data":{"resultType":"scalar","result":[10.500,"1.5"]}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/query?query=%22x%22&time=1",
        200,
        r#"{"status":"success","data":{"resultType":"string","result":[1,"x"]}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/query?query=1%2F0&time=1",
        200,
        r#"{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}"#,
    )
    .await;
    // No time parameter: the injected clock (300 s).
    check(&a, "/api/v1/query?query=vector(2)", 200, r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[300,"2"]}]}}"#).await;
    check(&a, "/api/v1/query?query=up%5B30s%5D&time=300", 200,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"h:1","job":"a"},"values":[[285,"1"],[300,"1"]]},{"metric":{"__name__":"up","instance":"h:2","job":"b"},"values":[[285,"1"],[300,"1"]]}]}}"#).await;
}

#[tokio::test]
async fn query_parameter_errors() {
    let (a, _) = app(Setup::default());
    check_err(
        &a,
        "/api/v1/query?query=up%7B&time=1",
        400,
        "bad_data",
        "invalid parameter \"query\": 1:4: parse error",
    )
    .await;
    check_err(
        &a,
        "/api/v1/query?query=up&time=abc",
        400,
        "bad_data",
        "invalid parameter \"time\": Invalid time value for 'time': cannot parse \"abc\" to a valid timestamp",
    )
    .await;
    check_err(
        &a,
        "/api/v1/query?query=up&timeout=x",
        400,
        "bad_data",
        "invalid parameter \"timeout\": cannot parse \"x\" to a valid duration",
    )
    .await;
    check_err(
        &a,
        "/api/v1/query_range?query=up&end=1&step=1",
        400,
        "bad_data",
        "invalid parameter \"start\": cannot parse \"\" to a valid timestamp",
    )
    .await;
    check_err(
        &a,
        "/api/v1/query_range?query=up&start=1&step=1",
        400,
        "bad_data",
        "invalid parameter \"end\"",
    )
    .await;
    check_err(
        &a,
        "/api/v1/query_range?query=up&start=2&end=1&step=1",
        400,
        "bad_data",
        "invalid parameter \"end\": end timestamp must not be before start time",
    )
    .await;
    check_err(&a, "/api/v1/query_range?query=up&start=1&end=2&step=0", 400, "bad_data", "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer").await;
    check_err(
        &a,
        "/api/v1/query_range?query=up&start=1&end=2&step=x",
        400,
        "bad_data",
        "invalid parameter \"step\": cannot parse \"x\" to a valid duration",
    )
    .await;
    check_err(&a, "/api/v1/query_range?query=up&start=0&end=11001&step=1", 400, "bad_data", "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)").await;
    check_err(
        &a,
        "/api/v1/query?query=sum(",
        400,
        "bad_data",
        "invalid parameter \"query\"",
    )
    .await;
}

#[tokio::test]
async fn oversized_query_is_422() {
    let (a, _) = app(Setup {
        engine: EngineOptions {
            max_samples: 3,
            ..EngineOptions::default()
        },
        ..Setup::default()
    });
    check_err(
        &a,
        "/api/v1/query?query=up%5B5m%5D&time=300",
        422,
        "execution",
        "query processing would load too many samples into memory in query execution",
    )
    .await;
}

#[tokio::test]
async fn range_queries_and_stats() {
    let (a, _) = app(Setup::default());
    check(
        &a,
        "/api/v1/query_range?query=up%7Bjob%3D%22a%22%7D&start=0&end=30&step=15s",
        200,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up","instance":"h:1","job":"a"},"values":[[0,"1"],[15,"1"],[30,"1"]]}]}}"#,
    )
    .await;
    let (s, b) = get(
        &a,
        "/api/v1/query_range?query=up&start=0&end=30&step=15&stats=all",
    )
    .await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert!(
        v["data"]["stats"]["timings"]["execTotalTime"].is_number(),
        "{b}"
    );
    assert!(
        v["data"]["stats"]["samples"]["totalQueryableSamplesPerStep"].is_array(),
        "{b}"
    );
    // POST form bodies work like query strings.
    let req = Request::post("/api/v1/query_range")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("query=vector(1)&start=0&end=15&step=15"))
        .unwrap();
    let (s, _, b) = send(&a, req).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[0,"1"],[15,"1"]]}]}}"#
    );
}

#[tokio::test]
async fn format_parse_and_exemplars() {
    let (a, _) = app(Setup::default());
    check(
        &a,
        "/api/v1/format_query?query=sum%20by(job)(up)",
        200,
        r#"{"status":"success","data":"sum by (job) (up)"}"#,
    )
    .await;
    check_err(
        &a,
        "/api/v1/format_query?query=sum(",
        400,
        "bad_data",
        "invalid parameter \"query\"",
    )
    .await;
    let (s, b) = get(&a, "/api/v1/parse_query?query=up%7Bjob%3D%22a%22%7D").await;
    assert_eq!(s, 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["data"]["type"], "vectorSelector", "{b}");
    assert_eq!(v["data"]["name"], "up", "{b}");
    check(
        &a,
        "/api/v1/query_exemplars?query=up&start=0&end=300",
        200,
        r#"{"status":"success","data":[]}"#,
    )
    .await;
    check_err(
        &a,
        "/api/v1/query_exemplars?query=up%7B&start=0&end=300",
        400,
        "bad_data",
        "parse error",
    )
    .await;
}

#[tokio::test]
async fn series_and_labels() {
    let (a, _) = app(Setup::default());
    check(
        &a,
        "/api/v1/series?match[]=up&match[]=http_requests_total",
        200,
        r#"{"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"a"},{"__name__":"up","instance":"h:1","job":"a"},{"__name__":"up","instance":"h:2","job":"b"}]}"#,
    )
    .await;
    check(&a, "/api/v1/series?match[]=up&limit=1", 200, r#"{"status":"success","data":[{"__name__":"up","instance":"h:1","job":"a"}],"warnings":["results truncated due to limit"]}"#).await;
    check_err(
        &a,
        "/api/v1/series",
        400,
        "bad_data",
        "no match[] parameter provided",
    )
    .await;
    check_err(
        &a,
        "/api/v1/series?match[]=up%7B",
        400,
        "bad_data",
        "parse error",
    )
    .await;
    check_err(
        &a,
        "/api/v1/series?match[]=%7Bjob%3D%22%22%7D",
        400,
        "bad_data",
        "at least one non-empty matcher",
    )
    .await;
    check_err(
        &a,
        "/api/v1/series?match[]=up&start=x",
        400,
        "bad_data",
        "invalid parameter \"start\"",
    )
    .await;
    check(
        &a,
        "/api/v1/labels",
        200,
        r#"{"status":"success","data":["__name__","code","instance","job"]}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/labels?match[]=up",
        200,
        r#"{"status":"success","data":["__name__","instance","job"]}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/label/job/values",
        200,
        r#"{"status":"success","data":["a","b"]}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/label/__name__/values?match[]=%7Bjob%3D%22a%22%7D",
        200,
        r#"{"status":"success","data":["http_requests_total","up"]}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/label/nope/values",
        200,
        r#"{"status":"success","data":[]}"#,
    )
    .await;
    check_err(
        &a,
        "/api/v1/labels?limit=-1",
        400,
        "bad_data",
        "invalid parameter \"limit\": limit must be non-negative",
    )
    .await;
}

#[tokio::test]
async fn status_endpoints() {
    let (a, _) = app(Setup::default());
    check(&a, "/api/v1/status/buildinfo", 200, r#"{"status":"success","data":{"branch":"","buildDate":"","buildUser":"","goVersion":"","revision":"","version":"0.1.0"}}"#).await;
    check(
        &a,
        "/api/v1/status/flags",
        200,
        r#"{"status":"success","data":{"query.timeout":"2m"}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/status/config",
        200,
        r#"{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n"}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/status/runtimeinfo",
        200,
        r#"{"status":"success","data":{"CWD":"/","reloadConfigSuccess":true}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/status/walreplay",
        200,
        r#"{"status":"success","data":{"current":0,"max":0,"min":0}}"#,
    )
    .await;
    let (s, b) = get(&a, "/api/v1/status/tsdb").await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["data"]["headStats"]["numSeries"], 3, "{b}");
    assert_eq!(
        v["data"]["seriesCountByMetricName"][0],
        serde_json::json!({"name": "up", "value": 2}),
        "{b}"
    );
    check(
        &a,
        "/api/v1/alertmanagers",
        200,
        r#"{"status":"success","data":{"activeAlertmanagers":[{"url":"http://am:9093/api/v2/alerts"}],"droppedAlertmanagers":[]}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/rules",
        200,
        r#"{"status":"success","data":{"groups":[],"seen":{"alerting_only":null,"exclude_alerts":false,"files":[],"matcher_sets":0,"rule_groups":[],"rule_names":[]}}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/rules?type=alert&rule_name[]=A&rule_name[]=B&rule_group[]=g&file[]=f.yml&exclude_alerts=true&match[]=%7Bseverity=%22page%22%7D",
        200,
        r#"{"status":"success","data":{"groups":[],"seen":{"alerting_only":true,"exclude_alerts":true,"files":["f.yml"],"matcher_sets":1,"rule_groups":["g"],"rule_names":["A","B"]}}}"#,
    )
    .await;
    check_err(
        &a,
        "/api/v1/rules?type=x",
        400,
        "bad_data",
        "unsupported type",
    )
    .await;
    check_err(
        &a,
        "/api/v1/rules?exclude_alerts=maybe",
        400,
        "bad_data",
        "exclude_alerts",
    )
    .await;
    check_err(&a, "/api/v1/rules?match[]=%7B", 400, "bad_data", "1:2").await;
    check(
        &a,
        "/api/v1/alerts",
        200,
        r#"{"status":"success","data":{"alerts":[{"labels":{"alertname":"Down"},"state":"firing"}]}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/scrape_pools",
        200,
        r#"{"status":"success","data":{"scrapePools":["a","b"]}}"#,
    )
    .await;
    check_err(&a, "/api/v1/nope", 404, "not_found", "not found").await;
}

#[tokio::test]
async fn targets_and_metadata() {
    let (a, _) = app(Setup::default());
    let (s, b) = get(&a, "/api/v1/targets").await;
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    let t = &v["data"]["activeTargets"][0];
    for key in [
        "discoveredLabels",
        "labels",
        "scrapePool",
        "scrapeUrl",
        "globalUrl",
        "lastError",
        "lastScrape",
        "lastScrapeDuration",
        "health",
        "scrapeInterval",
        "scrapeTimeout",
    ] {
        assert!(!t[key].is_null(), "{key} missing: {b}");
    }
    assert_eq!(t["lastScrape"], "1970-01-01T00:00:01Z");
    assert_eq!(v["data"]["droppedTargetCounts"]["a"], 1);
    let (_, b) = get(&a, "/api/v1/targets?state=active&scrapePool=b").await;
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v["data"]["activeTargets"].as_array().unwrap().len(),
        1,
        "{b}"
    );
    assert_eq!(
        v["data"]["droppedTargets"].as_array().unwrap().len(),
        0,
        "{b}"
    );
    check(
        &a,
        "/api/v1/metadata",
        200,
        r#"{"status":"success","data":{"up":[{"help":"Up.","type":"gauge","unit":""}]}}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/metadata?metric=nope",
        200,
        r#"{"status":"success","data":{}}"#,
    )
    .await;
    check(&a, "/api/v1/targets/metadata?match_target=%7Bjob%3D%22a%22%7D", 200, r#"{"status":"success","data":[{"help":"Up.","metric":"up","target":{"instance":"h:1","job":"a"},"type":"gauge","unit":""}]}"#).await;
}

#[tokio::test]
async fn admin_and_lifecycle_are_gated() {
    let (a, backend) = app(Setup::default());
    let post = |uri: &str| Request::post(uri).body(Body::empty()).unwrap();
    let (s, _, b) = send(&a, post("/api/v1/admin/tsdb/snapshot")).await;
    assert_eq!(
        (s.as_u16(), b.as_str()),
        (
            503,
            r#"{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}"#
        )
    );
    let (s, _, b) = send(&a, post("/-/quit")).await;
    assert_eq!(
        (s.as_u16(), b.as_str()),
        (403, "Lifecycle API is not enabled.")
    );
    assert!(!backend.quit.load(Ordering::SeqCst));
    check(&a, "/-/reload", 405, "Only POST or PUT requests allowed").await;

    let mut opts = WebOptions::new();
    opts.enable_admin = true;
    opts.enable_lifecycle = true;
    let (a, backend) = app(Setup {
        opts,
        backend: TestBackend {
            reload_fails: true,
            ..TestBackend::default()
        },
        ..Setup::default()
    });
    let (s, _, b) = send(&a, post("/api/v1/admin/tsdb/snapshot")).await;
    assert_eq!(
        (s.as_u16(), b.as_str()),
        (
            200,
            r#"{"status":"success","data":{"name":"20260101T000000Z-0123456789abcdef"}}"#
        )
    );
    let (s, _, _) = send(&a, post("/api/v1/admin/tsdb/delete_series?match[]=up")).await;
    assert_eq!(s, 204);
    let (s, _, b) = send(&a, post("/api/v1/admin/tsdb/delete_series")).await;
    assert_eq!(s, 400, "{b}");
    let (s, _, _) = send(&a, post("/api/v1/admin/tsdb/clean_tombstones")).await;
    assert_eq!(s, 204);
    let (s, _, b) = send(&a, post("/-/reload")).await;
    assert_eq!(
        (s.as_u16(), b.as_str()),
        (500, "failed to reload config: bad yaml\n")
    );
    let (s, _, _) = send(&a, post("/-/quit")).await;
    assert_eq!(s, 200);
    assert!(backend.quit.load(Ordering::SeqCst));
}

#[tokio::test]
async fn readiness_health_and_metrics() {
    let (a, _) = app(Setup {
        ready: false,
        ..Setup::default()
    });
    check(&a, "/-/healthy", 200, "Prometheus Server is Healthy.\n").await;
    check(&a, "/-/ready", 503, "Service Unavailable").await;
    check(&a, "/api/v1/query?query=up", 503, "Service Unavailable").await;
    let (a, _) = app(Setup::default());
    check(&a, "/-/ready", 200, "Prometheus Server is Ready.\n").await;
    get(&a, "/api/v1/labels").await;
    let (s, h, b) = send(&a, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(s, 200);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    assert!(
        b.contains("prometheus_http_requests_total{code=\"200\",handler=\"/api/v1/labels\"} 1\n"),
        "{b}"
    );
    assert!(b.contains("prometheus_build_info 1\n"), "{b}");
    assert!(
        b.contains("prometheus_engine_query_duration_seconds_count{slice=\"inner_eval\"}"),
        "{b}"
    );
    let req = Request::get("/metrics")
        .header(header::ACCEPT, "application/openmetrics-text;version=1.0.0")
        .body(Body::empty())
        .unwrap();
    let (_, h, b) = send(&a, req).await;
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(b.ends_with("# EOF\n"));
}

#[tokio::test]
async fn route_prefix_gzip_and_cors() {
    let mut opts = WebOptions::new();
    opts.route_prefix = "/prometheus".into();
    let (a, _) = app(Setup {
        opts,
        ..Setup::default()
    });
    check(
        &a,
        "/prometheus/api/v1/label/job/values",
        200,
        r#"{"status":"success","data":["a","b"]}"#,
    )
    .await;
    let (s, _) = get(&a, "/api/v1/label/job/values").await;
    assert_eq!(s, 404);
    let req = Request::get("/prometheus/api/v1/series?match[]=up")
        .header(header::ACCEPT_ENCODING, "gzip")
        .header(header::ORIGIN, "http://grafana")
        .body(Body::empty())
        .unwrap();
    let resp = a.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        text.starts_with(r#"{"status":"success","data":[{"__name__":"up""#),
        "{text}"
    );
}

#[tokio::test]
async fn federate_latest_samples() {
    let (a, _) = app(Setup::default());
    let (s, b) = get(&a, "/federate?match[]=up").await;
    assert_eq!(s, 200);
    assert_eq!(
        b,
        "# TYPE up untyped\nup{instance=\"h:1\",job=\"a\"} 1 300000\nup{instance=\"h:2\",job=\"b\"} 1 300000\n"
    );
}

/// The calls Grafana's Prometheus data source makes, with its parameters.
#[tokio::test]
async fn grafana_calls() {
    let (a, _) = app(Setup::default());
    let (s, b) = get(&a, "/api/v1/status/buildinfo").await;
    assert_eq!(s, 200, "{b}");
    check(
        &a,
        "/api/v1/labels?start=0&end=300",
        200,
        r#"{"status":"success","data":["__name__","code","instance","job"]}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/label/instance/values?match[]=up&start=0&end=300",
        200,
        r#"{"status":"success","data":["h:1","h:2"]}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/series?match[]=%7B__name__%3D%22up%22%2Cjob%3D%22b%22%7D&start=0&end=300",
        200,
        r#"{"status":"success","data":[{"__name__":"up","instance":"h:2","job":"b"}]}"#,
    )
    .await;
    let (s, _) = get(&a, "/api/v1/metadata?limit=1000").await;
    assert_eq!(s, 200);
    // Grafana aligns start and end to the step and posts the form.
    let req = Request::post("/api/v1/query_range")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            "query=sum%20by(job)(up)&start=240&end=300&step=30",
        ))
        .unwrap();
    let (s, _, b) = send(&a, req).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[240,"1"],[270,"1"],[300,"1"]]},{"metric":{"job":"b"},"values":[[240,"1"],[270,"1"],[300,"1"]]}]}}"#
    );
    check(
        &a,
        "/api/v1/query_exemplars?query=http_requests_total&start=240&end=300",
        200,
        r#"{"status":"success","data":[{"seriesLabels":{"__name__":"http_requests_total","code":"200","job":"a"},"exemplars":[{"labels":{"trace_id":"abc123"},"value":"1.5","timestamp":285.500}]}]}"#,
    )
    .await;
    check(
        &a,
        "/api/v1/query_exemplars?query=rate(http_requests_total[5m])&start=290&end=300",
        200,
        r#"{"status":"success","data":[]}"#,
    )
    .await;
}

fn remote_write_request(body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri("/api/v1/write")
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn remote_write_receiver() {
    use beacon_remote::proto::{Label, Sample, TimeSeries, WriteRequest};
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: "rw_test".into(),
                },
                Label {
                    name: "job".into(),
                    value: "remote".into(),
                },
            ],
            samples: vec![Sample {
                value: 4.5,
                timestamp: 290_000,
            }],
            ..TimeSeries::default()
        }],
        ..WriteRequest::default()
    };
    let body = beacon_remote::codec::encode_v1(&req);

    // Off unless the flag is given, as in Prometheus.
    let (a, _) = app(Setup::default());
    let (s, _, _) = send(&a, remote_write_request(body.clone())).await;
    assert_eq!(s, 404);

    let mut setup = Setup::default();
    setup.opts.enable_remote_write_receiver = true;
    let (a, _) = app(setup);
    let (s, _, b) = send(&a, remote_write_request(body)).await;
    assert_eq!(s, 204, "{b}");
    check(
        &a,
        "/api/v1/query?query=rw_test&time=300",
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"rw_test","job":"remote"},"value":[300,"4.5"]}]}}"#,
    )
    .await;
    let (s, _, b) = send(&a, remote_write_request(b"not snappy".to_vec())).await;
    assert_eq!(s, 400, "{b}");
}
