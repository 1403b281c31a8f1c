//! Engine benchmarks: range queries (1h at 60 steps) over 10k series of
//! one hour at a 15s interval, read from `MemStorage`. Throughput is
//! reported as input samples per second.

use beacon_model::{Labels, SeriesRef};
use beacon_promql::{Engine, EngineOptions};
use beacon_storage::{Appendable, MemStorage};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Series per metric.
const SERIES: usize = 10_000;
/// Scrape interval and covered time.
const INTERVAL_MS: i64 = 15_000;
const HOUR_MS: i64 = 3_600_000;
/// Range query step: 60 steps over the hour.
const STEP_MS: i64 = 60_000;

const MODES: [&str; 8] = [
    "user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice",
];
const LES: [&str; 10] = [
    "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "50", "+Inf",
];

fn load() -> MemStorage {
    let db = MemStorage::new();
    {
        let mut app = db.appender();
        let points = HOUR_MS / INTERVAL_MS + 1;
        for i in 0..SERIES {
            let cpu = Labels::from_pairs([
                ("__name__", "node_cpu_seconds_total"),
                ("instance", &format!("host-{}", i / 80)),
                ("cpu", &(i % 10).to_string()),
                ("mode", MODES[(i / 10) % 8]),
            ]);
            let hist = Labels::from_pairs([
                ("__name__", "h_bucket"),
                ("instance", &format!("host-{}", i / 10)),
                ("le", LES[i % 10]),
            ]);
            for p in 0..points {
                let t = p * INTERVAL_MS;
                let v = (p as f64) * (1.0 + (i % 7) as f64);
                app.append(SeriesRef::NONE, &cpu, t, v).unwrap();
                app.append(SeriesRef::NONE, &hist, t, v * (1 + i % 10) as f64)
                    .unwrap();
            }
        }
        app.commit().unwrap();
    }
    db
}

fn bench(c: &mut Criterion) {
    let db = load();
    let engine = Engine::new(EngineOptions::default());
    let samples_per_query = (SERIES as u64) * (HOUR_MS / INTERVAL_MS + 1) as u64;
    let queries = [
        ("rate", "rate(node_cpu_seconds_total[5m])"),
        (
            "sum_by_rate",
            "sum by (mode) (rate(node_cpu_seconds_total[5m]))",
        ),
        (
            "histogram_quantile",
            "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
        ),
        ("topk", "topk(10, rate(node_cpu_seconds_total[5m]))"),
    ];
    let mut group = c.benchmark_group("range_1h_60_steps_10k_series");
    group.sample_size(10);
    group.throughput(Throughput::Elements(samples_per_query));
    for (name, q) in queries {
        group.bench_function(name, |b| {
            b.iter(|| {
                engine
                    .range_query(&db, q, HOUR_MS - 59 * STEP_MS, HOUR_MS, STEP_MS)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
