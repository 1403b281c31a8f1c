//! The [`Collector`] trait, the shared [`Config`] every collector reads its
//! paths and filters from, and the table of collectors by name.
//!
//! Each collector lives in its own file under `collector/` and reads only
//! what exists: a kernel without the data makes it return
//! [`Error::NoData`], which the scrape reports as
//! `node_scrape_collector_success 0` without logging an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

use crate::error::{Error, Result};
use crate::metric_set::MetricSet;

pub mod btrfs;
pub mod btrfs_ioctl;
pub mod conntrack;
pub mod cpu;
pub mod diskstats;
pub mod filesystem;
pub mod hwmon;
pub mod mdadm;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod nfs;
pub mod pressure;
pub mod small;
pub mod sockstat;
pub mod stat;
pub mod sysclass;
pub mod textfile;
pub mod time;
pub mod vmstat;
pub mod xfs;
pub mod zfs;

/// One source of metrics. `update` runs on a blocking thread and may block
/// (that is what the scrape's per-collector timeout is for).
pub trait Collector: Send + Sync + 'static {
    /// The name in `--collector.<name>` and in the `collector` label.
    fn name(&self) -> &'static str;
    /// Adds this collector's families to `out`.
    fn update(&self, out: &mut MetricSet) -> Result<()>;
}

/// node_exporter 1.5's default for `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter 1.5's default for `--collector.filesystem.fs-types-exclude`.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// node_exporter 1.5's default for `--collector.diskstats.device-exclude`.
pub const DEFAULT_DISKSTATS_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// node_exporter 1.5's default for `--collector.netstat.fields`.
pub const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
/// node_exporter 1.5's default for `--collector.vmstat.fields`.
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";
/// How long one `statfs` may take before its mount counts as stuck.
pub const DEFAULT_MOUNT_TIMEOUT: Duration = Duration::from_secs(5);

/// Paths and filters shared by all collectors.
#[derive(Debug, Clone)]
pub struct Config {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
    pub mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
    pub mount_timeout: Duration,
    pub netdev_include: Option<Regex>,
    pub netdev_exclude: Option<Regex>,
    pub netclass_ignored: Regex,
    pub power_supply_ignored: Regex,
    pub diskstats_include: Option<Regex>,
    pub diskstats_exclude: Option<Regex>,
    pub netstat_fields: Regex,
    pub vmstat_fields: Regex,
    pub textfile_directory: Option<PathBuf>,
    pub cpu_info: bool,
    /// `--collector.cpu.info.flags-include`: `node_cpu_flag_info` for the
    /// matching `/proc/cpuinfo` flags (needs `cpu_info`).
    pub cpu_flags_include: Option<Regex>,
    /// `--collector.cpu.info.bugs-include`: `node_cpu_bug_info` likewise.
    pub cpu_bugs_include: Option<Regex>,
    pub cpu_guest: bool,
}

/// Compiles a pattern given in flag `flag` the way node_exporter does
/// (Go syntax, unanchored: the defaults carry their own `^...$`).
///
/// The lazy DFA is left out: filters run over short names a few hundred
/// times per scrape, where the NFA engines are fast enough, while each
/// lazy DFA would keep up to its cache limit resident between scrapes.
pub fn compile(flag: &'static str, pattern: &str) -> Result<Regex> {
    let err = |msg: String| Error::Regex {
        flag,
        pattern: pattern.to_string(),
        msg,
    };
    let translated =
        beacon_model::regex::translate_go_regex(pattern).map_err(|e| err(e.to_string()))?;
    regex::RegexBuilder::new(&translated)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(0)
        .build()
        .map_err(|e| err(e.to_string()))
}

/// The compiled-program limit for a filter pattern: generous for any
/// hand-written filter, small enough to refuse a pathological one.
pub const REGEX_SIZE_LIMIT: usize = 8 << 20;

impl Default for Config {
    /// The real host's paths with node_exporter 1.5's default filters.
    fn default() -> Config {
        let re = |p: &str| compile("default", p).expect("built-in pattern compiles");
        Config {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
            mount_points_exclude: re(DEFAULT_MOUNT_POINTS_EXCLUDE),
            fs_types_exclude: re(DEFAULT_FS_TYPES_EXCLUDE),
            mount_timeout: DEFAULT_MOUNT_TIMEOUT,
            netdev_include: None,
            netdev_exclude: None,
            netclass_ignored: re("^$"),
            power_supply_ignored: re("^$"),
            diskstats_include: None,
            diskstats_exclude: Some(re(DEFAULT_DISKSTATS_EXCLUDE)),
            netstat_fields: re(DEFAULT_NETSTAT_FIELDS),
            vmstat_fields: re(DEFAULT_VMSTAT_FIELDS),
            textfile_directory: None,
            cpu_info: false,
            cpu_flags_include: None,
            cpu_bugs_include: None,
            cpu_guest: true,
        }
    }
}

impl Config {
    /// A path under `--path.procfs`.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }
    /// A path under `--path.sysfs`.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }
    /// A path under `--path.rootfs`.
    pub fn root(&self, rel: &str) -> PathBuf {
        self.rootfs.join(rel.trim_start_matches('/'))
    }
    /// A host mount point as seen from inside `--path.rootfs`, or `None`
    /// when it lies outside it.
    pub fn strip_rootfs<'a>(&self, mountpoint: &'a str) -> Option<&'a str> {
        let root = self.rootfs.to_str().unwrap_or("/").trim_end_matches('/');
        if root.is_empty() {
            return Some(mountpoint);
        }
        match mountpoint.strip_prefix(root) {
            Some("") => Some("/"),
            Some(rest) if rest.starts_with('/') => Some(rest),
            _ => None,
        }
    }
}

/// A device filter made of node_exporter's include/exclude flag pair.
pub fn device_filtered(include: Option<&Regex>, exclude: Option<&Regex>, dev: &str) -> bool {
    if let Some(inc) = include {
        return !inc.is_match(dev);
    }
    exclude.is_some_and(|e| e.is_match(dev))
}

/// Every collector this exporter knows, with whether it is on by default.
pub const COLLECTORS: &[(&str, bool)] = &[
    ("arp", true),
    ("bonding", true),
    ("btrfs", true),
    ("conntrack", true),
    ("cpu", true),
    ("cpufreq", true),
    ("diskstats", true),
    ("dmi", true),
    ("edac", true),
    ("entropy", true),
    ("filefd", true),
    ("filesystem", true),
    ("hwmon", true),
    ("loadavg", true),
    ("mdadm", true),
    ("meminfo", true),
    ("netclass", true),
    ("netdev", true),
    ("netstat", true),
    ("nfs", true),
    ("nfsd", true),
    ("os", true),
    ("powersupplyclass", true),
    ("pressure", true),
    ("rapl", true),
    ("schedstat", true),
    ("selinux", true),
    ("sockstat", true),
    ("softnet", true),
    ("stat", true),
    ("textfile", true),
    ("thermal_zone", true),
    ("time", true),
    ("timex", true),
    ("udp_queues", true),
    ("uname", true),
    ("vmstat", true),
    ("watchdog", false),
    ("xfs", true),
    ("zfs", true),
];

/// True when `name` is a collector of [`COLLECTORS`].
pub fn is_known(name: &str) -> bool {
    COLLECTORS.iter().any(|(n, _)| *n == name)
}

/// Builds the collector called `name`, or `None` for an unknown name.
pub fn build(name: &str, cfg: &Arc<Config>) -> Option<Arc<dyn Collector>> {
    let c = cfg.clone();
    let col: Arc<dyn Collector> = match name {
        "arp" => Arc::new(small::Arp(c)),
        "bonding" => Arc::new(netclass::Bonding(c)),
        "btrfs" => Arc::new(btrfs::Btrfs(c)),
        "conntrack" => Arc::new(conntrack::Conntrack(c)),
        "cpu" => Arc::new(cpu::Cpu(c)),
        "cpufreq" => Arc::new(cpu::CpuFreq(c)),
        "diskstats" => Arc::new(diskstats::Diskstats(c)),
        "dmi" => Arc::new(sysclass::Dmi(c)),
        "edac" => Arc::new(sysclass::Edac(c)),
        "entropy" => Arc::new(small::Entropy(c)),
        "filefd" => Arc::new(small::Filefd(c)),
        "filesystem" => Arc::new(filesystem::Filesystem::new(c)),
        "hwmon" => Arc::new(hwmon::Hwmon(c)),
        "loadavg" => Arc::new(small::Loadavg(c)),
        "mdadm" => Arc::new(mdadm::Mdadm(c)),
        "meminfo" => Arc::new(meminfo::Meminfo(c)),
        "netclass" => Arc::new(netclass::Netclass(c)),
        "netdev" => Arc::new(netdev::Netdev(c)),
        "netstat" => Arc::new(netstat::Netstat(c)),
        "nfs" => Arc::new(nfs::Nfs(c)),
        "nfsd" => Arc::new(nfs::Nfsd(c)),
        "os" => Arc::new(small::Os(c)),
        "powersupplyclass" => Arc::new(sysclass::PowerSupply(c)),
        "pressure" => Arc::new(pressure::Pressure(c)),
        "rapl" => Arc::new(sysclass::Rapl(c)),
        "schedstat" => Arc::new(stat::Schedstat(c)),
        "selinux" => Arc::new(small::Selinux(c)),
        "sockstat" => Arc::new(sockstat::Sockstat(c)),
        "softnet" => Arc::new(stat::Softnet(c)),
        "stat" => Arc::new(stat::Stat(c)),
        "textfile" => Arc::new(textfile::Textfile(c)),
        "thermal_zone" => Arc::new(sysclass::ThermalZone(c)),
        "time" => Arc::new(time::Time(c)),
        "timex" => Arc::new(time::Timex),
        "udp_queues" => Arc::new(sockstat::UdpQueues(c)),
        "uname" => Arc::new(small::Uname),
        "vmstat" => Arc::new(vmstat::Vmstat(c)),
        "watchdog" => Arc::new(sysclass::Watchdog(c)),
        "xfs" => Arc::new(xfs::Xfs(c)),
        "zfs" => Arc::new(zfs::Zfs(c)),
        _ => return None,
    };
    Some(col)
}

/// Reads `path` or reports [`Error::NoData`] when it does not exist.
pub(crate) fn read_existing(path: &Path) -> Result<String> {
    crate::fsread::read_string(path).map_err(|e| match e {
        Error::Io { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::NoData { path }
        }
        e => e,
    })
}
