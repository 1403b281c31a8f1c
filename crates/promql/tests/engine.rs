//! Engine tests over `MemStorage`: every case is a query, an evaluation
//! time and the expected result in a compact text form.

use beacon_model::{Labels, SeriesRef};
use beacon_promql::{CancelToken, Engine, EngineOptions, Error, Value};
use beacon_storage::{Appendable, MemStorage};

/// A test series: metric name, other labels, one value per step from t=0.
type TestSeries<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [f64]);

/// Loads `series`, one value per `step_ms`.
fn storage(series: &[TestSeries<'_>], step_ms: i64) -> MemStorage {
    let db = MemStorage::new();
    {
        let mut app = db.appender();
        for (name, labels, values) in series {
            let mut pairs = vec![("__name__", *name)];
            pairs.extend(labels.iter().copied());
            let l = Labels::from_pairs(pairs);
            for (i, v) in values.iter().enumerate() {
                app.append(SeriesRef::NONE, &l, i as i64 * step_ms, *v)
                    .unwrap();
            }
        }
        app.commit().unwrap();
    }
    db
}

/// Renders a result as sorted `labels value` lines (`scalar v`, `string s`).
fn render(v: &Value) -> String {
    let mut lines: Vec<String> = match v {
        Value::Scalar { v, .. } => vec![format!("scalar {v}")],
        Value::String { v, .. } => vec![format!("string {v}")],
        Value::Vector(samples) => samples
            .iter()
            .map(|s| format!("{} {}", s.labels, s.f))
            .collect(),
        Value::Matrix(series) => series
            .iter()
            .map(|s| {
                let pts: Vec<String> = s.floats.iter().map(|(t, v)| format!("{v}@{t}")).collect();
                format!("{} {}", s.labels, pts.join(" "))
            })
            .collect(),
    };
    lines.sort();
    lines.join("\n")
}

fn db() -> MemStorage {
    storage(
        &[
            (
                "http_requests_total",
                &[("job", "api"), ("instance", "a")],
                &[0.0, 10.0, 20.0, 30.0, 40.0, 50.0],
            ),
            (
                "http_requests_total",
                &[("job", "api"), ("instance", "b")],
                &[0.0, 20.0, 40.0, 5.0, 25.0, 45.0],
            ),
            (
                "http_requests_total",
                &[("job", "db"), ("instance", "c")],
                &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            ),
            (
                "temp",
                &[("room", "x")],
                &[20.0, 21.0, 22.0, 23.0, 24.0, 25.0],
            ),
        ],
        60_000,
    )
}

/// Runs an instant query at `t_ms` and compares the rendered result.
fn check(query: &str, t_ms: i64, expected: &str) {
    let engine = Engine::new(EngineOptions::default());
    let res = engine
        .instant_query(&db(), query, t_ms)
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    assert_eq!(render(&res.value), expected, "query {query} at {t_ms}");
}

#[test]
fn selectors_and_lookback() {
    check("temp", 120_000, r#"temp{room="x"} 22"#);
    check("temp", 130_000, r#"temp{room="x"} 22"#);
    // The lookback window (t-5m, t] is open on the left.
    check("temp", 300_000 + 299_999, r#"temp{room="x"} 25"#);
    check("temp", 300_000 + 300_000, "");
    check("temp offset 1m", 120_000, r#"temp{room="x"} 21"#);
    check("temp @ 60", 300_000, r#"temp{room="x"} 21"#);
    check("temp[2m]", 120_000, r#"temp{room="x"} 21@60000 22@120000"#);
}

#[test]
fn rates_and_aggregations() {
    check(
        r#"rate(http_requests_total{instance="a"}[5m])"#,
        300_000,
        r#"{instance="a", job="api"} 0.16666666666666666"#,
    );
    check(
        r#"increase(http_requests_total{instance="b"}[5m])"#,
        300_000,
        r#"{instance="b", job="api"} 81.25"#,
    );
    check(
        "sum by (job) (http_requests_total)",
        300_000,
        "{job=\"api\"} 95\n{job=\"db\"} 6",
    );
    check("count(http_requests_total)", 0, "{} 3");
    check(
        "topk(1, http_requests_total)",
        300_000,
        r#"http_requests_total{instance="a", job="api"} 50"#,
    );
    check("quantile(0.5, http_requests_total)", 300_000, "{} 45");
    check(
        "avg without (instance) (http_requests_total)",
        60_000,
        "{job=\"api\"} 15\n{job=\"db\"} 2",
    );
}

#[test]
fn binary_operators() {
    check("temp * 2", 0, r#"{room="x"} 40"#);
    check("temp > 21", 120_000, r#"temp{room="x"} 22"#);
    check("temp > bool 23", 120_000, r#"{room="x"} 0"#);
    check("1 + 2 * 3 ^ 2", 0, "scalar 19");
    check(
        r#"http_requests_total / on(job) group_left sum by (job) (http_requests_total)"#,
        300_000,
        "{instance=\"a\", job=\"api\"} 0.5263157894736842\n{instance=\"b\", job=\"api\"} 0.47368421052631576\n{instance=\"c\", job=\"db\"} 1",
    );
    check(
        r#"http_requests_total{job="db"} or temp"#,
        0,
        "http_requests_total{instance=\"c\", job=\"db\"} 1\ntemp{room=\"x\"} 20",
    );
}

#[test]
fn functions() {
    check(
        r#"label_replace(temp, "r", "$1$1", "room", "(.*)")"#,
        0,
        r#"temp{r="xx", room="x"} 20"#,
    );
    check("absent(nope{a=\"b\"})", 0, r#"{a="b"} 1"#);
    check("sum_over_time(temp[3m])", 180_000, r#"{room="x"} 66"#);
    check("max_over_time(temp[10m:1m])", 300_000, r#"{room="x"} 25"#);
    check("timestamp(temp)", 130_000, r#"{room="x"} 120"#);
    check("scalar(temp) + 1", 0, "scalar 21");
    check(r#""hello""#, 0, "string hello");
    check("day_of_month(vector(86400 * 31))", 0, "{} 1");
}

#[test]
fn range_query_steps() {
    let engine = Engine::new(EngineOptions::default());
    let res = engine
        .range_query(&db(), "temp + 0", 0, 120_000, 60_000)
        .unwrap();
    assert_eq!(render(&res.value), r#"{room="x"} 20@0 21@60000 22@120000"#);
}

#[test]
fn limits_and_errors() {
    let engine = Engine::new(EngineOptions {
        max_samples: 5,
        ..EngineOptions::default()
    });
    let err = engine
        .instant_query(&db(), "http_requests_total[10m]", 300_000)
        .unwrap_err();
    assert!(matches!(err, Error::TooManySamples { .. }));
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    let engine = Engine::new(EngineOptions::default());
    let err = engine.instant_query(
        &db(),
        "label_replace(http_requests_total, \"instance\", \"\", \"\", \"\")",
        0,
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    let err = engine.instant_query(&db(), "rate(", 0).unwrap_err();
    assert!(matches!(err, Error::Parse(_)));
}

/// The sample limit applies to what is held at once, not to everything a
/// query ever loaded: each `count_over_time(temp[10m])` loads 6 points and
/// keeps 1, so three of them stay under a limit of 8 although 18 points
/// were loaded in total; one selector holding 12 points at once fails.
#[test]
fn max_samples_counts_peak_not_total() {
    let engine = Engine::new(EngineOptions {
        max_samples: 8,
        ..EngineOptions::default()
    });
    let three =
        "count_over_time(temp[10m]) + count_over_time(temp[10m]) + count_over_time(temp[10m])";
    let res = engine.instant_query(&db(), three, 300_000).unwrap();
    assert_eq!(render(&res.value), r#"{room="x"} 18"#);
    let range = engine
        .range_query(&db(), "count_over_time(temp[1m]) * 2", 0, 120_000, 60_000)
        .unwrap();
    assert_eq!(render(&range.value), r#"{room="x"} 2@0 2@60000 2@120000"#);
    let wide =
        r#"sum(count_over_time({__name__=~"temp|http_requests_total", instance!~"b|c"}[10m]))"#;
    let err = engine.instant_query(&db(), wide, 300_000).unwrap_err();
    assert!(matches!(err, Error::TooManySamples { limit: 8 }), "{err}");
}

#[test]
fn cancellation_timeout_and_concurrency() {
    let engine = Engine::new(EngineOptions::default());
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = engine
        .range_query_with_cancel(&db(), "temp", 0, 60_000, 15_000, &cancel)
        .unwrap_err();
    assert!(matches!(err, Error::Canceled), "{err}");
    let engine = Engine::new(EngineOptions {
        timeout: std::time::Duration::ZERO,
        ..EngineOptions::default()
    });
    let err = engine.instant_query(&db(), "temp", 0).unwrap_err();
    assert_eq!(err.to_string(), "query timed out in query execution");
    // Clones share one gate; with one slot, queries still run one by one.
    let engine = Engine::new(EngineOptions {
        max_concurrent: 1,
        ..EngineOptions::default()
    });
    let storage = db();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (e, st) = (engine.clone(), &storage);
            s.spawn(move || e.instant_query(st, "sum(temp)", 0).unwrap());
        }
    });
}

#[test]
fn annotations() {
    let engine = Engine::new(EngineOptions::default());
    let res = engine
        .instant_query(&db(), "rate(temp[5m])", 300_000)
        .unwrap();
    assert_eq!(
        res.infos,
        vec![
            r#"PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "temp" (1:6)"#
        ]
    );
    let res = engine.instant_query(&db(), "quantile(2, temp)", 0).unwrap();
    assert_eq!(
        res.warnings,
        vec!["PromQL warning: quantile value should be between 0 and 1, got 2 (1:10)"]
    );
}
