//! CPU time per mode from `/proc/stat`, optional `node_cpu_info` (and
//! the first processor's flags and bugs, filtered) from
//! `/proc/cpuinfo`, thermal throttles and frequencies from sysfs.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::fsread::{list_dir, parse_f64, read_f64, read_trimmed};
use crate::metric_set::MetricSet;

/// The kernel's USER_HZ: `/proc/stat` counts in 1/100 s on every
/// architecture node_exporter supports.
const USER_HZ: f64 = 100.0;

/// The columns of a `cpuN` line, in order, as node_exporter names the modes.
const MODES: &[&str] = &[
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// `node_cpu_seconds_total`, `node_cpu_guest_seconds_total`, and with
/// `--collector.cpu.info` `node_cpu_info`.
pub struct Cpu(pub Arc<Config>);

impl Collector for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let path = self.0.proc("stat");
        let text = read_existing(&path)?;
        for (i, line) in text.lines().enumerate() {
            let mut cols = line.split_whitespace();
            let Some(cpu) = cols.next().and_then(|c| c.strip_prefix("cpu")) else {
                continue;
            };
            if cpu.is_empty() {
                continue; // the all-CPU total line
            }
            let vals: Vec<f64> = cols.map(|c| parse_f64(c).unwrap_or(f64::NAN)).collect();
            if vals.len() < MODES.len() || vals.iter().any(|v| v.is_nan()) {
                return Err(Error::parse(&path, i + 1, "malformed cpu line"));
            }
            for (mode, v) in MODES.iter().zip(&vals) {
                out.counter(
                    "node_cpu_seconds_total",
                    "Seconds the CPUs spent in each mode.",
                    &[("cpu", cpu), ("mode", mode)],
                    v / USER_HZ,
                );
            }
            if self.0.cpu_guest && vals.len() >= 10 {
                for (mode, v) in [("user", vals[8]), ("nice", vals[9])] {
                    out.counter(
                        "node_cpu_guest_seconds_total",
                        "Seconds the CPUs spent in guests (VMs) for each mode.",
                        &[("cpu", cpu), ("mode", mode)],
                        v / USER_HZ,
                    );
                }
            }
        }
        if self.0.cpu_info {
            cpu_info(&self.0, out)?;
        }
        throttles(&self.0, out);
        Ok(())
    }
}

/// `/proc/cpuinfo` keys that become `node_cpu_info` labels.
const CPUINFO_KEYS: &[(&str, &str)] = &[
    ("cache size", "cachesize"),
    ("core id", "core"),
    ("processor", "cpu"),
    ("cpu family", "family"),
    ("microcode", "microcode"),
    ("model", "model"),
    ("model name", "model_name"),
    ("physical id", "package"),
    ("stepping", "stepping"),
    ("vendor_id", "vendor"),
];

fn cpu_info(cfg: &Config, out: &mut MetricSet) -> Result<()> {
    let text = read_existing(&cfg.proc("cpuinfo"))?;
    let mut first: Option<BTreeMap<&str, &str>> = None;
    // Processors are separated by blank lines.
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        for line in block.lines() {
            if let Some((k, v)) = line.split_once(':') {
                fields.insert(k.trim(), v.trim());
            }
        }
        if !fields.contains_key("processor") {
            continue;
        }
        let pairs: Vec<(&str, &str)> = CPUINFO_KEYS
            .iter()
            .map(|(k, l)| (*l, fields.get(k).copied().unwrap_or("")))
            .collect();
        out.gauge(
            "node_cpu_info",
            "CPU information from /proc/cpuinfo.",
            &pairs,
            1.0,
        );
        first.get_or_insert(fields);
    }
    // Like node_exporter, flags and bugs come from the first processor.
    let Some(first) = first else {
        return Ok(());
    };
    let lists = [
        (
            "flags",
            "node_cpu_flag_info",
            "flag",
            &cfg.cpu_flags_include,
        ),
        ("bugs", "node_cpu_bug_info", "bug", &cfg.cpu_bugs_include),
    ];
    for (key, name, label, filter) in lists {
        let Some(filter) = filter else {
            continue;
        };
        let help = format!(
            "The `{key}` field of CPU information from /proc/cpuinfo taken from the first core."
        );
        let values = first.get(key).copied().unwrap_or("");
        for v in values.split_whitespace().filter(|v| filter.is_match(v)) {
            out.gauge(name, &help, &[(label, v)], 1.0);
        }
    }
    Ok(())
}

/// Thermal throttle counters; absent on virtual machines.
fn throttles(cfg: &Config, out: &mut MetricSet) {
    let base = cfg.sys("devices/system/cpu");
    let Ok(names) = list_dir(&base) else {
        return;
    };
    let mut cores: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut packages: BTreeMap<String, f64> = BTreeMap::new();
    for name in names.iter().filter(|n| is_cpu_dir(n)) {
        let dir = base.join(name);
        let Ok(core_count) = read_f64(&dir.join("thermal_throttle/core_throttle_count")) else {
            continue;
        };
        let package = read_trimmed(&dir.join("topology/physical_package_id")).unwrap_or_default();
        let core = read_trimmed(&dir.join("topology/core_id")).unwrap_or_default();
        cores.insert((package.clone(), core), core_count);
        if let Ok(p) = read_f64(&dir.join("thermal_throttle/package_throttle_count")) {
            packages.insert(package, p);
        }
    }
    for ((package, core), v) in &cores {
        out.counter(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            &[("core", core), ("package", package)],
            *v,
        );
    }
    for (package, v) in &packages {
        out.counter(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            &[("package", package)],
            *v,
        );
    }
}

fn is_cpu_dir(name: &str) -> bool {
    name.strip_prefix("cpu")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// CPU frequencies from `/sys/devices/system/cpu/cpuN/cpufreq`.
pub struct CpuFreq(pub Arc<Config>);

/// (file, metric, help) for each kHz attribute; values become hertz.
const FREQ_FILES: &[(&str, &str, &str)] = &[
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum cpu thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum cpu thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
];

impl Collector for CpuFreq {
    fn name(&self) -> &'static str {
        "cpufreq"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("devices/system/cpu");
        for name in list_dir(&base)?.iter().filter(|n| is_cpu_dir(n)) {
            let dir = base.join(name).join("cpufreq");
            if !dir.exists() {
                continue;
            }
            let cpu = &name[3..];
            for (file, metric, help) in FREQ_FILES {
                if let Ok(khz) = read_f64(&dir.join(file)) {
                    out.gauge(metric, help, &[("cpu", cpu)], khz * 1000.0);
                }
            }
        }
        Ok(())
    }
}
