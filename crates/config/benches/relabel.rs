//! Relabelling throughput on the scrape hot path: typical
//! `metric_relabel_configs` applied to one node_exporter-like series.

use beacon_config::{Config, process};
use beacon_model::Labels;
use criterion::{Criterion, black_box, criterion_group, criterion_main};

const RULES: &str = r#"
scrape_configs:
  - job_name: node
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_gc_.*|promhttp_.*
        action: drop
      - source_labels: [device]
        regex: (ram|loop)\d+
        action: drop
      - regex: pod_uid|container_id
        action: labeldrop
      - source_labels: [instance]
        regex: '([^:]+):\d+'
        target_label: host
"#;

fn bench(c: &mut Criterion) {
    let cfg = Config::from_yaml_str(RULES, "bench.yml").expect("rules load");
    let rules = &cfg.scrape_configs[0].metric_relabel_configs;
    let series = Labels::from_pairs([
        ("__name__", "node_disk_read_bytes_total"),
        ("device", "nvme0n1"),
        ("instance", "host-17.example:9100"),
        ("job", "node"),
    ]);
    let kept_unchanged = Labels::from_pairs([
        ("__name__", "node_load1"),
        ("instance", "host-17.example"),
        ("job", "node"),
    ]);
    let filters_only = &rules[..3];
    c.bench_function("relabel/4_rules_rewrite", |b| {
        b.iter(|| process(black_box(&series), rules))
    });
    c.bench_function("relabel/3_filters_no_change", |b| {
        b.iter(|| process(black_box(&kept_unchanged), filters_only))
    });
    let dropped = Labels::from_pairs([("__name__", "go_gc_duration_seconds"), ("job", "node")]);
    c.bench_function("relabel/dropped_by_first_rule", |b| {
        b.iter(|| process(black_box(&dropped), rules))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
