//! Command-line flags with node_exporter's spellings and defaults, and
//! their translation into a [`Config`] and the list of enabled collectors.
//!
//! node_exporter takes `--collector.<name>` / `--no-collector.<name>` for
//! every collector; [`split_collector_flags`] takes those out before clap
//! sees the rest, so the collector table stays the single list of names.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::collector::{self, COLLECTORS, Config, compile};
use crate::error::{Error, Result};

/// Flags, as node_exporter 1.5 spells them.
#[derive(Debug, Parser)]
#[command(
    name = "beacon-node-exporter",
    version,
    about = "node_exporter-compatible Linux host metrics"
)]
pub struct Args {
    /// Addresses on which to expose metrics and web interface. Repeatable.
    #[arg(long = "web.listen-address", default_value = ":9100")]
    pub listen_address: Vec<String>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,
    /// Exclude metrics about the exporter itself (process_*).
    #[arg(long = "web.disable-exporter-metrics")]
    pub disable_exporter_metrics: bool,
    /// Maximum number of parallel scrape requests. Use 0 to disable.
    #[arg(long = "web.max-requests", default_value_t = 40)]
    pub max_requests: usize,
    /// Path to configuration file that can enable TLS or authentication.
    #[arg(long = "web.config.file", default_value = "")]
    pub web_config_file: String,
    /// procfs mountpoint.
    #[arg(long = "path.procfs", default_value = "/proc")]
    pub procfs: PathBuf,
    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", default_value = "/sys")]
    pub sysfs: PathBuf,
    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", default_value = "/")]
    pub rootfs: PathBuf,
    /// udev data path.
    #[arg(long = "path.udev.data", default_value = "/run/udev/data")]
    pub udev_data: PathBuf,
    /// Set all collectors to disabled by default.
    #[arg(long = "collector.disable-defaults")]
    pub disable_defaults: bool,
    /// How long one collector may run before the scrape reports it failed.
    #[arg(long = "collector.timeout", default_value = "8s")]
    pub collector_timeout: String,
    /// Regexp of mount points to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude", default_value = collector::DEFAULT_MOUNT_POINTS_EXCLUDE)]
    pub mount_points_exclude: String,
    /// Regexp of filesystem types to exclude for filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude", default_value = collector::DEFAULT_FS_TYPES_EXCLUDE)]
    pub fs_types_exclude: String,
    /// How long to wait for a mount to respond before marking it as stale.
    #[arg(long = "collector.filesystem.mount-timeout", default_value = "5s")]
    pub mount_timeout: String,
    /// Regexp of net devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.netdev.device-include")]
    pub netdev_include: Option<String>,
    /// Regexp of net devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.netdev.device-exclude")]
    pub netdev_exclude: Option<String>,
    /// Regexp of net devices to ignore for netclass collector.
    #[arg(long = "collector.netclass.ignored-devices", default_value = "^$")]
    pub netclass_ignored: String,
    /// Regexp of power supplies to ignore for powersupplyclass collector.
    #[arg(long = "collector.powersupply.ignored-supplies", default_value = "^$")]
    pub power_supply_ignored: String,
    /// Regexp of diskstats devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.diskstats.device-exclude", default_value = collector::DEFAULT_DISKSTATS_EXCLUDE)]
    pub diskstats_exclude: String,
    /// Regexp of diskstats devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.diskstats.device-include")]
    pub diskstats_include: Option<String>,
    /// Regexp of fields to return for netstat collector.
    #[arg(long = "collector.netstat.fields", default_value = collector::DEFAULT_NETSTAT_FIELDS)]
    pub netstat_fields: String,
    /// Regexp of fields to return for vmstat collector.
    #[arg(long = "collector.vmstat.fields", default_value = collector::DEFAULT_VMSTAT_FIELDS)]
    pub vmstat_fields: String,
    /// Directory to read text files with metrics from.
    #[arg(long = "collector.textfile.directory", default_value = "")]
    pub textfile_directory: String,
    /// Enables metric node_cpu_info.
    #[arg(long = "collector.cpu.info")]
    pub cpu_info: bool,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Output format of log messages: logfmt or json.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
}

/// Splits `--collector.<name>` and `--no-collector.<name>` for known
/// collector names out of `args`; returns the rest and the switches in order.
pub fn split_collector_flags(args: Vec<String>) -> (Vec<String>, Vec<(String, bool)>) {
    let mut rest = Vec::with_capacity(args.len());
    let mut switches = Vec::new();
    for a in args {
        let parsed = a
            .strip_prefix("--no-collector.")
            .map(|n| (n, false))
            .or_else(|| a.strip_prefix("--collector.").map(|n| (n, true)));
        match parsed {
            Some((name, on)) if collector::is_known(name) => switches.push((name.to_string(), on)),
            _ => rest.push(a),
        }
    }
    (rest, switches)
}

/// The enabled collector names: defaults (unless disabled) then switches.
pub fn enabled_collectors(
    disable_defaults: bool,
    switches: &[(String, bool)],
) -> Vec<&'static str> {
    COLLECTORS
        .iter()
        .filter(|(name, default_on)| {
            let explicit = switches
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, on)| *on);
            explicit.unwrap_or(*default_on && !disable_defaults)
        })
        .map(|(name, _)| *name)
        .collect()
}

/// Parses a Prometheus-style duration flag (`5s`, `1m30s`).
pub fn duration_flag(flag: &'static str, v: &str) -> Result<Duration> {
    let ms = beacon_model::parse_duration_ms(v).map_err(|e| Error::Flag {
        flag,
        value: v.to_string(),
        msg: format!("invalid duration: {e}"),
    })?;
    Ok(Duration::from_millis(ms.max(1) as u64))
}

impl Args {
    /// The collectors' configuration from these flags.
    pub fn config(&self) -> Result<Config> {
        let opt = |flag, p: &Option<String>| p.as_deref().map(|p| compile(flag, p)).transpose();
        if self.netdev_include.is_some() && self.netdev_exclude.is_some() {
            return Err(Error::Flag {
                flag: "collector.netdev.device-include",
                value: self.netdev_include.clone().unwrap_or_default(),
                msg: "device-include and device-exclude are mutually exclusive".into(),
            });
        }
        Ok(Config {
            procfs: self.procfs.clone(),
            sysfs: self.sysfs.clone(),
            rootfs: self.rootfs.clone(),
            udev_data: self.udev_data.clone(),
            mount_points_exclude: compile(
                "collector.filesystem.mount-points-exclude",
                &self.mount_points_exclude,
            )?,
            fs_types_exclude: compile(
                "collector.filesystem.fs-types-exclude",
                &self.fs_types_exclude,
            )?,
            mount_timeout: duration_flag(
                "collector.filesystem.mount-timeout",
                &self.mount_timeout,
            )?,
            netdev_include: opt("collector.netdev.device-include", &self.netdev_include)?,
            netdev_exclude: opt("collector.netdev.device-exclude", &self.netdev_exclude)?,
            netclass_ignored: compile(
                "collector.netclass.ignored-devices",
                &self.netclass_ignored,
            )?,
            power_supply_ignored: compile(
                "collector.powersupply.ignored-supplies",
                &self.power_supply_ignored,
            )?,
            // An include pattern replaces the default exclude.
            diskstats_exclude: match &self.diskstats_include {
                Some(_) => None,
                None => Some(compile(
                    "collector.diskstats.device-exclude",
                    &self.diskstats_exclude,
                )?),
            },
            diskstats_include: opt(
                "collector.diskstats.device-include",
                &self.diskstats_include,
            )?,
            netstat_fields: compile("collector.netstat.fields", &self.netstat_fields)?,
            vmstat_fields: compile("collector.vmstat.fields", &self.vmstat_fields)?,
            textfile_directory: (!self.textfile_directory.is_empty())
                .then(|| self.textfile_directory.clone().into()),
            cpu_info: self.cpu_info,
            cpu_guest: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_switches() {
        let args: Vec<String> = [
            "x",
            "--collector.cpu.info",
            "--no-collector.cpu",
            "--collector.watchdog",
            "--collector.bogus",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (rest, sw) = split_collector_flags(args);
        assert_eq!(rest, ["x", "--collector.cpu.info", "--collector.bogus"]);
        let on = enabled_collectors(false, &sw);
        assert!(!on.contains(&"cpu") && on.contains(&"watchdog") && on.contains(&"meminfo"));
        let only = enabled_collectors(true, &[("cpu".into(), true)]);
        assert_eq!(only, ["cpu"]);
    }

    #[test]
    fn defaults_parse() {
        let a = Args::try_parse_from(["beacon-node-exporter"]).expect("defaults parse");
        assert_eq!(a.listen_address, [":9100"]);
        assert_eq!(a.max_requests, 40);
        let cfg = a.config().expect("default config");
        assert!(cfg.mount_points_exclude.is_match("/proc/sys"));
        assert!(!cfg.mount_points_exclude.is_match("/home"));
        assert!(
            cfg.diskstats_exclude
                .as_ref()
                .is_some_and(|r| r.is_match("sda1"))
        );
        assert!(cfg.netstat_fields.is_match("Tcp_InErrs"));
    }
}
