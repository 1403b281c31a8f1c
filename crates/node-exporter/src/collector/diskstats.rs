//! `node_disk_*` from `/proc/diskstats` (sectors become bytes, ms become
//! seconds) and `node_disk_info` with udev properties.

use std::collections::BTreeMap;
use std::sync::Arc;

use beacon_model::MetricType;

use crate::collector::{Collector, Config, device_filtered, read_existing};
use crate::error::{Error, Result};
use crate::fsread::parse_f64;
use crate::metric_set::MetricSet;

/// Linux counts sectors of 512 bytes in `/proc/diskstats`, whatever the
/// device's real sector size.
const SECTOR_BYTES: f64 = 512.0;
/// Times in `/proc/diskstats` are milliseconds.
const SECONDS_PER_TICK: f64 = 1.0 / 1000.0;

/// One column of `/proc/diskstats` after major, minor and name: metric
/// suffix, help, type and the factor that converts it to base units.
struct Column(&'static str, &'static str, MetricType, f64);

const COLUMNS: &[Column] = &[
    Column(
        "reads_completed_total",
        "The total number of reads completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "reads_merged_total",
        "The total number of reads merged.",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "read_bytes_total",
        "The total number of bytes read successfully.",
        MetricType::Counter,
        SECTOR_BYTES,
    ),
    Column(
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    Column(
        "writes_completed_total",
        "The total number of writes completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "writes_merged_total",
        "The number of writes merged.",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "written_bytes_total",
        "The total number of bytes written successfully.",
        MetricType::Counter,
        SECTOR_BYTES,
    ),
    Column(
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    Column(
        "io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
        1.0,
    ),
    Column(
        "io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    Column(
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    Column(
        "discards_completed_total",
        "The total number of discards completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "discards_merged_total",
        "The total number of discards merged.",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
    Column(
        "flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricType::Counter,
        1.0,
    ),
    Column(
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricType::Counter,
        SECONDS_PER_TICK,
    ),
];

pub struct Diskstats(pub Arc<Config>);

impl Collector for Diskstats {
    fn name(&self) -> &'static str {
        "diskstats"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let cfg = &self.0;
        let path = cfg.proc("diskstats");
        let text = read_existing(&path)?;
        let mut name = String::with_capacity(64);
        for (i, line) in text.lines().enumerate() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 14 {
                return Err(Error::parse(&path, i + 1, "fewer than 14 columns"));
            }
            let (major, minor, dev) = (cols[0], cols[1], cols[2]);
            if device_filtered(
                cfg.diskstats_include.as_ref(),
                cfg.diskstats_exclude.as_ref(),
                dev,
            ) {
                continue;
            }
            let udev = udev_properties(cfg, major, minor);
            let prop = |k: &str| udev.get(k).map(String::as_str).unwrap_or("");
            out.gauge(
                "node_disk_info",
                "Info of /sys/block/<block_device>.",
                &[
                    ("device", dev),
                    ("major", major),
                    ("minor", minor),
                    ("path", prop("ID_PATH")),
                    ("wwn", prop("ID_WWN")),
                    ("model", prop("ID_MODEL")),
                    ("serial", prop("ID_SERIAL_SHORT")),
                    ("revision", prop("ID_REVISION")),
                ],
                1.0,
            );
            if udev.contains_key("ID_FS_TYPE") {
                out.gauge(
                    "node_disk_filesystem_info",
                    "Info about disk filesystem.",
                    &[
                        ("device", dev),
                        ("type", prop("ID_FS_TYPE")),
                        ("usage", prop("ID_FS_USAGE")),
                        ("uuid", prop("ID_FS_UUID")),
                        ("version", prop("ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
            for (col, raw) in COLUMNS.iter().zip(&cols[3..]) {
                let v = parse_f64(raw)
                    .ok_or_else(|| Error::parse(&path, i + 1, format!("not a number: {raw:?}")))?;
                name.clear();
                name.push_str("node_disk_");
                name.push_str(col.0);
                out.add(&name, col.1, col.2, &[("device", dev)], v * col.3);
            }
        }
        Ok(())
    }
}

/// `E:KEY=value` lines of the udev database entry `b<major>:<minor>`;
/// empty when udev is not running.
fn udev_properties(cfg: &Config, major: &str, minor: &str) -> BTreeMap<String, String> {
    let path = cfg.udev_data.join(format!("b{major}:{minor}"));
    let Ok(text) = crate::fsread::read_string(&path) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
