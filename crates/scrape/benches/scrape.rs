//! Parsing + relabelling + appending one 10k-series target in-process,
//! into a no-op appender (so the figure is the scrape path's own cost, not
//! a storage's): cold (first scrape, empty cache: every series is labelled,
//! relabelled and hashed) and steady state (every series a cache hit).
//!
//! `cargo bench -p beacon-scrape --bench scrape`; throughput is samples/s
//! on one core. Time is the benchmark thread's CPU time, not wall time: on
//! a shared machine wall time mostly measures the scheduler.

use beacon_config::relabel::{Action, Regex, RelabelConfig};
use beacon_exposition::parser::ParseFormat;
use beacon_model::{Exemplar, FloatHistogram, Histogram, Labels, Metadata, SeriesRef};
use beacon_scrape::append::{AppendSettings, append_body};
use beacon_scrape::cache::ScrapeCache;
use beacon_scrape::options::Limits;
use beacon_scrape::stats::ScrapeStats;
use beacon_storage::{Appender, Result};
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;

const SERIES: usize = 10_000;

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Criterion measurement of thread CPU time.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Prints CPU microseconds and samples per CPU-second.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for v in values.iter_mut() {
            *v /= 1000.0;
        }
        "µs (cpu)"
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => *b as f64,
            Throughput::Elements(e) => *e as f64,
        };
        for v in values.iter_mut() {
            *v = n * 1e9 / *v / 1e6;
        }
        "M samples/s (cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

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
fn bench(c: &mut Criterion<CpuTime>) {
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
        classic_histograms: false,
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

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
