//! Per-device btrfs statistics through the filesystem's ioctls, as
//! node_exporter 1.5 reads them: for each mounted btrfs filesystem,
//! `BTRFS_IOC_FS_INFO` for its id and device count, then per device
//! `BTRFS_IOC_DEV_INFO` (path, device uuid, bytes used and total) and
//! `BTRFS_IOC_GET_DEV_STATS` (the five error counters). Sysfs has the
//! counters too (`devinfo/<id>/error_stats`) but not the device path or
//! uuid that node_exporter's labels carry.

use std::collections::{HashMap, HashSet};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::collector::Config;
use crate::metric_set::MetricSet;

/// One device of a btrfs filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevStats {
    /// The block device path as the kernel reports it (`/dev/sdb`).
    pub path: String,
    /// The device's btrfs uuid, `8-4-4-4-12` hex.
    pub uuid: String,
    pub bytes_used: u64,
    pub total_bytes: u64,
    /// Write, read, flush, corruption and generation errors, in the
    /// kernel's order.
    pub errors: [u64; 5],
}

/// The error counter names, in the kernel's `btrfs_dev_stat_values` order.
const ERROR_TYPES: [&str; 5] = ["write", "read", "flush", "corruption", "generation"];

/// Devices of every mounted btrfs filesystem, keyed by filesystem id as
/// 32 hex digits (the sysfs uuid without dashes). Mounts that cannot be
/// opened or queried are skipped, as node_exporter does.
pub fn mounted_filesystems(cfg: &Config) -> HashMap<String, Vec<DevStats>> {
    // node_exporter 1.5 reads init's mount table, else the caller's.
    let text = crate::fsread::read_string(&cfg.proc("1/mounts"))
        .or_else(|_| crate::fsread::read_string(&cfg.proc("mounts")))
        .unwrap_or_default();
    let mut by_fsid = HashMap::new();
    let mut sources_done = HashSet::new();
    for (source, mount_point) in btrfs_mounts(&text) {
        if sources_done.contains(&source) {
            continue;
        }
        let path = cfg.rootfs.join(mount_point.trim_start_matches('/'));
        let Ok((fsid, devices)) = query(&path) else {
            continue;
        };
        sources_done.insert(source);
        by_fsid.entry(fsid).or_insert(devices);
    }
    by_fsid
}

/// `(source, mount point)` of each btrfs line of a `/proc/mounts` table
/// (`source mount-point fstype options dump pass`).
pub fn btrfs_mounts(mounts: &str) -> Vec<(String, String)> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split(' ');
            let (source, mount_point, fstype) = (f.next()?, f.next()?, f.next()?);
            (fstype == "btrfs").then(|| (unescape(source), unescape(mount_point)))
        })
        .collect()
}

/// Undoes the mount table's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds node_exporter's per-device families for filesystem `uuid`.
pub fn device_metrics(uuid: &str, devices: &[DevStats], out: &mut MetricSet) {
    for d in devices {
        let device = d.path.rsplit('/').next().unwrap_or(&d.path);
        let l = [
            ("btrfs_dev_uuid", d.uuid.as_str()),
            ("device", device),
            ("uuid", uuid),
        ];
        out.gauge(
            "node_btrfs_device_size_bytes",
            "Size of a device that is part of the filesystem.",
            &l,
            d.total_bytes as f64,
        );
        out.gauge(
            "node_btrfs_device_unused_bytes",
            "Unused bytes unused on a device that is part of the filesystem.",
            &l,
            d.total_bytes.saturating_sub(d.bytes_used) as f64,
        );
        for (typ, v) in ERROR_TYPES.iter().zip(d.errors) {
            out.counter(
                "node_btrfs_device_errors_total",
                "Errors reported for the device",
                &[
                    ("btrfs_dev_uuid", d.uuid.as_str()),
                    ("device", device),
                    ("type", typ),
                    ("uuid", uuid),
                ],
                v as f64,
            );
        }
    }
}

/// `8-4-4-4-12` lower-case hex of a 16-byte uuid.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The kernel's btrfs ioctl magic and request numbers (`linux/btrfs.h`).
const BTRFS_IOCTL_MAGIC: u64 = 0x94;
const IOC_READ: u64 = 2;
const IOC_READ_WRITE: u64 = 3;

const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (BTRFS_IOCTL_MAGIC << 8) | nr
}

/// `struct btrfs_ioctl_fs_info_args` (1024 bytes); only the leading
/// fields are read.
#[repr(C)]
struct FsInfoArgs {
    max_id: u64,
    num_devices: u64,
    fsid: [u8; 16],
    rest: [u8; 992],
}

/// `struct btrfs_ioctl_dev_info_args` (4096 bytes).
#[repr(C)]
struct DevInfoArgs {
    devid: u64,
    uuid: [u8; 16],
    bytes_used: u64,
    total_bytes: u64,
    unused: [u64; 379],
    path: [u8; 1024],
}

/// `struct btrfs_ioctl_get_dev_stats` (1032 bytes).
#[repr(C)]
struct GetDevStatsArgs {
    devid: u64,
    nr_items: u64,
    flags: u64,
    values: [u64; 5],
    unused: [u64; 121],
}

const IOC_FS_INFO: u64 = ioc(IOC_READ, 31, size_of::<FsInfoArgs>());
const IOC_DEV_INFO: u64 = ioc(IOC_READ_WRITE, 30, size_of::<DevInfoArgs>());
const IOC_GET_DEV_STATS: u64 = ioc(IOC_READ_WRITE, 52, size_of::<GetDevStatsArgs>());

/// Issues one btrfs ioctl whose argument struct is `args`.
///
/// # Safety
/// `request` must be a btrfs ioctl taking a `T` (all plain integers).
unsafe fn ioctl<T>(fd: &std::fs::File, request: u64, args: &mut T) -> std::io::Result<()> {
    // SAFETY: the caller pairs `request` with its argument type; the
    // kernel reads and writes at most size_of::<T>() bytes of `args`.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, args as *mut T) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The filesystem id (32 hex digits) and devices of the btrfs mounted
/// at `mount_point`.
fn query(mount_point: &Path) -> std::io::Result<(String, Vec<DevStats>)> {
    let dir = std::fs::File::open(mount_point)?;
    // SAFETY: all three argument structs are plain integers and arrays,
    // for which all-zero bytes are valid values.
    let mut fs: FsInfoArgs = unsafe { std::mem::zeroed() };
    // SAFETY: IOC_FS_INFO takes a FsInfoArgs.
    unsafe { ioctl(&dir, IOC_FS_INFO, &mut fs)? };
    let fsid: String = fs.fsid.iter().map(|b| format!("{b:02x}")).collect();
    let mut devices = Vec::new();
    for devid in 0..=fs.max_id {
        // SAFETY: as above, all-zero is a valid DevInfoArgs.
        let mut info: DevInfoArgs = unsafe { std::mem::zeroed() };
        info.devid = devid;
        // SAFETY: IOC_DEV_INFO takes a DevInfoArgs.
        match unsafe { ioctl(&dir, IOC_DEV_INFO, &mut info) } {
            // Device ids need not start at 0 nor be contiguous.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => continue,
            r => r?,
        }
        // SAFETY: as above, all-zero is a valid GetDevStatsArgs.
        let mut stats: GetDevStatsArgs = unsafe { std::mem::zeroed() };
        stats.devid = devid;
        stats.nr_items = stats.values.len() as u64;
        // SAFETY: IOC_GET_DEV_STATS takes a GetDevStatsArgs; flags 0
        // reads without resetting.
        unsafe { ioctl(&dir, IOC_GET_DEV_STATS, &mut stats)? };
        let end = info
            .path
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(info.path.len());
        devices.push(DevStats {
            path: String::from_utf8_lossy(&info.path[..end]).into_owned(),
            uuid: format_uuid(&info.uuid),
            bytes_used: info.bytes_used,
            total_bytes: info.total_bytes,
            errors: stats.values,
        });
        if devices.len() as u64 == fs.num_devices {
            break;
        }
    }
    Ok((fsid, devices))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_kernel_abi() {
        assert_eq!(size_of::<FsInfoArgs>(), 1024);
        assert_eq!(size_of::<DevInfoArgs>(), 4096);
        assert_eq!(size_of::<GetDevStatsArgs>(), 1032);
        // _IOR(0x94, 31, 1024), _IOWR(0x94, 30, 4096), _IOWR(0x94, 52, 1032)
        assert_eq!(IOC_FS_INFO, 0x8400_941f);
        assert_eq!(IOC_DEV_INFO, 0xd000_941e);
        assert_eq!(IOC_GET_DEV_STATS, 0xc408_9434);
    }

    #[test]
    fn mount_table_btrfs_lines() {
        let text = "\
/dev/vda / ext4 rw,relatime 0 0
/dev/sdb /srv/data\\040set btrfs rw,space_cache=v2 0 0
/dev/sdb /snap btrfs rw 0 0
bad line
";
        assert_eq!(
            btrfs_mounts(text),
            [
                ("/dev/sdb".to_string(), "/srv/data set".to_string()),
                ("/dev/sdb".to_string(), "/snap".to_string()),
            ]
        );
        assert_eq!(unescape("a\\134b\\04"), "a\\b\\04");
    }

    #[test]
    fn device_families() {
        let dev = DevStats {
            path: "/dev/sdb".into(),
            uuid: format_uuid(&[0xab; 16]),
            bytes_used: 1 << 20,
            total_bytes: 1 << 30,
            errors: [1, 2, 3, 4, 5],
        };
        let mut out = MetricSet::new();
        device_metrics("fs-1", &[dev], &mut out);
        let text = beacon_exposition::encode::encode(
            beacon_exposition::encode::Format::Text004,
            &out.into_sorted(),
        );
        let l = "btrfs_dev_uuid=\"abababab-abab-abab-abab-abababababab\",device=\"sdb\"";
        for want in [
            format!("node_btrfs_device_errors_total{{{l},type=\"corruption\",uuid=\"fs-1\"}} 4\n"),
            format!("node_btrfs_device_errors_total{{{l},type=\"write\",uuid=\"fs-1\"}} 1\n"),
            format!("node_btrfs_device_size_bytes{{{l},uuid=\"fs-1\"}} 1.073741824e+09\n"),
            format!("node_btrfs_device_unused_bytes{{{l},uuid=\"fs-1\"}} 1.072693248e+09\n"),
        ] {
            assert!(text.contains(&want), "{want} in\n{text}");
        }
    }
}
