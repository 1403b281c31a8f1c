//! Parsing + relabelling + appending one 10k-series target in-process,
//! into a no-op appender (so the figure is the scrape path's own cost, not
//! a storage's): cold (first scrape, empty cache: every series is labelled,
//! relabelled and hashed) and steady state (every series a cache hit).
//!
//! `cargo bench -p beacon-scrape --bench scrape`; throughput is samples/s
//! on one core.

use beacon_config::relabel::{Action, Regex, RelabelConfig};
use beacon_exposition::parser::ParseFormat;
use beacon_model::{Exemplar, FloatHistogram, Histogram, Labels, Metadata, SeriesRef};
use beacon_scrape::append::{AppendSettings, append_body};
use beacon_scrape::cache::ScrapeCache;
use beacon_scrape::options::Limits;
use beacon_scrape::stats::ScrapeStats;
use beacon_storage::{Appender, Result};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SERIES: usize = 10_000;

/// Accepts everything and keeps nothing.
struct NoopAppender;

impl Appender for NoopAppender {
    fn append(&mut self, _r: SeriesRef, _l: &Labels, _t: i64, _v: f64) -> Result<SeriesRef> {
        Ok(SeriesRef(1))
    }
    fn append_histogram(
        &mut self,
        _r: SeriesRef,
        _l: &Labels,
        _t: i64,
        _h: Option<&Histogram>,
        _fh: Option<&FloatHistogram>,
    ) -> Result<SeriesRef> {
        Ok(SeriesRef(1))
    }
    fn append_exemplar(&mut self, r: SeriesRef, _l: &Labels, _e: &Exemplar) -> Result<SeriesRef> {
        Ok(r)
    }
    fn update_metadata(&mut self, r: SeriesRef, _l: &Labels, _m: &Metadata) -> Result<SeriesRef> {
        Ok(r)
    }
    fn commit(&mut self) -> Result<()> {
        Ok(())
    }
    fn rollback(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A node-exporter-like body: 100 families of 100 series each.
fn body() -> Vec<u8> {
    let mut s = String::new();
    for f in 0..100 {
        s.push_str(&format!(
            "# HELP node_metric_{f} Metric {f}.\n# TYPE node_metric_{f} gauge\n"
        ));
        for i in 0..SERIES / 100 {
            s.push_str(&format!(
                "node_metric_{f}{{device=\"dev{i}\",mode=\"m{}\"}} {}.5\n",
                i % 8,
                f * i
            ));
        }
    }
    s.into_bytes()
}

// RelabelConfig has private fields, so no struct update syntax.
#[allow(clippy::field_reassign_with_default)]
fn bench(c: &mut Criterion) {
    let body = body();
    let target = Labels::from_pairs([("instance", "host:9100"), ("job", "node")]);
    let mut rule = RelabelConfig::default();
    rule.source_labels = vec!["__name__".into()];
    rule.regex = Regex::new("go_gc_.*").unwrap();
    rule.action = Action::Drop;
    let rules = [rule];
    let settings = AppendSettings {
        target_labels: &target,
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        metric_relabel_configs: &rules,
        limits: Limits::default(),
    };
    let stats = ScrapeStats::default();
    let mut g = c.benchmark_group("scrape_10k_series");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("cold", |b| {
        b.iter(|| {
            let mut cache = ScrapeCache::new();
            append_body(
                &mut cache,
                &mut NoopAppender,
                &body,
                ParseFormat::Text,
                1000,
                &settings,
                &stats,
            )
            .unwrap()
        })
    });
    let mut cache = ScrapeCache::new();
    let mut t = 0;
    g.bench_function("steady_state", |b| {
        b.iter(|| {
            t += 1000;
            append_body(
                &mut cache,
                &mut NoopAppender,
                &body,
                ParseFormat::Text,
                t,
                &settings,
                &stats,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
