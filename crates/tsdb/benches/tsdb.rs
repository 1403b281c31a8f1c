//! TSDB benchmarks and figures: append throughput with cached refs, CPU
//! time per ingested sample, WAL replay, selects from head and blocks,
//! bytes per sample in compacted blocks (seeded node_exporter-like data and
//! the real recording), the live data directory's size on disk, and memory
//! per active series.
//!
//! Run: `cargo bench -p beacon-tsdb --bench tsdb`. The figures print first
//! (`FIGURE name: value`), then criterion's timings.

use std::hint::black_box;
use std::time::Instant;

use beacon_model::{Labels, Matcher, SeriesRef};
use beacon_storage::{Appendable, Queryable, ValueType};
use beacon_tsdb::{Db, Options};
use criterion::{Criterion, Throughput};

const INTERVAL_MS: i64 = 15_000;
const TWO_HOURS_MS: i64 = 2 * 3600 * 1000;

/// A small seeded PRNG (xorshift) so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// How one synthetic series moves.
#[derive(Clone, Copy)]
enum Shape {
    Constant(f64),
    Counter { rate: u64 },
    Gauge { scale: f64 },
    Bucket { rate: u64 },
}

/// node_exporter-like series: per host, CPU mode counters, memory and
/// filesystem gauges, constant info-like series, and one classic histogram.
fn node_like(hosts: usize, seed: u64) -> Vec<(Labels, Shape)> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::new();
    for h in 0..hosts {
        let inst = format!("host-{h:05}:9100");
        let base = |name: &str, extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("__name__", name),
                ("instance", inst.as_str()),
                ("job", "node"),
            ];
            pairs.extend_from_slice(extra);
            Labels::from_pairs(pairs)
        };
        for cpu in 0..4 {
            let c = cpu.to_string();
            for mode in [
                "idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice",
            ] {
                let rate = if mode == "idle" { 1500 } else { rng.below(40) };
                out.push((
                    base("node_cpu_seconds_total", &[("cpu", &c), ("mode", mode)]),
                    Shape::Counter { rate },
                ));
            }
        }
        for m in [
            "MemFree_bytes",
            "Cached_bytes",
            "Buffers_bytes",
            "Active_bytes",
            "Dirty_bytes",
        ] {
            out.push((
                base(&format!("node_memory_{m}"), &[]),
                Shape::Gauge { scale: 4096.0 },
            ));
        }
        for m in ["MemTotal_bytes", "SwapTotal_bytes", "HugePages_Total"] {
            out.push((
                base(&format!("node_memory_{m}"), &[]),
                Shape::Constant(8.0e9),
            ));
        }
        for dev in ["vda", "vdb"] {
            for m in [
                "reads_completed_total",
                "writes_completed_total",
                "read_bytes_total",
                "written_bytes_total",
            ] {
                out.push((
                    base(&format!("node_disk_{m}"), &[("device", dev)]),
                    Shape::Counter {
                        rate: rng.below(5000),
                    },
                ));
            }
            out.push((
                base(
                    "node_filesystem_avail_bytes",
                    &[("device", dev), ("mountpoint", "/")],
                ),
                Shape::Gauge { scale: 4096.0 },
            ));
            out.push((
                base(
                    "node_filesystem_size_bytes",
                    &[("device", dev), ("mountpoint", "/")],
                ),
                Shape::Constant(1.0e11),
            ));
        }
        for le in [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf",
        ] {
            out.push((
                base("node_scrape_duration_seconds_bucket", &[("le", le)]),
                Shape::Bucket { rate: 1 },
            ));
        }
        out.push((base("node_load1", &[]), Shape::Gauge { scale: 0.01 }));
        out.push((base("node_boot_time_seconds", &[]), Shape::Constant(1.7e9)));
        out.push((
            base("node_uname_info", &[("release", "6.1.0")]),
            Shape::Constant(1.0),
        ));
    }
    out
}

/// The value of series `i` with shape `s` at step `k`.
fn value_at(s: Shape, i: usize, k: i64, state: &mut [f64], rng: &mut Rng) -> f64 {
    match s {
        Shape::Constant(v) => v,
        Shape::Counter { rate } => {
            // Counters advance by whole units (ticks, bytes), now and then.
            if rate > 0 && rng.below(3) > 0 {
                state[i] += (rng.below(rate + 1)) as f64;
            }
            state[i]
        }
        Shape::Bucket { rate } => {
            state[i] += (k % 2 == 0) as u64 as f64 * rate as f64;
            state[i]
        }
        Shape::Gauge { scale } => {
            if rng.below(4) == 0 {
                state[i] += (rng.below(201) as f64 - 100.0) * scale;
            }
            state[i]
        }
    }
}

/// Appends `steps` scrapes of `series` at 15 s (with ±2 ms jitter).
fn fill(db: &Db, series: &[(Labels, Shape)], steps: i64, seed: u64) -> u64 {
    let mut rng = Rng(seed | 1);
    let mut state = vec![1000.0; series.len()];
    let mut refs = vec![SeriesRef::NONE; series.len()];
    let mut n = 0;
    for k in 0..steps {
        let mut app = db.appender();
        let t = k * INTERVAL_MS + rng.below(5) as i64 - 2;
        for (i, (l, s)) in series.iter().enumerate() {
            let v = value_at(*s, i, k, &mut state, &mut rng);
            refs[i] = app.append(refs[i], l, t.max(0), v).unwrap();
            n += 1;
        }
        app.commit().unwrap();
    }
    n
}

fn no_wal() -> Options {
    Options {
        wal: false,
        ..Options::default()
    }
}

/// Bytes per sample of the blocks in `dir` (index, chunks and meta).
fn bytes_per_sample(db: &Db) -> (f64, u64) {
    let blocks = db.blocks();
    let bytes: u64 = blocks.iter().map(|b| b.size_bytes()).sum();
    let samples: u64 = blocks.iter().map(|b| b.meta().stats.num_samples).sum();
    (bytes as f64 / samples.max(1) as f64, samples)
}

fn figure_synthetic_compression() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), no_wal()).unwrap();
    let series = node_like(100, 42);
    // 6 h so the first 2 h block and its neighbour get cut.
    fill(&db, &series, 3 * TWO_HOURS_MS / INTERVAL_MS, 7);
    db.compact_if_needed().unwrap();
    let (bps, n) = bytes_per_sample(&db);
    println!(
        "FIGURE bytes_per_sample synthetic node-like ({} series, 15 s, {n} samples in blocks): {bps:.3}",
        series.len()
    );
}

/// Parses `{a="b",c="d"}` as the recording prints labels.
fn parse_labels(name: &str, s: &str) -> Labels {
    let mut pairs = vec![("__name__".to_string(), name.to_string())];
    let body = s.trim_start_matches('{').trim_end_matches('}');
    let mut rest = body;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim_start_matches(',').to_string();
        let mut val = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let mut end = 0;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => val.push('\n'),
                    Some((_, o)) => val.push(o),
                    None => {}
                },
                '"' => {
                    end = eq + 2 + i + 1;
                    break;
                }
                c => val.push(c),
            }
        }
        pairs.push((key, val));
        rest = &rest[end..];
    }
    Labels::from_pairs(pairs)
}

fn figure_real_compression() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/bench/data/node_exporter.json.gz"
    );
    let Ok(f) = std::fs::File::open(path) else {
        println!("FIGURE bytes_per_sample real recording: RECORDING NOT FOUND at {path}");
        return;
    };
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut text)
        .unwrap();
    let doc: serde_json::Value = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => {
            println!("FIGURE bytes_per_sample real recording: UNREADABLE ({e})");
            return;
        }
    };
    let offsets: Vec<i64> = doc["offsets_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let t0 = (doc["t0"].as_f64().unwrap() * 1000.0) as i64;
    let mut series = Vec::new();
    for s in doc["series"].as_array().unwrap() {
        let labels = parse_labels(s[0].as_str().unwrap(), s[1].as_str().unwrap());
        let mut vals = Vec::new();
        for run in s[2].as_array().unwrap() {
            let v = run[0].as_f64().unwrap_or(f64::NAN);
            vals.extend(std::iter::repeat_n(v, run[1].as_u64().unwrap() as usize));
        }
        series.push((labels, vals));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            block_range_ms: 3_600_000,
            ..no_wal()
        },
    )
    .unwrap();
    let mut refs = vec![SeriesRef::NONE; series.len()];
    // The 600 s recording is replayed 12 times back to back (2 h of data at
    // its real 1 s interval), each pass continuing the counters.
    let passes = 12;
    for p in 0..passes {
        let mut app = db.appender();
        for (k, off) in offsets.iter().enumerate() {
            let t = t0 + p * 600_000 + off;
            for (i, (l, vals)) in series.iter().enumerate() {
                refs[i] = app
                    .append(refs[i], l, t, vals[k.min(vals.len() - 1)])
                    .unwrap();
            }
        }
        app.commit().unwrap();
    }
    db.compact_head(
        beacon_tsdb::series::range_start(t0, 3_600_000),
        beacon_tsdb::series::range_start(t0, 3_600_000) + 3 * 3_600_000,
    )
    .unwrap();
    let (bps, n) = bytes_per_sample(&db);
    println!(
        "FIGURE bytes_per_sample real node_exporter recording ({} series, 1 s, {n} samples): {bps:.3}",
        series.len()
    );
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn figure_memory() {
    let hosts = 1300; // ~100k series
    let series = node_like(hosts, 3);
    for (label, steps) in [("30 min", 121), ("2 h", TWO_HOURS_MS / INTERVAL_MS)] {
        let dir = tempfile::tempdir().unwrap();
        let before = rss_kib();
        let db = Db::open(dir.path(), no_wal()).unwrap();
        fill(&db, &series, steps, 11);
        let after = rss_kib();
        let n = db.head().series_count() as f64;
        let heap = db.head().heap_bytes() as f64;
        println!(
            "FIGURE memory per active series ({n} series, {label} at 15 s = {steps} samples each): RSS delta {:.0} B, accounted heap {:.0} B",
            (after.saturating_sub(before) * 1024) as f64 / n,
            heap / n
        );
    }
}

/// Bytes the files under `dir` take: (allocated as `du` counts them,
/// apparent as `du --apparent-size` does).
fn disk_usage(dir: &std::path::Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let (mut used, mut apparent) = (0, 0);
    for ent in std::fs::read_dir(dir).unwrap() {
        let ent = ent.unwrap();
        let md = ent.metadata().unwrap();
        if md.is_dir() {
            let (u, a) = disk_usage(&ent.path());
            used += u;
            apparent += a;
        } else {
            used += md.blocks() * 512;
            apparent += md.len();
        }
    }
    (used, apparent)
}

/// The live data directory of a young server (WAL and head chunks, no
/// block yet): 1,000 series for 1 h at 15 s.
fn figure_disk() {
    let dir = tempfile::tempdir().unwrap();
    let series = node_like(10, 13);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let n = fill(&db, &series, 3600 * 1000 / INTERVAL_MS, 17);
    let (used, apparent) = disk_usage(dir.path());
    let (cu, ca) = disk_usage(&dir.path().join("chunks_head"));
    println!(
        "FIGURE live disk footprint ({n} samples, {} series, 1 h): du {:.1} B/sample ({used} B), apparent {:.1} B/sample ({apparent} B); chunks_head du {cu} B, apparent {ca} B",
        series.len(),
        used as f64 / n as f64,
        apparent as f64 / n as f64
    );
}

/// CPU time (user + system) this process has used, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: `getrusage` only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The append + commit + WAL path as a scrape drives it: 10k series with
/// cached refs, one commit per scrape, 2 h at 15 s. CPU time is measured
/// rather than wall time, so other load on the machine matters less.
fn figure_ingest() {
    let series = node_like(160, 21);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let before = rss_kib();
    let cpu = cpu_seconds();
    let n = fill(&db, &series, TWO_HOURS_MS / INTERVAL_MS, 23);
    let secs = cpu_seconds() - cpu;
    let rss = (rss_kib().saturating_sub(before) * 1024) as f64;
    let count = db.head().series_count() as f64;
    println!(
        "FIGURE ingest ({n} samples, {count} series, WAL on): {:.0} ns CPU/sample, {:.2} M samples per CPU second; RSS delta {:.0} B/series, accounted heap {:.0} B/series",
        secs * 1e9 / n as f64,
        n as f64 / secs / 1e6,
        rss / count,
        db.head().heap_bytes() as f64 / count
    );
}

fn figure_replay() {
    let dir = tempfile::tempdir().unwrap();
    let series = node_like(100, 5);
    let n = {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let n = fill(&db, &series, TWO_HOURS_MS / INTERVAL_MS, 9);
        db.close().unwrap();
        n
    };
    let start = Instant::now();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(db.stats().head_samples_appended_total, n);
    let replay = db.stats().wal_replay_seconds;
    println!(
        "FIGURE WAL replay ({n} samples, {} series): {:.1} M samples/s replaying ({replay:.3} s); whole Db::open {secs:.3} s",
        series.len(),
        n as f64 / replay / 1e6
    );
}

fn bench_append(c: &mut Criterion) {
    let series = node_like(100, 1); // 10k series
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(series.len() as u64));
    for (name, wal) in [("cached_refs_wal", true), ("cached_refs_no_wal", false)] {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            Options {
                wal,
                ..Options::default()
            },
        )
        .unwrap();
        let mut refs = vec![SeriesRef::NONE; series.len()];
        let mut t = 0i64;
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut app = db.appender();
                for (i, (l, _)) in series.iter().enumerate() {
                    refs[i] = app.append(refs[i], l, t, (t % 1000) as f64).unwrap();
                }
                app.commit().unwrap();
                t += INTERVAL_MS;
            })
        });
    }
    g.finish();
}

fn bench_select(c: &mut Criterion) {
    let series = node_like(100, 2);
    let steps = TWO_HOURS_MS / INTERVAL_MS;
    let mut g = c.benchmark_group("select_10k_series_2h");
    g.sample_size(10);
    g.throughput(Throughput::Elements(series.len() as u64 * steps as u64));
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        Options {
            block_range_ms: TWO_HOURS_MS,
            ..no_wal()
        },
    )
    .unwrap();
    fill(&db, &series, steps, 3);
    let run = |db: &Db| {
        let q = db.querier(0, TWO_HOURS_MS).unwrap();
        let mut n = 0u64;
        for mut s in q.select(&[Matcher::equal("job", "node")]).unwrap() {
            while s.samples.next() == ValueType::Float {
                black_box(s.samples.at());
                n += 1;
            }
        }
        n
    };
    g.bench_function("head", |b| b.iter(|| run(&db)));
    db.compact_head(0, TWO_HOURS_MS).unwrap();
    assert!(!db.blocks().is_empty());
    g.bench_function("block", |b| b.iter(|| run(&db)));
    g.finish();
}

fn main() {
    // Figures take a minute; BEACON_TSDB_BENCH_FIGURES picks some
    // (comma-separated names, or "none").
    let pick = std::env::var("BEACON_TSDB_BENCH_FIGURES").unwrap_or_default();
    let want = |n: &str| pick.is_empty() || pick.split(',').any(|p| p == n);
    let figures: [(&str, fn()); 6] = [
        ("ingest", figure_ingest),
        ("disk", figure_disk),
        ("synthetic", figure_synthetic_compression),
        ("real", figure_real_compression),
        ("memory", figure_memory),
        ("replay", figure_replay),
    ];
    for (name, f) in figures {
        if want(name) {
            f();
        }
    }
    let mut c = Criterion::default().configure_from_args();
    bench_append(&mut c);
    bench_select(&mut c);
    c.final_summary();
}
