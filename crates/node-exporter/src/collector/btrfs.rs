//! Btrfs space allocation per filesystem from `/sys/fs/btrfs/<uuid>`:
//! reserved, used and allocated bytes per block group type and layout;
//! per member device, size, unused bytes and error counters through the
//! filesystem's ioctls when it is mounted ([`super::btrfs_ioctl`]), else
//! the size from sysfs.

use std::sync::Arc;

use crate::collector::{Collector, Config};
use crate::error::Result;
use crate::fsread::{list_dir, read_f64, read_trimmed};
use crate::metric_set::MetricSet;

/// Sysfs counts device sizes in 512-byte sectors.
const SECTOR_BYTES: f64 = 512.0;

pub struct Btrfs(pub Arc<Config>);

impl Collector for Btrfs {
    fn name(&self) -> &'static str {
        "btrfs"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("fs/btrfs");
        let Ok(names) = list_dir(&base) else {
            return Ok(()); // btrfs module not loaded
        };
        let mounted = super::btrfs_ioctl::mounted_filesystems(&self.0);
        for uuid in names {
            let dir = base.join(&uuid);
            if !dir.join("allocation").is_dir() {
                continue; // `features` and other non-filesystem entries
            }
            filesystem(&dir, &uuid, out);
            match mounted.get(&uuid.replace('-', "")) {
                Some(devices) => super::btrfs_ioctl::device_metrics(&uuid, devices, out),
                None => sysfs_device_sizes(&dir, &uuid, out),
            }
        }
        Ok(())
    }
}

/// How many bytes of raw space one byte of data takes in `layout`.
fn allocation_ratio(layout: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match layout {
        "dup" | "raid1" | "raid10" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" if devices > 1 => n / (n - 1.0),
        "raid6" if devices > 2 => n / (n - 2.0),
        _ => 1.0,
    }
}

fn filesystem(dir: &std::path::Path, uuid: &str, out: &mut MetricSet) {
    let label = read_trimmed(&dir.join("label")).unwrap_or_default();
    out.gauge(
        "node_btrfs_info",
        "Filesystem information",
        &[("label", &label), ("uuid", uuid)],
        1.0,
    );
    let alloc = dir.join("allocation");
    if let Ok(v) = read_f64(&alloc.join("global_rsv_size")) {
        out.gauge(
            "node_btrfs_global_rsv_size_bytes",
            "Size of global reserve.",
            &[("uuid", uuid)],
            v,
        );
    }
    let devices = list_dir(&dir.join("devices")).unwrap_or_default();
    for group in ["data", "metadata", "system"] {
        let gdir = alloc.join(group);
        let Ok(reserved) = read_f64(&gdir.join("bytes_reserved")) else {
            continue;
        };
        out.gauge(
            "node_btrfs_reserved_bytes",
            "Amount of space reserved for a data type",
            &[("block_group_type", group), ("uuid", uuid)],
            reserved,
        );
        for layout in list_dir(&gdir).unwrap_or_default() {
            let ldir = gdir.join(&layout);
            if !ldir.is_dir() {
                continue;
            }
            let l = [
                ("block_group_type", group),
                ("mode", layout.as_str()),
                ("uuid", uuid),
            ];
            let used = read_f64(&ldir.join("used_bytes")).unwrap_or(0.0);
            let total = read_f64(&ldir.join("total_bytes")).unwrap_or(0.0);
            out.gauge(
                "node_btrfs_used_bytes",
                "Amount of used space by a layout/data type",
                &l,
                used,
            );
            out.gauge(
                "node_btrfs_size_bytes",
                "Amount of space allocated for a layout/data type",
                &l,
                total,
            );
            out.gauge(
                "node_btrfs_allocation_ratio",
                "Data allocation ratio for a layout/data type",
                &l,
                allocation_ratio(&layout, devices.len()),
            );
        }
    }
}

/// Device sizes from sysfs, node_exporter's fallback when the ioctls are
/// not available (filesystem not mounted here, or no permission).
fn sysfs_device_sizes(dir: &std::path::Path, uuid: &str, out: &mut MetricSet) {
    for dev in &list_dir(&dir.join("devices")).unwrap_or_default() {
        if let Ok(sectors) = read_f64(&dir.join("devices").join(dev).join("size")) {
            out.gauge(
                "node_btrfs_device_size_bytes",
                "Size of a device that is part of the filesystem.",
                &[("device", dev), ("uuid", uuid)],
                sectors * SECTOR_BYTES,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::allocation_ratio;

    #[test]
    fn ratios() {
        for (layout, n, want) in [
            ("single", 1, 1.0),
            ("dup", 1, 2.0),
            ("raid1", 2, 2.0),
            ("raid5", 4, 4.0 / 3.0),
            ("raid6", 2, 1.0),
        ] {
            assert_eq!(allocation_ratio(layout, n), want, "{layout} on {n}");
        }
    }
}
