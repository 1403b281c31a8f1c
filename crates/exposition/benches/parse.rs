//! Parse throughput on node_exporter-like bodies (~85 KB, ~1,200 series,
//! and a ~9.5 MB one), text 0.0.4 and OpenMetrics: (a) the bare tokenizer,
//! reading every entry, and (b) with each sample's labels materialised as
//! `beacon_model::Labels`, as a scrape that misses its cache does.
//!
//! The bodies are generated deterministically here (families, label
//! shapes and value spellings like node_exporter's), so the bench needs
//! no data files. Run: `cargo bench -p beacon-exposition`.
//!
//! Time is the benchmark thread's CPU time, not wall time: on a shared
//! machine wall time mostly measures the scheduler, and the targets are
//! per core. Throughput is printed in MiB/s of input.

use std::hint::black_box;

use beacon_exposition::encode::{Format, encode};
use beacon_exposition::family::{Bucket, Metric, MetricFamily, MetricValue, Quantile};
use beacon_exposition::{Entry, ParseFormat, Parser};
use beacon_model::{Labels, MetricType};
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

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

struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        for v in values.iter_mut() {
            *v /= 1000.0;
        }
        "µs (cpu)"
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let bytes = match t {
            Throughput::Bytes(b) | Throughput::BytesDecimal(b) => *b as f64,
            Throughput::Elements(e) => *e as f64,
        };
        for v in values.iter_mut() {
            *v = bytes * 1e9 / *v / 1_048_576.0;
        }
        "MiB/s (cpu)"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// A small deterministic generator (xorshift) for value digits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn value(&mut self) -> f64 {
        match self.next() % 4 {
            0 => (self.next() % 100) as f64,
            1 => (self.next() % 10_000_000) as f64 / 100.0,
            2 => (self.next() % 1_000_000_000_000) as f64 * 8.0,
            _ => (self.next() % 1_000_000) as f64 / 1e6,
        }
    }
}

fn gauge(rng: &mut Rng, name: &str, t: MetricType, series: &[Vec<(&str, String)>]) -> MetricFamily {
    let mut f = MetricFamily::new(
        name,
        format!("Metric {name} as node_exporter reports it."),
        t,
    );
    for labels in series {
        f.push_value(
            Labels::from_pairs(labels.iter().map(|(n, v)| (*n, v.as_str()))),
            rng.value(),
        );
    }
    f
}

/// One node's worth of families (~1,000 series); `prefix` keeps copies distinct.
fn node_families(rng: &mut Rng, prefix: &str) -> Vec<MetricFamily> {
    let modes = [
        "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
    ];
    let cpu: Vec<Vec<(&str, String)>> = (0..96)
        .flat_map(|c| {
            modes
                .iter()
                .map(move |m| vec![("cpu", c.to_string()), ("mode", (*m).to_owned())])
        })
        .collect();
    let devices: Vec<Vec<(&str, String)>> = (0..40)
        .map(|d| vec![("device", format!("eth{d}"))])
        .collect();
    let fs: Vec<Vec<(&str, String)>> = (0..30)
        .map(|d| {
            vec![
                ("device", format!("/dev/nvme0n1p{d}")),
                ("fstype", "ext4".to_owned()),
                // Kubernetes nodes mount a volume per pod: long mountpoints.
                (
                    "mountpoint",
                    format!(
                        "/var/lib/kubelet/pods/8f3c{d:04}-1b2a/volumes/kubernetes.io~empty-dir/data"
                    ),
                ),
            ]
        })
        .collect();
    let disks: Vec<Vec<(&str, String)>> = (0..40)
        .map(|d| vec![("device", format!("nvme{d}n1"))])
        .collect();
    let nics: Vec<Vec<(&str, String)>> = (0..60)
        .map(|d| {
            vec![
                ("address", format!("0a:58:0a:f4:{d:02x}:01")),
                ("broadcast", "ff:ff:ff:ff:ff:ff".to_owned()),
                ("device", format!("veth{d:08x}")),
                ("duplex", "full".to_owned()),
                ("operstate", "up".to_owned()),
            ]
        })
        .collect();
    let none = vec![Vec::new()];
    let mut out = vec![
        gauge(
            rng,
            &format!("{prefix}node_cpu_seconds_total"),
            MetricType::Counter,
            &cpu,
        ),
        gauge(
            rng,
            &format!("{prefix}node_network_receive_bytes_total"),
            MetricType::Counter,
            &devices,
        ),
        gauge(
            rng,
            &format!("{prefix}node_network_transmit_bytes_total"),
            MetricType::Counter,
            &devices,
        ),
        gauge(
            rng,
            &format!("{prefix}node_network_receive_packets_total"),
            MetricType::Counter,
            &devices,
        ),
        gauge(
            rng,
            &format!("{prefix}node_filesystem_avail_bytes"),
            MetricType::Gauge,
            &fs,
        ),
        gauge(
            rng,
            &format!("{prefix}node_filesystem_size_bytes"),
            MetricType::Gauge,
            &fs,
        ),
        gauge(
            rng,
            &format!("{prefix}node_filesystem_files_free"),
            MetricType::Gauge,
            &fs,
        ),
        gauge(
            rng,
            &format!("{prefix}node_load1"),
            MetricType::Gauge,
            &none,
        ),
        gauge(
            rng,
            &format!("{prefix}node_disk_read_bytes_total"),
            MetricType::Counter,
            &disks,
        ),
        gauge(
            rng,
            &format!("{prefix}node_disk_written_bytes_total"),
            MetricType::Counter,
            &disks,
        ),
        gauge(
            rng,
            &format!("{prefix}node_disk_io_time_seconds_total"),
            MetricType::Counter,
            &disks,
        ),
        gauge(
            rng,
            &format!("{prefix}node_network_info"),
            MetricType::Gauge,
            &nics,
        ),
        gauge(
            rng,
            &format!("{prefix}node_memory_MemAvailable_bytes"),
            MetricType::Gauge,
            &none,
        ),
    ];
    let mut s = MetricFamily::new(
        format!("{prefix}go_gc_duration_seconds"),
        "GC pauses.",
        MetricType::Summary,
    );
    s.metrics.push(Metric {
        labels: Labels::empty(),
        value: MetricValue::Summary {
            count: 7476.0,
            sum: 56.1,
            quantiles: [0.0, 0.25, 0.5, 0.75, 1.0]
                .iter()
                .map(|q| Quantile {
                    quantile: *q,
                    value: rng.value(),
                })
                .collect(),
            created_s: None,
        },
        timestamp_ms: None,
    });
    let mut h = MetricFamily::new(
        format!("{prefix}http_request_duration_seconds"),
        "Latency.",
        MetricType::Histogram,
    );
    for code in ["200", "404", "500"] {
        let buckets = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]
        .iter()
        .enumerate()
        .map(|(i, b)| Bucket {
            upper_bound: *b,
            cumulative_count: (i * 10) as f64,
            exemplar: None,
        })
        .collect();
        h.metrics.push(Metric {
            labels: Labels::from_pairs([("code", code), ("handler", "/metrics")]),
            value: MetricValue::Histogram {
                count: 200.0,
                sum: 12.5,
                buckets,
                created_s: None,
                native: None,
            },
            timestamp_ms: None,
        });
    }
    out.push(s);
    out.push(h);
    out
}

fn bodies(copies: usize) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut fams = Vec::new();
    for i in 0..copies {
        let prefix = if i == 0 {
            String::new()
        } else {
            format!("n{i}_")
        };
        fams.extend(node_families(&mut rng, &prefix));
    }
    (
        encode(Format::Text004, &fams).into_bytes(),
        encode(Format::OpenMetrics, &fams).into_bytes(),
    )
}

fn tokenize(format: ParseFormat, body: &[u8]) -> usize {
    let mut n = 0;
    for e in Parser::new(format, body) {
        if let Ok(Entry::Sample(s)) = e {
            n += black_box(s.series.len());
        }
    }
    n
}

fn with_labels(format: ParseFormat, body: &[u8]) -> usize {
    let mut n = 0;
    for e in Parser::new(format, body) {
        if let Ok(Entry::Sample(s)) = e {
            n += black_box(s.to_labels()).as_bytes().len();
        }
    }
    n
}

fn bench(c: &mut Criterion<CpuTime>) {
    for (size, copies) in [("100KB", 1usize), ("10MB", 105)] {
        let (text, om) = bodies(copies);
        eprintln!(
            "{size}: text {} bytes, openmetrics {} bytes",
            text.len(),
            om.len()
        );
        let mut g = c.benchmark_group(format!("parse_{size}"));
        for (name, format, body) in [
            ("text", ParseFormat::Text, &text),
            ("openmetrics", ParseFormat::OpenMetrics, &om),
            ("openmetrics_strict", ParseFormat::OpenMetricsStrict, &om),
        ] {
            assert!(
                Parser::new(format, body).all(|e| e.is_ok()),
                "{name} body parses"
            );
            g.throughput(Throughput::Bytes(body.len() as u64));
            g.bench_function(format!("{name}/tokenize"), |b| {
                b.iter(|| tokenize(format, black_box(body)))
            });
            if format != ParseFormat::OpenMetricsStrict {
                g.bench_function(format!("{name}/labels"), |b| {
                    b.iter(|| with_labels(format, black_box(body)))
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = bench
}
criterion_main!(benches);
