//! OpenZFS kernel statistics from `/proc/spl/kstat/zfs`: the ARC, dbuf,
//! dnode, DMU, prefetch and ZIL counters, as `node_zfs_<subsystem>_<name>`.

use std::sync::Arc;

use crate::collector::{Collector, Config};
use crate::error::{Error, Result};
use crate::metric_set::MetricSet;

/// (kstat file, metric subsystem).
const KSTATS: &[(&str, &str)] = &[
    ("abdstats", "zfs_abd"),
    ("arcstats", "zfs_arc"),
    ("dbufstats", "zfs_dbuf"),
    ("dmu_tx", "zfs_dmu_tx"),
    ("dnodestats", "zfs_dnode"),
    ("fm", "zfs_fm"),
    ("vdev_cache_stats", "zfs_vdev_cache"),
    ("vdev_mirror_stats", "zfs_vdev_mirror"),
    ("xuio_stats", "zfs_xuio"),
    ("zfetchstats", "zfs_zfetch"),
    ("zil", "zfs_zil"),
];

/// The kstat type code of unsigned 64-bit counters; other types are skipped.
const KSTAT_DATA_UINT64: &str = "4";

pub struct Zfs(pub Arc<Config>);

impl Collector for Zfs {
    fn name(&self) -> &'static str {
        "zfs"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.proc("spl/kstat/zfs");
        if !base.is_dir() {
            return Err(Error::NoData { path: base });
        }
        for (file, subsystem) in KSTATS {
            // Not every OpenZFS version writes every file.
            let Ok(text) = crate::fsread::read_string(&base.join(file)) else {
                continue;
            };
            parse_kstat(&text, file, subsystem, out);
        }
        Ok(())
    }
}

/// A kstat file: a header line, a `name type data` line, then one
/// counter per line.
fn parse_kstat(text: &str, file: &str, subsystem: &str, out: &mut MetricSet) {
    let mut in_data = false;
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if !in_data {
            in_data = parts == ["name", "type", "data"];
            continue;
        }
        let [name, typ, value, ..] = parts[..] else {
            continue;
        };
        if typ != KSTAT_DATA_UINT64 {
            continue;
        }
        let Ok(v) = value.parse::<u64>() else {
            continue;
        };
        out.untyped(
            &format!("node_{subsystem}_{}", name.replace('-', "_")),
            &format!("kstat.zfs.misc.{file}.{name}"),
            &[],
            v as f64,
        );
    }
}
