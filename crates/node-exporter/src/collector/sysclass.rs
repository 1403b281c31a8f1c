//! Collectors over `/sys` device classes: dmi, edac, rapl, thermal_zone
//! and watchdog.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{Collector, Config};
use crate::error::{Error, Result};
use crate::fsread::{list_dir, read_f64, read_trimmed};
use crate::metric_set::MetricSet;

/// (file in `/sys/class/dmi/id`, label).
const DMI_FILES: &[(&str, &str)] = &[
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

/// `node_dmi_info` labelled by the DMI fields the kernel lets us read
/// (serials need root).
pub struct Dmi(pub Arc<Config>);

impl Collector for Dmi {
    fn name(&self) -> &'static str {
        "dmi"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let dir = self.0.sys("class/dmi/id");
        let values: Vec<(&str, String)> = DMI_FILES
            .iter()
            .filter_map(|(f, l)| read_trimmed(&dir.join(f)).ok().map(|v| (*l, v)))
            .collect();
        if values.is_empty() {
            return Err(Error::NoData { path: dir });
        }
        let pairs: Vec<(&str, &str)> = values.iter().map(|(l, v)| (*l, v.as_str())).collect();
        out.gauge(
            "node_dmi_info",
            "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
            &pairs,
            1.0,
        );
        Ok(())
    }
}

/// Memory controller error counts from `/sys/devices/system/edac/mc`.
pub struct Edac(pub Arc<Config>);

impl Collector for Edac {
    fn name(&self) -> &'static str {
        "edac"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("devices/system/edac/mc");
        let Ok(names) = list_dir(&base) else {
            return Ok(()); // no EDAC driver: nothing to report, not an error
        };
        for name in names {
            let Some(mc) = numbered(&name, "mc") else {
                continue;
            };
            let dir = base.join(&name);
            let ce = "Total correctable memory errors.";
            let ue = "Total uncorrectable memory errors.";
            let row_ce = "Total correctable memory errors for this csrow.";
            let row_ue = "Total uncorrectable memory errors for this csrow.";
            let c = [("controller", mc)];
            let unknown = [("controller", mc), ("csrow", "unknown")];
            out.counter(
                "node_edac_correctable_errors_total",
                ce,
                &c,
                read_f64(&dir.join("ce_count"))?,
            );
            out.counter(
                "node_edac_csrow_correctable_errors_total",
                row_ce,
                &unknown,
                read_f64(&dir.join("ce_noinfo_count"))?,
            );
            out.counter(
                "node_edac_uncorrectable_errors_total",
                ue,
                &c,
                read_f64(&dir.join("ue_count"))?,
            );
            out.counter(
                "node_edac_csrow_uncorrectable_errors_total",
                row_ue,
                &unknown,
                read_f64(&dir.join("ue_noinfo_count"))?,
            );
            for row_name in list_dir(&dir)? {
                let Some(row) = numbered(&row_name, "csrow") else {
                    continue;
                };
                let rdir = dir.join(&row_name);
                let l = [("controller", mc), ("csrow", row)];
                out.counter(
                    "node_edac_csrow_correctable_errors_total",
                    row_ce,
                    &l,
                    read_f64(&rdir.join("ce_count"))?,
                );
                out.counter(
                    "node_edac_csrow_uncorrectable_errors_total",
                    row_ue,
                    &l,
                    read_f64(&rdir.join("ue_count"))?,
                );
            }
        }
        Ok(())
    }
}

/// The number after `prefix` when the rest of `name` is all digits.
fn numbered<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Energy counters of RAPL power zones in `/sys/class/powercap`.
pub struct Rapl(pub Arc<Config>);

impl Collector for Rapl {
    fn name(&self) -> &'static str {
        "rapl"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("class/powercap");
        for dir_name in list_dir(&base)? {
            // Zones are `intel-rapl:N` and sub-zones `intel-rapl:N:M`; the
            // `intel-rapl` control type itself has no energy counter.
            let Some((_, index)) = dir_name.rsplit_once(':') else {
                continue;
            };
            let dir = base.join(&dir_name);
            let Ok(name) = read_trimmed(&dir.join("name")) else {
                continue;
            };
            let uj = match read_f64(&dir.join("energy_uj")) {
                Ok(v) => v,
                Err(Error::Io { source, path })
                    if source.kind() == std::io::ErrorKind::PermissionDenied =>
                {
                    return Err(Error::NoData { path });
                }
                Err(e) => return Err(e),
            };
            let metric: String = format!("node_rapl_{name}_joules_total")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            out.counter(
                &metric,
                &format!("Current RAPL {name} value in joules"),
                &[("index", index), ("path", &dir.to_string_lossy())],
                uj / 1_000_000.0,
            );
        }
        Ok(())
    }
}

/// Zone temperatures and cooling device states from `/sys/class/thermal`.
pub struct ThermalZone(pub Arc<Config>);

impl Collector for ThermalZone {
    fn name(&self) -> &'static str {
        "thermal_zone"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("class/thermal");
        for name in list_dir(&base)? {
            let dir = base.join(&name);
            let typ = read_trimmed(&dir.join("type")).unwrap_or_default();
            if let Some(zone) = numbered(&name, "thermal_zone") {
                // A zone whose sensor cannot be read right now is skipped.
                if let Ok(milli_c) = read_f64(&dir.join("temp")) {
                    out.gauge(
                        "node_thermal_zone_temp",
                        "Zone temperature in Celsius",
                        &[("type", &typ), ("zone", zone)],
                        milli_c / 1000.0,
                    );
                }
            } else if let Some(dev) = numbered(&name, "cooling_device") {
                let l = [("name", dev), ("type", typ.as_str())];
                if let Ok(v) = read_f64(&dir.join("cur_state")) {
                    out.gauge(
                        "node_cooling_device_cur_state",
                        "Current throttle state of the cooling device",
                        &l,
                        v,
                    );
                }
                if let Ok(v) = read_f64(&dir.join("max_state")) {
                    out.gauge(
                        "node_cooling_device_max_state",
                        "Maximum throttle state of the cooling device",
                        &l,
                        v,
                    );
                }
            }
        }
        Ok(())
    }
}

/// (attribute, metric suffix) of `/sys/class/watchdog/<watchdog>`.
const WATCHDOG_VALUES: &[(&str, &str)] = &[
    ("access_cs0", "access_cs0"),
    ("bootstatus", "bootstatus"),
    ("fw_version", "fw_version"),
    ("nowayout", "nowayout"),
    ("pretimeout", "pretimeout_seconds"),
    ("timeleft", "timeleft_seconds"),
    ("timeout", "timeout_seconds"),
];

/// Hardware watchdog state from `/sys/class/watchdog`.
pub struct Watchdog(pub Arc<Config>);

impl Collector for Watchdog {
    fn name(&self) -> &'static str {
        "watchdog"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("class/watchdog");
        for name in list_dir(&base)? {
            let dir = base.join(&name);
            for (file, suffix) in WATCHDOG_VALUES {
                if let Ok(v) = read_f64(&dir.join(file)) {
                    out.gauge(
                        &format!("node_watchdog_{suffix}"),
                        &format!("Value of /sys/class/watchdog/<watchdog>/{file}"),
                        &[("name", &name)],
                        v,
                    );
                }
            }
            let s = |f: &str| attr(&dir, f);
            out.gauge(
                "node_watchdog_info",
                "Info of /sys/class/watchdog/<watchdog>",
                &[
                    ("identity", &s("identity")),
                    ("name", &name),
                    ("options", &s("options")),
                    ("pretimeout_governor", &s("pretimeout_governor")),
                    ("state", &s("state")),
                    ("status", &s("status")),
                ],
                1.0,
            );
        }
        Ok(())
    }
}

fn attr(dir: &Path, file: &str) -> String {
    read_trimmed(&dir.join(file)).unwrap_or_default()
}

/// (attribute, metric suffix, divisor) of numeric power supply attributes:
/// micro-units become base units, tenths of a degree become degrees.
const POWER_SUPPLY_VALUES: &[(&str, &str, f64)] = &[
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// Text attributes that label `node_power_supply_info` when non-empty.
const POWER_SUPPLY_INFO: &[&str] = &[
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

/// Batteries, mains and UPS supplies from `/sys/class/power_supply`.
pub struct PowerSupply(pub Arc<Config>);

impl Collector for PowerSupply {
    fn name(&self) -> &'static str {
        "powersupplyclass"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("class/power_supply");
        for name in list_dir(&base)? {
            if self.0.power_supply_ignored.is_match(&name) {
                continue;
            }
            let dir = base.join(&name);
            for (file, suffix, divisor) in POWER_SUPPLY_VALUES {
                let Ok(v) = read_f64(&dir.join(file)) else {
                    continue;
                };
                out.gauge(
                    &format!("node_power_supply_{suffix}"),
                    &format!("{suffix} value of /sys/class/power_supply/<power_supply>."),
                    &[("power_supply", &name)],
                    v / divisor,
                );
            }
            let texts: Vec<(&str, String)> = POWER_SUPPLY_INFO
                .iter()
                .map(|f| (*f, attr(&dir, f)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let mut pairs: Vec<(&str, &str)> =
                texts.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pairs.push(("power_supply", &name));
            out.gauge(
                "node_power_supply_info",
                "info of /sys/class/power_supply/<power_supply>.",
                &pairs,
                1.0,
            );
        }
        Ok(())
    }
}
