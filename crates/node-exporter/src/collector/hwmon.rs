//! Hardware sensors from `/sys/class/hwmon` (the lm-sensors view):
//! temperatures, voltages, fans, power, energy, current and humidity, in
//! base units, labelled by a stable chip name and the sensor.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::collector::{Collector, Config};
use crate::error::Result;
use crate::fsread::{list_dir, read_trimmed};
use crate::metric_set::MetricSet;

/// Sensor types node_exporter exports; other files are ignored.
const SENSOR_TYPES: &[&str] = &[
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// Sensor → property → raw value, e.g. `temp1` → `input` → `42000`.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

pub struct Hwmon(pub Arc<Config>);

impl Collector for Hwmon {
    fn name(&self) -> &'static str {
        "hwmon"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("class/hwmon");
        for name in list_dir(&base)? {
            let dir = base.join(&name);
            if dir.is_dir() {
                chip(&dir, out);
            }
        }
        Ok(())
    }
}

/// Lower-case, `[^a-z0-9:_]` → `_`, trimmed of `_`.
fn clean(s: &str) -> String {
    let mapped: String = s
        .trim_end_matches('\n')
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    mapped.trim_matches('_').to_string()
}

/// A chip name that survives reboots: the device's bus and name (e.g.
/// `platform_coretemp_0`), else the `name` attribute, else `hwmonN`.
fn chip_name(dir: &Path) -> String {
    if let Ok(dev) = std::fs::canonicalize(dir.join("device")) {
        let name = dev
            .file_name()
            .map(|n| clean(&n.to_string_lossy()))
            .unwrap_or_default();
        let typ = dev
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| clean(&n.to_string_lossy()))
            .unwrap_or_default();
        match (typ.is_empty(), name.is_empty()) {
            (false, false) => return format!("{typ}_{name}"),
            (true, false) => return name,
            _ => {}
        }
    }
    if let Some(n) = read_trimmed(&dir.join("name"))
        .ok()
        .map(|n| clean(&n))
        .filter(|n| !n.is_empty())
    {
        return n;
    }
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    real.file_name()
        .map(|n| clean(&n.to_string_lossy()))
        .unwrap_or_default()
}

/// Splits `temp1_crit_alarm` into (`temp`, 1, `crit_alarm`); `None` for
/// names that are not sensor attributes.
fn explode(file: &str) -> Option<(&str, u64, &str)> {
    let type_end = file
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(file.len());
    if type_end == 0 {
        return None;
    }
    let (typ, rest) = file.split_at(type_end);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let num = if digits == 0 {
        0
    } else {
        rest[..digits].parse().ok()?
    };
    let prop = match &rest[digits..] {
        "" => "",
        p => p.strip_prefix('_').filter(|p| !p.is_empty())?,
    };
    Some((typ, num, prop))
}

fn collect_sensors(dir: &Path, data: &mut SensorData) {
    let Ok(files) = list_dir(dir) else { return };
    for file in files {
        let Some((typ, num, prop)) = explode(&file) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&typ) {
            continue;
        }
        // Write-only and failing attributes are skipped.
        if let Ok(v) = crate::fsread::read_string(&dir.join(&file)) {
            let v = v.trim_end_matches('\n').to_string();
            data.entry(format!("{typ}{num}"))
                .or_default()
                .insert(prop.to_string(), v);
        }
    }
}

fn chip(dir: &Path, out: &mut MetricSet) {
    let chip = chip_name(dir);
    let mut data = SensorData::new();
    collect_sensors(dir, &mut data);
    if dir.join("device").exists() {
        collect_sensors(&dir.join("device"), &mut data);
    }
    if let Ok(human) = read_trimmed(&dir.join("name")) {
        out.gauge(
            "node_hwmon_chip_names",
            "Annotation metric for human-readable chip names",
            &[("chip", &chip), ("chip_name", &clean(&human))],
            1.0,
        );
    }
    for (sensor, props) in &data {
        let Some((typ, _, _)) = explode(sensor) else {
            continue;
        };
        let l = [("chip", chip.as_str()), ("sensor", sensor.as_str())];
        if let Some(label) = props.get("label") {
            out.gauge(
                "node_hwmon_sensor_label",
                "Label for given chip and sensor",
                &[("chip", &chip), ("label", label), ("sensor", sensor)],
                1.0,
            );
        }
        let plain = props.get("").and_then(|v| v.parse::<f64>().ok());
        match (typ, plain) {
            ("beep_enable", _) => {
                let on = props.get("").is_some_and(|v| v == "1");
                out.gauge(
                    "node_hwmon_beep_enabled",
                    "Hardware beep enabled",
                    &l,
                    if on { 1.0 } else { 0.0 },
                );
                continue;
            }
            ("vrm", Some(v)) => {
                out.gauge(
                    "node_hwmon_voltage_regulator_version",
                    "Hardware voltage regulator",
                    &l,
                    v,
                );
                continue;
            }
            ("update_interval", Some(v)) => {
                out.gauge(
                    "node_hwmon_update_interval_seconds",
                    "Hardware monitor update interval",
                    &l,
                    v * 0.001,
                );
                continue;
            }
            ("vrm" | "update_interval", None) => continue,
            _ => {}
        }
        for (element, raw) in props {
            if element == "label" {
                continue;
            }
            let Ok(v) = raw.parse::<f64>() else { continue };
            element_metric(out, typ, element, props.contains_key(""), v, &l);
        }
    }
}

/// One `<type><n>_<element>` value as node_exporter names and scales it.
fn element_metric(
    out: &mut MetricSet,
    typ: &str,
    element: &str,
    has_plain: bool,
    v: f64,
    l: &[(&str, &str)],
) {
    let mut name = format!("node_hwmon_{typ}");
    if element == "input" {
        // `input` is the reading itself, unless a bare value exists too.
        if has_plain {
            name.push_str("_input");
        }
    } else if !element.is_empty() {
        name.push('_');
        name.push_str(&clean(element));
    }
    let (suffix, help, value) = match (typ, element) {
        (_, "fault" | "alarm") => ("", format!("Hardware sensor {element} status ({typ})"), v),
        (_, "beep") => (
            "_enabled",
            "Hardware monitor sensor has beeping enabled".to_string(),
            v,
        ),
        ("in" | "cpu", _) => (
            "_volts",
            format!("Hardware monitor for voltage ({element})"),
            v * 0.001,
        ),
        ("temp", e) if e != "type" => (
            "_celsius",
            format!("Hardware monitor for temperature ({element})"),
            v * 0.001,
        ),
        ("curr", _) => (
            "_amps",
            format!("Hardware monitor for current ({element})"),
            v * 0.001,
        ),
        ("energy", _) => {
            let help = format!("Hardware monitor for joules used so far ({element})");
            out.counter(&format!("{name}_joule_total"), &help, l, v / 1_000_000.0);
            return;
        }
        ("power", "accuracy") => (
            "",
            "Hardware monitor power meter accuracy, as a ratio".to_string(),
            v / 1_000_000.0,
        ),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => (
            "_seconds",
            format!("Hardware monitor power usage update interval ({element})"),
            v * 0.001,
        ),
        ("power", _) => (
            "_watt",
            format!("Hardware monitor for power usage in watts ({element})"),
            v / 1_000_000.0,
        ),
        ("humidity", _) => (
            "",
            format!(
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
            ),
            v / 1_000_000.0,
        ),
        ("fan", "input" | "min" | "max" | "target") => (
            "_rpm",
            format!("Hardware monitor for fan revolutions per minute ({element})"),
            v,
        ),
        _ => ("", format!("Hardware monitor {typ} element {element}"), v),
    };
    name.push_str(suffix);
    out.gauge(&name, &help, l, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explodes_sensor_file_names() {
        assert_eq!(explode("temp1_crit_alarm"), Some(("temp", 1, "crit_alarm")));
        assert_eq!(explode("fan2_input"), Some(("fan", 2, "input")));
        assert_eq!(explode("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(explode("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(explode("temp1x"), None);
        assert_eq!(explode("1temp"), None);
        assert_eq!(explode("temp1_"), None);
    }

    #[test]
    fn cleans_names() {
        assert_eq!(clean("coretemp.0"), "coretemp_0");
        assert_eq!(clean("Package id 0\n"), "package_id_0");
        assert_eq!(clean("0000:00:18.3"), "0000:00:18_3");
    }
}
