//! OpenZFS kernel statistics from `/proc/spl/kstat/zfs`: the ARC, dbuf,
//! dnode, DMU, prefetch and ZIL counters, as `node_zfs_<subsystem>_<name>`,
//! and per pool (`<pool>/io`, `<pool>/objset-*`, `<pool>/state`) the I/O
//! counters, per-dataset counters and pool state as node_exporter 1.5
//! names them (`node_zfs_zpool_*`, `node_zfs_zpool_dataset_*`,
//! `node_zfs_zpool_state`).

use std::sync::Arc;

use std::path::Path;

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
        pools(&base, out)
    }
}

/// The pool states node_exporter reports, one series each, lower-case.
const POOL_STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// Per-pool statistics of every pool directory under `base`.
fn pools(base: &Path, out: &mut MetricSet) -> Result<()> {
    let mut names = crate::fsread::list_dir(base)?;
    names.sort();
    for pool in names.iter().filter(|n| base.join(n).is_dir()) {
        let dir = base.join(pool);
        // A pool being exported removes its files; a missing one is skipped.
        if let Ok(text) = crate::fsread::read_string(&dir.join("io")) {
            parse_pool_io(&text, &dir.join("io"), pool, out)?;
        }
        let mut entries = crate::fsread::list_dir(&dir).unwrap_or_default();
        entries.sort();
        for objset in entries.iter().filter(|e| e.starts_with("objset-")) {
            let path = dir.join(objset);
            if let Ok(text) = crate::fsread::read_string(&path) {
                parse_objset(&text, &path, pool, out)?;
            }
        }
        if let Ok(text) = crate::fsread::read_string(&dir.join("state")) {
            pool_state(&text, pool, out);
        }
    }
    Ok(())
}

/// `<pool>/io`: a kstat header, a line of column names starting with
/// `nread`, then one line of values.
fn parse_pool_io(text: &str, path: &Path, pool: &str, out: &mut MetricSet) -> Result<()> {
    /// The I/O kstat has twelve columns (nread … rcnt).
    const IO_COLUMNS: usize = 12;
    let mut columns: Option<Vec<&str>> = None;
    for (i, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let Some(cols) = &columns else {
            if parts.len() >= IO_COLUMNS && parts[0] == "nread" {
                columns = Some(parts);
            }
            continue;
        };
        for (k, col) in cols.iter().enumerate() {
            let Some(v) = parts.get(k).and_then(|v| v.parse::<u64>().ok()) else {
                let msg = format!("column {col}: expected an unsigned integer");
                return Err(Error::parse(path, i + 1, msg));
            };
            out.untyped(
                &format!("node_zfs_zpool_{}", col.replace('-', "_")),
                &format!("kstat.zfs.misc.io.{col}"),
                &[("zpool", pool)],
                v as f64,
            );
        }
    }
    Ok(())
}

/// `<pool>/objset-0x…`: a named kstat whose `dataset_name` row names the
/// dataset of the counters that follow it.
fn parse_objset(text: &str, path: &Path, pool: &str, out: &mut MetricSet) -> Result<()> {
    let mut in_data = false;
    let mut dataset = String::new();
    for (i, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if !in_data {
            in_data = parts == ["name", "type", "data"];
            continue;
        }
        let [name, typ, value, ..] = parts[..] else {
            continue;
        };
        if name == "dataset_name" {
            dataset = value.to_string();
            continue;
        }
        if typ != KSTAT_DATA_UINT64 {
            continue;
        }
        let Ok(v) = value.parse::<u64>() else {
            let msg = format!("{name}: expected an unsigned integer, found {value:?}");
            return Err(Error::parse(path, i + 1, msg));
        };
        out.untyped(
            &format!("node_zfs_zpool_dataset_{}", name.replace('-', "_")),
            &format!("kstat.zfs.misc.objset.{name}"),
            &[("dataset", &dataset), ("zpool", pool)],
            v as f64,
        );
    }
    if !in_data {
        return Err(Error::parse(path, 1, "no \"name type data\" header"));
    }
    Ok(())
}

/// `<pool>/state`: one word such as `ONLINE`; every known state gets a
/// series, 1 for the current one.
fn pool_state(text: &str, pool: &str, out: &mut MetricSet) {
    let actual = text.lines().next().unwrap_or("").to_ascii_lowercase();
    for state in POOL_STATES {
        out.gauge(
            "node_zfs_zpool_state",
            "kstat.zfs.misc.state",
            &[("state", state), ("zpool", pool)],
            if actual == state { 1.0 } else { 0.0 },
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(io: &str, expected: std::result::Result<usize, &str>) {
        let mut out = MetricSet::new();
        let got = parse_pool_io(io, Path::new("p/io"), "p", &mut out)
            .map(|()| out.into_sorted().len())
            .map_err(|e| e.to_string());
        match (got, expected) {
            (Ok(n), Ok(want)) => assert_eq!(n, want, "{io:?}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{io:?}: {e}"),
            (got, want) => panic!("{io:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn pool_io() {
        let header =
            "nread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n";
        check(
            &format!("1 3 0x00\n{header}1 2 3 4 5 6 7 8 9 10 11 12\n"),
            Ok(12),
        );
        check("1 3 0x00\n", Ok(0));
        check(&format!("{header}1 2 3\n"), Err("p/io:2: column writes"));
        check(
            &format!("{header}1 2 x 4 5 6 7 8 9 10 11 12\n"),
            Err("p/io:2: column reads"),
        );
    }

    #[test]
    fn objset_needs_header() {
        let mut out = MetricSet::new();
        let e = parse_objset("junk\n", Path::new("o"), "p", &mut out).expect_err("no header");
        assert!(e.to_string().contains("o:1:"), "{e}");
    }
}
