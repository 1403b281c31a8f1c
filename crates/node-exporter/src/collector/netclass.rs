//! `node_network_*` device properties from `/sys/class/net/<iface>`.

use std::sync::Arc;

use beacon_model::MetricType;

use crate::collector::{Collector, Config};
use crate::error::Result;
use crate::fsread::{AttrDir, list_dir, read_trimmed};
use crate::metric_set::MetricSet;

/// (sysfs attribute, metric suffix, type). Attributes the kernel refuses
/// to read (e.g. `speed` of a down link) are left out, as node_exporter does.
const PROPERTIES: &[(&str, &str, MetricType)] = &[
    ("addr_assign_type", "address_assign_type", MetricType::Gauge),
    ("carrier", "carrier", MetricType::Gauge),
    (
        "carrier_changes",
        "carrier_changes_total",
        MetricType::Counter,
    ),
    (
        "carrier_up_count",
        "carrier_up_changes_total",
        MetricType::Counter,
    ),
    (
        "carrier_down_count",
        "carrier_down_changes_total",
        MetricType::Counter,
    ),
    ("dev_id", "device_id", MetricType::Gauge),
    ("dormant", "dormant", MetricType::Gauge),
    ("flags", "flags", MetricType::Gauge),
    ("ifindex", "iface_id", MetricType::Gauge),
    ("iflink", "iface_link", MetricType::Gauge),
    ("link_mode", "iface_link_mode", MetricType::Gauge),
    ("mtu", "mtu_bytes", MetricType::Gauge),
    ("name_assign_type", "name_assign_type", MetricType::Gauge),
    ("netdev_group", "net_dev_group", MetricType::Gauge),
    ("speed", "speed_bytes", MetricType::Gauge),
    ("tx_queue_len", "transmit_queue_length", MetricType::Gauge),
    ("type", "protocol_type", MetricType::Gauge),
];

/// `speed` is in Mbit/s; node_exporter reports bytes per second.
const MBIT_BYTES: f64 = 1_000_000.0 / 8.0;

pub struct Netclass(pub Arc<Config>);

impl Collector for Netclass {
    fn name(&self) -> &'static str {
        "netclass"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("class/net");
        for dev in list_dir(&base)? {
            if self.0.netclass_ignored.is_match(&dev) {
                continue;
            }
            // Files such as `bonding_masters` are not devices.
            let Ok(dir) = AttrDir::open(&base.join(&dev)) else {
                continue;
            };
            let attr = |a: &str| dir.read(a);
            let operstate = attr("operstate").unwrap_or_default();
            out.gauge(
                "node_network_up",
                "Value is 1 if operstate is 'up', 0 otherwise.",
                &[("device", &dev)],
                if operstate == "up" { 1.0 } else { 0.0 },
            );
            let s = |a: &str| attr(a).unwrap_or_default();
            out.gauge(
                "node_network_info",
                "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
                &[
                    ("address", &s("address")),
                    ("broadcast", &s("broadcast")),
                    ("device", &dev),
                    ("duplex", &s("duplex")),
                    ("ifalias", &s("ifalias")),
                    ("operstate", &operstate),
                ],
                1.0,
            );
            for (file, suffix, typ) in PROPERTIES {
                let Some(v) = attr(file).as_deref().and_then(parse_int) else {
                    continue;
                };
                let v = if *file == "speed" { v * MBIT_BYTES } else { v };
                out.add(
                    &format!("node_network_{suffix}"),
                    &format!("Network device property: {suffix}"),
                    *typ,
                    &[("device", &dev)],
                    v,
                );
            }
        }
        Ok(())
    }
}

/// Decimal, or hex with a `0x` prefix (`flags`, `dev_id`).
fn parse_int(s: &str) -> Option<f64> {
    match s.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok().map(|v| v as f64),
        None => s.parse::<i64>().ok().map(|v| v as f64),
    }
}

/// Configured and active (MII status `up`) slaves of each bonding master.
pub struct Bonding(pub Arc<Config>);

impl Collector for Bonding {
    fn name(&self) -> &'static str {
        "bonding"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let base = self.0.sys("class/net");
        let masters = crate::collector::read_existing(&base.join("bonding_masters"))?;
        for master in masters.split_whitespace() {
            let slaves = read_trimmed(&base.join(master).join("bonding/slaves"))?;
            let (mut configured, mut active) = (0.0, 0.0);
            for slave in slaves.split_whitespace() {
                // Newer kernels link slaves as `lower_<slave>`, older ones
                // as `slave_<slave>`.
                let mii = |prefix: &str| {
                    let dir = base.join(master).join(format!("{prefix}{slave}"));
                    read_trimmed(&dir.join("bonding_slave/mii_status"))
                };
                let state = match mii("lower_") {
                    Err(e) if e.is_no_data() => mii("slave_")?,
                    r => r?,
                };
                configured += 1.0;
                if state == "up" {
                    active += 1.0;
                }
            }
            let l = [("master", master)];
            out.gauge(
                "node_bonding_slaves",
                "Number of configured slaves per bonding interface.",
                &l,
                configured,
            );
            out.gauge(
                "node_bonding_active",
                "Number of active slaves per bonding interface.",
                &l,
                active,
            );
        }
        Ok(())
    }
}
