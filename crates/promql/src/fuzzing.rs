//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the seed
//! replay test (`tests/fuzz_seeds.rs`), so both exercise exactly the same
//! code on any input. Not part of the stable API.

use std::sync::OnceLock;
use std::time::Duration;

use beacon_model::{Labels, SeriesRef, stale_nan};
use beacon_storage::{Appendable, MemStorage};

use crate::{Engine, EngineOptions, parse};

/// Sample budget for fuzzed evaluations: small, so a query that would hold
/// much data fails fast with `TooManySamples` instead of eating memory.
pub const FUZZ_MAX_SAMPLES: usize = 50_000;
/// Wall-clock budget per fuzzed evaluation.
pub const FUZZ_TIMEOUT: Duration = Duration::from_millis(200);
/// Spacing of the fixed dataset's samples.
const SCRAPE_MS: i64 = 15_000;
/// Number of samples per series in the fixed dataset (one hour).
const POINTS: i64 = 240;

/// The parse target: parsing never panics, and whatever parses prints to
/// text that parses again to the same printed form.
pub fn parse_roundtrip(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse(src) else {
        return;
    };
    let printed = expr.to_string();
    let again = parse(&printed)
        .unwrap_or_else(|e| panic!("printed form {printed:?} of {src:?} does not parse: {e}"));
    assert_eq!(
        again.to_string(),
        printed,
        "printing is not stable for {src:?}"
    );
}

/// A dataset series: its label pairs and its value at sample index `i`.
type FuzzSeries = (&'static [(&'static str, &'static str)], fn(i64) -> f64);

/// A small fixed dataset: counters, gauges with odd values, a stale marker
/// and a series with a gap.
fn dataset() -> &'static MemStorage {
    static DB: OnceLock<MemStorage> = OnceLock::new();
    DB.get_or_init(|| {
        let db = MemStorage::new();
        let mut app = db.appender();
        let series: [FuzzSeries; 5] = [
            (
                &[("__name__", "up"), ("job", "api"), ("instance", "a")],
                |_| 1.0,
            ),
            (
                &[
                    ("__name__", "http_requests_total"),
                    ("job", "api"),
                    ("instance", "a"),
                ],
                |i| (i * 10) as f64,
            ),
            (
                &[
                    ("__name__", "http_requests_total"),
                    ("job", "db"),
                    ("instance", "b"),
                ],
                |i| ((i % 50) * 3) as f64,
            ),
            (&[("__name__", "temp"), ("job", "db"), ("ß", "∞")], |i| {
                if i % 7 == 0 {
                    f64::NAN
                } else {
                    (i as f64).sin() * 1e300
                }
            }),
            (&[("__name__", "gappy"), ("le", "0.5")], |i| {
                if i == 100 { stale_nan() } else { -(i as f64) }
            }),
        ];
        for (pairs, f) in series {
            let l = Labels::from_pairs(pairs.iter().copied());
            for i in 0..POINTS {
                if pairs[0].1 == "gappy" && (120..160).contains(&i) {
                    continue;
                }
                let _ = app.append(SeriesRef::NONE, &l, i * SCRAPE_MS, f(i));
            }
        }
        app.commit().expect("commit fixed fuzz dataset");
        drop(app);
        db
    })
}

/// The parse_eval target: anything that parses is evaluated as an instant
/// query and as a range query over the dataset; errors are fine, panics and
/// runaway queries are not.
pub fn parse_eval(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if parse(src).is_err() {
        return;
    }
    let engine = Engine::new(EngineOptions {
        max_samples: FUZZ_MAX_SAMPLES,
        timeout: FUZZ_TIMEOUT,
        ..EngineOptions::default()
    });
    let db = dataset();
    let end = (POINTS - 1) * SCRAPE_MS;
    let _ = engine.instant_query(db, src, end);
    let _ = engine.range_query(db, src, end / 2, end, 60_000);
}
