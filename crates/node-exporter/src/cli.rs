//! Command-line flags with node_exporter's spellings and defaults, and
//! their translation into a [`Config`] and the list of enabled collectors.
//!
//! node_exporter takes `--collector.<name>` / `--no-collector.<name>` for
//! every collector; [`split_collector_flags`] takes those out before the flag
//! table sees the rest, so the collector table stays the single list of names.
//! The rest follow kingpin's syntax: `--flag=value`, `--flag value`,
//! `--flag` / `--no-flag` for switches.

use std::path::PathBuf;
use std::time::Duration;

use crate::collector::{self, COLLECTORS, Config, compile};
use crate::error::{Error, Result};

/// Flags, as node_exporter 1.5 spells them; see [`FLAGS`] for defaults
/// and help texts.
#[derive(Debug, Clone)]
pub struct Args {
    pub listen_address: Vec<String>,
    pub telemetry_path: String,
    pub disable_exporter_metrics: bool,
    pub max_requests: usize,
    pub web_config_file: String,
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
    pub disable_defaults: bool,
    pub collector_timeout: String,
    pub mount_points_exclude: String,
    pub fs_types_exclude: String,
    pub mount_timeout: String,
    pub netdev_include: Option<String>,
    pub netdev_exclude: Option<String>,
    pub netclass_ignored: String,
    pub power_supply_ignored: String,
    pub diskstats_exclude: String,
    pub diskstats_include: Option<String>,
    pub netstat_fields: String,
    pub vmstat_fields: String,
    pub textfile_directory: String,
    pub cpu_info: bool,
    pub cpu_flags_include: Option<String>,
    pub cpu_bugs_include: Option<String>,
    pub log_level: String,
    pub log_format: String,
}

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--x`, `--no-x`, `--x=true|false`.
    Bool,
    /// `--x=v` or `--x v`; the last one wins.
    Value,
    /// Like `Value`, but every occurrence counts (replacing the default).
    Repeated,
}

/// One flag: name without `--`, kind, default (`None`: unset) and help.
pub struct Flag {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

const fn flag(
    name: &'static str,
    kind: Kind,
    default: Option<&'static str>,
    help: &'static str,
) -> Flag {
    Flag {
        name,
        kind,
        default,
        help,
    }
}

use Kind::{Bool, Repeated, Value};

/// Every flag besides `--[no-]collector.<name>`, with node_exporter's
/// names and defaults. A hand-written table instead of a derive-based
/// parser keeps the binary's resident code small.
pub const FLAGS: &[Flag] = &[
    flag(
        "web.listen-address",
        Repeated,
        Some(":9100"),
        "Addresses on which to expose metrics and web interface. Repeatable.",
    ),
    flag(
        "web.telemetry-path",
        Value,
        Some("/metrics"),
        "Path under which to expose metrics.",
    ),
    flag(
        "web.disable-exporter-metrics",
        Bool,
        None,
        "Exclude metrics about the exporter itself (process_*).",
    ),
    flag(
        "web.max-requests",
        Value,
        Some("40"),
        "Maximum number of parallel scrape requests. Use 0 to disable.",
    ),
    flag(
        "web.config.file",
        Value,
        Some(""),
        "Path to configuration file that can enable TLS or authentication.",
    ),
    flag("path.procfs", Value, Some("/proc"), "procfs mountpoint."),
    flag("path.sysfs", Value, Some("/sys"), "sysfs mountpoint."),
    flag("path.rootfs", Value, Some("/"), "rootfs mountpoint."),
    flag(
        "path.udev.data",
        Value,
        Some("/run/udev/data"),
        "udev data path.",
    ),
    flag(
        "collector.disable-defaults",
        Bool,
        None,
        "Set all collectors to disabled by default.",
    ),
    flag(
        "collector.timeout",
        Value,
        Some("8s"),
        "How long one collector may run before the scrape reports it failed.",
    ),
    flag(
        "collector.filesystem.mount-points-exclude",
        Value,
        Some(collector::DEFAULT_MOUNT_POINTS_EXCLUDE),
        "Regexp of mount points to exclude for filesystem collector.",
    ),
    flag(
        "collector.filesystem.fs-types-exclude",
        Value,
        Some(collector::DEFAULT_FS_TYPES_EXCLUDE),
        "Regexp of filesystem types to exclude for filesystem collector.",
    ),
    flag(
        "collector.filesystem.mount-timeout",
        Value,
        Some("5s"),
        "How long to wait for a mount to respond before marking it as stale.",
    ),
    flag(
        "collector.netdev.device-include",
        Value,
        None,
        "Regexp of net devices to include (mutually exclusive to device-exclude).",
    ),
    flag(
        "collector.netdev.device-exclude",
        Value,
        None,
        "Regexp of net devices to exclude (mutually exclusive to device-include).",
    ),
    flag(
        "collector.netclass.ignored-devices",
        Value,
        Some("^$"),
        "Regexp of net devices to ignore for netclass collector.",
    ),
    flag(
        "collector.powersupply.ignored-supplies",
        Value,
        Some("^$"),
        "Regexp of power supplies to ignore for powersupplyclass collector.",
    ),
    flag(
        "collector.diskstats.device-exclude",
        Value,
        Some(collector::DEFAULT_DISKSTATS_EXCLUDE),
        "Regexp of diskstats devices to exclude (mutually exclusive to device-include).",
    ),
    flag(
        "collector.diskstats.device-include",
        Value,
        None,
        "Regexp of diskstats devices to include (mutually exclusive to device-exclude).",
    ),
    flag(
        "collector.netstat.fields",
        Value,
        Some(collector::DEFAULT_NETSTAT_FIELDS),
        "Regexp of fields to return for netstat collector.",
    ),
    flag(
        "collector.vmstat.fields",
        Value,
        Some(collector::DEFAULT_VMSTAT_FIELDS),
        "Regexp of fields to return for vmstat collector.",
    ),
    flag(
        "collector.textfile.directory",
        Value,
        Some(""),
        "Directory to read text files with metrics from.",
    ),
    flag(
        "collector.cpu.info",
        Bool,
        None,
        "Enables metric node_cpu_info.",
    ),
    flag(
        "collector.cpu.info.flags-include",
        Value,
        None,
        "Filter the `flags` field in cpuInfo with a value that must be a regular expression.",
    ),
    flag(
        "collector.cpu.info.bugs-include",
        Value,
        None,
        "Filter the `bugs` field in cpuInfo with a value that must be a regular expression.",
    ),
    flag(
        "log.level",
        Value,
        Some("info"),
        "Only log messages with the given severity or above. One of: [debug, info, warn, error].",
    ),
    flag(
        "log.format",
        Value,
        Some("logfmt"),
        "Output format of log messages. One of: [logfmt, json].",
    ),
];

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// Run the exporter with these flags.
    Run(Box<Args>),
    /// Print this text (`--help`) and exit.
    Help(String),
    /// Print this text (`--version`) and exit.
    Version(String),
}

/// Values seen per [`FLAGS`] entry; `None` until the flag is given.
struct Seen(Vec<Option<Vec<String>>>);

impl Seen {
    fn index(name: &str) -> usize {
        FLAGS
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| unreachable!("flag {name} is in FLAGS"))
    }

    fn values(&self, name: &str) -> Vec<String> {
        let i = Self::index(name);
        match &self.0[i] {
            Some(v) => v.clone(),
            None => FLAGS[i].default.map(str::to_string).into_iter().collect(),
        }
    }

    fn opt(&self, name: &str) -> Option<String> {
        self.values(name).pop()
    }

    fn one(&self, name: &str) -> String {
        self.opt(name).unwrap_or_default()
    }

    fn on(&self, name: &str) -> bool {
        self.opt(name).is_some_and(|v| v == "true")
    }
}

impl Args {
    /// Parses `argv` (program name first) without collector switches
    /// (see [`split_collector_flags`]).
    pub fn parse(argv: impl IntoIterator<Item = String>) -> Result<Command> {
        let mut seen = Seen(vec![None; FLAGS.len()]);
        let mut it = argv.into_iter().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "-h" | "--help" => return Ok(Command::Help(help())),
                "--version" => return Ok(Command::Version(version())),
                _ => {}
            }
            let Some(body) = a.strip_prefix("--") else {
                return Err(usage(&a, "unexpected argument; flags start with --"));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let (spec, negated) = match lookup(name) {
                Some(s) => (s, false),
                None => match name.strip_prefix("no-").and_then(lookup) {
                    Some(s) if s.kind == Bool => (s, true),
                    _ => return Err(usage(&a, "unknown flag; see --help")),
                },
            };
            let value = match (spec.kind, inline) {
                (Bool, None) => (!negated).to_string(),
                (Bool, Some(v)) if !negated && (v == "true" || v == "false") => v,
                (Bool, Some(_)) => return Err(usage(&a, "expected true or false")),
                (_, Some(v)) => v,
                (_, None) => it
                    .next()
                    .ok_or_else(|| usage(&a, "expected a value after the flag"))?,
            };
            let slot = &mut seen.0[Seen::index(spec.name)];
            let vals = slot.get_or_insert_with(Vec::new);
            if spec.kind != Repeated {
                vals.clear();
            }
            vals.push(value);
        }
        Ok(Command::Run(Box::new(Args::from_seen(&seen)?)))
    }

    fn from_seen(s: &Seen) -> Result<Args> {
        let choice = |name: &'static str, allowed: &[&str]| {
            let v = s.one(name);
            if allowed.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(Error::Flag {
                    flag: name,
                    value: v,
                    msg: format!("expected one of {}", allowed.join(", ")),
                })
            }
        };
        let max = s.one("web.max-requests");
        let max_requests = max.parse().map_err(|_| Error::Flag {
            flag: "web.max-requests",
            value: max.clone(),
            msg: "expected a non-negative integer".into(),
        })?;
        Ok(Args {
            listen_address: s.values("web.listen-address"),
            telemetry_path: s.one("web.telemetry-path"),
            disable_exporter_metrics: s.on("web.disable-exporter-metrics"),
            max_requests,
            web_config_file: s.one("web.config.file"),
            procfs: s.one("path.procfs").into(),
            sysfs: s.one("path.sysfs").into(),
            rootfs: s.one("path.rootfs").into(),
            udev_data: s.one("path.udev.data").into(),
            disable_defaults: s.on("collector.disable-defaults"),
            collector_timeout: s.one("collector.timeout"),
            mount_points_exclude: s.one("collector.filesystem.mount-points-exclude"),
            fs_types_exclude: s.one("collector.filesystem.fs-types-exclude"),
            mount_timeout: s.one("collector.filesystem.mount-timeout"),
            netdev_include: s.opt("collector.netdev.device-include"),
            netdev_exclude: s.opt("collector.netdev.device-exclude"),
            netclass_ignored: s.one("collector.netclass.ignored-devices"),
            power_supply_ignored: s.one("collector.powersupply.ignored-supplies"),
            diskstats_exclude: s.one("collector.diskstats.device-exclude"),
            diskstats_include: s.opt("collector.diskstats.device-include"),
            netstat_fields: s.one("collector.netstat.fields"),
            vmstat_fields: s.one("collector.vmstat.fields"),
            textfile_directory: s.one("collector.textfile.directory"),
            cpu_info: s.on("collector.cpu.info"),
            cpu_flags_include: s.opt("collector.cpu.info.flags-include"),
            cpu_bugs_include: s.opt("collector.cpu.info.bugs-include"),
            log_level: choice("log.level", &["debug", "info", "warn", "error"])?,
            log_format: choice("log.format", &["logfmt", "json"])?,
        })
    }
}

fn lookup(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.name == name)
}

fn usage(arg: &str, msg: &str) -> Error {
    Error::Usage {
        arg: arg.to_string(),
        msg: msg.to_string(),
    }
}

fn version() -> String {
    format!("beacon-node-exporter {}\n", crate::selfmetrics::VERSION)
}

/// `--help`: every flag with its default, then the collector switches.
fn help() -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "usage: beacon-node-exporter [<flags>]\n\nnode_exporter-compatible Linux host metrics\n\nFlags:\n  -h, --help  Show this help.\n  --version   Show the version.\n",
    );
    for f in FLAGS {
        let arg = match f.kind {
            Bool => format!("--[no-]{}", f.name),
            _ => format!("--{}=VALUE", f.name),
        };
        let _ = write!(out, "  {arg}\n      {}", f.help);
        match f.default {
            Some(d) if f.kind != Bool => {
                let _ = writeln!(out, " (default: {d:?})");
            }
            _ => out.push('\n'),
        }
    }
    for (name, on) in COLLECTORS {
        let state = if *on { "enabled" } else { "disabled" };
        let _ = writeln!(
            out,
            "  --[no-]collector.{name}\n      Enable the {name} collector (default: {state})."
        );
    }
    out
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
            // As in node_exporter, asking for flags or bugs turns on the
            // info metrics they belong to.
            cpu_info: self.cpu_info
                || self.cpu_flags_include.is_some()
                || self.cpu_bugs_include.is_some(),
            cpu_flags_include: opt("collector.cpu.info.flags-include", &self.cpu_flags_include)?,
            cpu_bugs_include: opt("collector.cpu.info.bugs-include", &self.cpu_bugs_include)?,
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

    fn parse(args: &[&str]) -> Result<Args> {
        let argv = std::iter::once("beacon-node-exporter")
            .chain(args.iter().copied())
            .map(String::from);
        match Args::parse(argv)? {
            Command::Run(a) => Ok(*a),
            other => panic!("expected flags, got {other:?}"),
        }
    }

    #[test]
    fn flag_syntax() {
        let a = parse(&[
            "--web.listen-address=:1",
            "--web.listen-address",
            "127.0.0.1:2",
            "--web.max-requests",
            "3",
            "--web.telemetry-path=/m",
            "--web.telemetry-path=/x=y",
            "--collector.cpu.info",
            "--web.disable-exporter-metrics",
            "--no-web.disable-exporter-metrics",
            "--collector.disable-defaults=true",
            "--log.format=json",
        ])
        .expect("valid flags");
        assert_eq!(a.listen_address, [":1", "127.0.0.1:2"]);
        assert_eq!(a.max_requests, 3);
        assert_eq!(a.telemetry_path, "/x=y");
        assert!(a.cpu_info && a.disable_defaults && !a.disable_exporter_metrics);
        assert_eq!(a.log_format, "json");
        assert_eq!(a.cpu_flags_include, None);
    }

    #[test]
    fn flag_errors() {
        for (args, want) in [
            (&["--bogus"][..], "--bogus: unknown flag"),
            (&["extra"], "extra: unexpected argument"),
            (&["--web.telemetry-path"], "expected a value"),
            (&["--no-web.telemetry-path"], "unknown flag"),
            (&["--collector.cpu.info=yes"], "expected true or false"),
            (
                &["--web.max-requests=-1"],
                "flag --web.max-requests: invalid value \"-1\"",
            ),
            (
                &["--log.level=trace"],
                "expected one of debug, info, warn, error",
            ),
        ] {
            let e = parse(args).expect_err("invalid flags").to_string();
            assert!(e.contains(want), "{args:?}: {e}");
        }
        let argv = ["x", "--help"].map(String::from);
        assert!(
            matches!(Args::parse(argv), Ok(Command::Help(h)) if h.contains("--collector.timeout=VALUE") && h.contains("--[no-]collector.cpu\n"))
        );
        let argv = ["x", "--version"].map(String::from);
        assert!(matches!(Args::parse(argv), Ok(Command::Version(_))));
    }

    #[test]
    fn defaults_parse() {
        let a = parse(&[]).expect("defaults parse");
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
